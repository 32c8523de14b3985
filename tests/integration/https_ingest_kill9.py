"""HTTPS ingest keeps what it answered 201 through kill -9: an encoder PUTs
segments (keep-alive, a bearer token); ingestd is SIGKILLed while the next
upload is half sent; started again on the same spool, it is drained to the
store, and the camera's export is exactly the segments answered 201, in
order, byte for byte (the cut-off upload is not in it). The encoder then
re-PUTs the last acknowledged segment (answered 201 again, not stored twice)
and goes on with the next one.

About 5 s; the seed of the segment sizes and contents is printed.
"""

import hashlib
import json
import os
import random
import socket
import ssl
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../faults"))
import fault_run  # noqa: E402
import rolling_replacement  # noqa: E402

TOKEN = "kill9-token"
CAMERA = "cam-k9"


class Encoder:
    """One keep-alive HTTPS connection sending PUTs by hand, so an upload can
    be left half sent."""

    def __init__(self, port):
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = context.wrap_socket(raw)
        self.file = self.sock.makefile("rb")

    def send_head(self, name, length):
        self.sock.sendall((f"PUT /v1/cameras/{CAMERA}/{name} HTTP/1.1\r\nHost: x\r\n"
                           f"Authorization: Bearer {TOKEN}\r\nContent-Length: {length}\r\n\r\n").encode())

    def put(self, name, body):
        self.send_head(name, len(body))
        self.sock.sendall(body)
        status = int(self.file.readline().split()[1])
        length = 0
        while True:
            line = self.file.readline()
            if line in (b"\r\n", b""):
                break
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":")[1])
        self.file.read(length)
        return status

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def main():
    p = fault_run.new_parser(__doc__)
    fault_run.add_common_args(p, cameras=1, segment_ms=1000, segment_bytes=16384)
    p.add_argument("--segments", type=int, default=25)
    args = fault_run.parse_args(p)
    rng = random.Random(args.seed)
    fault_run.say(f"seed {args.seed}")
    failures = []
    with fault_run.Workspace("https-kill9-", args) as ws:
        creds = os.path.join(ws.work, "encoders.txt")
        with open(creds, "w") as f:
            f.write(f"token {CAMERA} sha256:{hashlib.sha256(TOKEN.encode()).hexdigest()}\n")
        (https_port,) = rolling_replacement.free_ports(1)
        server = ws.ingestd(server={"https_listen": json.dumps(f"127.0.0.1:{https_port}")},
                            tls={"encoder_credentials_file": json.dumps(creds)})
        server.start()
        server.wait_ready()
        segments = [rng.randbytes(rng.randrange(20_000, 200_000)) for _ in range(args.segments + 2)]
        encoder = Encoder(https_port)
        acknowledged = []
        for n in range(args.segments):
            status = encoder.put(f"live{n}.ts", segments[n])
            if status != 201:
                failures.append(f"live{n}.ts: {status} before the kill")
            acknowledged.append(n)
        # The next upload half sent, then kill -9.
        cut = segments[args.segments]
        encoder.send_head(f"live{args.segments}.ts", len(cut))
        encoder.sock.sendall(cut[: len(cut) // 2])
        time.sleep(0.2)
        server.kill9()
        encoder.close()
        server.start()
        server.wait_ready()

        # The encoder comes back: the last acknowledged segment again (201,
        # not stored twice), then the one that was cut off, whole.
        encoder = Encoder(https_port)
        last = acknowledged[-1]
        if encoder.put(f"live{last}.ts", segments[last]) != 201:
            failures.append(f"re-PUT of live{last}.ts after the restart was not answered 201")
        if encoder.put(f"live{args.segments}.ts", cut) != 201:
            failures.append(f"live{args.segments}.ts, sent again whole, was not answered 201")
        acknowledged.append(args.segments)
        encoder.close()
        code = server.flush_and_stop()
        if code != 0:
            failures.append(f"ingestd exited {code} on SIGTERM")

        out = subprocess.run([args.ingestctl, f"--store_dir={ws.store_dir}", f"--zone={fault_run.ZONE}", "export",
                              f"--camera={CAMERA}", "--from=0", "--to=9999999999999999", "--out=-", "--json"],
                             capture_output=True, timeout=120)
        summaries = [l for l in out.stderr.decode(errors="replace").splitlines() if l.startswith('{"camera"')]
        stats = json.loads(summaries[-1]) if summaries else {}
        expected = b"".join(segments[n] for n in acknowledged)
        if out.stdout != expected:
            failures.append(f"the export ({len(out.stdout)} bytes, {stats.get('segments')} segments) is not the "
                            f"{len(acknowledged)} acknowledged segments ({len(expected)} bytes) in order")
        if stats.get("segments") != len(acknowledged) or stats.get("duplicates_skipped") or \
                stats.get("conflicting_copies"):
            failures.append(f"store: {stats}")
        figures = {"acknowledged_before_kill": args.segments, "segments_in_store": stats.get("segments"),
                   "server_starts": server.starts, "exits": server.exits}
        return fault_run.finish(figures, failures, ws)


if __name__ == "__main__":
    sys.exit(main())
