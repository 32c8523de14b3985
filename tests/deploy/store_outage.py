#!/usr/bin/env python3
"""A store outage under load, end to end: the zone keeps its servers and
loses no acknowledged segment.

A real S3 store (Ceph's RADOS Gateway, which verifies SigV4) holds the
recordings of two ingestd instances, A and B, deployed with
deploy/appspec.yml's hooks. HAProxy in TCP mode, health-checking each admin
port's /readyz, stands in for the zone's NLB; simulated cameras stream
through it. A harness plays the Auto Scaling group: every instance is
InService, and every --watch_interval_s (1 s) it runs the instance's lifecycle
watcher (deploy/systemd/ingestd-lifecycle-watch.sh, pidfile mode) against a
fake AWS endpoint (fake_aws.py: IMDS and the Auto Scaling API), with its
liveness verdict armed after a few seconds; it replaces an instance only when
the watcher reports it Unhealthy (SetInstanceHealth), which is all an ASG on
EC2 health checks ever does to a running instance.

Phase 1, outage: the gateway stops. Asserted:
  - readiness fails on both servers, naming store_writable, and HAProxy marks
    both DOWN, while the cameras keep streaming on their open connections and
    keep getting ACKs (spooled) from both;
  - the watcher never calls SetInstanceHealth and nobody is replaced, though
    the old policy (the ASG on the load balancer's health: two failed /readyz
    checks in a row) would have replaced both servers; that count is a figure.
Phase 2, scale-in during the outage: the harness takes B out of HAProxy (as
the group deregisters a terminating target) and sets its lifecycle state to
Terminated. B's drain deadline is short, so its drain cannot complete while
the store is down. Asserted: the watcher records lifecycle heartbeats, does
not complete the lifecycle action, and starts ingestd again to keep
uploading. Then the gateway returns: B's next drain completes, the watcher
completes the lifecycle action once, after that drain, and only then the
harness terminates B (kills what is left, deletes its state folder).
After the store returns:
  - A is ready again, HAProxy marks it UP, and A persists the outage's
    backlog while the cameras keep streaming;
  - the cameras stop (camera-sim: every segment acknowledged, no protocol
    errors), A then has nothing pending, nothing in flight and nothing
    unindexed, and it drains, completely;
  - every segment a camera had acknowledged is in the store exactly once and
    byte-exact. The store is read back by an independent reader: the AWS CLI
    copies the bucket into a folder (`aws s3 sync`), which `ingestctl
    --store_dir` then exports camera by camera (store_check.py).

The figures go to stdout as one JSON line; progress goes to stderr.

    tests/deploy/store_outage.py --build_dir build
"""

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import codedeploy_runner  # noqa: E402
import drain_audit  # noqa: E402
import fake_aws  # noqa: E402
import haproxy_front  # noqa: E402
import rolling_replacement  # noqa: E402  (its host, camera and wait helpers)
import s3_gateway  # noqa: E402
import store_check  # noqa: E402

ZONE = "dev"
BUCKET = "recordings"
PREFIX = "zone-outage"
# The shared credentials profile the servers read the store's keys from. A
# profile named in the configuration outranks keys in the environment, so a
# server the watcher starts again (with the watcher's AWS credentials in its
# environment) still signs with the store's keys.
STORE_PROFILE = "ingestd-store"
REGION = "eu-west-1"
ASG_NAME = "ingestd-test"
LIFECYCLE_HOOK = "ingestd-drain"
START = time.monotonic()


def say(message):
    print(f"[{time.monotonic() - START:7.1f}s] {message}", file=sys.stderr, flush=True)


def parse_args():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build_dir", help="build tree: server/ingestd, server/ingestctl, bench/camera-sim")
    p.add_argument("--ingestd", help="default: <build_dir>/server/ingestd")
    p.add_argument("--ingestctl", help="default: <build_dir>/server/ingestctl")
    p.add_argument("--camera_sim", help="default: <build_dir>/bench/camera-sim")
    p.add_argument("--source_dir", default=os.path.normpath(os.path.join(here, "../..")))
    p.add_argument("--haproxy", default=shutil.which("haproxy") or "/usr/sbin/haproxy")
    p.add_argument("--watcher", help="default: <source_dir>/deploy/systemd/ingestd-lifecycle-watch.sh")
    p.add_argument("--cameras", type=int, default=150)
    p.add_argument("--segment_ms", type=int, default=500)
    p.add_argument("--segment_bytes", type=int, default=8192)
    p.add_argument("--shards", type=int, default=1, help="per instance")
    p.add_argument("--check_inter_ms", type=int, default=300, help="HAProxy health-check interval")
    p.add_argument("--watch_interval_s", type=float, default=1.0, help="the harness runs each watcher this often")
    p.add_argument("--outage_hold_s", type=float, default=5.0,
                   help="phase 1: the store stays down this long after both servers are DOWN")
    p.add_argument("--terminating_deadline_ms", type=int, default=3000,
                   help="drain.deadline_ms of the instance scaled in during the outage")
    p.add_argument("--deadline_ms", type=int, default=60000, help="drain.deadline_ms of the others")
    p.add_argument("--announce_ms", type=int, default=1500, help="drain.announce_delay_ms")
    p.add_argument("--heartbeat_every_s", type=int, default=2,
                   help="the watcher's heartbeat interval, also the least time between restarts")
    p.add_argument("--no_scale_in", action="store_true", help="phase 1 only")
    p.add_argument("--slack", type=float, default=1.0,
                   help="multiplies every time bound (an ASan build handshakes and uploads several times slower)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args()
    rolling_replacement.binaries_from_build_dir(p, args)
    if args.watcher is None:
        args.watcher = os.path.join(args.source_dir, "deploy/systemd/ingestd-lifecycle-watch.sh")
    return args


def http_get(url, timeout=2):
    """(status, body) of a GET; (None, reason) when nothing answered."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode(errors="replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode(errors="replace")
    except OSError as e:
        return None, str(e)


def readiness(instance):
    """(ready, failed check names) from /readyz; (None, []) without an answer."""
    status, body = http_get(f"http://127.0.0.1:{instance.admin_port}/readyz")
    if status is None:
        return None, []
    try:
        return status == 200, json.loads(body).get("failed", [])
    except ValueError:
        return status == 200, []


def metrics(instance):
    """The admin listener's Prometheus text as {name: sum over label sets}."""
    status, body = http_get(f"http://127.0.0.1:{instance.admin_port}/metrics")
    if status != 200:
        return {}
    values = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, value = line.rpartition(" ")
        name = name_labels.split("{", 1)[0]
        try:
            values[name] = values.get(name, 0.0) + float(value)
        except ValueError:
            pass
    return values


def wait_until(what, predicate, timeout_s, interval=0.1):
    rolling_replacement.wait_until(what, predicate, timeout_s, interval)


class ReadinessProbe(threading.Thread):
    """Checks one instance's /readyz every interval, as the load balancer's
    health check does, and keeps every answer: (unix time, ready, failed)."""

    def __init__(self, instance, interval_s):
        super().__init__(daemon=True)
        self.instance = instance
        self.interval_s = interval_s
        self.answers = []
        self._stopping = threading.Event()

    def run(self):
        while not self._stopping.wait(self.interval_s):
            ready, failed = readiness(self.instance)
            self.answers.append((time.time(), ready, failed))

    def stop(self):
        self._stopping.set()
        self.join(timeout=10)

    def first_failure(self, after, check=None):
        for when, ready, failed in self.answers:
            if when >= after and ready is False and (check is None or check in failed):
                return when
        return None

    def old_policy_replacement(self, start, end, unhealthy_threshold=2):
        """When an ASG on ELB health would have replaced the instance in
        [start, end): the first time `unhealthy_threshold` checks in a row
        failed; None if never."""
        in_a_row = 0
        for when, ready, _ in self.answers:
            if not start <= when < end:
                continue
            in_a_row = in_a_row + 1 if ready is not True else 0
            if in_a_row >= unhealthy_threshold:
                return when
        return None


class CatchUp(threading.Thread):
    """Notes when an instance has persisted as many segments as it had
    accepted when the store came back. The cameras keep streaming, so
    something is always pending; each camera's segments persist in seq
    order, so this is when the outage's backlog is in the store. (The final
    drain and the store check cover every segment.)"""

    def __init__(self, instance, accepted, timeout_s=600):
        super().__init__(daemon=True)
        self.instance = instance
        self.accepted = accepted
        self.deadline = time.monotonic() + timeout_s
        self.done = None  # unix time

    def run(self):
        while self.done is None and time.monotonic() < self.deadline:
            if metrics(self.instance).get("ingest_segments_persisted_total", 0) >= self.accepted:
                self.done = time.time()
            else:
                time.sleep(0.1)


class AsgStandIn:
    """The Auto Scaling group's part: per instance, the watcher every
    interval (one run at a time, like a systemd timer), and the group's only
    two actions on a running instance: replace it when the watcher reports it
    Unhealthy, terminate it once its lifecycle action is complete."""

    def __init__(self, run, aws, interval_s):
        self.run = run
        self.aws = aws
        self.interval_s = interval_s
        self.watched = {}  # instance name -> thread
        self.watcher_runs = {}  # instance name -> [(unix started, seconds, exit code, output)]
        self.replaced = []  # (unix time, instance name, why)
        self.terminated = {}  # instance name -> unix time
        self.kept_audit = {}  # instance name -> its audit log, copied before termination
        self.left_running = {}  # instance name -> whether ingestd still ran at termination
        self._stop = threading.Event()
        self._lock = threading.Lock()

    def watch(self, instance):
        self.watcher_runs[instance.name] = []
        thread = threading.Thread(target=self._loop, args=(instance,), daemon=True)
        self.watched[instance.name] = thread
        thread.start()

    def _loop(self, instance):
        while not self._stop.is_set() and instance.name not in self.terminated:
            started = time.time()
            code, output = run_watcher(self.run, self.aws, instance)
            with open(os.path.join(self.run.work, f"lifecycle-watch-{instance.name}.log"), "a") as log:
                log.write(f"--- run at {started:.3f}: exit {code} after {time.time() - started:.1f} s\n{output}")
            with self._lock:
                self.watcher_runs[instance.name].append((started, time.time() - started, code, output))
            self._act(instance)
            self._stop.wait(self.interval_s)

    def _act(self, instance):
        iid = instance.instance_id
        unhealthy = [c for c in self.aws.calls("SetInstanceHealth")
                     if c["params"].get("InstanceId") == iid and c["params"].get("HealthStatus") == "Unhealthy"]
        if unhealthy and not any(name == instance.name for _, name, _ in self.replaced):
            # An ASG terminates an Unhealthy instance at once. The test fails
            # on it, so what is left is only recorded, not torn down.
            self.replaced.append((time.time(), instance.name, "SetInstanceHealth Unhealthy"))
            say(f"ASG: {instance.name} reported Unhealthy: it would be replaced now")
        completed = [c for c in self.aws.calls("CompleteLifecycleAction")
                     if c["params"].get("InstanceId") == iid]
        if completed and instance.name not in self.terminated:
            self.terminated[instance.name] = time.time()
            say(f"ASG: lifecycle action of {instance.name} complete: terminating it")
            kept = os.path.join(self.run.work, f"terminated-{instance.name}-audit.log")
            if os.path.exists(os.path.join(instance.state_dir, "audit.log")):
                shutil.copy2(os.path.join(instance.state_dir, "audit.log"), kept)
            self.kept_audit[instance.name] = kept
            self.left_running[instance.name] = instance.pid() is not None
            terminate(instance)

    def stop(self):
        self._stop.set()
        for thread in self.watched.values():
            thread.join(timeout=WATCHER_TIMEOUT_S + 10)

    def runs(self, name):
        with self._lock:
            return list(self.watcher_runs.get(name, []))


# A watcher run drains ingestd and waits for it; it must end well within this.
WATCHER_TIMEOUT_S = 300


def run_watcher(run, aws, instance):
    """One run of the lifecycle watcher for `instance`, as its timer starts
    it: the host's deploy env file, the instance's metadata endpoint, the
    Auto Scaling endpoint of the fake AWS and test credentials for the CLI.
    Returns (exit code, output); exit code None if it ran over."""
    script = run.args.watcher
    env = {k: v for k, v in os.environ.items() if not k.startswith(("INGESTD_", "AWS_"))}
    env.update({
        "INGESTD_DEPLOY_ENV": instance.host.env_file,
        "IMDS_ENDPOINT": instance.imds_url,
        "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
        "AWS_DEFAULT_REGION": REGION, "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_PAGER": "",
        # A server the watcher starts reads the store's keys from these
        # (STORE_PROFILE); ingestd wants regular files, not /dev/null.
        "AWS_SHARED_CREDENTIALS_FILE": run.store_credentials, "AWS_CONFIG_FILE": run.aws_config,
        "NO_PROXY": "127.0.0.1,localhost", "no_proxy": "127.0.0.1,localhost",
    })
    process = subprocess.Popen(["bash", script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, start_new_session=True)
    try:
        output, _ = process.communicate(timeout=WATCHER_TIMEOUT_S)
        return process.returncode, output
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return None, output


def terminate(instance):
    """What EC2 does to a terminated instance: everything on it stops, and
    its spool volume is deleted."""
    pid = instance.pid()
    if pid:
        os.kill(pid, signal.SIGKILL)
    shutil.rmtree(instance.state_dir, ignore_errors=True)


def config_toml(args, instance, certs, s3, deadline_ms):
    q = rolling_replacement.toml_string
    return rolling_replacement.server_config_toml(
        "store_outage.py", instance, certs, args.shards,
        store={"url": q(f"s3://{BUCKET}/{PREFIX}"), "endpoint": q(s3.endpoint), "region": q(s3.region),
               "path_style": "true", "use_instance_metadata": "false", "profile": q(STORE_PROFILE),
               "seal_age_ms": 300, "index_interval_s": 1},
        drain={"announce_delay_ms": args.announce_ms, "goaway_per_second": 500, "reconnect_after_min_ms": 200,
               "reconnect_after_max_ms": 1000, "deadline_ms": deadline_ms})


def make_bundle(args, run, instance, certs, s3, deadline_ms):
    """A revision bundle as rolling_replacement makes one, with this test's
    configuration (the S3 store, this instance's drain deadline)."""
    bundle = codedeploy_runner.new_bundle(
        os.path.join(run.work, "bundles", f"{instance.name}-{len(instance.bundles) + 1}"),
        args.source_dir, args.ingestd, args.ingestctl)
    with open(os.path.join(bundle, "config/ingestd.toml"), "w") as f:
        f.write(config_toml(args, instance, certs, s3, deadline_ms))
    instance.bundles.append(bundle)
    return bundle


class Run:
    """Everything the test starts, so that `finally` can stop it by pid."""

    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="store-outage-")
        self.store_credentials = os.path.join(self.work, "aws/credentials")
        self.aws_config = os.path.join(self.work, "aws/config")
        self.hook_runs = []
        self.instances = []
        self.front = None
        self.sim = None
        self.s3 = None
        self.aws = None
        self.asg = None
        self.probes = []
        self.extra_folders = []  # outside the work folder, removed with it

    def record_hook(self, run):
        self.hook_runs.append(run)
        say(run.summary())
        if not run.ok:
            sys.stderr.write(run.output)

    def deploy(self, instance, bundle):
        runs = codedeploy_runner.deploy(instance.host, bundle, None, on_hook=self.record_hook)
        if not all(r.ok for r in runs) or runs[-1].event != "ValidateService":
            raise AssertionError(f"deployment to {instance.name} failed: {runs[-1].summary()}\n"
                                 f"{runs[-1].output}")

    def cleanup(self):
        if self.asg:
            self.asg.stop()
        for probe in self.probes:
            probe.stop()
        if self.sim and self.sim.poll() is None:
            self.sim.kill()
            self.sim.wait(timeout=10)
        for instance in self.instances:
            pid = instance.pid()
            if pid:
                os.kill(pid, signal.SIGKILL)
        if self.front:
            self.front.stop()
        if self.aws:
            self.aws.stop()
        if self.s3:
            try:
                self.s3.stop()
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                say(f"stopping the S3 test server: {e}")


def acks_spooled(instance):
    return metrics(instance).get("ingest_acks_spooled_total", 0)


def nothing_pending(instance):
    """Everything the server spooled is in the store and indexed."""
    m = metrics(instance)
    return all(name in m and m[name] == 0 for name in (
        "ingest_pending_segments", "ingest_batches_in_flight", "ingest_unindexed_segments"))


def outage(run, a, b, check, figures, failures):
    """Phase 1: the gateway stops and stays down. Returns when it stopped."""
    args, slack = run.args, run.args.slack
    say("phase 1: the store goes down")
    acks_before = {i.name: acks_spooled(i) for i in (a, b)}
    outage_started = time.time()
    run.s3.stop_gateway()
    # A server notices at its next upload (a batch is sealed every
    # seal_age_ms) once the S3 client's own retries are spent.
    not_ready_bound = 20 * slack
    for instance in (a, b):
        wait_until(f"{instance.name}'s /readyz to fail on store_writable",
                   lambda i=instance: "store_writable" in readiness(i)[1], not_ready_bound, 0.1)
    for instance in (a, b):
        wait_until(f"HAProxy to mark {instance.name} DOWN",
                   lambda i=instance: run.front.status(i.name) == "DOWN", check.detection_bound_s() * 2 * slack)
    say(f"both not ready and DOWN in HAProxy after {time.time() - outage_started:.1f} s; "
        f"holding the outage {args.outage_hold_s} s")
    acks_down = {i.name: acks_spooled(i) for i in (a, b)}
    persisted_down = {i.name: metrics(i).get("ingest_segments_persisted_total", 0) for i in (a, b)}
    time.sleep(args.outage_hold_s)
    for instance in (a, b):
        acks_now = acks_spooled(instance)
        if acks_now <= acks_down[instance.name]:
            failures.append(f"{instance.name}: no ACK (spooled) while the store was down and it was DOWN "
                            f"in HAProxy ({acks_down[instance.name]:.0f} -> {acks_now:.0f})")
        persisted = metrics(instance).get("ingest_segments_persisted_total", 0)
        if persisted != persisted_down[instance.name]:
            failures.append(f"{instance.name}: segments persisted during the outage "
                            f"({persisted_down[instance.name]:.0f} -> {persisted:.0f}); was the store down?")
        if instance.cameras_connected() == 0:
            failures.append(f"{instance.name}: lost its cameras during the outage")
    if any(run.front.status(i.name) != "DOWN" for i in (a, b)):
        failures.append(f"HAProxy did not keep both DOWN through the outage: "
                        f"{[run.front.status(i.name) for i in (a, b)]}")
    phase1_end = time.time()
    figures["not_ready_after_s"] = {}
    for probe in run.probes:
        failed = probe.first_failure(outage_started, "store_writable")
        figures["not_ready_after_s"][probe.instance.name] = \
            round(failed - outage_started, 2) if failed else None
    figures["acks_spooled_during_outage"] = {i.name: round(acks_spooled(i) - acks_before[i.name]) for i in (a, b)}
    figures["watcher_runs_phase1"] = {i.name: len([r for r in run.asg.runs(i.name) if r[0] >= outage_started])
                                      for i in (a, b)}
    for name, count in figures["watcher_runs_phase1"].items():
        if count < 2:
            failures.append(f"{name}: the watcher ran only {count} times during the outage")
    old_policy = {p.instance.name: p.old_policy_replacement(outage_started, phase1_end) for p in run.probes}
    figures["old_policy_would_replace"] = sum(1 for t in old_policy.values() if t is not None)
    figures["old_policy_replace_after_s"] = {n: round(t - outage_started, 2) if t else None
                                             for n, t in old_policy.items()}
    if figures["old_policy_would_replace"] != 2:
        failures.append(f"the old policy would have replaced {figures['old_policy_would_replace']} servers, "
                        f"expected 2: the outage did not fail readiness on both for long enough")
    return outage_started


def main():
    args = parse_args()
    if not s3_gateway.RadosGateway.available():
        print("SKIPPED: radosgw / ceph / the AWS CLI are not installed (scripts/setup.sh installs them)",
              file=sys.stderr)
        return 77
    run = Run(args)
    failures = []
    figures = {"cameras": args.cameras}
    ok = False
    slack = args.slack
    try:
        a_ports, b_ports = rolling_replacement.free_ports(2), rolling_replacement.free_ports(2)
        front_port = rolling_replacement.free_ports(1)[0]
        certs = os.path.join(run.work, "certs")
        subprocess.run([args.ingestd, "certs", f"--out={certs}", f"--cameras={args.cameras}"],
                       check=True, stdout=subprocess.DEVNULL, timeout=120)

        say(f"work folder {run.work}; starting the S3 test server (radosgw)")
        run.s3 = s3_gateway.RadosGateway(args.source_dir, s3_gateway.folder_in(run.work, run.extra_folders))
        run.s3.start()
        run.s3.create_bucket(BUCKET)
        run.s3.credentials_file(run.store_credentials, STORE_PROFILE)
        open(run.aws_config, "w").close()
        say(f"S3 at {run.s3.endpoint}")
        # What the hooks (and so the servers they start) see: the store's
        # keys only through the credentials file, nothing else from outside.
        for key in [k for k in os.environ if k.startswith("AWS_")]:
            del os.environ[key]
        os.environ.update({"AWS_SHARED_CREDENTIALS_FILE": run.store_credentials, "AWS_CONFIG_FILE": run.aws_config,
                           "AWS_EC2_METADATA_DISABLED": "true", "NO_PROXY": "127.0.0.1,localhost",
                           "no_proxy": "127.0.0.1,localhost"})

        run.aws = fake_aws.FakeAws()
        run.aws.start()
        a = rolling_replacement.Instance("a", run.work, *a_ports)
        b = rolling_replacement.Instance("b", run.work, *b_ports)
        run.instances = [a, b]
        terminating = None if args.no_scale_in else b
        for i, instance in enumerate((a, b)):
            instance.instance_id = f"i-0{i + 1:016x}"
            instance.imds_url = run.aws.add_instance(instance.instance_id, lifecycle_state="InService",
                                                     region=REGION)
            instance.host.settings.update(watcher_settings(run, instance))
            instance.host.write_env_file()

        check = haproxy_front.HealthCheck(inter_ms=args.check_inter_ms)
        say("first deployment of a and b")
        for instance in (a, b):
            deadline = args.terminating_deadline_ms if instance is terminating else args.deadline_ms
            run.deploy(instance, make_bundle(args, run, instance, certs, run.s3, deadline))
        run.front = haproxy_front.HAProxyFront(
            run.work, front_port,
            [haproxy_front.Backend(i.name, i.port, i.admin_port) for i in (a, b)], check, args.haproxy)
        run.front.start()
        for instance in (a, b):
            wait_until(f"HAProxy to mark {instance.name} UP",
                       lambda i=instance: run.front.status(i.name) == "UP", 10 * slack)
        run.probes = [ReadinessProbe(i, args.check_inter_ms / 1000) for i in (a, b)]
        for probe in run.probes:
            probe.start()

        say(f"{args.cameras} cameras through HAProxy on port {front_port}")
        rolling_replacement.start_cameras(run, certs, front_port)
        wait_until(f"{args.cameras} cameras connected",
                   lambda: a.cameras_connected() + b.cameras_connected() >= args.cameras
                   or run.sim.poll() is not None, 60 * slack, 0.5)
        if run.sim.poll() is not None:
            raise AssertionError(f"camera-sim exited early ({run.sim.returncode})")
        say(f"connected: a {a.cameras_connected()}, b {b.cameras_connected()}")
        wait_until("segments persisted on both servers",
                   lambda: all(metrics(i).get("ingest_segments_persisted_total", 0) > 0 for i in (a, b)),
                   20 * slack, 0.5)

        run.asg = AsgStandIn(run, run.aws, args.watch_interval_s)
        for instance in (a, b):
            run.asg.watch(instance)
        time.sleep(2 * args.watch_interval_s)

        outage_started = outage(run, a, b, check, figures, failures)

        # ---------------------------------------------------------------- phase 2
        if terminating is not None:
            scale_in_during_outage(run, terminating, figures, failures)

        survivors = [i for i in (a, b) if i is not terminating]
        accepted_at_store_back = {i.name: metrics(i).get("ingest_segments_accepted_total", 0) for i in survivors}
        say("the store comes back")
        store_back = time.time()
        run.s3.start_gateway()
        # Timed in the background: phase 2 waits for the terminating
        # instance meanwhile.
        catch_up = {i.name: CatchUp(i, accepted_at_store_back[i.name]) for i in survivors}
        for thread in catch_up.values():
            thread.start()
        figures["outage_s"] = round(time.time() - outage_started, 1)
        if terminating is not None:
            finish_scale_in(run, terminating, store_back, figures, failures)

        # The servers retry failed uploads with backoff (up to 30 s between
        # tries) and readiness returns with the first upload that succeeds.
        recovery_bound = 90 * slack
        for instance in survivors:
            wait_until(f"{instance.name} ready again", lambda i=instance: readiness(i)[0] is True, recovery_bound, 0.2)
            wait_until(f"HAProxy to mark {instance.name} UP", lambda i=instance: run.front.status(i.name) == "UP",
                       check.detection_bound_s() * 3 * slack)
        # The cameras keep streaming, so something is always pending; caught
        # up means as many segments persisted as had been accepted when the
        # store returned (each camera's segments persist in seq order). The
        # final drain and the store check below cover every segment.
        for instance in survivors:
            wait_until(f"{instance.name} to persist the segments it accepted during the outage",
                       lambda i=instance: catch_up[i.name].done is not None, recovery_bound, 0.2)
        figures["ready_again_after_s"] = {}
        for probe in run.probes:
            if probe.instance in survivors:
                ready = next((t for t, r, _ in probe.answers if t >= store_back and r), None)
                figures["ready_again_after_s"][probe.instance.name] = round(ready - store_back, 1) if ready else None
        figures["persisted_after_store_back_s"] = {n: round(t.done - store_back, 1) for n, t in catch_up.items()}
        say(f"the outage's backlog persisted {figures['persisted_after_store_back_s']} s after the store came back")

        run.asg.stop()
        replaced = list(run.asg.replaced)
        set_health = run.aws.calls("SetInstanceHealth")
        figures["set_instance_health_calls"] = len(set_health)
        figures["replaced"] = len(replaced)
        if terminating is not None:
            completed = lifecycle_calls(run, "CompleteLifecycleAction", terminating)
            if len(completed) != 1:
                failures.append(f"{terminating.name}: CompleteLifecycleAction called {len(completed)} times")
        others = [c for c in run.aws.calls() if c["action"] != "SetInstanceHealth" and
                  (terminating is None or c["params"].get("InstanceId") != terminating.instance_id)]
        if others:
            failures.append(f"Auto Scaling calls for instances in service: {others[:3]}")
        if set_health:
            failures.append(f"the watcher called SetInstanceHealth {len(set_health)} times: {set_health[:3]}")
        if replaced:
            failures.append(f"instances replaced: {replaced}")
        failures.extend(watcher_failures(run, (a, b)))

        say("stopping the cameras")
        report = rolling_replacement.stop_cameras(run)
        cameras_stopped = time.time()
        for instance in survivors:
            wait_until(f"{instance.name}: nothing pending, in flight or unindexed",
                       lambda i=instance: nothing_pending(i), 30 * slack, 0.2)
        figures["idle_after_cameras_stopped_s"] = round(time.time() - cameras_stopped, 1)
        say("final drain of " + ", ".join(i.name for i in survivors))
        for instance in survivors:
            for r in codedeploy_runner.run_event(instance.host, instance.bundles[-1], "ApplicationStop"):
                run.record_hook(r)
        run.front.stop()

        say("checking")
        failed_hooks = [r.summary() for r in run.hook_runs if not r.ok]
        if failed_hooks:
            failures.append(f"hooks failed: {failed_hooks}")
        figures["drains"] = {}
        for instance in survivors:
            drains = drain_audit.read_drains(os.path.join(instance.state_dir, "audit.log"))
            figures["drains"][instance.name] = [d.field("drain_finished", "outcome") for d in drains]
            if len(drains) != 1 or not drains[0].complete:
                failures.append(f"{instance.name}: expected one complete drain, audit log says "
                                f"{figures['drains'][instance.name]}")
        say("reading the store back with the AWS CLI")
        problems, read_back = store_check.check_bucket(args.ingestctl, run.s3, BUCKET, PREFIX,
                                                       os.path.join(run.work, "mirror"), ZONE, report)
        failures.extend(problems)
        figures.update(read_back)
        ok = not failures
    except (AssertionError, RuntimeError, OSError, subprocess.SubprocessError) as e:
        failures.append(f"{type(e).__name__}: {e}" if not isinstance(e, AssertionError) else str(e))
    finally:
        run.cleanup()
        figures["failures"] = len(failures)
        figures["wall_s"] = round(time.monotonic() - START, 1)
        print(json.dumps(figures), flush=True)
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        with open(os.path.join(run.work, "failures.txt"), "w") as f:
            f.write("".join(f"{failure}\n" for failure in failures))
        if ok and not args.keep:
            for folder in [run.work] + run.extra_folders:
                shutil.rmtree(folder, ignore_errors=True)
        else:
            say(f"work folder kept: {run.work}")
    say("passed" if ok else f"{len(failures)} failures")
    return 0 if ok else 1


def watcher_settings(run, instance):
    """The deploy env file's settings for the lifecycle watcher on this host:
    the group and hook it reports to, the fake AWS endpoints, and short
    intervals (heartbeats, the liveness verdict) so the test sees them. The
    liveness verdict is armed during the outage: a server older than the
    grace period whose /healthz fails that long would be reported."""
    a = run.args
    return {
        "INGESTD_ASG_NAME": ASG_NAME,
        "INGESTD_LIFECYCLE_HOOK_NAME": LIFECYCLE_HOOK,
        "INGESTD_AWS_REGION": REGION,
        "INGESTD_AWS_ENDPOINT_URL": run.aws.endpoint,
        "INGESTD_AWS_CLI": s3_gateway.AWS_CLI,
        "INGESTD_IMDS_ENDPOINT": instance.imds_url,
        "INGESTD_WATCH_STATE_DIR": instance.host.path("/run/ingestd-lifecycle-watch"),
        "INGESTD_HEARTBEAT_EVERY_S": str(a.heartbeat_every_s),
        "INGESTD_LIFECYCLE_MAX_WAIT_S": "3600",
        "INGESTD_LIVENESS_GRACE_S": str(max(1, round(2 * a.slack))),
        "INGESTD_LIVENESS_FAIL_S": str(max(2, round(4 * a.slack))),
    }


def watcher_failures(run, instances):
    problems = []
    for instance in instances:
        for started, seconds, code, output in run.asg.runs(instance.name):
            if code != 0:
                problems.append(f"{instance.name}: watcher exited {code} after {seconds:.1f} s: "
                                f"{output.strip()[-400:]}")
                break
    return problems


def watcher_log_tail(run, instance, lines=15):
    """The end of what the watcher said on `instance`, for a failure message."""
    try:
        with open(os.path.join(run.work, f"lifecycle-watch-{instance.name}.log")) as f:
            said = [line for line in f if not line.startswith("--- run")]
    except OSError:
        said = []
    tail = f"last lines of the watcher on {instance.name}:\n" + "".join(said[-lines:])
    # A server the watcher started must not keep the watcher's files open:
    # one holding the watcher's lock makes every later run exit at once.
    lock = instance.host.settings.get("INGESTD_WATCH_STATE_DIR", "") + "/lock"
    pid = instance.pid()
    try:
        held = [fd for fd in os.listdir(f"/proc/{pid}/fd") if os.readlink(f"/proc/{pid}/fd/{fd}") == lock]
    except OSError:
        held = []
    if pid and held:
        tail += (f"ingestd pid {pid} holds the watcher's lock file {lock} open (fd {', '.join(held)}, inherited "
                 f"when the watcher started it): every later run finds the lock taken and exits\n")
    return tail


def lifecycle_calls(run, action, instance):
    return [c for c in run.aws.calls(action) if c["params"].get("InstanceId") == instance.instance_id]


def scale_in_during_outage(run, instance, figures, failures):
    """Phase 2: the group scales in `instance` while the store is down. Like
    the group, the harness first takes it out of the load balancer, then
    sets its target lifecycle state to Terminated (Terminating:Wait). Its
    drain cannot upload and hits its (short) deadline; the watcher must keep
    heartbeating, start ingestd again, and not complete the action."""
    a = run.args
    say(f"phase 2: scale-in of {instance.name} while the store is down")
    first_pid = instance.pid()
    run.front.disable(instance.name)
    run.aws.set_lifecycle_state(instance.instance_id, "Terminated")
    run.scale_in_started = time.time()
    audit = os.path.join(instance.state_dir, "audit.log")
    restarted = {}

    def failed_drain_then_restart():
        drains = drain_audit.read_drains(audit)
        pid = instance.pid()
        if pid and pid != first_pid and any(d.field("drain_finished", "outcome") for d in drains):
            restarted.setdefault("pid", pid)
        return "pid" in restarted and len(lifecycle_calls(run, "RecordLifecycleActionHeartbeat", instance)) >= 2

    # The watcher starts the drain at its next run; the drain announces,
    # moves the cameras and gives up flushing at its deadline; a later run
    # (no sooner than a heartbeat interval after the last start) starts
    # ingestd again.
    bound = (3 * a.watch_interval_s + (a.announce_ms + a.terminating_deadline_ms) / 1000
             + 2 * a.heartbeat_every_s + 15) * a.slack
    try:
        wait_until(f"{instance.name}: a drain that hit its deadline, two heartbeats and ingestd started again",
                   failed_drain_then_restart, bound, 0.2)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{watcher_log_tail(run, instance)}")
    drains = drain_audit.read_drains(audit)
    outcomes = [d.field("drain_finished", "outcome") for d in drains if d.field("drain_finished", "outcome")]
    say(f"{instance.name}: drains so far {outcomes}; ingestd started again (pid {restarted['pid']})")
    if "complete" in outcomes:
        failures.append(f"{instance.name}: a drain completed while the store was down: {outcomes}")
    # One more heartbeat interval with the store still down: the spool is
    # not empty, so nothing may complete the action.
    time.sleep(a.heartbeat_every_s + a.watch_interval_s)
    completed = lifecycle_calls(run, "CompleteLifecycleAction", instance)
    if completed:
        failures.append(f"{instance.name}: lifecycle action completed while its spool held unpersisted "
                        f"segments: {completed}")
    figures["scale_in"] = {
        "instance": instance.name,
        "drains_while_store_down": len(outcomes),
        "heartbeats_while_store_down": len(lifecycle_calls(run, "RecordLifecycleActionHeartbeat", instance)),
    }


def finish_scale_in(run, instance, store_back, figures, failures):
    """After the store is back: the terminating instance's next drain
    completes, the watcher completes the lifecycle action once, and the
    harness terminates the instance (keeping its audit log, as a shipped
    log would be)."""
    a = run.args
    bound = (3 * a.watch_interval_s + (a.announce_ms + a.terminating_deadline_ms) / 1000
             + 3 * a.heartbeat_every_s + 30) * a.slack
    try:
        wait_until(f"{instance.name}: lifecycle action complete and the instance terminated",
                   lambda: instance.name in run.asg.terminated, bound, 0.2)
    except AssertionError as e:
        raise AssertionError(f"{e}\n{watcher_log_tail(run, instance)}")
    terminated = run.asg.terminated[instance.name]
    completed = lifecycle_calls(run, "CompleteLifecycleAction", instance)
    heartbeats = lifecycle_calls(run, "RecordLifecycleActionHeartbeat", instance)
    drains = drain_audit.read_drains(run.asg.kept_audit[instance.name])
    outcomes = [d.field("drain_finished", "outcome") for d in drains]
    scale_in = figures.setdefault("scale_in", {})
    scale_in.update({
        "drains": outcomes,
        "heartbeats": len(heartbeats),
        "lifecycle_completed_after_store_back_s": round(completed[0]["time"] - store_back, 1) if completed else None,
        "terminated_after_scale_in_s": round(terminated - run.scale_in_started, 1),
        "left_running_at_termination": run.asg.left_running.get(instance.name),
    })
    say(f"{instance.name}: drains {outcomes}, {len(heartbeats)} heartbeats, terminated")
    if not drains or not drains[-1].complete:
        failures.append(f"{instance.name}: terminated though its last drain did not complete: {outcomes}")
    elif completed and completed[0]["time"] < drains[-1].time("drain_finished"):
        failures.append(f"{instance.name}: lifecycle action completed before its drain finished")
    if completed and completed[0]["time"] < store_back:
        failures.append(f"{instance.name}: lifecycle action completed while the store was down")
    if any(c["params"].get("LifecycleActionResult") != "CONTINUE" for c in completed):
        failures.append(f"{instance.name}: lifecycle action completed with {completed}")
    bad = [c for c in heartbeats + completed if c.get("status") != 200]
    if bad:
        failures.append(f"{instance.name}: lifecycle calls the fake refused: {bad[:3]}")
    if len(heartbeats) < 2:
        failures.append(f"{instance.name}: {len(heartbeats)} lifecycle heartbeats while its drain could not finish")


if __name__ == "__main__":
    sys.exit(main())
