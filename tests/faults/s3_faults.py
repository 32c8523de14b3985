#!/usr/bin/env python3
"""S3 faults under load, end to end: a slow, failing and then absent store
loses no acknowledged segment, stores none twice, and costs no memory that
grows with the backlog.

One ingestd streams from camera-sim's cameras and uploads to a real S3 store
(Ceph's RADOS Gateway, which verifies SigV4) through s3_fault_proxy.py, which
forwards byte for byte or injects the phase's fault. Phases, each as long as
its flag says:

  baseline   no fault;
  errors     --slowdown_share of requests answered 503 SlowDown and
             --error_share 500 InternalError (optionally --stall_share held
             unanswered), without reaching the gateway;
  latency    --latency_ms added to every request;
  down       the proxy refuses connections for the first half of --down_s and
             resets them for the second (open connections are reset at once);
  recovery   no fault; the backlog must persist within a bound.

Then the cameras stop (every segment acknowledged, no protocol error), the
server must end with nothing pending, in flight or unindexed, and the bucket
is read back straight from the gateway, not through the proxy: the AWS CLI
copies it into a folder and store_check.py exports every camera with
`ingestctl` — each acknowledged segment exactly once, byte-exact.

Also asserted: ingestd's S3 retry counters moved in every phase that injected
faults (and the proxy did inject them), ACKs (spooled) kept coming while the
store was down, and ingestd's RSS stayed within a bound: peak minus the
baseline's peak at most
    shards x spool.shard_memory_bytes      segment receive buffers (configured cap)
  + 2 x upload_threads x store.seal_bytes  batch objects being built and sent
  + 1 KiB x the peak backlog in segments   bookkeeping per segment not yet in the store
  + --rss_slack_mib                        allocator and thread-stack slack.
The backlog's bytes belong in the spool on disk, not in memory: a server
holding them would exceed the bound once the backlog outgrows the receive
buffers (the CI run's 15 s outage is about 100 MB of backlog).

ingestd's RSS is sampled every second (VmRSS), ACK latency per phase comes
from camera-sim's live lines (p99 of each second, the worst second shown).
The figures go to stdout as one JSON line; progress goes to stderr. Exit 0
passed, 1 failed, 77 skipped (radosgw, ceph or the AWS CLI not installed).

    tests/faults/s3_faults.py --build_dir build                  # the CI-length version, ~70 s
    scripts/s3_faults.sh build                                   # two minutes down, more cameras

In CI as faults.s3_faults. Its first runs found an index object put whose
first attempt reached the store but whose answer was lost (the connection
reset as the store went down): the sealer indexed those seqs again with
later ones under another name, and readers counted the second entry as a
second stored copy. Readers now tell the same payload indexed twice
(`reindexed_skipped`) from a payload stored twice (`duplicates_skipped`),
which this test still requires to be 0.
"""

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import types
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "../deploy"))
import rolling_replacement  # noqa: E402  (free ports, server configuration, cameras, waiting)
import s3_fault_proxy  # noqa: E402
import s3_gateway  # noqa: E402
import store_check  # noqa: E402

ZONE = rolling_replacement.ZONE
BUCKET = "recordings"
PREFIX = "zone-s3-faults"
STORE_PROFILE = "ingestd-store"
UPLOAD_THREADS = 4
SEAL_BYTES_MIB = 4
START = time.monotonic()


def say(message):
    print(f"[{time.monotonic() - START:7.1f}s] {message}", file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build_dir", help="build tree: server/ingestd, server/ingestctl, bench/camera-sim")
    p.add_argument("--ingestd", help="default: <build_dir>/server/ingestd")
    p.add_argument("--ingestctl", help="default: <build_dir>/server/ingestctl")
    p.add_argument("--camera_sim", help="default: <build_dir>/bench/camera-sim")
    p.add_argument("--source_dir", default=os.path.normpath(os.path.join(HERE, "../..")))
    p.add_argument("--cameras", type=int, default=100)
    p.add_argument("--segment_ms", type=int, default=500)
    p.add_argument("--segment_bytes", type=int, default=32768)
    p.add_argument("--shards", type=int, default=1)
    p.add_argument("--shard_memory_mib", type=int, default=16, help="spool.shard_memory_bytes")
    p.add_argument("--baseline_s", type=float, default=6)
    p.add_argument("--errors_s", type=float, default=12)
    p.add_argument("--latency_s", type=float, default=8)
    p.add_argument("--down_s", type=float, default=15)
    p.add_argument("--recovery_s", type=float, default=5, help="streaming on after the backlog persisted")
    p.add_argument("--slowdown_share", type=float, default=0.3)
    p.add_argument("--error_share", type=float, default=0.1)
    p.add_argument("--stall_share", type=float, default=0.0,
                   help="in the errors phase; each stalled request holds an upload thread for ingestd's "
                        "30 s io_timeout")
    p.add_argument("--latency_ms", type=int, default=300)
    p.add_argument("--rss_slack_mib", type=int, default=32)
    p.add_argument("--seed", type=int, default=1, help="the proxy's fault choices")
    p.add_argument("--slack", type=float, default=1.0, help="multiplies every time bound (sanitized builds)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args()
    rolling_replacement.binaries_from_build_dir(p, args)
    return args


def scrape(admin_port):
    """/metrics as {name or name{labels}: value}, plus per-name sums."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=2) as response:
            body = response.read().decode(errors="replace")
    except (OSError, urllib.error.URLError):
        return {}
    values = {}
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        try:
            number = float(value)
        except ValueError:
            continue
        name = series.split("{", 1)[0]
        values[series] = number
        if series != name:
            values[name] = values.get(name, 0.0) + number
    return values


def s3_counts(m):
    """What ingestd counted about its S3 traffic."""
    counts = {"requests": m.get("ingest_s3_requests_total", 0), "retries": m.get("ingest_s3_retries_total", 0),
              "upload_failures": m.get("ingest_store_errors_total", 0)}
    for kind in ("network", "throttled", "server", "auth", "not_found", "client"):
        counts[f"errors_{kind}"] = m.get(f'ingest_s3_errors_total{{kind="{kind}"}}', 0)
    return counts


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


class Sampler(threading.Thread):
    """Every second: ingestd's RSS and its backlog (segments accepted, not
    yet persisted), with the phase."""

    def __init__(self, pid, admin_port):
        super().__init__(daemon=True)
        self.pid = pid
        self.admin_port = admin_port
        self.phase = "start"
        self.samples = []  # (monotonic, phase, rss KiB, backlog segments)
        self._stopping = threading.Event()

    def run(self):
        while not self._stopping.wait(1.0):
            rss = rss_kib(self.pid)
            if rss is None:
                return
            m = scrape(self.admin_port)
            backlog = m.get("ingest_segments_accepted_total", 0) - m.get("ingest_segments_persisted_total", 0)
            self.samples.append((time.monotonic(), self.phase, rss, max(0, backlog)))

    def stop(self):
        self._stopping.set()
        self.join(timeout=5)

    def peak(self, phases=None):
        rss = [s[2] for s in self.samples if phases is None or s[1] in phases]
        return max(rss) if rss else None


LIVE_LINE = re.compile(r"^\[\s*([\d.]+)s\].*ack p50\s+([\d.]+) ms p99\s+([\d.]+) ms")


def ack_p99_by_phase(log_path, sim_started, phase_times):
    """The worst per-second ACK p99 (ms) camera-sim printed in each phase."""
    worst = {}
    try:
        with open(log_path, errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return worst
    for line in lines:
        match = LIVE_LINE.match(line)
        if not match:
            continue
        when = sim_started + float(match.group(1))
        for name, (begin, end) in phase_times.items():
            if begin <= when < end:
                worst[name] = max(worst.get(name, 0.0), float(match.group(3)))
    return {name: round(ms, 1) for name, ms in worst.items()}


def config_toml(args, server, certs, s3, proxy):
    q = rolling_replacement.toml_string
    text = rolling_replacement.server_config_toml(
        "s3_faults.py", server, certs, args.shards,
        store={"url": q(f"s3://{BUCKET}/{PREFIX}"), "endpoint": q(f"http://127.0.0.1:{proxy.port}"),
               "region": q(s3.region), "path_style": "true", "use_instance_metadata": "false",
               "profile": q(STORE_PROFILE), "seal_age_ms": 300, "seal_bytes": q(f"{SEAL_BYTES_MIB}MiB"),
               "index_interval_s": 1, "upload_threads": UPLOAD_THREADS},
        drain={"announce_delay_ms": 500, "deadline_ms": 30000},
        shard_memory=f"{args.shard_memory_mib}MiB")
    return text.replace("written by tests/deploy/s3_faults.py", "written by tests/faults/s3_faults.py", 1)


class Run:
    """Everything the test starts, so that `finally` can stop it by pid."""

    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="s3-faults-")
        self.extra_folders = []
        self.s3 = None
        self.proxy = None
        self.server = None  # the ingestd process
        self.sim = None
        self.sampler = None

    def cleanup(self):
        if self.sampler:
            self.sampler.stop()
        if self.sim and self.sim.poll() is None:
            self.sim.kill()
            self.sim.wait(timeout=10)
        if self.server and self.server.poll() is None:
            self.server.kill()
            self.server.wait(timeout=10)
        if self.proxy:
            self.proxy.stop()
        if self.s3:
            try:
                self.s3.stop()
            except (RuntimeError, subprocess.TimeoutExpired) as e:
                say(f"stopping the S3 test server: {e}")


def nothing_pending(admin_port):
    m = scrape(admin_port)
    return all(name in m and m[name] == 0 for name in (
        "ingest_pending_segments", "ingest_batches_in_flight", "ingest_unindexed_segments"))


def run_phases(run, server, figures, failures):
    """The fault phases; returns (phase name -> (begin, end) monotonic, the
    time the store came back)."""
    args, proxy = run.args, run.proxy
    phases = [
        ("baseline", args.baseline_s, [{}]),
        ("errors", args.errors_s, [{"slowdown_share": args.slowdown_share, "error_share": args.error_share,
                                    "stall_share": args.stall_share}]),
        ("latency", args.latency_s, [{"latency_ms": args.latency_ms}]),
        ("down", args.down_s, [{"down": "refuse"}, {"down": "reset"}]),
    ]
    times = {}
    per_phase = figures.setdefault("phases", {})
    for name, seconds, fault_steps in phases:
        say(f"phase {name}: {seconds} s, faults {fault_steps}")
        run.sampler.phase = name
        m0, p0 = scrape(server.admin_port), proxy.counts()
        begin = time.monotonic()
        for faults in fault_steps:
            proxy.set_faults(**faults)
            time.sleep(seconds / len(fault_steps))
        proxy.set_faults()
        end = time.monotonic()
        times[name] = (begin, end)
        m1, p1 = scrape(server.admin_port), proxy.counts()
        ingestd = {k: round(v - s3_counts(m0)[k]) for k, v in s3_counts(m1).items()}
        injected = {k: v - p0[k] for k, v in p1.items() if v != p0[k]}
        per_phase[name] = {
            "seconds": round(end - begin, 1),
            "proxy": injected,
            "ingestd": {k: v for k, v in ingestd.items() if v},
            "acks_spooled": round(m1.get("ingest_acks_spooled_total", 0) - m0.get("ingest_acks_spooled_total", 0)),
            "segments_persisted": round(m1.get("ingest_segments_persisted_total", 0)
                                        - m0.get("ingest_segments_persisted_total", 0)),
            "peak_rss_mib": round((run.sampler.peak([name]) or 0) / 1024, 1),
        }
        faults_injected = sum(v for k, v in injected.items() if k not in ("forwarded", "latency_added"))
        if name in ("errors", "down"):
            if not faults_injected:
                failures.append(f"phase {name}: the proxy injected no fault ({injected}); nothing was tested")
            elif not ingestd["retries"] and not ingestd["upload_failures"]:
                failures.append(f"phase {name}: the proxy injected {faults_injected} faults but ingestd's "
                                f"retry counters did not move: {ingestd}")
        if per_phase[name]["acks_spooled"] <= 0:
            failures.append(f"phase {name}: no ACK (spooled) while it lasted")
        say(f"phase {name}: proxy {injected}; ingestd {per_phase[name]['ingestd']}")
    return times, times["down"][1]


def recovery(run, server, store_back, figures, failures):
    """The backlog persists: as many segments persisted as had been accepted
    when the store came back. Returns when it did."""
    args = run.args
    run.sampler.phase = "recovery"
    accepted = scrape(server.admin_port).get("ingest_segments_accepted_total", 0)
    m0, p0 = scrape(server.admin_port), run.proxy.counts()
    # The uploader retries a failed upload with backoff of up to 30 s, so the
    # first upload after the outage may wait that long; then the backlog goes.
    bound = (60 + args.down_s / 2) * args.slack
    deadline = time.monotonic() + bound
    caught_up = None
    while time.monotonic() < deadline:
        if scrape(server.admin_port).get("ingest_segments_persisted_total", 0) >= accepted:
            caught_up = time.monotonic()
            break
        time.sleep(0.2)
    if caught_up is None:
        failures.append(f"the backlog was not persisted within {bound:.0f} s of the store coming back")
        figures["persisted_lag_after_recovery_s"] = None
    else:
        figures["persisted_lag_after_recovery_s"] = round(caught_up - store_back, 1)
        say(f"backlog persisted {caught_up - store_back:.1f} s after the store came back")
    time.sleep(args.recovery_s)
    m1, p1 = scrape(server.admin_port), run.proxy.counts()
    figures["phases"]["recovery"] = {
        "seconds": round(time.monotonic() - store_back, 1),
        "proxy": {k: v - p0[k] for k, v in p1.items() if v != p0[k]},
        "ingestd": {k: round(v - s3_counts(m0)[k]) for k, v in s3_counts(m1).items() if v != s3_counts(m0)[k]},
        "segments_persisted": round(m1.get("ingest_segments_persisted_total", 0)
                                    - m0.get("ingest_segments_persisted_total", 0)),
        "peak_rss_mib": round((run.sampler.peak(["recovery"]) or 0) / 1024, 1),
    }
    return time.monotonic()


def check_memory(run, figures, failures):
    args, samples = run.args, run.sampler.samples
    baseline = run.sampler.peak(["baseline"])
    peak = run.sampler.peak()
    final = samples[-1][2] if samples else None
    peak_backlog = max((s[3] for s in samples), default=0)
    bound_kib = (args.shards * args.shard_memory_mib * 1024 + 2 * UPLOAD_THREADS * SEAL_BYTES_MIB * 1024
                 + peak_backlog + args.rss_slack_mib * 1024)
    figures["rss_mib"] = {"baseline_peak": round(baseline / 1024, 1) if baseline else None,
                          "peak": round(peak / 1024, 1) if peak else None,
                          "final": round(final / 1024, 1) if final else None,
                          "growth_bound": round(bound_kib / 1024, 1), "samples": len(samples)}
    figures["peak_backlog_segments"] = round(peak_backlog)
    if baseline is None or peak is None:
        failures.append("no RSS samples of ingestd")
    elif peak - baseline > bound_kib:
        failures.append(f"ingestd's RSS grew by {(peak - baseline) / 1024:.1f} MiB over the baseline's peak "
                        f"({baseline / 1024:.1f} MiB), more than the bound of {bound_kib / 1024:.1f} MiB")


def main():
    args = parse_args()
    if not s3_gateway.RadosGateway.available():
        print("SKIPPED: radosgw / ceph / the AWS CLI are not installed (scripts/setup.sh installs them)",
              file=sys.stderr)
        return 77
    run = Run(args)
    failures = []
    figures = {"cameras": args.cameras, "segment_bytes": args.segment_bytes, "segment_ms": args.segment_ms,
               "down_s": args.down_s}
    ok = False
    try:
        port, admin_port = rolling_replacement.free_ports(2)
        certs = os.path.join(run.work, "certs")
        subprocess.run([args.ingestd, "certs", f"--out={certs}", f"--cameras={args.cameras}"],
                       check=True, stdout=subprocess.DEVNULL, timeout=120)

        say(f"work folder {run.work}; starting the S3 test server (radosgw)")
        run.s3 = s3_gateway.RadosGateway(args.source_dir, s3_gateway.folder_in(run.work, run.extra_folders))
        run.s3.start()
        run.s3.create_bucket(BUCKET)
        credentials = os.path.join(run.work, "aws/credentials")
        run.s3.credentials_file(credentials, STORE_PROFILE)
        aws_config = os.path.join(run.work, "aws/config")
        open(aws_config, "w").close()
        gateway_port = int(run.s3.endpoint.rsplit(":", 1)[1])
        run.proxy = s3_fault_proxy.FaultProxy(gateway_port, seed=args.seed)
        run.proxy.start()
        say(f"S3 at {run.s3.endpoint}, the fault proxy at 127.0.0.1:{run.proxy.port}")

        server = types.SimpleNamespace(name="s3-faults", port=port, admin_port=admin_port,
                                       state_dir=os.path.join(run.work, "state"))
        os.makedirs(server.state_dir)
        config = os.path.join(run.work, "ingestd.toml")
        with open(config, "w") as f:
            f.write(config_toml(args, server, certs, run.s3, run.proxy))
        # The store's keys only through the credentials file, nothing else from outside.
        env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
        env.update({"AWS_SHARED_CREDENTIALS_FILE": credentials, "AWS_CONFIG_FILE": aws_config,
                    "AWS_EC2_METADATA_DISABLED": "true", "NO_PROXY": "127.0.0.1,localhost",
                    "no_proxy": "127.0.0.1,localhost"})
        with open(os.path.join(run.work, "ingestd.log"), "w") as log:
            run.server = subprocess.Popen([args.ingestd, "--config", config], env=env, stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        rolling_replacement.wait_until("ingestd's admin listener", lambda: scrape(admin_port) or
                                       run.server.poll() is not None, 30 * args.slack, 0.2)
        if run.server.poll() is not None:
            raise AssertionError(f"ingestd exited at start ({run.server.returncode}); see ingestd.log")
        run.sampler = Sampler(run.server.pid, admin_port)
        run.sampler.start()

        say(f"{args.cameras} cameras")
        sim_started = time.monotonic()
        rolling_replacement.start_cameras(run, certs, port)
        rolling_replacement.wait_until(
            f"{args.cameras} cameras streaming",
            lambda: scrape(admin_port).get("ingest_sessions_streaming", 0) >= args.cameras
            or run.sim.poll() is not None, 60 * args.slack, 0.5)
        if run.sim.poll() is not None:
            raise AssertionError(f"camera-sim exited early ({run.sim.returncode})")
        rolling_replacement.wait_until("segments persisted through the proxy",
                                       lambda: scrape(admin_port).get("ingest_segments_persisted_total", 0) > 0,
                                       20 * args.slack, 0.5)

        phase_times, store_back = run_phases(run, server, figures, failures)
        recovered = recovery(run, server, store_back, figures, failures)
        phase_times["recovery"] = (store_back, recovered)

        say("stopping the cameras")
        report = rolling_replacement.stop_cameras(run)
        stopped = time.monotonic()
        rolling_replacement.wait_until("nothing pending, in flight or unindexed",
                                       lambda: nothing_pending(admin_port), 60 * args.slack, 0.2)
        figures["idle_after_cameras_stopped_s"] = round(time.monotonic() - stopped, 1)
        run.sampler.phase = "idle"
        time.sleep(2)  # an RSS sample or two with nothing to do
        final_metrics = scrape(admin_port)
        figures["ingestd_totals"] = {k: round(v) for k, v in s3_counts(final_metrics).items()}
        figures["proxy_totals"] = run.proxy.counts()
        run.sampler.stop()
        check_memory(run, figures, failures)
        figures["ack_p99_worst_second_ms"] = ack_p99_by_phase(os.path.join(run.work, "camera-sim.log"),
                                                              sim_started, phase_times)
        run.server.send_signal(signal.SIGTERM)
        try:
            figures["ingestd_exit"] = run.server.wait(timeout=60 * args.slack)
        except subprocess.TimeoutExpired:
            failures.append("ingestd did not exit within 60 s of SIGTERM with nothing pending")

        say("checking")
        say("reading the store back with the AWS CLI, straight from the gateway")
        problems, read_back = store_check.check_bucket(args.ingestctl, run.s3, BUCKET, PREFIX,
                                                       os.path.join(run.work, "mirror"), ZONE, report)
        failures.extend(problems)
        figures.update(read_back)
        figures["ack_spooled_ms"] = report["ack_spooled_ms"]
        if read_back["segments_in_store"] != report["segments_acked"]:
            failures.append(f"{report['segments_acked']} segments acknowledged, "
                            f"{read_back['segments_in_store']} in the store")
        ok = not failures
    except (AssertionError, RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
        failures.append(f"{type(e).__name__}: {e}" if not isinstance(e, AssertionError) else str(e))
        ok = False
    finally:
        run.cleanup()
        figures["failures"] = len(failures)
        figures["wall_s"] = round(time.monotonic() - START, 1)
        print(json.dumps(figures), flush=True)
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        if ok and not args.keep:
            for folder in [run.work] + run.extra_folders:
                shutil.rmtree(folder, ignore_errors=True)
        else:
            with open(os.path.join(run.work, "failures.txt"), "w") as f:
                f.write("".join(f"{failure}\n" for failure in failures))
            say(f"work folder kept: {run.work}")
    say("passed" if ok else f"{len(failures)} failures")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
