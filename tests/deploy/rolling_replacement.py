#!/usr/bin/env python3
"""A rolling replacement under load, end to end.

Two ingestd instances, A and B, each with its own state folder and ports but
one shared object store, sit behind HAProxy in TCP mode (leastconn, health
check on each admin port's /readyz), standing in for the zone's NLB. Simulated
cameras stream through HAProxy. A and then B are replaced by a fresh build by
running deploy/appspec.yml's hooks in CodeDeploy's order, with its timeouts;
like CodeDeploy's load-balancer integration, the next instance is only
replaced once the load balancer sends traffic to the new one. Then the cameras
stop, both servers drain, and the test asserts:

  - every hook exited 0;
  - every segment a camera had acknowledged is in the store exactly once and
    byte-exact (SHA-256 per camera), and `ingestctl verify` finds no problem;
  - no camera was without a connection longer than GAP_BOUND = the longest
    reconnect-after a GOAWAY carries + HAProxy's detection time + a margin;
  - HAProxy never routed a new connection to a draining instance: it marked
    the instance DOWN before its listeners closed, and sent it nothing from
    drain start + detection time until its replacement was up;
  - every drain wrote its audit lines and completed.

The figures go to stdout as one JSON line (drain durations, gaps, the
reconnect rate the peer saw); progress goes to stderr.

    tests/deploy/rolling_replacement.py --build_dir build               # the CI test: 200 cameras
    bench/scripts/rolling_replacement.sh 1000                            # the figures
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
import threading
import time
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import codedeploy_runner  # noqa: E402
import drain_audit  # noqa: E402
import haproxy_front  # noqa: E402
import store_check  # noqa: E402

ZONE = "dev"
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
    p.add_argument("--cameras", type=int, default=200)
    p.add_argument("--segment_ms", type=int, default=500)
    p.add_argument("--segment_bytes", type=int, default=16384)
    p.add_argument("--shards", type=int, default=1, help="per instance (0: one per core)")
    p.add_argument("--announce_ms", type=int, default=2000, help="drain.announce_delay_ms")
    p.add_argument("--goaway_per_second", type=int, default=200)
    p.add_argument("--reconnect_min_ms", type=int, default=200)
    p.add_argument("--reconnect_max_ms", type=int, default=2000)
    p.add_argument("--deadline_ms", type=int, default=60000, help="drain.deadline_ms")
    p.add_argument("--check_inter_ms", type=int, default=300, help="HAProxy health-check interval")
    p.add_argument("--gap_margin_ms", type=int, default=2500,
                   help="in the gap bound: GOAWAY -> last ACK, TLS handshake, WELCOME, a loaded machine")
    p.add_argument("--warmup_s", type=float, default=3, help="streaming before the first replacement")
    p.add_argument("--between_s", type=float, default=2, help="after each replacement")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args()
    binaries_from_build_dir(p, args)
    return args


def binaries_from_build_dir(parser, args):
    """Fills args.ingestd, .ingestctl and .camera_sim not given from
    args.build_dir; a usage error if neither was given."""
    for name, path in (("ingestd", "server/ingestd"), ("ingestctl", "server/ingestctl"),
                       ("camera_sim", "bench/camera-sim")):
        if getattr(args, name) is None:
            if args.build_dir is None:
                parser.error(f"give --build_dir or --{name}")
            setattr(args, name, os.path.join(args.build_dir, path))


def free_ports(count):
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def http_json(url, timeout=2):
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return json.load(response)


class Instance:
    """One ingestd host: a folder standing in for /, its ports, its bundles."""

    def __init__(self, name, work, port, admin_port):
        self.name = name
        self.port = port
        self.admin_port = admin_port
        root = os.path.join(work, "hosts", name)
        self.host = codedeploy_runner.Host(name, root, settings={
            "INGESTD_SUPERVISOR": "pidfile",
            "INGESTD_PREFIX": os.path.join(root, "opt/ingestd"),
            "INGESTD_CONFIG": os.path.join(root, "etc/ingestd/ingestd.toml"),
            "INGESTD_STATE_DIR": os.path.join(root, "var/lib/ingestd"),
            "INGESTD_STAGING_DIR": os.path.join(root, "opt/ingestd/staging"),
            "INGESTD_ADMIN_ADDR": f"127.0.0.1:{admin_port}",
            "INGESTD_START_SETTLE_S": "1",
        })
        self.host.write_env_file()
        self.bundles = []

    @property
    def state_dir(self):
        return self.host.settings["INGESTD_STATE_DIR"]

    @property
    def binary(self):
        return os.path.join(self.host.settings["INGESTD_PREFIX"], "bin/ingestd")

    def pid(self):
        """The running ingestd's pid, if the pid file names our binary."""
        try:
            with open(os.path.join(self.state_dir, "ingestd.pid")) as f:
                pid = int(f.read().strip())
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                argv0 = f.read().split(b"\0")[0].decode()
        except (OSError, ValueError):
            return None
        return pid if argv0 == self.binary else None

    def cameras_connected(self):
        try:
            return http_json(f"http://127.0.0.1:{self.admin_port}/status")["cameras_connected"]
        except (OSError, ValueError, KeyError):
            return 0


def toml_string(text):
    return json.dumps(text)  # a TOML basic string is a JSON string here


def server_config_toml(test, instance, certs, shards, store, drain, shard_memory="64MiB"):
    """One instance's ingestd.toml behind HAProxy: its ports and state folder,
    the shared certificates; `store` and `drain` are {key: TOML value} for
    their sections (values already in TOML syntax); `shard_memory` is
    spool.shard_memory_bytes."""
    q = toml_string

    def section(values):
        return "\n".join(f"{key} = {value}" for key, value in values.items())

    return f"""# {instance.name}: written by tests/deploy/{test}
[server]
id = {q(instance.name)}
zone = {q(ZONE)}
listen = {q(f"127.0.0.1:{instance.port}")}
admin_listen = {q(f"127.0.0.1:{instance.admin_port}")}
shards = {shards}
max_connections = 10000
# Every camera arrives from HAProxy's 127.0.0.1.
max_connections_per_source = 10000
state_dir = {q(instance.state_dir)}

[tls]
cert_file = {q(os.path.join(certs, "server.crt"))}
key_file = {q(os.path.join(certs, "server.key"))}
camera_ca_file = {q(os.path.join(certs, "camera-ca.crt"))}
# Shared by the zone's servers, so a moved camera resumes its TLS session.
ticket_keys_file = {q(os.path.join(certs, "ticket.keys"))}

[spool]
shard_memory_bytes = {q(shard_memory)}

[store]
{section(store)}

[drain]
{section(drain)}

[log]
level = "info"
"""


def config_toml(args, instance, certs, store_dir):
    return server_config_toml(
        "rolling_replacement.py", instance, certs, args.shards,
        store={"url": toml_string("dir:" + store_dir), "seal_age_ms": 300},
        drain={"announce_delay_ms": args.announce_ms, "goaway_per_second": args.goaway_per_second,
               "reconnect_after_min_ms": args.reconnect_min_ms, "reconnect_after_max_ms": args.reconnect_max_ms,
               "deadline_ms": args.deadline_ms})


def make_bundle(args, work, instance, version, certs, store_dir):
    """A revision bundle: appspec.yml, hooks, a fresh copy of the binaries,
    this host's configuration and the systemd unit."""
    bundle = codedeploy_runner.new_bundle(os.path.join(work, "bundles", f"{instance.name}-{version}"),
                                          args.source_dir, args.ingestd, args.ingestctl)
    with open(os.path.join(bundle, "config/ingestd.toml"), "w") as f:
        f.write(config_toml(args, instance, certs, store_dir))
    instance.bundles.append(bundle)
    return bundle


class Run:
    """Everything the test starts, so that `finally` can stop it by pid."""

    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="rolling-replacement-")
        self.hook_runs = []
        self.instances = []
        self.front = None
        self.sim = None

    def record_hook(self, run):
        self.hook_runs.append(run)
        say(run.summary())
        if not run.ok:
            sys.stderr.write(run.output)

    def deploy(self, instance, bundle):
        previous = instance.bundles[-2] if len(instance.bundles) > 1 else None
        runs = codedeploy_runner.deploy(instance.host, bundle, previous, on_hook=self.record_hook)
        if not all(r.ok for r in runs) or runs[-1].event != "ValidateService":
            raise AssertionError(f"deployment to {instance.name} failed: {runs[-1].summary()}\n"
                                 f"{runs[-1].output}")
        return runs

    def cleanup(self):
        if self.sim and self.sim.poll() is None:
            self.sim.kill()
            self.sim.wait(timeout=10)
        for instance in self.instances:
            pid = instance.pid()
            if pid:
                os.kill(pid, signal.SIGKILL)
        if self.front:
            self.front.stop()


def start_cameras(run, certs, front_port):
    a = run.args
    out = open(os.path.join(run.work, "camera-sim.json"), "w")
    err = open(os.path.join(run.work, "camera-sim.log"), "w")
    run.sim = subprocess.Popen(
        [a.camera_sim, f"--target=127.0.0.1:{front_port}",
         f"--certs_dir={certs}", f"--cameras={a.cameras}", f"--segment_ms={a.segment_ms}",
         f"--segment_bytes={a.segment_bytes}", "--duration_s=100000", "--drain_timeout_s=30",
         "--json", "--per_camera"], stdout=out, stderr=err)
    out.close()
    err.close()


def stop_cameras(run):
    """SIGTERM: the cameras stop recording, wait for their ACKs and report."""
    run.sim.send_signal(signal.SIGTERM)
    try:
        run.sim.wait(timeout=45)
    except subprocess.TimeoutExpired:
        raise AssertionError("camera-sim did not finish within 45 s of SIGTERM")
    with open(os.path.join(run.work, "camera-sim.json")) as f:
        text = f.read()
    if not text.strip():
        raise AssertionError(f"camera-sim exited {run.sim.returncode} without a report")
    return json.loads(text)


def wait_until(what, predicate, timeout_s, interval=0.1):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")


def replace(run, instance, certs, store_dir):
    """One instance's deployment, then CodeDeploy's AllowTraffic: wait until
    the load balancer sends the new instance traffic."""
    bundle = make_bundle(run.args, run.work, instance, len(instance.bundles) + 1, certs, store_dir)
    say(f"replacing {instance.name} with {os.path.basename(bundle)}")
    started = time.time()
    run.deploy(instance, bundle)
    check = run.front.check
    up_timeout = (check.inter_ms * (check.rise + 2) + check.timeout_ms) / 1000 + 5
    wait_until(f"HAProxy to mark {instance.name} UP", lambda: run.front.status(instance.name) == "UP", up_timeout)
    say(f"{instance.name} replaced and UP in HAProxy after {time.time() - started:.1f} s")


def check_routing(run, instance, peer, drain, next_drain_started, failures):
    """HAProxy's view of one replacement drain; returns the drain's figures.
    The instance is draining from drain_started until its process exits
    (drain_finished); a connection sent to it after that is refused, which
    the retries check in main() catches."""
    connections = run.front.connections()
    detection = run.front.check.detection_bound_s()
    started, closed, finished = (drain.time("drain_started"), drain.time("drain_listeners_closed"),
                                 drain.time("drain_finished"))
    went_down = run.front.first_transition(instance.name, "DOWN", started)
    if went_down is None or went_down >= closed:
        failures.append(f"{instance.name}: HAProxy did not mark it DOWN before its listeners closed "
                        f"(DOWN at {went_down}, listeners closed at {closed})")
    late = [c for c in connections
            if c.server == instance.name and started + detection <= c.accepted <= finished]
    if late:
        failures.append(f"{instance.name}: HAProxy routed {len(late)} new connections to it while draining, "
                        f"first at +{late[0].accepted - started:.3f} s after drain start")
    announced = [c for c in connections if c.server == instance.name and started <= c.accepted < closed]
    # Moved cameras reconnect from the first GOAWAY (listeners closed) until
    # the longest reconnect-after past the last one (or the next drain), to
    # the peer or, once it is up, to the instance's replacement.
    until = min(finished + run.args.reconnect_max_ms / 1000 + 1, next_drain_started)
    moved = [c for c in connections if closed <= c.accepted < until and
             (c.server == peer.name or c.accepted > finished)]
    per_second = {}
    for c in moved:
        per_second[int(c.accepted - closed)] = per_second.get(int(c.accepted - closed), 0) + 1
    spread = max(moved[-1].accepted - closed, 1e-3) if moved else 1
    return {
        "instance": instance.name,
        "duration_ms": drain.field("drain_finished", "duration_ms"),
        "outcome": drain.field("drain_finished", "outcome"),
        "cameras_at_start": drain.field("drain_started", "cameras"),
        "cameras_moved": drain.field("drain_cameras_moved", "cameras_moved"),
        "goaways_sent": drain.field("drain_cameras_moved", "goaways_sent"),
        "segments_flushed": drain.field("drain_flushed", "segments_flushed"),
        "accepted_while_announced": drain.field("drain_listeners_closed", "accepted_while_announced"),
        "haproxy_routed_while_announced": len(announced),
        "haproxy_down_after_ms": round((went_down - started) * 1000) if went_down else None,
        "reconnects": len(moved),
        "reconnects_per_s": round(len(moved) / spread, 1),
        "reconnects_peak_per_s": max(per_second.values(), default=0),
    }


def check_drains(instance, drains, expected, failures):
    if len(drains) != expected:
        failures.append(f"{instance.name}: {len(drains)} drains in its audit log, expected {expected}")
    for i, drain in enumerate(drains):
        if drain.missing_events():
            failures.append(f"{instance.name} drain {i + 1}: audit lines missing: {drain.missing_events()}")
        elif not drain.complete:
            failures.append(f"{instance.name} drain {i + 1}: outcome "
                            f"{drain.field('drain_finished', 'outcome')!r}")


def main():
    args = parse_args()
    run = Run(args)
    failures = []
    ok = False
    try:
        a_ports, b_ports, front_port = free_ports(2), free_ports(2), free_ports(1)[0]
        certs = os.path.join(run.work, "certs")
        store_dir = os.path.join(run.work, "store")
        subprocess.run([args.ingestd, "certs", f"--out={certs}",
                        f"--cameras={args.cameras}"], check=True, stdout=subprocess.DEVNULL, timeout=120)
        a, b = Instance("a", run.work, *a_ports), Instance("b", run.work, *b_ports)
        run.instances = [a, b]
        check = haproxy_front.HealthCheck(inter_ms=args.check_inter_ms)
        if args.announce_ms <= check.detection_bound_s() * 1000:
            raise SystemExit(f"--announce_ms must exceed HAProxy's detection time "
                             f"({check.detection_bound_s() * 1000:.0f} ms)")
        gap_bound_ms = args.reconnect_max_ms + check.detection_bound_s() * 1000 + args.gap_margin_ms

        say(f"work folder {run.work}; first deployment of a and b")
        for instance in (a, b):
            run.deploy(instance, make_bundle(args, run.work, instance, 1, certs, store_dir))
        run.front = haproxy_front.HAProxyFront(
            run.work, front_port,
            [haproxy_front.Backend(i.name, i.port, i.admin_port) for i in (a, b)], check, args.haproxy)
        run.front.start()
        for instance in (a, b):
            wait_until(f"HAProxy to mark {instance.name} UP",
                       lambda i=instance: run.front.status(i.name) == "UP", 10)

        say(f"{args.cameras} cameras through HAProxy on port {front_port}")
        start_cameras(run, certs, front_port)
        wait_until(f"{args.cameras} cameras connected",
                   lambda: a.cameras_connected() + b.cameras_connected() >= args.cameras
                   or run.sim.poll() is not None, 60, 0.5)
        if run.sim.poll() is not None:
            raise AssertionError(f"camera-sim exited early ({run.sim.returncode})")
        say(f"connected: a {a.cameras_connected()}, b {b.cameras_connected()}")
        time.sleep(args.warmup_s)

        for instance in (a, b):
            replace(run, instance, certs, store_dir)
            say(f"connected: a {a.cameras_connected()}, b {b.cameras_connected()}")
            time.sleep(args.between_s)

        say("stopping the cameras")
        cameras_stopped = time.time()
        report = stop_cameras(run)
        say("final drain of a and b")
        final_runs = {}
        threads = [threading.Thread(target=lambda i=i: final_runs.__setitem__(
            i.name, codedeploy_runner.run_event(i.host, i.bundles[-1], "ApplicationStop"))) for i in (a, b)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        for runs in final_runs.values():
            for r in runs:
                run.record_hook(r)
        run.front.stop()

        say("checking")
        failed_hooks = [r.summary() for r in run.hook_runs if not r.ok]
        if failed_hooks or len(final_runs) != 2:
            failures.append(f"hooks failed: {failed_hooks}")
        drains = {i.name: drain_audit.read_drains(os.path.join(i.state_dir, "audit.log")) for i in (a, b)}
        figures_drains = []
        for instance in (a, b):
            check_drains(instance, drains[instance.name], 2, failures)
        if all(d and not d[0].missing_events() for d in drains.values()):
            replacement_drains = [drains["a"][0], drains["b"][0]]
            next_started = [replacement_drains[1].time("drain_started"), cameras_stopped]
            for (instance, peer), drain, until in zip(((a, b), (b, a)), replacement_drains, next_started):
                figures_drains.append(check_routing(run, instance, peer, drain, until, failures))
        for figures in figures_drains:
            if not figures["cameras_moved"]:
                failures.append(f"{figures['instance']}: its drain moved no camera; nothing was tested")
        connections = run.front.connections()
        retried = [c for c in connections if c.retries or c.server == "<NOSRV>"]
        if retried:
            failures.append(f"{len(retried)} connections were refused by a server or found none up, "
                            f"first at {retried[0].accepted:.3f} to {retried[0].server}")

        if not report["all_acked"]:
            failures.append("camera-sim: not every recorded segment was acknowledged")
        if report["protocol_errors"]:
            failures.append(f"camera-sim: {report['protocol_errors']} protocol errors (see camera-sim.log)")
        if report["longest_gap_ms"] > gap_bound_ms or report["open_gaps"]:
            worst = sorted(report["per_camera"], key=lambda c: -c["longest_gap_ms"])[:3]
            failures.append(f"a camera was without a connection for {report['longest_gap_ms']:.0f} ms "
                            f"(bound {gap_bound_ms:.0f} ms; {report['open_gaps']} still without one); worst: "
                            + ", ".join(f"{c['id']} {c['longest_gap_ms']:.0f} ms" for c in worst))
        failures.extend(store_check.check_store(args.ingestctl, store_dir, ZONE, report["per_camera"]))

        print(json.dumps({
            "cameras": args.cameras,
            "segments_acked": report["segments_acked"],
            "drains": figures_drains,
            "final_drain_ms": {name: d[-1].field("drain_finished", "duration_ms") for name, d in drains.items()
                               if d},
            "longest_gap_ms": round(report["longest_gap_ms"], 1),
            "gap_p50_ms": round(report["gap_p50_ms"], 1),
            "gap_p99_ms": round(report["gap_p99_ms"], 1),
            "gap_bound_ms": round(gap_bound_ms),
            "reconnects": report["reconnects"],
            "connect_failures": report["connect_failures"],
            "slowest_hook_s": {e: round(max((r.seconds for r in run.hook_runs if r.event == e), default=0), 2)
                               for e in codedeploy_runner.LIFECYCLE},
            "failures": len(failures),
        }), flush=True)
        ok = not failures
    except AssertionError as e:
        failures.append(str(e))
    finally:
        run.cleanup()
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        if ok and not args.keep:
            shutil.rmtree(run.work, ignore_errors=True)
        else:
            say(f"work folder kept: {run.work}")
    say("passed" if ok else f"{len(failures)} failures")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
