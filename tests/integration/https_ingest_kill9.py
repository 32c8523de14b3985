"""HTTPS ingest keeps what it answered 201 through kill -9: an encoder PUTs
segments (keep-alive, a bearer token); ingestd is SIGKILLed while the next
upload is half sent; started again on the same spool, it is drained to the
store, and the camera's export is exactly the segments answered 201, in
order, byte for byte (the cut-off upload is not in it). The encoder then
re-PUTs the last acknowledged segment (answered 201 again, not stored twice)
and goes on with the next one. A second camera pushes fMP4 before the kill
(init.mp4, a playlist, segments): its export after the restart is that init
followed by its segments, byte for byte, and its init pushed again after the
restart is answered 201 without a second copy in the export.

About 5 s; the seed of the segment sizes and contents is printed.
"""

import hashlib
import json
import os
import random
import socket
import ssl
import struct
import subprocess
import sys
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../faults"))
import fault_run  # noqa: E402
import rolling_replacement  # noqa: E402

TOKEN = "kill9-token"
CAMERA = "cam-k9"
FMP4_CAMERA = "cam-k9f"


def box(kind, body):
    return struct.pack(">I", 8 + len(body)) + kind + body


def full_box(kind, flags, body):
    return box(kind, struct.pack(">I", flags) + body)


def fmp4_init():
    """ftyp and a moov of one 90 kHz track, as an encoder's init.mp4 holds."""
    tkhd = full_box(b"tkhd", 3, struct.pack(">III", 0, 0, 1) + bytes(68))
    mdhd = full_box(b"mdhd", 0, struct.pack(">IIIII", 0, 0, 90000, 0, 0))
    moov = full_box(b"mvhd", 0, bytes(96)) + box(b"trak", tkhd + box(b"mdia", mdhd))
    return box(b"ftyp", b"iso5\0\0\2\0iso6mp41") + box(b"moov", moov)


def fmp4_segment(rng):
    """A moof of 25 samples of 3,600 ticks (1 s) and an mdat of random bytes."""
    trun = full_box(b"trun", 0x100, struct.pack(">I", 25) + struct.pack(">I", 3600) * 25)
    moof = box(b"moof", full_box(b"mfhd", 0, struct.pack(">I", 1)) +
               box(b"traf", full_box(b"tfhd", 0x20000, struct.pack(">I", 1)) + trun))
    return moof + box(b"mdat", rng.randbytes(rng.randrange(5_000, 50_000)))


class Encoder:
    """One keep-alive HTTPS connection sending PUTs by hand, so an upload can
    be left half sent."""

    def __init__(self, port, camera=CAMERA):
        self.camera = camera
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        raw = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock = context.wrap_socket(raw)
        self.file = self.sock.makefile("rb")

    def send_head(self, name, length):
        self.sock.sendall((f"PUT /v1/cameras/{self.camera}/{name} HTTP/1.1\r\nHost: x\r\n"
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
            for camera in (CAMERA, FMP4_CAMERA):
                f.write(f"token {camera} sha256:{hashlib.sha256(TOKEN.encode()).hexdigest()}\n")
        (https_port,) = rolling_replacement.free_ports(1)
        server = ws.ingestd(server={"https_listen": json.dumps(f"127.0.0.1:{https_port}")},
                            tls={"encoder_credentials_file": json.dumps(creds)})
        server.start()
        server.wait_ready()
        segments = [rng.randbytes(rng.randrange(20_000, 200_000)) for _ in range(args.segments + 2)]
        # The fMP4 camera: its init, a playlist and three segments, all answered.
        init = fmp4_init()
        fragments = [fmp4_segment(rng) for _ in range(3)]
        fmp4 = Encoder(https_port, FMP4_CAMERA)
        uploads = [("init.mp4", init), ("f0.m4s", fragments[0]),
                   ("live.m3u8", b"#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:1.0,\nf0.m4s\n"),
                   ("f1.m4s", fragments[1]), ("f2.m4s", fragments[2])]
        for name, body in uploads:
            status = fmp4.put(name, body)
            if status != 201:
                failures.append(f"{FMP4_CAMERA}/{name}: {status} before the kill")
        fmp4.close()
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
        fmp4 = Encoder(https_port, FMP4_CAMERA)
        if fmp4.put("init.mp4", init) != 201:
            failures.append(f"{FMP4_CAMERA}: init.mp4 pushed again after the restart was not answered 201")
        fmp4.close()
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
        out = subprocess.run([args.ingestctl, f"--store_dir={ws.store_dir}", f"--zone={fault_run.ZONE}", "export",
                              f"--camera={FMP4_CAMERA}", "--from=0", "--to=9999999999999999", "--out=-", "--json"],
                             capture_output=True, timeout=120)
        summaries = [l for l in out.stderr.decode(errors="replace").splitlines() if l.startswith('{"camera"')]
        fmp4_stats = json.loads(summaries[-1]) if summaries else {}
        if out.stdout != init + b"".join(fragments) or fmp4_stats.get("init_segments") != 1:
            failures.append(f"{FMP4_CAMERA}: the export ({len(out.stdout)} bytes) is not its init and its 3 "
                            f"segments: {fmp4_stats}")
        figures = {"acknowledged_before_kill": args.segments, "segments_in_store": stats.get("segments"),
                   "fmp4_export": {k: fmp4_stats.get(k) for k in ("segments", "init_segments")},
                   "server_starts": server.starts, "exits": server.exits}
        return fault_run.finish(figures, failures, ws)


if __name__ == "__main__":
    sys.exit(main())
