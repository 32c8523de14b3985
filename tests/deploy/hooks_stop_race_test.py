#!/usr/bin/env python3
"""The CodeDeploy hooks application_stop.sh and application_start.sh when a
stop is already under way (the Auto Scaling lifecycle watcher's
`systemctl stop --no-block`, an operator): ActiveState is `deactivating`,
`systemctl is-active` is false and ExecMainStatus still 0, none of which
means "stopped". Runs against a real ingestd supervised by
tests/deploy/fake_systemctl.py (or a pid file):

  stop_waits_for_drain      ApplicationStop waits for the drain under way,
                            then checks its audit: exit 0 once it completed
  start_waits_for_stop      ApplicationStart waits for the stop job, says so,
                            then starts
  start_gives_up_clearly    ... and fails with a message at its own limit
  stop_pidfile_draining     pidfile mode: a process already draining is
                            waited for, not signalled again
  stop_nothing_running      nothing running: exit 0, nothing to drain

    tests/deploy/hooks_stop_race_test.py --ingestd build/server/ingestd --ingestctl build/server/ingestctl
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
import traceback
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drain_audit  # noqa: E402
import fake_systemctl  # noqa: E402

SOURCE_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
HOOKS = os.path.join(SOURCE_DIR, "deploy/hooks")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Host:
    def __init__(self, args, work, name, supervisor="systemd", announce_ms=2000):
        self.root = os.path.join(work, name)
        self.prefix = os.path.join(self.root, "opt/ingestd")
        self.state_dir = os.path.join(self.root, "var/lib/ingestd")
        self.config = os.path.join(self.root, "etc/ingestd/ingestd.toml")
        self.admin_port, port = free_port(), free_port()
        for d in (os.path.join(self.prefix, "bin"), self.state_dir, os.path.dirname(self.config)):
            os.makedirs(d)
        self.bin = os.path.join(self.prefix, "bin/ingestd")
        os.symlink(args.ingestd, self.bin)
        q = json.dumps
        with open(self.config, "w") as f:
            f.write(f"""[server]
id = {q(name)}
zone = "dev"
listen = {q(f"127.0.0.1:{port}")}
admin_listen = {q(f"127.0.0.1:{self.admin_port}")}
shards = 1
max_connections = 10000
state_dir = {q(self.state_dir)}

[tls]
cert_file = {q(os.path.join(args.certs, "server.crt"))}
key_file = {q(os.path.join(args.certs, "server.key"))}
camera_ca_file = {q(os.path.join(args.certs, "camera-ca.crt"))}

[drain]
announce_delay_ms = {announce_ms}
deadline_ms = 20000
""")
        self.unit = fake_systemctl.Unit(os.path.join(self.root, "systemd"), "ingestd.service",
                                        [self.bin, "--config", self.config],
                                        os.path.join(self.state_dir, "ingestd.log"), timeout_stop_s=30)
        self.unit.install()
        self.env = {**os.environ, **self.unit.env(), "INGESTD_DEPLOY_ENV": os.devnull,
                    "INGESTD_SUPERVISOR": supervisor, "INGESTD_SERVICE": "ingestd.service",
                    "INGESTD_PREFIX": self.prefix, "INGESTD_CONFIG": self.config,
                    "INGESTD_STATE_DIR": self.state_dir, "INGESTD_ADMIN_ADDR": f"127.0.0.1:{self.admin_port}",
                    "INGESTD_START_SETTLE_S": "0.5"}
        self.outputs = []

    def hook(self, name, **extra):
        run = subprocess.run(["bash", os.path.join(HOOKS, name)], env={**self.env, **extra}, capture_output=True,
                             text=True, timeout=60)
        self.outputs.append(f"--- {name} exit {run.returncode}\n{run.stdout}{run.stderr}")
        return run

    def systemctl(self, *argv):
        return subprocess.run(["systemctl", *argv], env=self.env, capture_output=True, text=True, timeout=60)

    def wait_healthy(self):
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/healthz", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("ingestd did not become healthy")

    def start_unit(self):
        assert self.systemctl("start", "ingestd.service").returncode == 0
        self.wait_healthy()

    def drains(self):
        path = os.path.join(self.state_dir, "audit.log")
        return drain_audit.read_drains(path) if os.path.exists(path) else []

    def cleanup(self):
        self.unit.kill()
        pidfile = os.path.join(self.state_dir, "ingestd.pid")
        if os.path.exists(pidfile):
            try:
                os.kill(int(open(pidfile).read().strip()), signal.SIGKILL)
            except (ProcessLookupError, ValueError):
                pass


def stop_waits_for_drain(args, work):
    host = Host(args, work, "stop-waits")
    try:
        host.start_unit()
        host.systemctl("stop", "--no-block", "ingestd.service")
        assert host.unit.state() == "deactivating"
        # The old check: is-active false, ExecMainStatus 0.
        assert host.systemctl("is-active", "--quiet", "ingestd.service").returncode != 0
        assert host.systemctl("show", "-p", "ExecMainStatus", "--value", "ingestd.service").stdout.strip() == "0"
        run = host.hook("application_stop.sh")
        assert run.returncode == 0, host.outputs[-1]
        assert "already stopping" in run.stdout and "nothing to drain" not in run.stdout, run.stdout
        assert host.unit.state() == "inactive", host.unit.state()
        assert "drain complete" in run.stdout, run.stdout
        drains = host.drains()
        assert len(drains) == 1 and drains[0].field("drain_started", "fast") is False, [d.lines for d in drains]
    finally:
        host.cleanup()
    return host


def start_waits_for_stop(args, work):
    host = Host(args, work, "start-waits")
    try:
        host.start_unit()
        first = host.unit.main_pid()
        host.systemctl("stop", "--no-block", "ingestd.service")
        run = host.hook("application_start.sh")
        assert run.returncode == 0, host.outputs[-1]
        assert "still stopping" in run.stdout, run.stdout
        assert host.unit.state() == "active" and host.unit.main_pid() not in (0, first)
        assert host.drains()[-1].field("drain_finished", "outcome") == "complete"
    finally:
        host.cleanup()
    return host


def start_gives_up_clearly(args, work):
    host = Host(args, work, "start-gives-up", announce_ms=5000)
    try:
        host.start_unit()
        host.systemctl("stop", "--no-block", "ingestd.service")
        run = host.hook("application_start.sh", INGESTD_HOOK_TIMEOUT_S="1")
        assert run.returncode == 1, host.outputs[-1]
        assert "FAILED" in run.stderr and "still stopping" in run.stderr, run.stderr
        assert host.unit.state() == "deactivating"
    finally:
        host.cleanup()
    return host


def stop_pidfile_draining(args, work):
    host = Host(args, work, "pidfile", supervisor="pidfile")
    try:
        run = host.hook("application_start.sh")
        assert run.returncode == 0, host.outputs[-1]
        host.wait_healthy()
        with open(os.path.join(host.state_dir, "ingestd.pid")) as f:
            pid = int(f.read())
        os.kill(pid, signal.SIGTERM)  # a drain started by someone else
        time.sleep(0.3)
        run = host.hook("application_stop.sh")
        assert run.returncode == 0, host.outputs[-1]
        assert "already stopping" in run.stdout, run.stdout
        drains = host.drains()
        assert len(drains) == 1 and drains[0].field("drain_started", "fast") is False, [d.lines for d in drains]
    finally:
        host.cleanup()
    return host


def stop_nothing_running(args, work):
    host = Host(args, work, "nothing")
    run = host.hook("application_stop.sh")
    assert run.returncode == 0 and "nothing to drain" in run.stdout, host.outputs[-1]
    return host


CASES = [stop_waits_for_drain, start_waits_for_stop, start_gives_up_clearly, stop_pidfile_draining,
         stop_nothing_running]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ingestd", required=True)
    p.add_argument("--ingestctl", help="unused; accepted for symmetry with the other deploy tests")
    p.add_argument("cases", nargs="*")
    args = p.parse_args()
    args.ingestd = os.path.abspath(args.ingestd)
    work = tempfile.mkdtemp(prefix="hooks_stop_race_test.")
    args.certs = os.path.join(work, "certs")
    subprocess.run([args.ingestd, "certs", "--out", args.certs, "--cameras", "1"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    failed = []
    for case in CASES:
        if args.cases and case.__name__ not in args.cases:
            continue
        started = time.monotonic()
        try:
            case(args, work)
            print(f"{case.__name__} ok ({time.monotonic() - started:.1f} s)", file=sys.stderr)
        except Exception:
            failed.append(case.__name__)
            traceback.print_exc()
    if failed:
        print(f"FAILED: {' '.join(failed)} (work folder kept: {work})", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    print("all cases passed", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
