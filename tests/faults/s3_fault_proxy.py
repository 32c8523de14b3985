#!/usr/bin/env python3
"""A fault-injecting HTTP/1.1 reverse proxy for S3 tests: it sits on
127.0.0.1 in front of an S3 endpoint (radosgw) and forwards requests byte for
byte, or answers them itself with a fault set at run time.

SigV4 signs the Host header, so the proxy keeps the client's Host as it is
(127.0.0.1:<proxy port>) and only connects to the upstream's port; the
upstream checks the signature against the Host it receives, which is the one
that was signed. Path-style addressing only (the bucket is in the path).

Faults, settable at any time with set_faults():
  - error_share / slowdown_share: that share of requests is answered
    500 InternalError / 503 SlowDown (S3 XML error bodies) without being
    forwarded; the request body is read first, so the connection stays usable;
  - latency_ms: every request waits this long before it is handled;
  - stall_share: that share of requests is read and never answered (the
    connection is held until the client gives up or the proxy stops);
  - down: "refuse" closes the listening socket (connections refused),
    "reset" accepts and resets every connection; either way, connections open
    at that moment are reset. None brings the proxy back on the same port.
Every request is counted once: forwarded, or under the fault it got
(refused_or_reset also counts connections reset as they were accepted; a
refused connection is never seen, so not counted). latency_added counts the
requests that waited, whatever happened to them next; upstream_failed the
forwarded requests the upstream did not answer.

    proxy = FaultProxy(upstream_port=8000)
    proxy.start()                      # proxy.port: a free port
    proxy.set_faults(slowdown_share=0.3, error_share=0.1)
    proxy.set_faults(latency_ms=300)   # replaces every earlier fault
    proxy.set_faults(down="refuse")
    proxy.set_faults()                 # healthy again
    print(proxy.counts())
    proxy.stop()

As a program, with fixed faults until SIGINT or SIGTERM (counts on exit):

    tests/faults/s3_fault_proxy.py --upstream 127.0.0.1:8000 --slowdown_share 0.3
"""

import argparse
import random
import signal
import socket
import struct
import sys
import threading
import time

MAX_HEAD_BYTES = 64 << 10
# A client's idle keep-alive connection is closed after this long.
IDLE_TIMEOUT_S = 120
# No progress from the upstream for this long fails the request (ingestd's own
# io_timeout is 30 s, so the client gives up first).
UPSTREAM_TIMEOUT_S = 60
# A stalled request is held at most this long.
STALL_LIMIT_S = 600

FAULT_KINDS = ("forwarded", "internal_error", "slow_down", "stalled", "latency_added",
               "refused_or_reset", "upstream_failed")

ERROR_REPLIES = {
    "internal_error": (500, "Internal Server Error", "InternalError",
                       "We encountered an internal error. Please try again."),
    "slow_down": (503, "Slow Down", "SlowDown", "Please reduce your request rate."),
}


class Closed(Exception):
    """The peer closed, reset or timed out."""


class FaultProxy:
    def __init__(self, upstream_port, upstream_host="127.0.0.1", port=0, seed=None):
        self.upstream = (upstream_host, upstream_port)
        self.port = port  # fixed once start() has bound it
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._faults = {}
        self._counts = dict.fromkeys(FAULT_KINDS, 0)
        self._connections = set()  # client sockets open now
        self._listener = None
        self._stopping = threading.Event()
        self._thread = None

    # ------------------------------------------------------------ control
    def start(self):
        self._listen()
        self._thread = threading.Thread(target=self._accept_loop, name="proxy-accept", daemon=True)
        self._thread.start()

    def stop(self):
        self._stopping.set()
        if self._thread:
            self._thread.join(timeout=5)
        self._close_listener()
        self._reset_open_connections()

    def set_faults(self, error_share=0.0, slowdown_share=0.0, stall_share=0.0, latency_ms=0, down=None):
        """Replaces the faults in force. Shares are of all requests, and add
        up to at most 1."""
        if down not in (None, "refuse", "reset"):
            raise ValueError(f"down must be None, 'refuse' or 'reset', not {down!r}")
        if min(error_share, slowdown_share, stall_share) < 0 or error_share + slowdown_share + stall_share > 1:
            raise ValueError("fault shares must be >= 0 and add up to at most 1")
        with self._lock:
            was_down = self._faults.get("down")
            self._faults = {"error_share": error_share, "slowdown_share": slowdown_share,
                            "stall_share": stall_share, "latency_ms": latency_ms, "down": down}
            listening = self._listener is not None
        if down and not was_down:
            self._reset_open_connections()
        if down == "refuse" and listening:
            self._close_listener()
        elif down != "refuse" and not listening and not self._stopping.is_set():
            self._listen()

    def counts(self):
        with self._lock:
            return dict(self._counts)

    # ------------------------------------------------------------ listening
    def _listen(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(256)
        listener.settimeout(0.2)  # so the accept loop notices stop() and "refuse"
        self.port = listener.getsockname()[1]
        with self._lock:
            self._listener = listener

    def _close_listener(self):
        with self._lock:
            listener, self._listener = self._listener, None
        if listener:
            listener.close()

    def _accept_loop(self):
        while not self._stopping.is_set():
            with self._lock:
                listener = self._listener
            if listener is None:  # down: refusing
                self._stopping.wait(0.05)
                continue
            try:
                client, _ = listener.accept()
            except (socket.timeout, OSError):
                continue
            with self._lock:
                down = self._faults.get("down")
                if down:
                    self._counts["refused_or_reset"] += 1
            if down:
                _reset(client)
                continue
            client.settimeout(IDLE_TIMEOUT_S)
            with self._lock:
                self._connections.add(client)
            threading.Thread(target=self._serve, args=(client,), name="proxy-conn", daemon=True).start()

    def _reset_open_connections(self):
        with self._lock:
            open_now = list(self._connections)
        for client in open_now:
            # shutdown() wakes the thread blocked on it; the reset follows when it closes.
            _set_linger_zero(client)
            try:
                client.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # ------------------------------------------------------------ one connection
    def _serve(self, client):
        upstream = None
        reader = _Reader(client)
        try:
            while not self._stopping.is_set():
                head = reader.read_head()
                if head is None:
                    return  # the client closed between requests
                method, target, headers = _parse_request_head(head)
                if "chunked" in headers.get("transfer-encoding", "").lower():
                    raise Closed("chunked request bodies are not supported")
                body = reader.read_exact(int(headers.get("content-length", "0")))
                fault, latency_ms = self._decide()
                if latency_ms:
                    time.sleep(latency_ms / 1000)
                if fault == "refused_or_reset":
                    _set_linger_zero(client)  # the close below resets the connection
                    return
                if fault == "stalled":
                    self._stall(client)
                    return
                if fault in ERROR_REPLIES:
                    client.sendall(_error_reply(fault, method, target))
                    continue
                try:
                    upstream, keep_open = self._forward(upstream, head + body, client, method)
                except Closed:
                    with self._lock:
                        self._counts["upstream_failed"] += 1
                    return  # the client sees the connection drop and retries
                if not keep_open or "close" in headers.get("connection", "").lower():
                    return
        except (Closed, OSError, ValueError):
            return
        finally:
            with self._lock:
                self._connections.discard(client)
            if upstream is not None:
                upstream.sock.close()
            client.close()

    def _forward(self, upstream, request, client, method):
        """Sends one request upstream and relays its answer. An idle upstream
        connection the gateway closed meanwhile is replaced once, if nothing
        of the answer was relayed yet. Returns (upstream reader, whether the
        connections may carry another request)."""
        for attempt in (1, 2):
            reused = upstream is not None
            if upstream is None:
                try:
                    upstream = _Reader(socket.create_connection(self.upstream, timeout=UPSTREAM_TIMEOUT_S))
                except OSError as e:
                    raise Closed(f"upstream: {e}")
            try:
                upstream.sock.sendall(request)
                head = upstream.read_head()
            except (Closed, OSError):
                head = None
            if head is not None:
                return upstream, _relay_response(head, upstream, client, method)
            upstream.sock.close()
            upstream = None
            if not reused:
                break
        raise Closed("upstream closed before answering")

    def _decide(self):
        """Which fault this request gets (None: forward it), and the latency
        to add; counts it."""
        with self._lock:
            f = self._faults
            latency_ms = f.get("latency_ms", 0)
            if f.get("down"):
                kind = "refused_or_reset"
            else:
                r = self._random.random()
                kind = "forwarded"
                for name, share in (("internal_error", f.get("error_share", 0)),
                                    ("slow_down", f.get("slowdown_share", 0)),
                                    ("stalled", f.get("stall_share", 0))):
                    if r < share:
                        kind = name
                        break
                    r -= share
            self._counts[kind] += 1
            if latency_ms:
                self._counts["latency_added"] += 1
        return (None if kind == "forwarded" else kind), latency_ms

    def _stall(self, client):
        """Holds the connection, answering nothing, until the client closes
        it, the proxy goes down or stops, or STALL_LIMIT_S passes."""
        client.settimeout(0.5)
        deadline = time.monotonic() + STALL_LIMIT_S
        while time.monotonic() < deadline and not self._stopping.is_set():
            try:
                if not client.recv(65536):
                    return
            except socket.timeout:
                continue


class _Reader:
    """Buffered reads from a socket; raises Closed on EOF or error."""

    def __init__(self, sock):
        self.sock = sock
        self.buffer = b""

    def _fill(self):
        try:
            data = self.sock.recv(65536)
        except OSError as e:
            raise Closed(str(e))
        if not data:
            raise Closed("closed by peer")
        self.buffer += data

    def read_head(self):
        """The request or response head up to and including the blank line;
        None if the peer closed cleanly before sending a byte of it."""
        while b"\r\n\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise Closed("head too long")
            try:
                self._fill()
            except Closed:
                if not self.buffer:
                    return None
                raise
        end = self.buffer.index(b"\r\n\r\n") + 4
        head, self.buffer = self.buffer[:end], self.buffer[end:]
        return head

    def read_exact(self, count):
        while len(self.buffer) < count:
            self._fill()
        data, self.buffer = self.buffer[:count], self.buffer[count:]
        return data

    def read_line(self):
        while b"\r\n" not in self.buffer:
            if len(self.buffer) > MAX_HEAD_BYTES:
                raise Closed("line too long")
            self._fill()
        end = self.buffer.index(b"\r\n") + 2
        line, self.buffer = self.buffer[:end], self.buffer[end:]
        return line

    def read_some(self):
        if not self.buffer:
            self._fill()
        data, self.buffer = self.buffer, b""
        return data


def _headers(lines):
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return headers


def _parse_request_head(head):
    lines = head.decode("latin-1").split("\r\n")
    method, target, _ = lines[0].split(" ", 2)
    return method, target, _headers(lines[1:])


def _relay_response(head, upstream, client, method):
    """Copies one response, whose head was read, from upstream to client as
    it arrives. Returns whether both connections may carry another request."""
    while True:
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers = _headers(lines[1:])
        client.sendall(head)
        if status >= 200 or status == 101:
            break
        head = upstream.read_head()  # a 1xx interim answer was relayed; the final one follows
        if head is None:
            raise Closed("upstream closed after an interim answer")
    keep_open = "close" not in headers.get("connection", "").lower()
    if method == "HEAD" or status in (204, 304):
        return keep_open
    if "chunked" in headers.get("transfer-encoding", "").lower():
        while True:
            size_line = upstream.read_line()
            client.sendall(size_line)
            size = int(size_line.split(b";")[0].strip(), 16)
            if size == 0:
                while True:  # trailers, then the blank line
                    line = upstream.read_line()
                    client.sendall(line)
                    if line == b"\r\n":
                        return keep_open
            client.sendall(upstream.read_exact(size + 2))
    if "content-length" in headers:
        left = int(headers["content-length"])
        while left > 0:
            chunk = upstream.read_some()[:left]
            client.sendall(chunk)
            left -= len(chunk)
        return keep_open
    while True:  # the body runs until the upstream closes
        try:
            client.sendall(upstream.read_some())
        except Closed:
            return False


def _error_reply(kind, method, target):
    status, reason, code, message = ERROR_REPLIES[kind]
    request_id = f"fault-{random.getrandbits(48):012x}"
    body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code><Message>{message}</Message>'
            f"<Resource>{target.split('?', 1)[0]}</Resource><RequestId>{request_id}</RequestId></Error>").encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/xml\r\n"
            f"Content-Length: {0 if method == 'HEAD' else len(body)}\r\nx-amz-request-id: {request_id}\r\n"
            f"Date: {time.strftime('%a, %d %b %Y %H:%M:%S GMT', time.gmtime())}\r\n\r\n").encode()
    return head if method == "HEAD" else head + body


def _set_linger_zero(sock):
    """Makes close() send a reset instead of a clean end."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    except OSError:
        pass


def _reset(sock):
    _set_linger_zero(sock)
    sock.close()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--upstream", required=True, help="127.0.0.1:PORT of the S3 endpoint")
    p.add_argument("--port", type=int, default=0, help="0: a free port (printed)")
    p.add_argument("--error_share", type=float, default=0.0)
    p.add_argument("--slowdown_share", type=float, default=0.0)
    p.add_argument("--stall_share", type=float, default=0.0)
    p.add_argument("--latency_ms", type=int, default=0)
    p.add_argument("--down", choices=("refuse", "reset"))
    args = p.parse_args()
    host, _, port = args.upstream.rpartition(":")
    proxy = FaultProxy(int(port), upstream_host=host, port=args.port)
    proxy.start()
    proxy.set_faults(args.error_share, args.slowdown_share, args.stall_share, args.latency_ms, args.down)
    print(f"listening on 127.0.0.1:{proxy.port}", flush=True)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.wait(1):
        pass
    proxy.stop()
    print(proxy.counts(), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
