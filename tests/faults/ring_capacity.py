#!/usr/bin/env python3
"""Ring capacity: the connections ingestd can hold are known at start, and a
camera beyond them is answered at once.

Each shard's io_uring keeps its sockets in a direct-descriptor table that the
kernel caps at RLIMIT_NOFILE, so a shard holds at most that many less 64 (the
slots kept to accept a connection only to refuse it). Here ingestd runs with
a descriptor limit of 256 (192 cameras per shard), which shows at a small
scale what 20,000 shows at 40,000 cameras:

  too_many: --shards=1 --max_connections=250 is refused at start with the
      numbers and the fix (more shards), not found out as accept errors;
  full: --shards=2 --max_connections=384, and 420 cameras connect one after
      the other, each held open. The kernel spreads them over the two
      shards' listeners by a hash, so one shard can fill before the process
      does. Every camera gets WELCOME or REJECT SERVER_FULL within its
      timeout (none waits in the accept queue for a slot), no more than 384
      are welcomed, no accept fails (ingest_accept_errors_total 0), and
      /readyz turns 503 on below_capacity at 95% of max_connections (365),
      before the server is full.

Exit 0 passed, 1 failed. Progress to stderr.

    tests/faults/ring_capacity.py --ingestd build/server/ingestd
"""

import argparse
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import raw_camera  # noqa: E402

DESCRIPTOR_LIMIT = 256
CAMERAS_PER_SHARD = DESCRIPTOR_LIMIT - 64
MAX_CONNECTIONS = 2 * CAMERAS_PER_SHARD
CAMERAS = 420
READY_BELOW = MAX_CONNECTIONS - MAX_CONNECTIONS // 20


def say(message):
    print(f"ring_capacity: {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lower_descriptor_limit():
    resource.setrlimit(resource.RLIMIT_NOFILE, (DESCRIPTOR_LIMIT, DESCRIPTOR_LIMIT))


def ingestd_command(args, work, certs, port, admin_port, shards, max_connections):
    return [args.ingestd, f"--listen=127.0.0.1:{port}", f"--admin_listen=127.0.0.1:{admin_port}",
            f"--state_dir={work}/state", f"--shards={shards}", f"--max_connections={max_connections}",
            f"--max_connections_per_source={max_connections}", f"--tls_cert={certs}/server.crt",
            f"--tls_key={certs}/server.key", f"--camera_ca={certs}/camera-ca.crt", "--log_level=warn",
            "--stats_interval_s=0", "--drain_announce_delay_ms=0"]


def http_get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except OSError:
        return 0, ""


def metric(admin_port, name):
    total = 0.0
    for line in http_get(admin_port, "/metrics")[1].splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def poll_readyz(admin_port, wanted_status, timeout_s):
    """/readyz until it answers wanted_status or timeout_s pass; the last answer."""
    deadline = time.monotonic() + timeout_s
    answer = http_get(admin_port, "/readyz")
    while answer[0] != wanted_status and time.monotonic() < deadline:
        time.sleep(0.05)
        answer = http_get(admin_port, "/readyz")
    return answer


def too_many(args, work, certs, failures):
    command = ingestd_command(args, work, certs, free_port(), free_port(), shards=1, max_connections=250)
    result = subprocess.run(command, preexec_fn=lower_descriptor_limit, capture_output=True, text=True,
                            timeout=30)
    expected = f"server.max_connections: 250 is more than 1 shards can hold ({CAMERAS_PER_SHARD}"
    if result.returncode == 0 or expected not in result.stderr or "server.shards to at least 2" not in result.stderr:
        failures.append(f"too_many: exit {result.returncode}, stderr {result.stderr[-600:]!r}")
    else:
        say(f"too_many: refused at start: {expected} ...")


def full(args, work, certs, failures):
    port, admin_port = free_port(), free_port()
    command = ingestd_command(args, work, certs, port, admin_port, shards=2, max_connections=MAX_CONNECTIONS)
    server = subprocess.Popen(command, preexec_fn=lower_descriptor_limit, stdout=subprocess.DEVNULL,
                              stderr=open(os.path.join(work, "ingestd.log"), "w"))
    cameras = []
    try:
        deadline = time.monotonic() + 30
        while http_get(admin_port, "/readyz")[0] != 200:
            if server.poll() is not None or time.monotonic() > deadline:
                failures.append("full: ingestd did not become ready")
                return
            time.sleep(0.1)
        welcomed = refused = 0
        ready_seen_at = None
        for n in range(1, CAMERAS + 1):
            camera_id = f"cam-{n:06d}"
            try:
                camera = raw_camera.RawCamera("127.0.0.1", port, certs, camera_id, timeout_s=10)
                answer = camera.hello()
            except (OSError, raw_camera.Closed) as e:
                failures.append(f"full: {camera_id} got no answer: {e}")
                break
            if answer.type == raw_camera.WELCOME:
                welcomed += 1
                cameras.append(camera)
            elif answer.type == raw_camera.REJECT:
                refused += 1
                camera.close()
            else:
                failures.append(f"full: {camera_id} got {answer}")
                break
            if welcomed == READY_BELOW - 1:
                # A camera just refused by a full shard still holds its
                # connection until the close completes, and /readyz counts
                # it; wait (bounded) for those closes.
                ready_seen_at = poll_readyz(admin_port, 200, timeout_s=10)
        not_ready = http_get(admin_port, "/readyz")
        accept_errors = metric(admin_port, "ingest_accept_errors_total")
        with open(os.path.join(work, "ingestd.log")) as log:
            shard_refusals = log.read().count("over the shard's capacity")
        say(f"full: {welcomed} welcomed, {refused} refused of {CAMERAS}; accept errors {accept_errors:.0f}; "
            f"{shard_refusals} refused by a full shard (log lines); readyz at {READY_BELOW - 1} welcomed {ready_seen_at and ready_seen_at[0]}, at the end {not_ready[0]}")
        if welcomed + refused != CAMERAS:
            failures.append(f"full: {welcomed} + {refused} answers for {CAMERAS} cameras")
        if welcomed > MAX_CONNECTIONS or welcomed < MAX_CONNECTIONS - 64:
            failures.append(f"full: {welcomed} welcomed, expected at most {MAX_CONNECTIONS} and near it")
        if accept_errors != 0:
            failures.append(f"full: {accept_errors:.0f} accepts failed")
        if ready_seen_at is None or ready_seen_at[0] != 200:
            failures.append(f"full: not ready below 95% of max_connections: {ready_seen_at}")
        if not_ready[0] != 503 or "below_capacity" not in not_ready[1]:
            failures.append(f"full: /readyz at {welcomed} connections: {not_ready}")
    finally:
        for camera in cameras:
            camera.close()
        server.terminate()
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--ingestd", required=True)
    args = parser.parse_args()
    work = tempfile.mkdtemp(prefix="ring-capacity-")
    failures = []
    try:
        certs = os.path.join(work, "certs")
        subprocess.run([args.ingestd, "certs", f"--out={certs}", f"--cameras={CAMERAS}"], check=True,
                       stdout=subprocess.DEVNULL)
        too_many(args, work, certs, failures)
        full(args, work, certs, failures)
    finally:
        if failures:
            say(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    for failure in failures:
        say(f"FAILED {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
