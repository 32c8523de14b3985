#!/usr/bin/env python3
"""Spool disk full, in both ways a disk fills: something else takes the last
free byte (a filler file) while the cameras stream, so the spool's own
writes fail with ENOSPC; then, the filler deleted, the spool itself grows
until it reaches spool.min_free_bytes (spool.max_bytes is set far above the
disk's size). The store cannot take uploads meanwhile, so nothing drains.
Asserted, for each of the two full periods:

  - /readyz fails naming the spool's disk (a failed check other than
    store_writable, which fails anyway because the store is broken on
    purpose, whose name or detail points at the spool or its disk);
  - the cameras are paused, not dropped: no connection closes or arrives
    (server counters), camera-sim counts no reconnect and no protocol
    error, and the server paused reading (backpressure_pauses);
  - the server neither dies nor spins: it stays up and live (/healthz),
    its average CPU stays below --max_cpu_pct of one core, its RSS below
    --max_rss_mib;

and over the whole run:

  - the filler really made the spool see ENOSPC (its counter moved);
  - once the store takes uploads again the spool drains, space returns,
    readiness passes, the cameras resume and every segment they recorded
    is acknowledged;
  - no ACK without durability, nothing doubled: every segment a camera had
    acknowledged is in the store exactly once and byte-exact (SHA-256 per
    camera, `ingestctl verify` clean; tests/deploy/store_check.py).

The spool's file system is a size-limited tmpfs by default: write(2) (and
io_uring's writev) fails with ENOSPC there exactly as on ext4 or XFS, which
reserve blocks when a write is accepted, so the server sees the error at
the same call; fdatasync has nothing to flush on tmpfs, but what is tested
is the server's answer to ENOSPC, not the disk's. `--fs ext4` runs the same
case on an ext4 image on a loop device (fdatasync really writes, the
journal takes room, no blocks reserved for root: mkfs -m 0).

The store is a `dir:` folder on the normal disk; it is broken by putting a
file where its folder was (as root a folder cannot be made unwritable) and
mended by putting the folder back.

If the server dies or stops serving on the full disk, or never recovers,
the test says so, then grows the disk (tmpfs: remount; ext4: offline
resize) and starts the server again, only so that the end check still
tells whether any acknowledged segment was lost or doubled. Needs root (to
mount); exit 77 (skipped) when mounting is not possible. The figures go to
stdout as one JSON line, progress to stderr.

    sudo tests/faults/spool_disk_full.py --build_dir build
    sudo tests/faults/spool_disk_full.py --build_dir build --fs ext4 --hold_s 20

In CI as faults.spool_disk_full. Its first runs (docs/reliability.md, "Spool
disk full") found the shard stopping on the first ENOSPC and ingestd exiting,
no readiness check naming the disk, and the batch journal losing records on
the full disk so that segments were uploaded twice after the restart.
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

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../deploy"))
import rolling_replacement  # noqa: E402  (free ports, wait_until)
import store_check  # noqa: E402
import store_outage  # noqa: E402  (http_get, metrics)

ZONE = "dev"
SKIPPED = 77
START = time.monotonic()
MIB = 1 << 20


def say(message):
    print(f"[{time.monotonic() - START:6.1f}s] {message}", file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build_dir", help="build tree: server/ingestd, server/ingestctl, bench/camera-sim")
    p.add_argument("--ingestd", help="default: <build_dir>/server/ingestd")
    p.add_argument("--ingestctl", help="default: <build_dir>/server/ingestctl")
    p.add_argument("--camera_sim", help="default: <build_dir>/bench/camera-sim")
    p.add_argument("--fs", choices=("tmpfs", "ext4"), default="tmpfs", help="the spool's small file system")
    p.add_argument("--disk_mib", type=int, default=32, help="its size")
    p.add_argument("--spool_max_mib", type=int, default=1024, help="spool.max_bytes: far above --disk_mib")
    p.add_argument("--min_free_mib", type=int, default=4, help="spool.min_free_bytes: the reserve the spool leaves")
    p.add_argument("--file_mib", type=int, default=4, help="spool.file_bytes")
    p.add_argument("--cameras", type=int, default=16)
    p.add_argument("--segment_ms", type=int, default=100)
    p.add_argument("--segment_bytes", type=int, default=32768)
    p.add_argument("--warmup_s", type=float, default=1.5, help="streaming with a working store first")
    p.add_argument("--fill_timeout_s", type=float, default=30, help="bound on filling the disk")
    p.add_argument("--fill_attempts", type=int, default=4,
                   help="fills by the filler file before giving up on seeing ENOSPC (the reserve check may win)")
    p.add_argument("--hold_s", type=float, default=4, help="how long the disk stays full, in each of the two ways")
    p.add_argument("--recover_s", type=float, default=45,
                   help="bound on recovery after the store returns (the sealer backs off up to 30 s)")
    p.add_argument("--after_s", type=float, default=2, help="streaming after recovery")
    p.add_argument("--max_cpu_pct", type=float, default=50, help="average while full, percent of one core")
    p.add_argument("--max_rss_mib", type=float, default=1024)
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args()
    for name, path in (("ingestd", "server/ingestd"), ("ingestctl", "server/ingestctl"),
                       ("camera_sim", "bench/camera-sim")):
        if getattr(args, name) is None:
            if args.build_dir is None:
                p.error(f"give --build_dir or --{name}")
            setattr(args, name, os.path.join(args.build_dir, path))
    return args


class Skip(Exception):
    """The machine cannot run this test (not root, mounting not permitted)."""


def run_tool(argv, timeout_s=60):
    out = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)}: exit {out.returncode}: {out.stderr.strip()}")
    return out.stdout


class SpoolDisk:
    """A small file system of our own at `mount_point`: a tmpfs, or ext4 on a
    loop device backed by an image file beside it. Only this mount point is
    ever mounted, grown or unmounted."""

    def __init__(self, kind, mount_point, size_mib):
        self.kind = kind
        self.mount_point = mount_point
        self.image = mount_point + ".img"
        self.size_mib = size_mib
        self.mounted = False

    def mount(self):
        os.makedirs(self.mount_point)
        if self.kind == "tmpfs":
            argv = ["mount", "-t", "tmpfs", "-o", f"size={self.size_mib}m,mode=0755", "ingestd-spool-test",
                    self.mount_point]
        else:
            with open(self.image, "wb") as f:
                f.truncate(self.size_mib * MIB)
            run_tool(["mkfs.ext4", "-q", "-F", "-m", "0", self.image])
            argv = ["mount", "-o", "loop", self.image, self.mount_point]
        out = subprocess.run(argv, capture_output=True, text=True, timeout=60)
        if out.returncode != 0:
            raise Skip(f"cannot mount a {self.kind} for the spool: {out.stderr.strip()}")
        self.mounted = True

    def grow(self, size_mib):
        """A tmpfs grows in place; ext4 offline (nothing may use it: online
        resizing is refused in containers), unmounted and mounted again."""
        if self.kind == "tmpfs":
            run_tool(["mount", "-o", f"remount,size={size_mib}m", self.mount_point])
        else:
            self.unmount()
            if self.mounted:
                raise RuntimeError(f"cannot unmount {self.mount_point} to grow it")
            os.truncate(self.image, size_mib * MIB)
            subprocess.run(["e2fsck", "-f", "-y", self.image], capture_output=True, timeout=120)
            run_tool(["resize2fs", self.image])
            run_tool(["mount", "-o", "loop", self.image, self.mount_point])
            self.mounted = True
        self.size_mib = size_mib

    def space(self):
        """(size, free) in bytes, as an unprivileged writer sees them."""
        st = os.statvfs(self.mount_point)
        return st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize

    def unmount(self):
        """Unmounts (a mount loop-backed by `mount -o loop` detaches its loop
        device with it); retried a few times while a killed process lets go."""
        for _ in range(10):
            if not self.mounted:
                return
            if subprocess.run(["umount", self.mount_point], capture_output=True, timeout=30).returncode == 0:
                self.mounted = False
                return
            time.sleep(0.5)
        say(f"umount {self.mount_point} kept failing; detaching it lazily")
        if subprocess.run(["umount", "-l", self.mount_point], capture_output=True, timeout=30).returncode == 0:
            self.mounted = False


def config_toml(args, work, spool_dir, store_dir, port, admin_port):
    q = json.dumps  # a TOML basic string is a JSON string here
    certs = os.path.join(work, "certs")
    return f"""# written by tests/faults/spool_disk_full.py
[server]
id = "disk-full"
zone = {q(ZONE)}
listen = {q(f"127.0.0.1:{port}")}
admin_listen = {q(f"127.0.0.1:{admin_port}")}
shards = 1
max_connections = 1000
state_dir = {q(os.path.join(work, "state"))}

[tls]
cert_file = {q(os.path.join(certs, "server.crt"))}
key_file = {q(os.path.join(certs, "server.key"))}
camera_ca_file = {q(os.path.join(certs, "camera-ca.crt"))}

[spool]
dir = {q(spool_dir)}
file_bytes = "{args.file_mib}MiB"
# Far more than the disk holds: the disk fills first.
max_bytes = "{args.spool_max_mib}MiB"
min_free_bytes = "{args.min_free_mib}MiB"
shard_memory_bytes = "64MiB"

[store]
url = {q("dir:" + store_dir)}
seal_age_ms = 200
seal_bytes = "2MiB"

[drain]
announce_delay_ms = 100
deadline_ms = 30000

[log]
level = "info"
"""


class Server:
    """ingestd as a child process; every start appends to one log."""

    def __init__(self, args, work, config, port, admin_port):
        self.args, self.config, self.port, self.admin_port = args, config, port, admin_port
        self.log_path = os.path.join(work, "ingestd.log")
        self.proc = None
        self.starts = 0
        self.exits = []  # (unix time, exit code, process)
        self._lock = threading.Lock()

    def start(self):
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen([self.args.ingestd, f"--config={self.config}"], stdout=log,
                                         stderr=subprocess.STDOUT)
        self.starts += 1

    def running(self):
        if self.proc is None:
            return False
        code = self.proc.poll()
        if code is None:
            return True
        with self._lock:  # the sampler asks too
            if not any(p is self.proc for _, _, p in self.exits):
                self.exits.append((time.time(), code, self.proc))
        return False

    def exit_codes(self):
        self.running()
        return [code for _, code, _ in self.exits]

    def get(self, path):
        return store_outage.http_get(f"http://127.0.0.1:{self.admin_port}{path}")

    def readiness(self):
        """(ready, [(check, detail) failed]); (None, []) without an answer."""
        status, body = self.get("/readyz")
        if status is None:
            return None, []
        try:
            checks = json.loads(body).get("checks", [])
        except ValueError:
            checks = []
        return status == 200, [(c["name"], c.get("detail", "")) for c in checks if not c.get("ok")]

    def metrics(self):
        return store_outage.metrics(self)

    def wait_ready(self, timeout_s):
        rolling_replacement.wait_until("ingestd ready", lambda: not self.running() or self.readiness()[0], timeout_s,
                                       0.1)
        if not self.running():
            raise AssertionError(f"ingestd exited with {self.proc.returncode} while starting; log tail:\n"
                                 + self.log_tail())

    def usage(self):
        """(CPU seconds so far, RSS bytes) of the running process, or None."""
        if not self.running():
            return None
        try:
            with open(f"/proc/{self.proc.pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{self.proc.pid}/status") as f:
                rss_kib = next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))
        except (OSError, StopIteration, ValueError, IndexError):
            return None
        ticks = int(fields[11]) + int(fields[12])  # utime + stime
        return ticks / os.sysconf("SC_CLK_TCK"), rss_kib * 1024

    def log_lines(self, pattern):
        try:
            with open(self.log_path, errors="replace") as f:
                return [line.rstrip() for line in f if re.search(pattern, line)]
        except OSError:
            return []

    def log_tail(self, count=20):
        try:
            with open(self.log_path, errors="replace") as f:
                return "".join(f.readlines()[-count:])
        except OSError:
            return ""

    def stop(self, timeout_s):
        """SIGTERM: a graceful drain; returns the exit code, or None if it
        was still running after timeout_s (then it is killed)."""
        if not self.running():
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            return None

    def kill(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Sample:
    __slots__ = ("t", "free", "alive", "live", "ready", "failed", "m", "cpu_s", "rss")


class Sampler(threading.Thread):
    """Every interval: spool free space, process state, /healthz, /readyz
    and a few counters; bounded by max_samples."""

    COUNTERS = ("ingest_connections_accepted_total", "ingest_connections_closed_total",
                "ingest_backpressure_pauses_total", "ingest_segments_accepted_total", "ingest_spool_records_total",
                "ingest_connections_open", "ingest_spool_disk_full_errors_total", "ingest_spool_write_stalled")

    def __init__(self, server, disk, interval_s=0.25, max_samples=4 * 600):
        super().__init__(daemon=True)
        self.server, self.disk, self.interval_s, self.max_samples = server, disk, interval_s, max_samples
        self.samples = []
        self._stopping = threading.Event()

    def run(self):
        while not self._stopping.is_set() and len(self.samples) < self.max_samples:
            s = Sample()
            s.t = time.time()
            s.free = self.disk.space()[1]
            s.alive = self.server.running()
            status, _ = self.server.get("/healthz") if s.alive else (None, "")
            s.live = status == 200
            s.ready, s.failed = self.server.readiness() if s.alive else (None, [])
            metrics = self.server.metrics() if s.alive else {}
            s.m = {name: metrics.get(name) for name in self.COUNTERS}
            usage = self.server.usage()
            s.cpu_s, s.rss = usage if usage else (None, None)
            self.samples.append(s)
            self._stopping.wait(self.interval_s)

    def stop(self):
        self._stopping.set()
        self.join(timeout=10)

    def between(self, start, end):
        return [s for s in list(self.samples) if start <= s.t <= end]


def counter_delta(samples, name):
    values = [s.m.get(name) for s in samples if s.m.get(name) is not None]
    return values[-1] - values[0] if len(values) >= 2 else None


def cpu_figures(samples):
    """(average, peak over ~1 s) CPU percent of one core; samples of one process."""
    points = [(s.t, s.cpu_s) for s in samples if s.cpu_s is not None]
    if len(points) < 2 or points[-1][0] <= points[0][0]:
        return None, None
    average = 100 * (points[-1][1] - points[0][1]) / (points[-1][0] - points[0][0])
    peak = 0.0
    for i, (t, cpu) in enumerate(points):
        later = next(((t2, c2) for t2, c2 in points[i + 1:] if t2 - t >= 1.0), None)
        if later and later[1] >= cpu:
            peak = max(peak, 100 * (later[1] - cpu) / (later[0] - t))
    return round(average, 1), round(peak, 1)


LIVE_LINE = re.compile(r"acked\s+(\d+)\s.*reconnects (\d+)\s+errors (\d+)")


def camera_progress(log_path):
    """camera-sim's last live line: (acked, reconnects, errors), or None."""
    try:
        with open(log_path, errors="replace") as f:
            matches = [LIVE_LINE.search(line) for line in f]
    except OSError:
        return None
    matches = [m for m in matches if m]
    return tuple(int(x) for x in matches[-1].groups()) if matches else None


def names_the_disk(check, detail):
    """A readiness check that says the spool (or its disk) is full. The
    store check fails anyway while the store is broken: it does not count."""
    if check == "store_writable":
        return False
    return bool(re.search(r"spool|disk|space|ENOSPC|file ?system", f"{check} {detail}", re.IGNORECASE))


class Run:
    """Everything the test starts or mounts, so that `finally` undoes it."""

    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="spool-disk-full-")
        self.disk = SpoolDisk(args.fs, os.path.join(self.work, "spool-disk"), args.disk_mib)
        self.store_dir = os.path.join(self.work, "store")
        self.server = None
        self.sim = None
        self.sampler = None
        self.filler = None

    def break_store(self):
        os.rename(self.store_dir, self.store_dir + ".away")
        open(self.store_dir, "w").close()

    def mend_store(self):
        if os.path.isfile(self.store_dir) and os.path.isdir(self.store_dir + ".away"):
            os.unlink(self.store_dir)
            os.rename(self.store_dir + ".away", self.store_dir)

    def cleanup(self):
        if self.sampler is not None:
            self.sampler.stop()
        if self.sim is not None and self.sim.poll() is None:
            self.sim.kill()
            self.sim.wait(timeout=10)
        if self.server is not None:
            self.server.kill()
        self.mend_store()
        if self.filler is not None and os.path.exists(self.filler):
            os.unlink(self.filler)
        self.disk.unmount()


def fill_by_another_writer(run, figures, failures):
    """Something else fills the disk (a filler file takes every free byte)
    while the cameras stream: the spool's own writes must then fail with
    ENOSPC. Returns when the server had its first such error (or stopped
    serving), and when that happened.

    The server measures the free space between writes too, and pauses the
    cameras once it is below spool.min_free_bytes. On a loaded machine that
    measurement can come before the cameras' next write reaches the disk, so
    nothing fails with ENOSPC (right, but not the case under test): then the
    filler is deleted, the cameras resume, and the disk is filled again, up
    to --fill_attempts times."""
    a, server = run.args, run.server
    start = time.time()
    for attempt in range(1, a.fill_attempts + 1):
        full_at = fill_once(run, figures)
        figures["fill_attempts"] = attempt
        if not server.running() or server.get("/healthz")[0] != 200:
            failures.append(f"the server stopped serving when its spool write failed with ENOSPC (exit codes so "
                            f"far {server.exit_codes()})")
            break
        if a.fs != "tmpfs" or enospc_errors(server) or attempt == a.fill_attempts:
            break
        # Writes already on their way may still meet the full disk.
        deadline = time.time() + 3
        while time.time() < deadline and not enospc_errors(server):
            time.sleep(0.1)
        if enospc_errors(server):
            break
        say(f"attempt {attempt}: the server paused the cameras at its reserve before any write met the full "
            f"disk; deleting the filler and filling again")
        os.unlink(run.filler)
        run.filler = None
        # The store stays broken, so readiness fails anyway: wait until it no
        # longer names the disk.
        rolling_replacement.wait_until(
            "the server to see room on its disk again",
            lambda: not server.running() or not any(names_the_disk(c, d) for c, d in server.readiness()[1]),
            a.fill_timeout_s, 0.1)
        start = time.time()
    figures["enospc_after_s"] = round(full_at - start, 1)
    return start, full_at


def enospc_errors(server):
    return server.metrics().get("ingest_spool_disk_full_errors_total") or 0


def fill_once(run, figures):
    """A filler file takes every free byte of the spool's disk; returns once
    the server noticed (an ENOSPC, or readiness naming the disk) or stopped
    serving."""
    a, server, disk = run.args, run.server, run.disk
    run.filler = os.path.join(disk.mount_point, "filler")
    written = 0
    fd = os.open(run.filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        chunk = MIB
        while chunk >= 4096:
            try:
                written += os.write(fd, b"\0" * chunk)
            except OSError:
                chunk //= 4
    finally:
        os.close(fd)
    figures["filler_mib"] = round(written / MIB, 1)
    say(f"a filler file took the spool disk's last {figures['filler_mib']} MiB")

    # On tmpfs the spool's next write fails with ENOSPC at once; ext4 may
    # keep a few blocks, so the reserve check can pause the cameras first.
    def paused_or_down():
        if not server.running() or server.get("/healthz")[0] != 200:
            return True
        return enospc_errors(server) > 0 or any(names_the_disk(c, d) for c, d in server.readiness()[1])

    rolling_replacement.wait_until("the server to notice the full disk", paused_or_down, a.fill_timeout_s, 0.1)
    return time.time()


def fill_to_reserve(run, figures, failures):
    """The filler is gone; the cameras stream into the spool, nothing drains,
    until the spool has left only spool.min_free_bytes (or the server stops
    serving). Returns when that happened."""
    a, server, disk = run.args, run.server, run.disk
    start = time.time()

    def at_reserve_or_down():
        if not server.running() or server.get("/healthz")[0] != 200:
            return True
        return disk.space()[1] < (a.min_free_mib + 2) * MIB and any(
            names_the_disk(c, d) for c, d in server.readiness()[1])

    rolling_replacement.wait_until("the spool to reach its reserve", at_reserve_or_down, a.fill_timeout_s, 0.1)
    full_at = time.time()
    figures["reserve_reached_after_s"] = round(full_at - start, 1)
    figures["free_at_reserve_mib"] = round(disk.space()[1] / MIB, 2)
    if not server.running() or server.get("/healthz")[0] != 200:
        failures.append(f"the server stopped serving as the spool disk filled (exit codes so far "
                        f"{server.exit_codes()}, {disk.space()[1] / MIB:.1f} MiB free)")
    return start, full_at


def hold_full(run, label, start, full_at, figures, failures, until_enospc=False):
    """Keeps the disk full for --hold_s and checks what the server did.

    until_enospc: on a loaded machine the spool's next write may come after
    --hold_s, so keep the disk full (at most 15 s more) until the spool has met it.
    """
    sim_log = os.path.join(run.work, "camera-sim.log")
    say(f"{label}: full after {round(full_at - start, 1)} s; holding {run.args.hold_s} s")
    sim_before = camera_progress(sim_log)
    time.sleep(run.args.hold_s)
    if until_enospc:
        deadline = time.time() + 15
        while run.server.running() and time.time() < deadline and not (
                run.server.metrics().get("ingest_spool_disk_full_errors_total") or 0):
            time.sleep(0.2)
    sim_after = camera_progress(sim_log)
    pauses = counter_delta(run.sampler.between(start, time.time()), "ingest_backpressure_pauses_total")
    figures[f"{label}_backpressure_pauses"] = pauses
    if run.server.running() and not pauses:
        failures.append(f"{label}: the server never paused reading from a camera")
    check_full_period(run, label, run.sampler.between(full_at, time.time()), sim_before, sim_after, figures,
                      failures)


def check_full_period(run, label, samples, sim_before, sim_after, figures, failures):
    """What the server did while the disk was full."""
    a, server = run.args, run.server
    seen = {}
    for s in samples:
        for check, detail in s.failed:
            seen.setdefault(check, detail)
    figures[f"{label}_readiness_failed"] = seen
    if not any(names_the_disk(c, d) for c, d in seen.items()):
        failures.append(f"{label}: /readyz never named the full spool disk while it was full (failed checks seen: "
                        f"{seen or 'none'})")
    down = [s for s in samples if not s.alive or not s.live]
    figures[f"{label}_not_live_samples"] = len(down)
    if down:
        failures.append(f"{label}: the server was down or not live in {len(down)} of {len(samples)} samples while the disk "
                        f"was full (exit codes {server.exit_codes()})")
    closed = counter_delta(samples, "ingest_connections_closed_total")
    accepted = counter_delta(samples, "ingest_connections_accepted_total")
    figures[f"{label}_connections_closed"] = closed
    figures[f"{label}_connections_accepted"] = accepted
    if closed or accepted:
        failures.append(f"{label}: cameras were dropped while the disk was full: {closed} connections closed, "
                        f"{accepted} accepted")
    if sim_before and sim_after:
        figures[f"{label}_camera_reconnects"] = sim_after[1] - sim_before[1]
        figures[f"{label}_camera_errors"] = sim_after[2] - sim_before[2]
        if sim_after[1] != sim_before[1] or sim_after[2] != sim_before[2]:
            failures.append(f"{label}: camera-sim counted {figures[f'{label}_camera_reconnects']} reconnects and "
                            f"{figures[f'{label}_camera_errors']} errors while the disk was full")
    average, peak = cpu_figures(samples)
    rss = [s.rss for s in samples if s.rss]
    figures[f"{label}_cpu_pct"] = {"average": average, "peak_1s": peak}
    figures[f"{label}_rss_peak_mib"] = round(max(rss) / MIB, 1) if rss else None
    if average is not None and average > a.max_cpu_pct:
        failures.append(f"{label}: the server used {average}% of a core on average while the disk was full "
                        f"(bound {a.max_cpu_pct}%): spinning?")
    if rss and max(rss) > a.max_rss_mib * MIB:
        failures.append(f"{label}: the server's RSS reached {max(rss) / MIB:.0f} MiB while the disk was full")


def recover(run, store_back, figures, failures):
    """The store takes uploads again: the spool must drain, space return,
    readiness pass and the cameras resume. If the server died meanwhile (a
    failure already recorded), it is started again so that the end check
    still runs; if space never returns, the disk is grown for the same
    reason."""
    a, server, disk = run.args, run.server, run.disk
    size, _ = disk.space()
    records_back = None

    def recovered():
        nonlocal records_back
        if not server.running():
            return False
        records = server.metrics().get("ingest_spool_records_total")
        if records_back is None:
            records_back = records
        # Room for a spool file or two above the reserve: the cameras write again.
        room = (a.min_free_mib + 2 * a.file_mib) * MIB
        return (disk.space()[1] > room and server.readiness()[0] is True and records is not None
                and records_back is not None and records >= records_back + a.cameras)

    # A server that stopped serving exits once its flush is done: no use
    # waiting for it to recover.
    def settle(bound_s):
        nonlocal records_back
        records_back = None
        deadline = time.monotonic() + bound_s
        # Asked once per pass: the cameras write again once it holds, so the
        # free space can dip below the mark right after.
        while time.monotonic() < deadline and server.running():
            if recovered():
                return True
            time.sleep(0.2)
        return False

    if settle(a.recover_s):
        figures["recovered_after_s"] = round(time.time() - store_back, 1)
        return
    figures["recovered_after_s"] = None
    failures.append(f"no recovery within {round(time.time() - store_back, 1)} s of the store's return: server "
                    f"running {server.running()} (exit codes {server.exit_codes()}), {disk.space()[1] / MIB:.1f} "
                    f"of {size / MIB:.0f} MiB free, readiness {server.readiness()}")
    # Only so that the end check can tell what was lost: a server that is
    # not live is stopped, the disk grown so that the cameras' backlog fits,
    # and the server started again.
    for attempt in (1, 2, 3):
        if server.running() and server.get("/healthz")[0] != 200:
            say("the server is up but not live: stopping it")
            server.stop(timeout_s=70)
        if not server.running() or disk.space()[1] < (a.min_free_mib + 2 * a.file_mib) * MIB:
            if disk.kind == "ext4" and server.running():
                server.stop(timeout_s=70)  # ext4 grows unmounted
            say(f"growing the spool disk to {4 * disk.size_mib} MiB")
            disk.grow(4 * disk.size_mib)
            figures["grown_to_mib"] = disk.size_mib
        if not server.running():
            say("starting the server again")
            server.start()
            try:
                server.wait_ready(60)
            except AssertionError as e:
                failures.append(f"restart {attempt} after the full disk: {e}")
                continue
        if settle(15):
            break
    figures["restarted_for_the_end_check"] = True


def finish(run, figures, failures):
    """Cameras stop (every recorded segment must be acknowledged), the server
    drains, and the store is read back."""
    a, server = run.args, run.server
    say("stopping the cameras")
    report = rolling_replacement.stop_cameras(run)
    say("draining the server")
    code = server.stop(timeout_s=60)
    figures["final_exit_code"] = code
    if code != 0:
        failures.append(f"the final drain ended with exit code {code}")
    if not report["all_acked"]:
        failures.append("camera-sim: not every recorded segment was acknowledged")
    if report["protocol_errors"]:
        failures.append(f"camera-sim: {report['protocol_errors']} protocol errors")
    say("reading the store back")
    failures.extend(store_check.check_store(a.ingestctl, run.store_dir, ZONE, report["per_camera"]))
    stored = store_check.store_counts(a.ingestctl, run.store_dir, ZONE)
    figures.update({
        "segments_recorded": report["segments_recorded"],
        "segments_acked": report["segments_acked"],
        "segments_in_store": stored.get("segments"),
        "camera_reconnects": report["reconnects"],
        "camera_connect_failures": report["connect_failures"],
        "camera_protocol_errors": report["protocol_errors"],
    })


def main():
    args = parse_args()
    figures = {"fs": args.fs, "disk_mib": args.disk_mib, "spool_max_mib": args.spool_max_mib,
               "min_free_mib": args.min_free_mib,
               "cameras": args.cameras, "offered_mib_per_s": round(
                   args.cameras * args.segment_bytes * 1000 / args.segment_ms / MIB, 2)}
    if os.geteuid() != 0:
        print("skipped: mounting the spool's file system needs root", file=sys.stderr)
        return SKIPPED
    run = Run(args)
    failures = []
    ok = False
    skipped = False
    try:
        run.disk.mount()
        spool_dir = os.path.join(run.disk.mount_point, "spool")
        os.makedirs(run.store_dir)
        port, admin_port = rolling_replacement.free_ports(2)
        run_tool([args.ingestd, "certs", f"--out={os.path.join(run.work, 'certs')}", f"--cameras={args.cameras}"],
                 timeout_s=120)
        config = os.path.join(run.work, "ingestd.toml")
        with open(config, "w") as f:
            f.write(config_toml(args, run.work, spool_dir, run.store_dir, port, admin_port))
        run.server = Server(args, run.work, config, port, admin_port)
        run.server.start()
        run.server.wait_ready(30)
        run.sampler = Sampler(run.server, run.disk)
        run.sampler.start()

        say(f"{args.cameras} cameras, {figures['offered_mib_per_s']} MiB/s, spool on a {args.disk_mib} MiB "
            f"{args.fs}, spool.max_bytes {args.spool_max_mib} MiB; work folder {run.work}")
        rolling_replacement.start_cameras(run, os.path.join(run.work, "certs"), port)
        rolling_replacement.wait_until(
            f"{args.cameras} cameras connected",
            lambda: (run.server.metrics().get("ingest_connections_open") or 0) >= args.cameras
            or run.sim.poll() is not None, 30, 0.2)
        if run.sim.poll() is not None:
            raise AssertionError(f"camera-sim exited early ({run.sim.returncode})")
        time.sleep(args.warmup_s)

        run.break_store()
        say("store broken: nothing drains from the spool from now on")
        start, full_at = fill_by_another_writer(run, figures, failures)
        hold_full(run, "filler", start, full_at, figures, failures, until_enospc=True)
        enospc = run.server.metrics().get("ingest_spool_disk_full_errors_total") if run.server.running() else None
        figures["spool_enospc_errors"] = enospc
        if not enospc and args.fs == "tmpfs":
            failures.append("the spool never saw ENOSPC while the filler held the disk: the case was not tested")
        os.unlink(run.filler)
        run.filler = None
        say("filler deleted: the spool has room again (the store is still broken)")
        start, full_at = fill_to_reserve(run, figures, failures)
        hold_full(run, "reserve", start, full_at, figures, failures)
        for line in run.server.log_lines(r'"level":"(error|warn)"|No space|ENOSPC')[:5]:
            say(f"ingestd: {line[:400]}")

        run.mend_store()
        store_back = time.time()
        say("store mended: uploads can succeed again")
        recover(run, store_back, figures, failures)
        space_back = next((s.t for s in run.sampler.between(store_back, time.time())
                           if s.free > (args.min_free_mib + 2 * args.file_mib) * MIB), None)
        figures["full_s"] = round((space_back or time.time()) - full_at, 1)  # the reserve period
        time.sleep(args.after_s)
        run.sampler.stop()
        rss = [s.rss for s in run.sampler.samples if s.rss]
        figures["rss_peak_mib"] = round(max(rss) / MIB, 1) if rss else None
        figures["server_starts"] = run.server.starts
        figures["server_exit_codes"] = run.server.exit_codes()
        figures["server_error_lines"] = len(run.server.log_lines(r'"level":"error"'))
        finish(run, figures, failures)
        ok = not failures
    except Skip as e:
        skipped = True
        say(f"skipped: {e}")
    except (AssertionError, RuntimeError, OSError, subprocess.SubprocessError) as e:
        failures.append(f"{type(e).__name__}: {e}" if not isinstance(e, AssertionError) else str(e))
    finally:
        run.cleanup()
        if not skipped:
            figures["failures"] = len(failures)
            figures["wall_s"] = round(time.monotonic() - START, 1)
            print(json.dumps(figures), flush=True)
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        if run.server is not None and failures:
            for line in run.server.log_lines(r'"level":"error"|No space|ENOSPC|spool_failed|shard_stopped')[:10]:
                print(f"ingestd: {line[:600]}", file=sys.stderr)
        if (ok or skipped) and not args.keep and not run.disk.mounted:
            shutil.rmtree(run.work, ignore_errors=True)
        else:
            say(f"work folder kept: {run.work}")
    if skipped:
        return SKIPPED
    say("passed" if ok else f"{len(failures)} failures")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
