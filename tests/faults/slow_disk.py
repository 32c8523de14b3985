#!/usr/bin/env python3
"""Slow spool disk under load: fdatasync taking 50 ms and then 300 ms makes
ACKs (spooled) slower, and nothing else. Asserted:

  - the delay reaches the ACK path: slow_fs counted ingestd's fdatasyncs in
    every phase, and the median of camera-sim's per-second ACK p50 is at
    least --min_slow_share of the injected delay in each slow phase;
  - ACKs (spooled) keep coming in every phase, and latency comes back in
    the recovery phase (its last seconds' worst p99 below --recovered_p99_ms);
  - the cameras are not disconnected: no connection closed or accepted on the
    server from the baseline to the end of the recovery, camera-sim counts
    no reconnect and no protocol error;
  - memory stays bounded: ingestd's peak RSS minus the baseline's peak at
    most spool.shard_memory_bytes x shards + --rss_slack_mib (what the
    server may buffer while fdatasync is slow; the cameras' backlog beyond
    that must wait in the cameras, not in the server);
  - nothing lost, nothing doubled: every acknowledged segment is in the
    store exactly once and byte-exact (store_check.py: export per camera,
    SHA-256, `ingestctl verify`).

How the delay is injected: this VM has no device-mapper (no dm-delay), so
spool.dir lies on a FUSE passthrough file system of our own,
tests/faults/slow_fs.c (libfuse3): every operation is the same system call
on a backing folder on the normal disk; fsync and fdatasync (which ingestd's
io_uring IORING_OP_FSYNC with IORING_FSYNC_DATASYNC reaches as FUSE_FSYNC)
do the real sync and then sleep for the control file's `fsync_ms` before
answering, and with --write_ms each write sleeps too. The test rewrites the
control file between phases and waits until slow_fs's stats file reports the
new setting. The batch journal (<spool.dir>/journal) shares the slow disk.

Phases: baseline (no delay), slow (--slow_ms, e.g. 50 then 300 ms per
fdatasync), recovery (no delay). Then the cameras stop, the server drains,
the store (a `dir:` folder on the normal disk) is read back.

Needs root (FUSE mount), /dev/fuse, fusermount3 and slow_fs (built by
tests/CMakeLists.txt when pkg-config finds fuse3): exit 77 (skipped)
without them. Figures go to stdout as one JSON line, progress to stderr.

    sudo tests/faults/slow_disk.py --build_dir build --slow_fs wt/build/tests/slow_fs
    sudo tests/faults/slow_disk.py --build_dir build --slow_ms 50,300,1000 --write_ms 2
"""

import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import types

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../deploy"))
import rolling_replacement  # noqa: E402  (free ports, cameras, waiting)
import store_check  # noqa: E402
import store_outage  # noqa: E402  (metrics)

ZONE = rolling_replacement.ZONE
SKIPPED = 77
START = time.monotonic()
MIB = 1 << 20


def say(message):
    print(f"[{time.monotonic() - START:6.1f}s] {message}", file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build_dir", help="build tree: server/ingestd, server/ingestctl, bench/camera-sim, "
                                       "tests/slow_fs")
    p.add_argument("--ingestd", help="default: <build_dir>/server/ingestd")
    p.add_argument("--ingestctl", help="default: <build_dir>/server/ingestctl")
    p.add_argument("--camera_sim", help="default: <build_dir>/bench/camera-sim")
    p.add_argument("--slow_fs", help="default: <build_dir>/tests/slow_fs")
    p.add_argument("--cameras", type=int, default=50)
    p.add_argument("--segment_ms", type=int, default=250)
    p.add_argument("--segment_bytes", type=int, default=16384)
    p.add_argument("--shard_memory_mib", type=int, default=32, help="spool.shard_memory_bytes")
    p.add_argument("--baseline_s", type=float, default=5)
    p.add_argument("--slow_ms", default="50,300", help="fdatasync delays, one phase each")
    p.add_argument("--slow_s", type=float, default=6, help="each slow phase")
    p.add_argument("--write_ms", type=int, default=0, help="also delay every write this long in slow phases")
    p.add_argument("--recovery_s", type=float, default=5)
    p.add_argument("--min_slow_share", type=float, default=0.8,
                   help="a slow phase's median ACK p50 must reach this share of its delay")
    p.add_argument("--recovered_p99_ms", type=float, default=250,
                   help="bound on the worst per-second ACK p99 in the recovery's second half")
    p.add_argument("--rss_slack_mib", type=int, default=32)
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args()
    if args.slow_fs is None and args.build_dir is not None:
        args.slow_fs = os.path.join(args.build_dir, "tests/slow_fs")
    rolling_replacement.binaries_from_build_dir(p, args)
    args.slow_ms = [int(x) for x in args.slow_ms.split(",") if x]
    return args


class Skip(Exception):
    """The machine cannot run this test."""


class SlowFs:
    """slow_fs mounted at `mount_point` over `backing`; only this mount point
    is ever unmounted, only this process ever signalled."""

    def __init__(self, binary, work):
        self.binary = binary
        self.backing = os.path.join(work, "backing")
        self.mount_point = os.path.join(work, "mnt")
        self.control = os.path.join(work, "slow_fs.ctl")
        self.stats_path = os.path.join(work, "slow_fs.stats")
        self.log_path = os.path.join(work, "slow_fs.log")
        self.proc = None
        self.mounted = False

    def mount(self):
        os.makedirs(self.backing)
        os.makedirs(self.mount_point)
        self._write_control(0, 0)
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen(
                [self.binary, f"--backing={self.backing}", f"--control={self.control}",
                 f"--stats={self.stats_path}", self.mount_point, "-f", "-o", "max_threads=32"],
                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.proc.poll() is None:
            if os.path.ismount(self.mount_point) and os.path.exists(self.stats_path):
                self.mounted = True
                return
            time.sleep(0.05)
        with open(self.log_path, errors="replace") as f:
            raise Skip(f"slow_fs did not mount (exit {self.proc.poll()}): {f.read().strip()[-400:]}")

    def _write_control(self, fsync_ms, write_ms):
        tmp = self.control + ".new"
        with open(tmp, "w") as f:
            f.write(f"fsync_ms={fsync_ms} write_ms={write_ms}\n")
        os.rename(tmp, self.control)

    def stats(self):
        try:
            with open(self.stats_path) as f:
                return {k: int(v) for k, v in (w.split("=") for w in f.read().split())}
        except (OSError, ValueError):
            return {}

    def set_delay(self, fsync_ms, write_ms=0):
        """Changes the delays and waits until slow_fs has them in force."""
        self._write_control(fsync_ms, write_ms)
        rolling_replacement.wait_until(
            f"slow_fs to take fsync_ms={fsync_ms} write_ms={write_ms}",
            lambda: self.stats().get("fsync_ms") == fsync_ms and self.stats().get("write_ms") == write_ms, 5, 0.02)

    def unmount(self):
        """fusermount3 -u (retried while a killed process lets go), then
        lazily; then waits for slow_fs to exit, killing it if it does not."""
        for _ in range(10):
            if not self.mounted:
                break
            if subprocess.run(["fusermount3", "-u", self.mount_point], capture_output=True,
                              timeout=30).returncode == 0:
                self.mounted = False
                break
            time.sleep(0.5)
        if self.mounted:
            say(f"fusermount3 -u {self.mount_point} kept failing; detaching it lazily")
            if subprocess.run(["fusermount3", "-u", "-z", self.mount_point], capture_output=True,
                              timeout=30).returncode == 0:
                self.mounted = False
        if self.proc is not None:
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)


def config_toml(args, work, spool_dir, store_dir, port, admin_port):
    q = rolling_replacement.toml_string
    return f"""# written by tests/faults/slow_disk.py
[server]
id = "slow-disk"
zone = {q(ZONE)}
listen = {q(f"127.0.0.1:{port}")}
admin_listen = {q(f"127.0.0.1:{admin_port}")}
shards = 1
max_connections = 1000
state_dir = {q(os.path.join(work, "state"))}

[tls]
cert_file = {q(os.path.join(work, "certs/server.crt"))}
key_file = {q(os.path.join(work, "certs/server.key"))}
camera_ca_file = {q(os.path.join(work, "certs/camera-ca.crt"))}

[spool]
dir = {q(spool_dir)}
file_bytes = "8MiB"
shard_memory_bytes = "{args.shard_memory_mib}MiB"

[store]
url = {q("dir:" + store_dir)}
seal_age_ms = 500
seal_bytes = "4MiB"
index_interval_s = 1
upload_threads = 2

[drain]
announce_delay_ms = 100
deadline_ms = 30000

[log]
level = "info"
"""


def metrics(admin_port):
    """ingestd's /metrics as {name: sum over label sets}."""
    return store_outage.metrics(types.SimpleNamespace(admin_port=admin_port))


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration, ValueError):
        return None


class Sampler(threading.Thread):
    """Every 0.5 s: ingestd's RSS, with the phase it was taken in."""

    def __init__(self, pid):
        super().__init__(daemon=True)
        self.pid = pid
        self.phase = "start"
        self.samples = []  # (phase, rss KiB)
        self._stopping = threading.Event()

    def run(self):
        while not self._stopping.wait(0.5) and len(self.samples) < 2400:
            rss = rss_kib(self.pid)
            if rss is None:
                return
            self.samples.append((self.phase, rss))

    def stop(self):
        self._stopping.set()
        self.join(timeout=5)

    def peak(self, phases=None):
        rss = [r for p, r in self.samples if phases is None or p in phases]
        return max(rss) if rss else None


LIVE_LINE = re.compile(r"^\[\s*([\d.]+)s\].*ack p50\s+([\d.]+) ms p99\s+([\d.]+) ms")


def ack_latency(log_path, sim_started, begin, end):
    """camera-sim's per-second ACK (spooled) latency between two monotonic
    times: (p50s, p99s) of the seconds that acknowledged something."""
    p50s, p99s = [], []
    try:
        with open(log_path, errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return p50s, p99s
    for line in lines:
        m = LIVE_LINE.match(line)
        if m and begin <= sim_started + float(m.group(1)) < end and float(m.group(3)) > 0:
            p50s.append(float(m.group(2)))
            p99s.append(float(m.group(3)))
    return p50s, p99s


class Run:
    """Everything the test starts or mounts, so that `finally` undoes it."""

    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="slow-disk-")
        self.fs = SlowFs(args.slow_fs, self.work)
        self.store_dir = os.path.join(self.work, "store")
        self.server = None
        self.sim = None
        self.sampler = None

    def cleanup(self):
        if self.sampler is not None:
            self.sampler.stop()
        if self.sim is not None and self.sim.poll() is None:
            self.sim.kill()
            self.sim.wait(timeout=10)
        if self.server is not None and self.server.poll() is None:
            self.server.kill()
            self.server.wait(timeout=10)
        if self.fs.proc is not None:
            try:
                self.fs.set_delay(0)  # a sync still waiting must not hold up the unmount
            except (AssertionError, OSError):
                pass
        self.fs.unmount()


def run_phases(run, admin_port, sim_started, figures, failures):
    """baseline, one phase per --slow_ms, recovery; per phase the ACK
    latency, ACKs and fdatasyncs, connections opened and closed."""
    a, fs = run.args, run.fs
    phases = [("baseline", a.baseline_s, 0, 0)]
    phases += [(f"slow_{ms}ms", a.slow_s, ms, a.write_ms) for ms in a.slow_ms]
    phases += [("recovery", a.recovery_s, 0, 0)]
    per_phase = figures.setdefault("phases", {})
    sim_log = os.path.join(run.work, "camera-sim.log")
    first = metrics(admin_port)
    for name, seconds, fsync_ms, write_ms in phases:
        fs.set_delay(fsync_ms, write_ms)
        run.sampler.phase = name
        m0, s0 = metrics(admin_port), fs.stats()
        begin = time.monotonic()
        say(f"phase {name}: fdatasync +{fsync_ms} ms, write +{write_ms} ms, {seconds} s")
        time.sleep(seconds)
        end = time.monotonic()
        m1, s1 = metrics(admin_port), fs.stats()
        # The first second of a phase still holds ACKs of the previous one.
        p50s, p99s = ack_latency(sim_log, sim_started, begin + 1.0, end + 0.5)
        figures_phase = {
            "fsync_ms": fsync_ms, "write_ms": write_ms, "seconds": round(end - begin, 1),
            "ack_p50_ms": round(statistics.median(p50s), 1) if p50s else None,
            "ack_p99_ms": round(max(p99s), 1) if p99s else None,
            "acks_spooled": round(m1.get("ingest_acks_spooled_total", 0) - m0.get("ingest_acks_spooled_total", 0)),
            "segments_persisted": round(m1.get("ingest_segments_persisted_total", 0)
                                        - m0.get("ingest_segments_persisted_total", 0)),
            "fdatasyncs": s1.get("datasyncs", 0) - s0.get("datasyncs", 0),
            "fsyncs": s1.get("fsyncs", 0) + s1.get("fsyncdirs", 0) - s0.get("fsyncs", 0) - s0.get("fsyncdirs", 0),
            "backpressure_pauses": round(m1.get("ingest_backpressure_pauses_total", 0)
                                         - m0.get("ingest_backpressure_pauses_total", 0)),
            "peak_rss_mib": round((run.sampler.peak([name]) or 0) / 1024, 1),
        }
        per_phase[name] = figures_phase
        say(f"phase {name}: {figures_phase}")
        if figures_phase["acks_spooled"] <= 0:
            failures.append(f"phase {name}: no ACK (spooled) while it lasted")
        if figures_phase["fdatasyncs"] <= 0:
            failures.append(f"phase {name}: slow_fs saw no fdatasync: the spool is not on the slow disk")
        if fsync_ms and (figures_phase["ack_p50_ms"] or 0) < a.min_slow_share * fsync_ms:
            failures.append(f"phase {name}: median ACK p50 {figures_phase['ack_p50_ms']} ms, below "
                            f"{a.min_slow_share} x the {fsync_ms} ms injected: the delay did not reach the ACKs")
        if name == "recovery":
            _, late_p99s = ack_latency(sim_log, sim_started, begin + seconds / 2, end + 0.5)
            figures_phase["ack_p99_ms_second_half"] = round(max(late_p99s), 1) if late_p99s else None
            if not late_p99s or max(late_p99s) > a.recovered_p99_ms:
                failures.append(f"recovery: ACK p99 in its second half {figures_phase['ack_p99_ms_second_half']} "
                                f"ms, above {a.recovered_p99_ms} ms: latency did not come back")
    last = metrics(admin_port)
    closed = round(last.get("ingest_connections_closed_total", 0) - first.get("ingest_connections_closed_total", 0))
    accepted = round(last.get("ingest_connections_accepted_total", 0)
                     - first.get("ingest_connections_accepted_total", 0))
    figures["connections_closed"] = closed
    figures["connections_accepted"] = accepted
    if closed or accepted:
        failures.append(f"cameras were disconnected: {closed} connections closed, {accepted} accepted "
                        f"from the baseline to the end of the recovery")


def check_memory(run, figures, failures):
    a = run.args
    baseline, peak = run.sampler.peak(["baseline"]), run.sampler.peak()
    bound_kib = (a.shard_memory_mib + a.rss_slack_mib) * 1024
    figures["rss_mib"] = {"baseline_peak": round(baseline / 1024, 1) if baseline else None,
                          "peak": round(peak / 1024, 1) if peak else None,
                          "growth_bound": round(bound_kib / 1024, 1)}
    if baseline is None or peak is None:
        failures.append("no RSS samples of ingestd")
    elif peak - baseline > bound_kib:
        failures.append(f"ingestd's RSS grew by {(peak - baseline) / 1024:.1f} MiB over the baseline's peak "
                        f"({baseline / 1024:.1f} MiB), more than the bound of {bound_kib / 1024:.1f} MiB")


def nothing_pending(admin_port):
    m = metrics(admin_port)
    return all(name in m and m[name] == 0 for name in (
        "ingest_pending_segments", "ingest_batches_in_flight", "ingest_unindexed_segments"))


def main():
    args = parse_args()
    if os.geteuid() != 0:
        print("SKIPPED: mounting a FUSE file system here needs root", file=sys.stderr)
        return SKIPPED
    missing = [what for what, ok in (("/dev/fuse", os.path.exists("/dev/fuse")),
                                     ("fusermount3", shutil.which("fusermount3")),
                                     (f"slow_fs ({args.slow_fs})", args.slow_fs and os.access(args.slow_fs, os.X_OK)))
               if not ok]
    if missing:
        print(f"SKIPPED: missing {', '.join(missing)} (scripts/setup.sh installs fuse3 and libfuse3-dev; "
              f"tests/CMakeLists.txt builds slow_fs)", file=sys.stderr)
        return SKIPPED
    run = Run(args)
    failures = []
    figures = {"cameras": args.cameras, "segment_bytes": args.segment_bytes, "segment_ms": args.segment_ms,
               "slow_ms": args.slow_ms, "write_ms": args.write_ms}
    ok = skipped = False
    try:
        run.fs.mount()
        say(f"slow_fs mounted at {run.fs.mount_point} (backing {run.fs.backing}); work folder {run.work}")
        os.makedirs(run.store_dir)
        port, admin_port = rolling_replacement.free_ports(2)
        certs = os.path.join(run.work, "certs")
        subprocess.run([args.ingestd, "certs", f"--out={certs}", f"--cameras={args.cameras}"], check=True,
                       stdout=subprocess.DEVNULL, timeout=120)
        config = os.path.join(run.work, "ingestd.toml")
        with open(config, "w") as f:
            f.write(config_toml(args, run.work, os.path.join(run.fs.mount_point, "spool"), run.store_dir, port,
                                admin_port))
        with open(os.path.join(run.work, "ingestd.log"), "w") as log:
            run.server = subprocess.Popen([args.ingestd, f"--config={config}"], stdin=subprocess.DEVNULL,
                                          stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        rolling_replacement.wait_until(
            "ingestd ready", lambda: run.server.poll() is not None
            or store_outage.http_get(f"http://127.0.0.1:{admin_port}/readyz")[0] == 200, 30, 0.1)
        if run.server.poll() is not None:
            raise AssertionError(f"ingestd exited at start ({run.server.returncode}); see ingestd.log")
        run.sampler = Sampler(run.server.pid)
        run.sampler.start()
        say(f"{args.cameras} cameras, one {args.segment_bytes // 1024} KiB segment per {args.segment_ms} ms each")
        sim_started = time.monotonic()
        rolling_replacement.start_cameras(run, certs, port)
        rolling_replacement.wait_until(
            f"{args.cameras} cameras streaming",
            lambda: metrics(admin_port).get("ingest_sessions_streaming", 0)
            >= args.cameras or run.sim.poll() is not None, 30, 0.2)
        if run.sim.poll() is not None:
            raise AssertionError(f"camera-sim exited early ({run.sim.returncode})")

        run_phases(run, admin_port, sim_started, figures, failures)

        say("stopping the cameras")
        report = rolling_replacement.stop_cameras(run)
        rolling_replacement.wait_until("nothing pending, in flight or unindexed",
                                       lambda: nothing_pending(admin_port), 60, 0.2)
        run.sampler.stop()
        check_memory(run, figures, failures)
        figures["slow_fs"] = run.fs.stats()
        run.server.send_signal(signal.SIGTERM)
        try:
            figures["ingestd_exit"] = run.server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            failures.append("ingestd did not exit within 60 s of SIGTERM with nothing pending")
        if figures.get("ingestd_exit") not in (0, None):
            failures.append(f"ingestd exited {figures['ingestd_exit']} after SIGTERM")

        say("reading the store back")
        if not report["all_acked"]:
            failures.append("camera-sim: not every recorded segment was acknowledged")
        if report["protocol_errors"] or report["reconnects"]:
            failures.append(f"camera-sim: {report['protocol_errors']} protocol errors, {report['reconnects']} "
                            f"reconnects")
        failures.extend(store_check.check_store(args.ingestctl, run.store_dir, ZONE, report["per_camera"]))
        stored = store_check.store_counts(args.ingestctl, run.store_dir, ZONE)
        figures.update({"segments_recorded": report["segments_recorded"], "segments_acked": report["segments_acked"],
                        "segments_in_store": stored.get("segments"), "camera_reconnects": report["reconnects"],
                        "camera_protocol_errors": report["protocol_errors"],
                        "ack_spooled_ms_whole_run": report["ack_spooled_ms"]})
        if stored.get("segments") != report["segments_acked"]:
            failures.append(f"{report['segments_acked']} segments acknowledged, {stored.get('segments')} in the "
                            f"store")
        ok = not failures
    except Skip as e:
        skipped = True
        say(f"SKIPPED: {e}")
    except (AssertionError, RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
        failures.append(f"{type(e).__name__}: {e}" if not isinstance(e, AssertionError) else str(e))
    finally:
        run.cleanup()
        if not skipped:
            figures["failures"] = len(failures)
            figures["wall_s"] = round(time.monotonic() - START, 1)
            print(json.dumps(figures), flush=True)
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        if (ok or skipped) and not args.keep and not run.fs.mounted:
            shutil.rmtree(run.work, ignore_errors=True)
        else:
            say(f"work folder kept: {run.work}")
    if skipped:
        return SKIPPED
    say("passed" if ok else f"{len(failures)} failures")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
