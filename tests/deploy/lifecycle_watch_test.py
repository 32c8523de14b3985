#!/usr/bin/env python3
"""deploy/systemd/ingestd-lifecycle-watch.sh against a real ingestd, run over
and over as its timer would, with a fake AWS (tests/deploy/fake_aws.py: IMDS,
Auto Scaling) and a fake systemctl (tests/deploy/fake_systemctl.py) that
supervises ingestd with systemd's stop-job semantics. One case per behaviour:

  in_service_healthy        InService, all well: no AWS call
  in_service_not_ready      /readyz fails (at capacity), /healthz fine: no
                            SetInstanceHealth, never replaced for readiness
  in_service_wedged         ingestd SIGSTOPped past the threshold: exactly one
                            SetInstanceHealth Unhealthy
  terminating_drain         Terminated: the drain starts, heartbeats while it
                            drains, CompleteLifecycleAction exactly once, after
                            the audit says complete, never before
  terminating_killed_run    a run killed mid-way and a run while the unit is
                            deactivating do not complete the action
  terminating_deadline      a drain that hits its deadline (store broken,
                            exit 1): ingestd started again, heartbeats go on,
                            completes after a later complete drain
  terminating_never_ran     nothing installed: completes at once
  terminating_gives_up      data in the spool that cannot be uploaded:
                            heartbeats until INGESTD_LIFECYCLE_MAX_WAIT_S,
                            then says what is lost and stops; never completes

    tests/deploy/lifecycle_watch_test.py --ingestd build/server/ingestd \\
        --ingestctl build/server/ingestctl --camera_sim build/bench/camera-sim [case ...]
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
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import drain_audit  # noqa: E402
import fake_aws  # noqa: E402
import fake_systemctl  # noqa: E402

SOURCE_DIR = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "../.."))
WATCH = os.path.join(SOURCE_DIR, "deploy/systemd/ingestd-lifecycle-watch.sh")
ASG = "ingestd-dev"
HOOK = "ingestd-dev-drain"
START = time.monotonic()
HOSTS = []  # every Host made, for the failure report


def say(message):
    print(f"[{time.monotonic() - START:6.1f}s] {message}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def aws_env():
    """Fake credentials, no real AWS configuration, no retries hiding failures."""
    return {"AWS_ACCESS_KEY_ID": "AKIDFAKE", "AWS_SECRET_ACCESS_KEY": "fake", "AWS_DEFAULT_REGION": "eu-west-1",
            "AWS_EC2_METADATA_DISABLED": "true", "AWS_MAX_ATTEMPTS": "1", "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull, "AWS_PAGER": ""}


def http_get(port, path):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=3) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Host:
    """One instance: a prefix with the binaries (or none), a configuration, a
    state folder, its own store, a fake systemd unit and the deploy env file."""

    def __init__(self, args, work, aws, name, installed=True, announce_ms=300, deadline_ms=5000,
                 max_connections=100, settings=None):
        self.args, self.aws, self.name = args, aws, name
        self.root = os.path.join(work, name)
        self.prefix = os.path.join(self.root, "opt/ingestd")
        self.state_dir = os.path.join(self.root, "var/lib/ingestd")
        self.store_dir = os.path.join(self.root, "store")
        self.config = os.path.join(self.root, "etc/ingestd/ingestd.toml")
        self.env_file = os.path.join(self.root, "etc/default/ingestd-deploy")
        self.port, self.admin_port = free_port(), free_port()
        for d in (os.path.join(self.prefix, "bin"), self.state_dir, self.store_dir, os.path.dirname(self.config),
                  os.path.dirname(self.env_file)):
            os.makedirs(d, exist_ok=True)
        if installed:
            os.symlink(args.ingestd, os.path.join(self.prefix, "bin/ingestd"))
            os.symlink(args.ingestctl, os.path.join(self.prefix, "bin/ingestctl"))
        self.write_config(announce_ms, deadline_ms, max_connections)
        self.unit = fake_systemctl.Unit(os.path.join(self.root, "systemd"), "ingestd.service",
                                        [os.path.join(self.prefix, "bin/ingestd"), "--config", self.config],
                                        os.path.join(self.state_dir, "ingestd.log"), timeout_stop_s=30)
        self.unit.install()
        self.imds = aws.add_instance(name)
        settings = {
            "INGESTD_SUPERVISOR": "systemd",
            "INGESTD_SERVICE": "ingestd.service",
            "INGESTD_PREFIX": self.prefix,
            "INGESTD_CONFIG": self.config,
            "INGESTD_STATE_DIR": self.state_dir,
            "INGESTD_ADMIN_ADDR": f"127.0.0.1:{self.admin_port}",
            "INGESTD_ASG_NAME": ASG,
            "INGESTD_LIFECYCLE_HOOK_NAME": HOOK,
            "INGESTD_HEARTBEAT_EVERY_S": "1",
            "INGESTD_LIVENESS_GRACE_S": "0",
            "INGESTD_LIVENESS_FAIL_S": "2",
            "INGESTD_IMDS_ENDPOINT": self.imds,
            "INGESTD_AWS_ENDPOINT_URL": aws.endpoint,
            "INGESTD_AWS_CLI": args.aws,
            "INGESTD_WATCH_STATE_DIR": os.path.join(self.root, "run/ingestd-lifecycle-watch"),
            **(settings or {}),
        }
        with open(self.env_file, "w") as f:
            f.write("# written by lifecycle_watch_test.py\n")
            f.writelines(f'{k}="{v}"\n' for k, v in sorted(settings.items()))
        self.env = {**os.environ, **aws_env(), **self.unit.env(), "INGESTD_DEPLOY_ENV": self.env_file}
        self.watch_log = []
        HOSTS.append(self)

    def write_config(self, announce_ms, deadline_ms, max_connections):
        q = json.dumps
        certs = self.args.certs
        with open(self.config, "w") as f:
            f.write(f"""[server]
id = {q(self.name)}
zone = "dev"
listen = {q(f"127.0.0.1:{self.port}")}
admin_listen = {q(f"127.0.0.1:{self.admin_port}")}
shards = 1
max_connections = {max_connections}
state_dir = {q(self.state_dir)}

[tls]
cert_file = {q(os.path.join(certs, "server.crt"))}
key_file = {q(os.path.join(certs, "server.key"))}
camera_ca_file = {q(os.path.join(certs, "camera-ca.crt"))}

[store]
url = {q("dir:" + self.store_dir)}
seal_age_ms = 200

[drain]
announce_delay_ms = {announce_ms}
deadline_ms = {deadline_ms}
""")

    def systemctl(self, *argv):
        return subprocess.run(["systemctl", *argv], env=self.env, capture_output=True, text=True, timeout=60)

    def start(self):
        assert self.systemctl("start", "ingestd.service").returncode == 0
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                # Live, and past start-up (spool recovered, listeners up):
                # /healthz can answer before the camera port accepts.
                if http_get(self.admin_port, "/healthz")[0] == 200 and self.started_up():
                    return
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.1)
        raise AssertionError(f"{self.name}: ingestd did not become healthy")

    def started_up(self):
        checks = json.loads(http_get(self.admin_port, "/readyz")[1])["checks"]
        return any(c["name"] == "listening" and c["ok"] for c in checks)

    def watch(self, timeout_s=40):
        """One run of the watcher, as the timer starts it."""
        run = subprocess.run(["bash", WATCH], env=self.env, capture_output=True, text=True, timeout=timeout_s)
        self.watch_log.append(run.stdout + run.stderr)
        if run.returncode != 0:
            raise AssertionError(f"{self.name}: watcher exited {run.returncode}:\n{run.stdout}{run.stderr}")
        return run

    def calls(self, action=None):
        return [c for c in self.aws.calls(action) if c["params"].get("InstanceId") == self.name]

    def audit(self):
        path = os.path.join(self.state_dir, "audit.log")
        return drain_audit.read_drains(path) if os.path.exists(path) else []

    def cleanup(self):
        self.unit.kill()

    def dump(self):
        print(f"--- {self.name}: watcher output", file=sys.stderr)
        print("".join(self.watch_log)[-6000:], file=sys.stderr)
        log = os.path.join(self.state_dir, "ingestd.log")
        if os.path.exists(log):
            with open(log, errors="replace") as f:
                print(f"--- {self.name}: ingestd.log (tail)\n{f.read()[-3000:]}", file=sys.stderr)


def watch_until(host, predicate, timeout_s, what, every_s=0.3):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        host.watch()
        if predicate():
            return
        time.sleep(every_s)
    raise AssertionError(f"{host.name}: timed out after {timeout_s} s waiting for {what}")


# --- cases --------------------------------------------------------------------

def in_service_healthy(args, work, aws):
    host = Host(args, work, aws, "i-healthy")
    try:
        host.start()
        for _ in range(3):
            host.watch()
        assert host.calls() == [], host.calls()
        assert host.unit.state() == "active"
    finally:
        host.cleanup()
    return host


def in_service_not_ready(args, work, aws):
    # One camera connection fills max_connections = 1: "at capacity".
    host = Host(args, work, aws, "i-notready", max_connections=1)
    try:
        host.start()
        with socket.create_connection(("127.0.0.1", host.port)):
            time.sleep(0.3)
            status, body = http_get(host.admin_port, "/readyz")
            assert status == 503 and "below_capacity" in body, (status, body)
            for _ in range(3):
                host.watch()
                time.sleep(1)  # past INGESTD_LIVENESS_FAIL_S (2 s) in all
            assert http_get(host.admin_port, "/readyz")[0] == 503
        assert host.calls("SetInstanceHealth") == [], host.calls()
        assert aws.health(host.name) == "Healthy"
    finally:
        host.cleanup()
    return host


def in_service_wedged(args, work, aws):
    host = Host(args, work, aws, "i-wedged")
    pid = 0
    try:
        host.start()
        pid = host.unit.main_pid()
        os.kill(pid, signal.SIGSTOP)
        stopped = time.monotonic()
        watch_until(host, lambda: host.calls("SetInstanceHealth"), 30, "SetInstanceHealth")
        assert time.monotonic() - stopped >= 2, "marked Unhealthy before INGESTD_LIVENESS_FAIL_S"
        host.watch()
        host.watch()
        calls = host.calls("SetInstanceHealth")
        assert len(calls) == 1, calls
        assert calls[0]["params"]["HealthStatus"] == "Unhealthy"
        assert calls[0]["params"]["ShouldRespectGracePeriod"] == "false"
        assert aws.health(host.name) == "Unhealthy"
        assert "wedged" in "".join(host.watch_log)
    finally:
        if pid:
            os.kill(pid, signal.SIGCONT)
        host.cleanup()
    return host


def assert_completed_after_complete_drain(host):
    completes = host.calls("CompleteLifecycleAction")
    assert len(completes) == 1, completes
    assert completes[0]["status"] == 200
    assert completes[0]["params"]["LifecycleActionResult"] == "CONTINUE"
    assert completes[0]["params"]["AutoScalingGroupName"] == ASG
    assert completes[0]["params"]["LifecycleHookName"] == HOOK
    drains = host.audit()
    assert drains, "no drain in the audit log"
    last = drains[-1]
    assert last.field("drain_finished", "outcome") == "complete", last.lines
    assert completes[0]["time"] >= last.time("drain_finished"), "completed before the drain finished"
    # Later runs stay quiet.
    before = len(host.calls())
    host.watch()
    host.watch()
    assert len(host.calls()) == before, host.calls()[before:]
    assert host.aws.lifecycle_action_result(host.name) == "CONTINUE"


def terminating_drain(args, work, aws):
    # The drain lasts the announce delay (6 s): heartbeats every second
    # meanwhile, as fast as the AWS CLI goes (a second or two a call).
    host = Host(args, work, aws, "i-drain", announce_ms=6000, deadline_ms=15000)
    try:
        host.start()
        aws.set_lifecycle_state(host.name, "Terminated")
        host.watch()
        assert [c["action"] for c in host.calls()] == ["RecordLifecycleActionHeartbeat"], host.calls()
        assert host.unit.state() != "active"
        watch_until(host, lambda: host.calls("CompleteLifecycleAction"), 30, "CompleteLifecycleAction")
        assert host.unit.state() == "inactive", host.unit.state()
        # One heartbeat as the drain starts, more while it runs (a run with
        # the AWS CLI takes about a second, more on a loaded machine).
        drain = host.audit()[-1]
        during = [c for c in host.calls("RecordLifecycleActionHeartbeat") if c["time"] <= drain.time("drain_finished")]
        assert len(during) >= 2, host.calls()
        assert_completed_after_complete_drain(host)
        assert len(host.audit()) == 1, "drained more than once"
    finally:
        host.cleanup()
    return host


def terminating_killed_run(args, work, aws):
    # The drain lasts 8 s: a watcher run (an AWS CLI call or two) must fit in
    # it on a loaded machine; with 4 s a CI run once began only after it.
    host = Host(args, work, aws, "i-killed", announce_ms=8000, deadline_ms=15000)
    try:
        host.start()
        aws.set_lifecycle_state(host.name, "Terminated")
        # A run killed mid-way (here, as it starts the drain or records the
        # heartbeat), as systemd's TimeoutStartSec would kill it.
        run = subprocess.Popen(["bash", WATCH], env=host.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               start_new_session=True)
        deadline = time.monotonic() + 10
        while host.unit.state() == "active" and time.monotonic() < deadline:
            time.sleep(0.02)
        os.killpg(run.pid, signal.SIGKILL)
        run.communicate()
        assert host.unit.state() == "deactivating", host.unit.state()
        # Runs while the stop job drains: ExecMainStatus is 0 and is-active
        # is false, which must not read as "drained".
        # The stop job never goes back to deactivating: a run that ends with
        # the unit still deactivating ran entirely while it drained.
        runs_while_draining = 0
        for _ in range(3):
            host.watch()
            if host.unit.state() != "deactivating":
                break
            runs_while_draining += 1
            assert host.calls("CompleteLifecycleAction") == [], "completed while deactivating"
            time.sleep(0.3)
        assert runs_while_draining >= 1, "the drain ended before a run could look at it"
        watch_until(host, lambda: host.calls("CompleteLifecycleAction"), 30, "CompleteLifecycleAction")
        assert_completed_after_complete_drain(host)
        assert len(host.audit()) == 1, "the killed run's drain was signalled again"
        assert host.audit()[0].field("drain_started", "fast") is False
    finally:
        host.cleanup()
    return host


def terminating_deadline(args, work, aws):
    host = Host(args, work, aws, "i-deadline", announce_ms=200, deadline_ms=1500)
    sim = None
    away = host.store_dir + ".away"
    try:
        host.start()
        # A camera streams; then the store breaks (its folder becomes a file),
        # so acknowledged segments stay in the spool.
        sim = subprocess.Popen([args.camera_sim, f"--target=127.0.0.1:{host.port}", f"--certs_dir={args.certs}",
                                "--cameras=1", "--segment_ms=100", "--segment_bytes=4096", "--duration_s=2",
                                "--json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1)
        os.rename(host.store_dir, away)
        open(host.store_dir, "w").close()
        sim.wait(timeout=30)
        aws.set_lifecycle_state(host.name, "Terminated")
        # The drain runs out of time: exit 1, unit failed; the watcher starts
        # ingestd again and keeps heartbeating, but never completes.
        watch_until(host, lambda: "starting ingestd again" in "".join(host.watch_log), 30, "a restart")
        first = host.audit()[0]
        assert first.field("drain_finished", "outcome") != "complete", first.lines
        beats = len(host.calls("RecordLifecycleActionHeartbeat"))
        for _ in range(4):
            time.sleep(0.5)
            host.watch()
        assert host.calls("CompleteLifecycleAction") == [], "completed with the spool not uploaded"
        assert len(host.calls("RecordLifecycleActionHeartbeat")) > beats, "heartbeats stopped"
        # The store comes back: a later drain uploads everything and completes.
        os.unlink(host.store_dir)
        os.rename(away, host.store_dir)
        watch_until(host, lambda: host.calls("CompleteLifecycleAction"), 40, "CompleteLifecycleAction")
        assert_completed_after_complete_drain(host)
        report = subprocess.run([args.ingestctl, f"--spool_dir={os.path.join(host.state_dir, 'spool')}", "spool",
                                 "--json"], capture_output=True, text=True, check=True)
        assert json.loads(report.stdout)["pending"] == [], report.stdout
    finally:
        if sim and sim.poll() is None:
            sim.kill()
            sim.wait()
        if os.path.exists(away):
            if os.path.isfile(host.store_dir):
                os.unlink(host.store_dir)
                os.rename(away, host.store_dir)
        host.cleanup()
    return host


def terminating_never_ran(args, work, aws):
    host = Host(args, work, aws, "i-never", installed=False)
    try:
        aws.set_lifecycle_state(host.name, "Terminated")
        host.watch()
        completes = host.calls("CompleteLifecycleAction")
        assert len(completes) == 1 and completes[0]["status"] == 200, host.calls()
        host.watch()
        assert len(host.calls()) == 1, host.calls()
    finally:
        host.cleanup()
    return host


def terminating_gives_up(args, work, aws):
    # A spool with data and no ingestd to upload it (the binary is gone).
    host = Host(args, work, aws, "i-givesup", installed=False, settings={"INGESTD_LIFECYCLE_MAX_WAIT_S": "2"})
    try:
        os.makedirs(os.path.join(host.state_dir, "spool/shard-00"))
        with open(os.path.join(host.state_dir, "spool/shard-00/000001.spool"), "wb") as f:
            f.write(b"acknowledged, not uploaded")
        aws.set_lifecycle_state(host.name, "Terminated")
        watch_until(host, lambda: "GIVING UP" in "".join(host.watch_log), 20, "the watcher to give up")
        beats = host.calls("RecordLifecycleActionHeartbeat")
        assert beats, "no heartbeat before giving up"
        time.sleep(1.1)
        host.watch()
        host.watch()
        assert host.calls("RecordLifecycleActionHeartbeat") == beats, "heartbeats after giving up"
        assert host.calls("CompleteLifecycleAction") == []
        assert "".join(host.watch_log).count("GIVING UP") == 1
    finally:
        host.cleanup()
    return host


CASES = [in_service_healthy, in_service_not_ready, in_service_wedged, terminating_drain, terminating_killed_run,
         terminating_deadline, terminating_never_ran, terminating_gives_up]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--ingestd", required=True)
    p.add_argument("--ingestctl", required=True)
    p.add_argument("--camera_sim", required=True)
    p.add_argument("--aws", default=shutil.which("aws") or "/usr/bin/aws")
    p.add_argument("cases", nargs="*", help="run only these cases")
    args = p.parse_args()
    for name in ("ingestd", "ingestctl", "camera_sim", "aws"):
        setattr(args, name, os.path.abspath(getattr(args, name)))
    if not os.access(args.aws, os.X_OK):
        print(f"skipped: no AWS CLI at {args.aws}", file=sys.stderr)
        return 77
    unknown = set(args.cases) - {c.__name__ for c in CASES}
    if unknown:
        p.error(f"no such case: {' '.join(sorted(unknown))}")
    selected = [c for c in CASES if not args.cases or c.__name__ in args.cases]
    work = tempfile.mkdtemp(prefix="lifecycle_watch_test.")
    aws = fake_aws.FakeAws().start()
    failed = []
    try:
        args.certs = os.path.join(work, "certs")
        subprocess.run([args.ingestd, "certs", "--out", args.certs, "--cameras", "1"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        for case in selected:
            say(f"{case.__name__} ...")
            HOSTS.clear()
            try:
                case(args, work, aws)
                say(f"{case.__name__} ok")
            except Exception as e:  # report every case, then fail
                failed.append(case.__name__)
                say(f"{case.__name__} FAILED: {e!r}")
                traceback.print_exc()
                for host in HOSTS:
                    host.dump()
                print(f"(work folder kept: {work})", file=sys.stderr)
    finally:
        aws.stop()
    if failed:
        print(f"FAILED: {' '.join(failed)}", file=sys.stderr)
        return 1
    shutil.rmtree(work, ignore_errors=True)
    say("all cases passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
