#!/usr/bin/env python3
"""camera-bench as an SRE runs it: the binary against a real ingestd process,
a short `run mixed` (every kind of camera group) with --out, the JSON result
read back, the HTML report rendered again with `camera-bench report` and
opened in headless Chromium (tests/bench/check_report_renders.py: the page is
not blank and every chart and table is there), and bad command lines refused
with a clear message and exit code 2.

    camera_bench_cli_test.py --camera_bench build/bench/camera-bench --ingestd build/server/ingestd

Exit 0 passed, 1 failed, 77 skipped (no chromium).
"""

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
SKIPPED = 77


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_serving(log_path, proc, timeout_s=20):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("ingestd exited: " + open(log_path).read()[-2000:])
        with open(log_path) as f:
            if '"event":"ingestd_serving"' in f.read():
                return
        time.sleep(0.1)
    raise RuntimeError("ingestd did not start serving in %d s" % timeout_s)


def run(cmd, timeout_s):
    print("+ " + " ".join(cmd), file=sys.stderr, flush=True)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout_s)


def expect(failures, condition, what):
    if not condition:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)


def bad_command_lines(bench, failures):
    for args, message in (
        (["run", "hurricane"], "unknown scenario"),
        (["run", "steady", "--cameras", "0"], "--cameras"),
        (["run", "steady", "--bitrate_mix", "1000:x"], "--bitrate_mix"),
        (["run", "storm", "--idle=false"], "--storm needs --idle"),
        (["capacity", "--start_cameras", "50", "--max_cameras", "10"], "start_cameras"),
        ([], "which command"),
        (["--out", "x.json", "run", "storm"], "the command comes first"),
        (["run", "--cameras", "5", "storm"], "scenario first"),
        (["capacity", "--bitrate_mix", "1000:1"], "--bitrate_mix"),
    ):
        result = run([bench] + args + ["--target", "127.0.0.1:9"], 30) if args else run([bench], 30)
        expect(failures, result.returncode == 2 and message in result.stderr,
               "camera-bench %s: want exit 2 and %r, got %d: %s" % (" ".join(args), message, result.returncode,
                                                                     result.stderr.strip()[-300:]))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--camera_bench", required=True)
    p.add_argument("--ingestd", required=True)
    p.add_argument("--chromium", help="default: chromium on PATH")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args()
    chromium = args.chromium or shutil.which("chromium")
    if chromium is None:
        print("camera_bench_cli_test: SKIP: no chromium (scripts/setup.sh installs it)")
        return SKIPPED

    failures = []
    work = tempfile.mkdtemp(prefix="camera-bench-cli-")
    port, admin = free_port(), free_port()
    log_path = os.path.join(work, "ingestd.log")
    with open(log_path, "w") as log:
        server = subprocess.Popen(
            [args.ingestd, "--dev-certs", "--listen", "127.0.0.1:%d" % port, "--admin-listen",
             "127.0.0.1:%d" % admin, "--state-dir", os.path.join(work, "var"), "--stats-interval-s", "0"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_serving(log_path, server)
        out = os.path.join(work, "mixed.json")
        result = run([args.camera_bench, "run", "mixed", "--target", "127.0.0.1:%d" % port, "--admin",
                      "127.0.0.1:%d" % admin, "--certs_dir", os.path.join(work, "var/dev-certs"), "--cameras", "40",
                      "--segment_ms", "250", "--segment_bytes", "16384", "--duration_s", "3", "--out", out], 120)
        print(result.stdout, file=sys.stderr)
        expect(failures, result.returncode == 0, "run mixed exited %d: %s" % (result.returncode, result.stderr[-800:]))
        expect(failures, "cameras 40/40" in result.stderr, "a live line with every camera connected")
        expect(failures, "verdict: ok" in result.stdout, "the summary's verdict")
        with open(out) as f:
            doc = json.load(f)
        expect(failures, doc["kind"] == "run" and doc["scenario"] == "mixed", "kind run, scenario mixed")
        expect(failures, doc["server"]["pid"] == server.pid, "the local server found by its port: %s" % doc["server"])
        expect(failures, doc["server"]["version"] != "", "the server's version from /status")
        expect(failures, doc["summary"]["server_cpu_s"] is not None, "the server's CPU from /proc")
        expect(failures, doc["summary"]["all_acked"], "every segment acknowledged")
        expect(failures, sorted(g["name"] for g in doc["groups"]) ==
               sorted(["1000kbps", "4000kbps", "256kbps", "slow-readers", "slow-senders", "idle"]),
               "every group of the mix: %s" % [g["name"] for g in doc["groups"]])
        expect(failures, len(doc["series"]["t_s"]) >= 3, "a point a second")

        html = os.path.join(work, "again.html")
        result = run([args.camera_bench, "report", out, "--html", html], 60)
        expect(failures, result.returncode == 0 and os.path.getsize(html) > 10000, "report renders the JSON again")
        result = run([sys.executable, os.path.join(HERE, "check_report_renders.py"), html, "--chromium", chromium],
                     180)
        print(result.stdout.strip(), file=sys.stderr)
        expect(failures, result.returncode == 0, "chromium renders the report: " + result.stdout.strip())

        not_result = os.path.join(work, "not-a-result.json")
        with open(not_result, "w") as f:
            f.write('{"tool": "something-else"}')
        result = run([args.camera_bench, "report", not_result], 30)
        expect(failures, result.returncode == 1 and "camera-bench result" in result.stderr,
               "report refuses a document that is not a result: %s" % result.stderr.strip())
        bad_command_lines(args.camera_bench, failures)
    finally:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()
        if not failures and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("camera_bench_cli_test: FAILED (%d): %s; work folder %s" % (len(failures), "; ".join(failures), work))
        return 1
    print("camera_bench_cli_test: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
