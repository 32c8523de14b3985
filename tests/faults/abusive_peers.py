#!/usr/bin/env python3
"""Abusive peers of ingestd, for tests/faults/abuse.py: each kind runs as its
own process (so its CPU and its GIL are not the test's), for a bounded time
and count, then waits (bounded too) for the server to close whatever it left
open, and prints one JSON line on stdout: what it tried and how each
connection ended. Loopback only.

  flood            TCP+TLS connection attempts at --rate per second, each from
                   a random 127.x.y.z (bound before connect): silent (no byte
                   sent), half a ClientHello, garbage, TLS without a client
                   certificate, TLS with a camera certificate and no HELLO;
  tls_slowloris    --connections at a time, each dribbling a real ClientHello
                   a byte every --dribble_ms;
  admin_slowloris  --connections at a time to the admin port, each dribbling
                   request headers a byte every --dribble_ms, never ending them;
  reconnect_loop   one camera: connect, full mutual-TLS handshake, HELLO, wait
                   for the answer, close; as fast as it can.

A connection the server closed (EOF, reset, a TLS alert) counts as
`closed_by_server` with its lifetime; one still open when the peer gives up
waiting (--close_bound_s after it stopped starting new ones) as `still_open`.

    abusive_peers.py flood --port 7443 --certs certs --camera_id cam-000044 \\
        --seconds 8 --rate 150 --close_bound_s 10
"""

import argparse
import asyncio
import json
import os
import random
import signal
import socket
import ssl
import struct
import sys
import time

sys.dont_write_bytecode = True

FRAME_HELLO, FRAME_WELCOME, FRAME_REJECT = 0x01, 0x02, 0x03
FLOOD_KINDS = ("silent", "partial_hello", "garbage", "no_client_cert", "no_hello")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("kind", choices=("flood", "tls_slowloris", "admin_slowloris", "reconnect_loop"))
    p.add_argument("--port", type=int, required=True, help="the camera port, or the admin port")
    p.add_argument("--certs", help="ingestd certs folder: server-ca.crt, cameras/<id>.pem")
    p.add_argument("--camera_id", help="the certificate flood's no_hello and reconnect_loop present")
    p.add_argument("--seconds", type=float, default=8, help="how long new connections are started")
    p.add_argument("--rate", type=float, default=150, help="flood: attempts per second")
    p.add_argument("--max_attempts", type=int, default=20000, help="in all, whatever the rate")
    p.add_argument("--max_open", type=int, default=3000, help="flood: connections open at once at most")
    p.add_argument("--connections", type=int, default=50, help="slowloris: held at once")
    p.add_argument("--dribble_ms", type=float, default=200, help="slowloris: one byte this often")
    p.add_argument("--open_rate", type=float, default=100,
                   help="slowloris: new connections per second at most, beyond the first --connections")
    p.add_argument("--close_bound_s", type=float, default=10,
                   help="after --seconds, how long to wait for the server to close what is open")
    p.add_argument("--connect_timeout_s", type=float, default=5)
    p.add_argument("--seed", type=int, default=1)
    return p.parse_args()


def random_loopback(rng):
    """A source address in 127.0.0.0/8 other than 127.0.0.1 (the cameras')."""
    while True:
        address = f"127.{rng.randint(1, 254)}.{rng.randint(1, 254)}.{rng.randint(1, 254)}"
        if address != "127.0.0.1":
            return address


def client_hello():
    """The bytes of a real TLS 1.3 ClientHello, as a camera would open with."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def tls_context(certs, camera_id=None):
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=os.path.join(certs, "server-ca.crt"))
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    if camera_id:
        context.load_cert_chain(os.path.join(certs, "cameras", f"{camera_id}.pem"))
    return context


def hello_frame(camera_id):
    def string(text):
        data = text.encode()
        return struct.pack(">H", len(data)) + data

    body = struct.pack(">H", 1) + string(camera_id) + string("abuse-1") + struct.pack(">Q", 0)
    return struct.pack(">IB", 1 + len(body), FRAME_HELLO) + body


class Tally:
    """Outcomes per kind: {kind: {outcome: count}} and lifetimes of the
    connections the server closed."""

    def __init__(self):
        self.outcomes = {}
        self.lifetimes = {}
        self.sources = set()
        self.first_error = {}

    def add(self, kind, outcome, lifetime=None, error=None):
        counts = self.outcomes.setdefault(kind, {})
        counts[outcome] = counts.get(outcome, 0) + 1
        if lifetime is not None and outcome == "closed_by_server":
            self.lifetimes.setdefault(kind, []).append(lifetime)
        if error is not None and kind not in self.first_error:
            self.first_error[kind] = f"{outcome}: {error!r}"[:200]

    def report(self, **extra):
        def summary(values):
            values = sorted(values)
            if not values:
                return None
            return {"n": len(values), "min_s": round(values[0], 3), "p50_s": round(values[len(values) // 2], 3),
                    "max_s": round(values[-1], 3)}

        report = {"outcomes": self.outcomes,
                  "lifetimes": {kind: summary(v) for kind, v in self.lifetimes.items()},
                  "distinct_sources": len(self.sources), "first_error": self.first_error}
        report.update(extra)
        return report


async def wait_for_close(reader_or_sock, loop, started, until, kind, tally, raw=True):
    """Reads (and drops) until the server closes or `until` passes."""
    try:
        while True:
            left = until - time.monotonic()
            if left <= 0:
                tally.add(kind, "still_open")
                return
            if raw:
                data = await asyncio.wait_for(loop.sock_recv(reader_or_sock, 4096), left)
            else:
                data = await asyncio.wait_for(reader_or_sock.read(4096), left)
            if not data:
                tally.add(kind, "closed_by_server", time.monotonic() - started)
                return
    except asyncio.TimeoutError:
        tally.add(kind, "still_open")
    except (OSError, ssl.SSLError, EOFError) as e:  # reset, alert
        tally.add(kind, "closed_by_server", time.monotonic() - started, e)


async def raw_connection(kind, args, tally, rng, hello, deadline):
    """silent, partial_hello, garbage: a plain socket from a random source."""
    loop = asyncio.get_running_loop()
    source = random_loopback(rng)
    tally.sources.add(source)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    try:
        sock.bind((source, 0))
        started = time.monotonic()
        try:
            await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", args.port)), args.connect_timeout_s)
        except (OSError, asyncio.TimeoutError) as e:
            tally.add(kind, "connect_failed", error=e)
            return
        try:
            if kind == "partial_hello":
                await loop.sock_sendall(sock, hello[:len(hello) // 2])
            elif kind == "garbage":
                await loop.sock_sendall(sock, bytes(rng.getrandbits(8) for _ in range(512)))
        except OSError as e:
            tally.add(kind, "closed_by_server", time.monotonic() - started, e)
            return
        await wait_for_close(sock, loop, started, deadline(), kind, tally)
    finally:
        sock.close()


async def tls_connection(kind, args, tally, rng, contexts, deadline):
    """no_client_cert (the server must refuse the handshake) and no_hello (a
    camera certificate, then silence: the HELLO timeout)."""
    source = random_loopback(rng)
    tally.sources.add(source)
    started = time.monotonic()
    writer = None
    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", args.port, ssl=contexts[kind], server_hostname="localhost",
                                    local_addr=(source, 0), ssl_handshake_timeout=args.connect_timeout_s),
            args.connect_timeout_s + 1)
    except asyncio.TimeoutError as e:
        tally.add(kind, "handshake_timed_out_client_side", error=e)
        return
    except ConnectionRefusedError as e:
        tally.add(kind, "connect_failed", error=e)
        return
    except (OSError, ssl.SSLError) as e:  # the server's alert or close during the handshake
        tally.add(kind, "closed_by_server", time.monotonic() - started, e)
        return
    try:
        await wait_for_close(reader, None, started, deadline(), kind, tally, raw=False)
    finally:
        writer.transport.abort()


async def flood(args, tally):
    rng = random.Random(args.seed)
    hello = client_hello()
    contexts = {"no_client_cert": tls_context(args.certs), "no_hello": tls_context(args.certs, args.camera_id)}
    begin = time.monotonic()
    stop_starting = begin + args.seconds

    def deadline():
        return stop_starting + args.close_bound_s

    tasks = set()
    attempts = 0
    skipped_at_cap = 0
    while time.monotonic() < stop_starting and attempts < args.max_attempts and not STOPPING:
        due = begin + attempts / args.rate
        now = time.monotonic()
        if due > now:
            await asyncio.sleep(due - now)
            continue
        attempts += 1
        if len(tasks) >= args.max_open:
            skipped_at_cap += 1
            continue
        kind = FLOOD_KINDS[attempts % len(FLOOD_KINDS)]
        if kind in ("no_client_cert", "no_hello"):
            coroutine = tls_connection(kind, args, tally, rng, contexts, deadline)
        else:
            coroutine = raw_connection(kind, args, tally, rng, hello, deadline)
        task = asyncio.ensure_future(coroutine)
        tasks.add(task)
        task.add_done_callback(tasks.discard)
    started_for = time.monotonic() - begin
    if tasks:
        await asyncio.wait(tasks, timeout=args.close_bound_s + args.connect_timeout_s + 2)
    return tally.report(attempts=attempts, skipped_at_open_cap=skipped_at_cap, seconds=round(started_for, 2),
                        rate_per_s=round(attempts / max(started_for, 1e-3), 1))


async def dribble(kind, args, tally, rng, payload, deadline):
    """One slowloris connection: `payload` a byte at a time, never all of it;
    ends when the server closes it (or at the deadline)."""
    loop = asyncio.get_running_loop()
    source = random_loopback(rng)
    tally.sources.add(source)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    started = time.monotonic()
    try:
        sock.bind((source, 0))
        try:
            await asyncio.wait_for(loop.sock_connect(sock, ("127.0.0.1", args.port)), args.connect_timeout_s)
        except (OSError, asyncio.TimeoutError) as e:
            tally.add(kind, "connect_failed", error=e)
            return
        started = time.monotonic()
        recv = asyncio.ensure_future(loop.sock_recv(sock, 4096))
        try:
            for i in range(len(payload) - 1):  # never the last byte
                if time.monotonic() >= deadline():
                    tally.add(kind, "still_open")
                    return
                try:
                    await loop.sock_sendall(sock, payload[i:i + 1])
                except OSError as e:
                    tally.add(kind, "closed_by_server", time.monotonic() - started, e)
                    return
                done, _ = await asyncio.wait({recv}, timeout=args.dribble_ms / 1000)
                if done:
                    try:
                        data = recv.result()
                    except OSError as e:
                        tally.add(kind, "closed_by_server", time.monotonic() - started, e)
                        return
                    if not data:
                        tally.add(kind, "closed_by_server", time.monotonic() - started)
                        return
                    # An answer before the request ended (the admin port's 408
                    # or 431): read on until it closes.
                    tally.add(kind, "answered_early")
                    recv = asyncio.ensure_future(loop.sock_recv(sock, 4096))
            tally.add(kind, "payload_exhausted")
        finally:
            recv.cancel()
    finally:
        sock.close()


async def slowloris(args, tally, kind, payload):
    rng = random.Random(args.seed)
    begin = time.monotonic()
    stop_starting = begin + args.seconds

    def deadline():
        return stop_starting + args.close_bound_s

    tasks = set()
    attempts = 0
    while time.monotonic() < stop_starting and attempts < args.max_attempts and not STOPPING:
        # Paced: a server that closes them at once (a full admin port) would
        # otherwise have this loop reconnect as fast as the CPU allows.
        while (len(tasks) < args.connections and attempts < args.max_attempts
               and attempts < (time.monotonic() - begin) * args.open_rate + args.connections):
            attempts += 1
            task = asyncio.ensure_future(dribble(kind, args, tally, rng, payload, deadline))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await asyncio.sleep(0.02)
    if tasks:
        await asyncio.wait(tasks, timeout=args.close_bound_s + args.connect_timeout_s + 2)
    return tally.report(attempts=attempts, held_at_once=args.connections)


def admin_request():
    """Headers that never end: a request line, then one long header line."""
    return b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 4000


def read_frame(tls_socket):
    header = b""
    while len(header) < 5:
        chunk = tls_socket.recv(5 - len(header))
        if not chunk:
            raise EOFError("closed before a frame")
        header += chunk
    length, frame_type = struct.unpack(">IB", header)
    left = length - 1
    while left > 0:
        chunk = tls_socket.recv(min(left, 65536))
        if not chunk:
            raise EOFError("closed inside a frame")
        left -= len(chunk)
    return frame_type


def reconnect_loop(args, tally):
    """Blocking, one connection at a time: the camera's own pace."""
    context = tls_context(args.certs, args.camera_id)
    hello = hello_frame(args.camera_id)
    begin = time.monotonic()
    attempts = 0
    handshake_s = []
    while time.monotonic() < begin + args.seconds and attempts < args.max_attempts and not STOPPING:
        attempts += 1
        started = time.monotonic()
        try:
            with socket.create_connection(("127.0.0.1", args.port), timeout=args.connect_timeout_s) as raw:
                with context.wrap_socket(raw, server_hostname="localhost") as tls:
                    handshake_s.append(time.monotonic() - started)
                    tls.sendall(hello)
                    answer = read_frame(tls)
            outcome = {FRAME_WELCOME: "welcomed", FRAME_REJECT: "rejected"}.get(answer, f"frame_{answer}")
            tally.add("reconnect", outcome)
        except (OSError, ssl.SSLError, EOFError) as e:
            tally.add("reconnect", "failed", error=e)
    seconds = time.monotonic() - begin
    handshake_s.sort()
    return tally.report(attempts=attempts, seconds=round(seconds, 2), rate_per_s=round(attempts / seconds, 1),
                        handshake_p50_ms=round(1000 * handshake_s[len(handshake_s) // 2], 1) if handshake_s else None)


STOPPING = False


def stop_early(*_):
    global STOPPING
    STOPPING = True


def main():
    args = parse_args()
    signal.signal(signal.SIGTERM, stop_early)  # stop starting; still report
    tally = Tally()
    if args.kind == "flood":
        report = asyncio.run(flood(args, tally))
    elif args.kind == "tls_slowloris":
        report = asyncio.run(slowloris(args, tally, "tls_slowloris", client_hello()))
    elif args.kind == "admin_slowloris":
        report = asyncio.run(slowloris(args, tally, "admin_slowloris", admin_request()))
    else:
        report = reconnect_loop(args, tally)
    report["kind"] = args.kind
    print(json.dumps(report), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
