"""The ffmpeg 5.1 chunked-upload trap over HTTPS, against ingestd: N short
MPEG-TS streams (lavfi testsrc, x264, one second each by default) pushed one
after another as a chunked PUT (or POST) to /v1/.../cameras/<cam-N>/stream,
each with a local copy written by the same ffmpeg through -f tee. For each
run: ffmpeg's exit code, what the server counted for it (segments stored,
truncated requests, 400s), and what the store holds for its camera against
the local copy (all of it, none of it, or a part of it).

Against nginx, Debian's ffmpeg (GnuTLS) sometimes sent the request head, one
28-byte TLS record and a reset for such a PUT, and still exited 0 (nginx
stored nothing for 8 of 30). Here a body cut short is never answered 201,
and only whole pieces cut before the cut are kept (docs/https-ingest.md).

    python3 scripts/ffmpeg_put_trap.py --build_dir build [--runs 30] [--method PUT] [--seconds 1] [--realtime]

Prints one JSON line of figures; keeps its work folder with --keep.
"""

import hashlib
import hmac
import json
import os
import subprocess
import sys
import time
import urllib.request

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../tests/faults"))
import fault_run  # noqa: E402
import rolling_replacement  # noqa: E402

KEY_HEX = "5c" * 32


def outcomes(admin_port):
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as response:
        lines = response.read().decode(errors="replace").splitlines()
    counts = {}
    for line in lines:
        if line.startswith("ingest_https_requests_total{"):
            name = line.split('outcome="', 1)[1].split('"', 1)[0]
            counts[name] = counts.get(name, 0) + int(float(line.rpartition(" ")[2]))
    return counts


def main():
    p = fault_run.new_parser(__doc__)
    fault_run.add_common_args(p, cameras=1, segment_ms=1000, segment_bytes=16384)
    p.add_argument("--runs", type=int, default=30)
    p.add_argument("--method", default="PUT", choices=["PUT", "POST"])
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--realtime", action="store_true", help="ffmpeg -re: encode at the pattern's own pace")
    args = fault_run.parse_args(p)
    failures = []
    with fault_run.Workspace("ffmpeg-trap-", args) as ws:
        creds = os.path.join(ws.work, "encoders.txt")
        with open(creds, "w") as f:
            f.write(f"key k1 {KEY_HEX}\n")
        (https_port,) = rolling_replacement.free_ports(1)
        server = ws.ingestd(server={"https_listen": json.dumps(f"127.0.0.1:{https_port}")},
                            tls={"encoder_credentials_file": json.dumps(creds)})
        server.start()
        server.wait_ready()
        expires = int(time.time()) + 86400
        runs = []
        for i in range(args.runs):
            camera = f"cam-trap-{i:03d}"
            signature = hmac.new(bytes.fromhex(KEY_HEX), f"{camera}\n{expires}".encode(), hashlib.sha256).hexdigest()
            url = f"https://127.0.0.1:{https_port}/v1/signed/{expires}/k1.{signature}/cameras/{camera}/stream"
            local = os.path.join(ws.work, f"{camera}.ts")
            before = outcomes(server.admin_port)
            done = subprocess.run(
                ["ffmpeg", "-hide_banner", "-nostdin", "-loglevel", "error"] + (["-re"] if args.realtime else []) +
                ["-f", "lavfi",
                 "-i", f"testsrc=size=320x240:rate=25:duration={args.seconds}", "-c:v", "libx264",
                 "-pix_fmt", "yuv420p", "-map", "0:v", "-f", "tee",
                 f"[f=mpegts:method={args.method}]{url}|[f=mpegts]{local}"],
                capture_output=True, text=True, timeout=120)
            time.sleep(0.3)  # the server's last completions for this run
            after = outcomes(server.admin_port)
            delta = {k: after.get(k, 0) - before.get(k, 0) for k in after if after.get(k, 0) != before.get(k, 0)}
            runs.append({"camera": camera, "ffmpeg_exit": done.returncode, "server": delta,
                         "ffmpeg_error": done.stderr.strip()[-300:]})
        server.flush_and_stop()
        classes = {"whole": 0, "nothing": 0, "part": 0, "other": 0}
        for run in runs:
            path = os.path.join(ws.work, f"{run['camera']}.export")
            out = subprocess.run([args.ingestctl, f"--store_dir={ws.store_dir}", f"--zone={fault_run.ZONE}",
                                  "export", f"--camera={run['camera']}", "--from=0", "--to=9999999999999999",
                                  f"--out={path}"], capture_output=True, timeout=60)
            stored = open(path, "rb").read() if out.returncode == 0 and os.path.exists(path) else b""
            local = open(os.path.join(ws.work, f"{run['camera']}.ts"), "rb").read()
            if stored == local:
                run["store"] = "whole"
            elif not stored:
                run["store"] = "nothing"
            elif local.startswith(stored):
                run["store"] = "part"
            else:
                run["store"] = "other"
                failures.append(f"{run['camera']}: the store holds bytes that are not a prefix of ffmpeg's copy")
            classes[run["store"]] += 1
            if run["server"].get("stream_completed") and run["store"] != "whole":
                failures.append(f"{run['camera']}: answered 201 but not stored whole")
        figures = {"runs": args.runs, "method": args.method, "seconds": args.seconds, "realtime": args.realtime,
                   "store": classes,
                   "ffmpeg_exit_nonzero": sum(1 for r in runs if r["ffmpeg_exit"] != 0),
                   "server_truncated": sum(r["server"].get("truncated", 0) for r in runs),
                   "server_bad_request": sum(r["server"].get("bad_request", 0) for r in runs),
                   "not_whole": [r for r in runs if r["store"] != "whole"]}
        return fault_run.finish(figures, failures, ws)


if __name__ == "__main__":
    sys.exit(main())
