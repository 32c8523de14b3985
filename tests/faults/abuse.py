#!/usr/bin/env python3
"""Abuse under load: hostile and broken clients must not hurt the cameras
that behave. One ingestd (a local `dir:` store) serves --cameras camera-sim
cameras (1 Mbit/s, 500 ms segments) while, phase by phase, peers of
tests/faults/abusive_peers.py (each its own process) and camera-sim
instances of their own attack it:

  baseline         no abuse: the cameras' ACK (spooled) latency to compare with;
  handshake_flood  --flood_rate connection attempts a second, each from a
                   random 127.x.y.z: silent TCP, half a ClientHello, garbage,
                   TLS without a client certificate, a camera certificate and
                   no HELLO;
  slowloris        --tls_slowloris connections dribbling a ClientHello a byte at
                   a time, and --admin_slowloris connections to the admin port
                   dribbling request headers, never ending them (each renewed
                   when the server closes it); meanwhile /healthz is timed as a
                   load balancer would ask it;
  hog              one camera (its own id and certificate) sending as fast as
                   the server takes it (camera-sim --saturate, --hog_segment_bytes);
  reconnect_loop   one camera (its own id) connecting, handshaking in full,
                   sending HELLO and closing, as fast as it can;
  all              everything above at once;
  after            no abuse.

The peers run at nice 19, so that they take only the CPU that ingestd and
the well-behaved cameras leave (see Peer). Each abuse phase starts its
peers, lasts --phase_s, stops them, and then waits (the settling, in no
phase's figures) until the server has closed what they left open. /healthz
is probed every 100 ms throughout (fresh connection, 2 s timeout); ingestd's
RSS, CPU and /metrics are sampled every 0.5 s. ingestd runs one shard per
core, as deployed, with tls.handshake_timeout_ms and
protocol.hello_timeout_ms at 2 s (default 10 s) so that a phase sees its
abusers closed.

Asserted:
  - ingestd stays up and live, and its admin port answers whoever asks:
    every /healthz probe in every phase, the slowloris ones included,
    answers 200 within --healthz_bound_ms (1 s; a load balancer's health
    check times out after a few seconds and fails the target);
  - the cameras that behave keep streaming: no protocol error, no
    reconnect, no connect failure (camera-sim's live lines and its final
    report), and in every phase at least half the ACKs their bitrate implies;
  - their ACK (spooled) p99 in every phase stays within
    max(--p99_factor x baseline p99, baseline p99 + --p99_add_ms), by
    default max(5 x, + 500 ms). A phase's p99 is the worst of camera-sim's
    per-second p99s in it, an upper bound of the phase's own p99. Why this
    bound: a camera records a segment every 500 ms and may have 8 MiB
    unacknowledged, so an ACK late by up to one more segment costs it one
    segment of buffer and nothing else; starving it (a camera or a flood
    taking the shard's loop) shows up as seconds, not hundreds of
    milliseconds; and on this shared 2-core machine, with the abusers and
    other tests on the same cores, ACK p99s of 100-250 ms come and go
    without any abuse (docs/reliability.md, S3 faults: worst per-second p99
    127-238 ms). The factor covers a baseline p99 that is already large.
    A phase beyond the bound while one of ingestd's threads spent
    --starved_pct (20%) of it runnable but waiting for a core (schedstat
    run_delay: other processes had them) is reported as inconclusive
    (`latency_inconclusive`), not failed: that is the machine, not the server;
  - the abusive connections were closed by the server's limits: no flood or
    slowloris connection is still open --close_bound_s after its peer
    stopped, each slowloris connection lived at most its timeout (handshake
    for the camera port, the admin port's 5 s request timeout) plus
    --close_slack_s, and the counters of the limits moved
    (ingest_handshake_timeouts_total, ..._handshake_failures_cert_total,
    ..._handshake_failures_other_total, ..._hello_timeouts_total); after
    each phase the open connections are back to the cameras' own;
  - the hog got its segments acknowledged too (backpressure, not refusal),
    and the reconnecting camera was welcomed again and again;
  - ingestd's RSS peak stays within the baseline's peak plus
    shards x spool.shard_memory_bytes + 2 x upload_threads x store.seal_bytes
    + 64 KiB per abusive connection open at the peak + --rss_slack_mib;
  - in the end, as every fault test: each segment a well-behaved camera had
    acknowledged is in the store exactly once and byte-exact
    (tests/deploy/store_check.py), and the server drains and exits 0.

What it found (2026-12-02): the admin port served at most 64 connections
at once (AdminServerOptions::max_connections) and closed every further one as
soon as it was accepted, whoever it came from; a connection may take its 5 s
request timeout to send its headers. So 64 slowloris connections, renewed as
they time out, held every slot, and /healthz answered almost no one: with
--admin_slowloris 100, 70 of 78 probes in the slowloris phase were closed
unanswered — enough to fail the load balancer's health check and, after
60 s, the lifecycle watcher's liveness check. The admin server now cuts the
connection that has waited longest for a request when it is at its cap, so
a client that sends its request at once is served; the default here is 100,
above the cap, and /healthz must answer every probe.

The long run (scripts/abuse.sh: 100 cameras, 30 s phases, 400 flood
attempts a second) on the shared machine, every core taken by other builds:
ACK p99 1.9 s in the flood phase and 0.6 s with everything at once, both
with an ingestd thread waiting for a core 31% and 42% of the phase
(inconclusive), and flood connections the flood peer saw closed up to 15 s
after it opened them, beyond the 2 s handshake timeout + 5 s; the peer
itself (nice 19) saw garbage, which the server refuses at once, closed only
after 4.8 s (median), so how much of that is the server's accept and close
lag and how much the starved peer's own is not told apart. Every connection
was closed, and the server was back to the cameras' own within 6.4 s of the
flood's end.

The figures go to stdout as one JSON line (per phase: ACK p50/p99, /healthz
latency, counter deltas, the peers' reports); progress to stderr. Exit 0
passed, 1 failed.

    tests/faults/abuse.py --build_dir build         # the CI version, about 75 s
    scripts/abuse.sh build                           # longer phases, a heavier flood
"""

import argparse
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "../deploy"))
import rolling_replacement  # noqa: E402  (free ports, binaries, waiting)
import store_check  # noqa: E402
import store_outage  # noqa: E402  (metrics)

ZONE = "dev"
PEERS = os.path.join(HERE, "abusive_peers.py")
UPLOAD_THREADS = 4
SEAL_BYTES_MIB = 4
ADMIN_REQUEST_TIMEOUT_S = 5  # AdminServerOptions::request_timeout, not configurable
MIB = 1 << 20
START = time.monotonic()


def say(message):
    print(f"[{time.monotonic() - START:6.1f}s] {message}", file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build_dir", help="build tree: server/ingestd, server/ingestctl, bench/camera-sim")
    p.add_argument("--ingestd", help="default: <build_dir>/server/ingestd")
    p.add_argument("--ingestctl", help="default: <build_dir>/server/ingestctl")
    p.add_argument("--camera_sim", help="default: <build_dir>/bench/camera-sim")
    p.add_argument("--cameras", type=int, default=40, help="well-behaved cameras")
    p.add_argument("--bitrate_kbps", type=int, default=1000)
    p.add_argument("--segment_ms", type=int, default=500)
    p.add_argument("--shards", type=int, default=0, help="0: one per core, as deployed")
    p.add_argument("--shard_memory_mib", type=int, default=64)
    p.add_argument("--baseline_s", type=float, default=6)
    p.add_argument("--phase_s", type=float, default=8, help="each abuse phase")
    p.add_argument("--all_s", type=float, default=8, help="the phase with every abuse at once")
    p.add_argument("--after_s", type=float, default=5)
    p.add_argument("--handshake_timeout_ms", type=int, default=2000, help="tls.handshake_timeout_ms")
    p.add_argument("--hello_timeout_ms", type=int, default=2000, help="protocol.hello_timeout_ms")
    p.add_argument("--flood_rate", type=float, default=150, help="connection attempts per second")
    p.add_argument("--flood_max_open", type=int, default=2000)
    p.add_argument("--tls_slowloris", type=int, default=100, help="connections held at once")
    p.add_argument("--admin_slowloris", type=int, default=100,
                   help="connections held at once; above the admin port's cap of 64 (see above)")
    p.add_argument("--dribble_ms", type=float, default=200, help="slowloris: one byte this often")
    p.add_argument("--hog_segment_bytes", type=int, default=1 << 20)
    p.add_argument("--reconnect_max", type=int, default=5000, help="reconnect_loop: attempts at most")
    p.add_argument("--p99_factor", type=float, default=5)
    p.add_argument("--p99_add_ms", type=float, default=500)
    p.add_argument("--healthz_bound_ms", type=float, default=1000)
    p.add_argument("--starved_pct", type=float, default=20,
                   help="a phase whose ACK p99 is beyond the bound while an ingestd thread waited this share of "
                        "it for a core is inconclusive, not failed")
    p.add_argument("--close_slack_s", type=float, default=5.0,
                   help="a timed-out connection may live this much beyond its timeout")
    p.add_argument("--close_bound_s", type=float, default=12,
                   help="how long a peer waits for the server to close what it left open")
    p.add_argument("--rss_slack_mib", type=int, default=48)
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args()
    rolling_replacement.binaries_from_build_dir(p, args)
    return args


def config_toml(args, work, port, admin_port, store_dir):
    q = rolling_replacement.toml_string
    certs = os.path.join(work, "certs")
    return f"""# written by tests/faults/abuse.py
[server]
id = "abuse"
zone = {q(ZONE)}
listen = {q(f"127.0.0.1:{port}")}
admin_listen = {q(f"127.0.0.1:{admin_port}")}
shards = {args.shards or os.cpu_count()}
max_connections = 20000
state_dir = {q(os.path.join(work, "state"))}

[tls]
cert_file = {q(os.path.join(certs, "server.crt"))}
key_file = {q(os.path.join(certs, "server.key"))}
camera_ca_file = {q(os.path.join(certs, "camera-ca.crt"))}
# Shorter than the defaults (10 s each) so that a phase sees its abusers closed.
handshake_timeout_ms = {args.handshake_timeout_ms}

[protocol]
hello_timeout_ms = {args.hello_timeout_ms}

[spool]
shard_memory_bytes = "{args.shard_memory_mib}MiB"

[store]
url = {q("dir:" + store_dir)}
seal_age_ms = 300
seal_bytes = "{SEAL_BYTES_MIB}MiB"
upload_threads = {UPLOAD_THREADS}

[drain]
announce_delay_ms = 100
deadline_ms = 60000

[log]
level = "info"
"""


def cpu_seconds(pid):
    """User + system CPU seconds of a process so far, or None."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def machine_jiffies():
    """(busy, total) jiffies of all CPUs together, from /proc/stat."""
    try:
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
    except (OSError, ValueError):
        return None
    idle = values[3] + (values[4] if len(values) > 4 else 0)  # idle + iowait
    return sum(values) - idle, sum(values)


def runqueue_waits(pid):
    """{thread id: nanoseconds it has waited, runnable, for a CPU} from
    /proc/<pid>/task/*/schedstat (its second field, run_delay)."""
    waits = {}
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return waits
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                waits[tid] = int(f.read().split()[1])
        except (OSError, ValueError, IndexError):
            pass
    return waits


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def percentile(values, q):
    values = sorted(values)
    if not values:
        return None
    return values[min(len(values) - 1, int(q * len(values)))]


class HealthProbe(threading.Thread):
    """GET /healthz every interval on a fresh connection, as a load balancer
    does; keeps (monotonic, status or None, seconds, error)."""

    def __init__(self, admin_port, interval_s=0.1, timeout_s=2.0, max_probes=20000):
        super().__init__(daemon=True)
        self.admin_port, self.interval_s = admin_port, interval_s
        self.timeout_s, self.max_probes = timeout_s, max_probes
        self.probes = []
        self._stopping = threading.Event()

    def probe(self):
        started = time.monotonic()
        connection = http.client.HTTPConnection("127.0.0.1", self.admin_port, timeout=self.timeout_s)
        try:
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            return started, response.status, time.monotonic() - started, None
        except (OSError, http.client.HTTPException) as e:
            return started, None, time.monotonic() - started, f"{type(e).__name__}: {e}"
        finally:
            connection.close()

    def run(self):
        while not self._stopping.is_set() and len(self.probes) < self.max_probes:
            self.probes.append(self.probe())
            self._stopping.wait(self.interval_s)

    def stop(self):
        self._stopping.set()
        self.join(timeout=5)

    def between(self, begin, end):
        return [p for p in self.probes if begin <= p[0] < end]


def healthz_figures(probes):
    ok = [p[2] for p in probes if p[1] == 200]
    failed = [p for p in probes if p[1] != 200]
    return {"probes": len(probes), "failed": len(failed),
            "p50_ms": round(1000 * percentile(ok, 0.5), 1) if ok else None,
            "p99_ms": round(1000 * percentile(ok, 0.99), 1) if ok else None,
            "max_ms": round(1000 * max(ok), 1) if ok else None,
            "first_failure": (failed[0][3] or f"status {failed[0][1]}") if failed else None}


class Sampler(threading.Thread):
    """Every 0.5 s: ingestd's RSS and a few gauges."""

    def __init__(self, server, admin_port, max_samples=4000):
        super().__init__(daemon=True)
        self.server, self.admin_port, self.max_samples = server, admin_port, max_samples
        # (monotonic, rss bytes, connections open, ingestd CPU s, machine (busy, total) jiffies,
        #  {ingestd thread: run-queue wait ns})
        self.samples = []
        self._stopping = threading.Event()

    def run(self):
        while not self._stopping.wait(0.5) and len(self.samples) < self.max_samples:
            rss = rss_bytes(self.server.pid)
            m = scrape(self.admin_port)
            self.samples.append((time.monotonic(), rss, m.get("ingest_connections_open"),
                                 cpu_seconds(self.server.pid), machine_jiffies(), runqueue_waits(self.server.pid)))

    def stop(self):
        self._stopping.set()
        self.join(timeout=5)

    def between(self, begin, end):
        return [s for s in self.samples if begin <= s[0] < end]


def scrape(admin_port):
    """/metrics as {series: value} plus per-name sums over label sets."""
    status, body = store_outage.http_get(f"http://127.0.0.1:{admin_port}/metrics")
    values = {}
    if status != 200:
        return values
    for line in body.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        try:
            number = float(value)
        except ValueError:
            continue
        values[series] = number
        name = series.split("{", 1)[0]
        if name != series:
            values[name] = values.get(name, 0.0) + number
    return values


# The counters a phase reports (as deltas), without their ingest_ and _total.
COUNTERS = ("connections_accepted", "connections_closed", "handshakes_full", "handshakes_resumed",
            "handshake_failures_cert", "handshake_failures_other", "handshake_timeouts", "hello_timeouts",
            "idle_timeouts", "bad_camera_identity", "protocol_errors", "superseded", "sessions_welcomed",
            "refused_total_limit", "refused_source_limit", "refused_at_accept", "server_full_rejects",
            "backpressure_pauses", "segments_accepted", "acks_spooled", "slow_readers", "window_exceeded",
            "accept_errors", "recv_enobufs")


def cpu_figures(samples):
    """ingestd's CPU (percent of one core) and the whole machine's (percent of
    all its cores) over the samples: is a slow ACK the server's doing, or a
    machine with no core left?"""
    own = [(s[0], s[3]) for s in samples if s[3] is not None]
    machine = [s[4] for s in samples if s[4] is not None]
    figures = {}
    if len(own) >= 2 and own[-1][0] > own[0][0]:
        figures["ingestd_pct_of_a_core"] = round(100 * (own[-1][1] - own[0][1]) / (own[-1][0] - own[0][0]), 1)
    if len(machine) >= 2 and machine[-1][1] > machine[0][1]:
        figures["machine_busy_pct"] = round(
            100 * (machine[-1][0] - machine[0][0]) / (machine[-1][1] - machine[0][1]), 1)
    if len(samples) >= 2 and samples[-1][0] > samples[0][0]:
        first, last = samples[0][5], samples[-1][5]
        waited = [last[tid] - first[tid] for tid in last if tid in first]
        figures["ingestd_thread_cpu_wait_pct_max"] = round(
            100 * max(waited, default=0) / 1e9 / (samples[-1][0] - samples[0][0]), 1)
    return figures


def loop_turns_over(m0, m1, seconds):
    """Shard loop turns longer than `seconds` between two scrapes: work that
    held every connection of the shard waiting."""
    def over(m):
        total = m.get("ingest_loop_turn_seconds_count", 0)
        within = sum(v for k, v in m.items() if k.startswith("ingest_loop_turn_seconds_bucket")
                     and f'le="{seconds:g}"' in k)
        return total - within
    return round(over(m1) - over(m0))


def counter_deltas(m0, m1):
    deltas = {}
    for name in COUNTERS:
        series = f"ingest_{name}_total"
        delta = round(m1.get(series, 0) - m0.get(series, 0))
        if delta:
            deltas[name] = delta
    return deltas


LIVE_LINE = re.compile(r"acked\s+(\d+)\s.*ack p50\s+([\d.]+) ms p99\s+([\d.]+) ms\s+reconnects (\d+)\s+errors (\d+)")


class CameraFleet:
    """The well-behaved cameras: one camera-sim whose live lines are stamped
    with the test's clock as they arrive."""

    def __init__(self, args, work, certs, port):
        self.args, self.work = args, work
        self.json_path = os.path.join(work, "camera-sim.json")
        self.lines = []  # (monotonic, acked, p50 ms, p99 ms, reconnects, errors)
        out = open(self.json_path, "w")
        self.proc = subprocess.Popen(
            [args.camera_sim, f"--target=127.0.0.1:{port}", f"--certs_dir={certs}", f"--cameras={args.cameras}",
             f"--bitrate_kbps={args.bitrate_kbps}", f"--segment_ms={args.segment_ms}", "--duration_s=100000",
             "--drain_timeout_s=30", "--json", "--per_camera"],
            stdout=out, stderr=subprocess.PIPE, text=True)
        out.close()
        self._log = open(os.path.join(work, "camera-sim.log"), "w")
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self):
        for line in self.proc.stderr:
            now = time.monotonic()
            self._log.write(line)
            match = LIVE_LINE.search(line)
            if match:
                acked, p50, p99, reconnects, errors = match.groups()
                self.lines.append((now, int(acked), float(p50), float(p99), int(reconnects), int(errors)))
        self._log.close()

    def last(self):
        return self.lines[-1] if self.lines else None

    def figures(self, begin, end):
        """ACK figures of the seconds inside [begin, end]: a live line covers
        the second before it."""
        inside = [line for line in self.lines if begin + 0.8 <= line[0] <= end + 0.2]
        before = [line for line in self.lines if line[0] < begin + 0.8]
        if not inside:
            return {"seconds": 0}
        acked_before = before[-1][1] if before else 0
        with_acks = [line for line in inside if line[3] > 0]
        per_second = []
        previous = acked_before
        for line in inside:
            per_second.append(line[1] - previous)
            previous = line[1]
        expected = self.args.cameras * 1000 / self.args.segment_ms * len(inside)
        return {
            "seconds": len(inside),
            "acks": inside[-1][1] - acked_before,
            "acks_expected": round(expected),
            "seconds_without_acks": sum(1 for n in per_second if n == 0),
            "p50_ms": percentile([line[2] for line in with_acks], 0.5),
            "p99_ms": max((line[3] for line in with_acks), default=None),
            "p99_median_second_ms": percentile([line[3] for line in with_acks], 0.5),
            "reconnects": inside[-1][4] - (before[-1][4] if before else 0),
            "errors": inside[-1][5] - (before[-1][5] if before else 0),
        }

    def stop(self):
        """SIGTERM: the cameras stop recording, wait for their ACKs and report."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            raise AssertionError("camera-sim did not finish within 60 s of SIGTERM")
        self._reader.join(timeout=5)
        with open(self.json_path) as f:
            text = f.read()
        if not text.strip():
            raise AssertionError(f"camera-sim exited {self.proc.returncode} without a report")
        return json.loads(text)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Peer:
    """One abuser process: an abusive_peers.py kind or a camera-sim hog.
    Bounded by its own flags; killed (by pid) if it overstays."""

    def __init__(self, name, argv, work, bound_s, on_stop=None):
        self.name, self.bound_s, self.on_stop = name, bound_s, on_stop
        self.out_path = os.path.join(work, f"peer-{name}.json")
        self.err_path = os.path.join(work, f"peer-{name}.log")
        # At the lowest CPU priority (nice execs the command: the pid is the
        # peer's). A network attacker does not share the server's cores; on
        # this 2-core machine the peers would otherwise take them from ingestd
        # and the well-behaved cameras, and the test would measure the
        # scheduler rather than the server. They still get every cycle the
        # server and the cameras leave, and report the rates they reached.
        nice = shutil.which("nice")
        argv = ([nice, "-n", "19"] if nice else []) + argv
        with open(self.out_path, "w") as out, open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL)
        self.started = time.monotonic()

    def stop_starting(self):
        """The attack window ended: a hog stops recording (and waits for its
        ACKs); abusive_peers stop on their own clock, SIGTERM only hurries them."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)

    def finish(self):
        """Waits for the report (bounded); None if there is none."""
        try:
            self.proc.wait(timeout=max(1, self.started + self.bound_s - time.monotonic()))
        except subprocess.TimeoutExpired:
            say(f"peer {self.name} overstayed {self.bound_s:.0f} s: killing it")
            self.kill()
            return None
        try:
            with open(self.out_path) as f:
                text = f.read().strip().splitlines()
            return json.loads(text[-1]) if text else None
        except (OSError, ValueError):
            return None

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)


class Run:
    """Everything the test starts, so that `finally` can stop it by pid."""

    def __init__(self, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix="abuse-")
        self.server = None
        self.fleet = None
        self.peers = []
        self.probe = None
        self.sampler = None
        self.port = self.admin_port = None

    def camera_id(self, n):
        return f"cam-{n:06d}"

    def peer_argv(self, kind, seconds, **flags):
        argv = [sys.executable, PEERS, kind, "--seconds", str(seconds), "--close_bound_s",
                str(self.args.close_bound_s)]
        for key, value in flags.items():
            argv += [f"--{key}", str(value)]
        return argv

    def start_peers(self, kinds, seconds, seed, hog_camera):
        """The abusers of one phase; returns them. The hog records as camera
        number `hog_camera` (its own in each phase, so that a second hog
        does not resume the first one's seqs)."""
        a, certs = self.args, os.path.join(self.work, "certs")
        bound = seconds + a.close_bound_s + 15
        peers = []
        for kind in kinds:
            if kind == "handshake_flood":
                argv = self.peer_argv("flood", seconds, port=self.port, certs=certs, rate=a.flood_rate,
                                      max_open=a.flood_max_open, camera_id=self.camera_id(a.cameras + 4),
                                      seed=seed)
                peers.append(Peer(f"flood-{seed}", argv, self.work, bound))
            elif kind == "slowloris":
                argv = self.peer_argv("tls_slowloris", seconds, port=self.port, connections=a.tls_slowloris,
                                      dribble_ms=a.dribble_ms, seed=seed + 1)
                peers.append(Peer(f"tls_slowloris-{seed}", argv, self.work, bound))
                argv = self.peer_argv("admin_slowloris", seconds, port=self.admin_port,
                                      connections=a.admin_slowloris, dribble_ms=a.dribble_ms, seed=seed + 2)
                peers.append(Peer(f"admin_slowloris-{seed}", argv, self.work, bound))
            elif kind == "hog":
                argv = [a.camera_sim, f"--target=127.0.0.1:{self.port}", f"--certs_dir={certs}", "--cameras=1",
                        f"--first_camera={hog_camera}", "--saturate", f"--segment_bytes={a.hog_segment_bytes}",
                        f"--segment_ms={a.segment_ms}", "--duration_s=100000", "--drain_timeout_s=20", "--json"]
                peers.append(Peer(f"hog-{seed}", argv, self.work, seconds + 35))
            elif kind == "reconnect_loop":
                argv = self.peer_argv("reconnect_loop", seconds, port=self.port, certs=certs,
                                      camera_id=self.camera_id(a.cameras + 3), max_attempts=a.reconnect_max)
                peers.append(Peer(f"reconnect_loop-{seed}", argv, self.work, bound))
        self.peers.extend(peers)
        return peers

    def cleanup(self):
        for thread in (self.probe, self.sampler):
            if thread is not None:
                thread.stop()
        for peer in self.peers:
            peer.kill()
        if self.fleet is not None:
            self.fleet.kill()
        if self.server is not None and self.server.poll() is None:
            self.server.kill()
            self.server.wait(timeout=10)


ABUSE_PHASES = ("handshake_flood", "slowloris", "hog", "reconnect_loop")


def check_peer(name, report, args, figures, failures):
    """What one abuser saw: every connection closed by the server, timed-out
    ones within their timeout plus slack."""
    if report is None:
        failures.append(f"{name}: no report (see peer-{name}.log)")
        return
    kind = report.get("kind")
    outcomes = report.get("outcomes", {})
    if kind in ("flood", "tls_slowloris", "admin_slowloris"):
        still_open = sum(o.get("still_open", 0) for o in outcomes.values())
        if still_open:
            failures.append(f"{name}: {still_open} connections still open {args.close_bound_s} s after the "
                            f"peer stopped: not closed by any server limit ({outcomes})")
        closed = sum(o.get("closed_by_server", 0) for o in outcomes.values())
        if not closed:
            failures.append(f"{name}: the server closed none of its connections ({outcomes})")
    timeouts = {"tls_slowloris": args.handshake_timeout_ms / 1000, "admin_slowloris": ADMIN_REQUEST_TIMEOUT_S,
                "silent": args.handshake_timeout_ms / 1000, "partial_hello": args.handshake_timeout_ms / 1000,
                "no_hello": args.handshake_timeout_ms / 1000 + args.hello_timeout_ms / 1000}
    # Lifetimes are seen by the abuser (nice 19), which notices a close late
    # when it is starved of CPU. Garbage is refused by the server at once, so
    # the longest a garbage connection seemed to live is the abuser's own
    # lag, and is allowed on top of the timeout and the slack.
    lifetimes_by_kind = report.get("lifetimes") or {}
    own_lag_s = (lifetimes_by_kind.get("garbage") or {}).get("max_s", 0)
    for sub, lifetimes in lifetimes_by_kind.items():
        if lifetimes and sub in timeouts and lifetimes["max_s"] > timeouts[sub] + args.close_slack_s + own_lag_s:
            failures.append(f"{name}: a {sub} connection lived {lifetimes['max_s']} s, beyond its timeout "
                            f"{timeouts[sub]} s + {args.close_slack_s} s + the peer's own lag {own_lag_s} s")
    if kind == "reconnect_loop":
        welcomed = outcomes.get("reconnect", {}).get("welcomed", 0)
        if welcomed < 10:
            failures.append(f"{name}: the reconnecting camera was welcomed only {welcomed} times ({outcomes})")
    if kind is None and "segments_acked" in report:  # a camera-sim hog
        if not report["segments_acked"]:
            failures.append(f"{name}: the hog got nothing acknowledged ({report})")
        if report.get("protocol_errors"):
            failures.append(f"{name}: the hog saw {report['protocol_errors']} protocol errors")


def hog_figures(report, seconds):
    if not report or "segments_acked" not in report:
        return report
    return {"segments_acked": report["segments_acked"], "all_acked": report["all_acked"],
            "mib_acked": round(report["bytes_recorded"] / MIB, 1) if report["all_acked"] else None,
            "mib_per_s": round(report["bytes_recorded"] / MIB / seconds, 1),
            "ack_spooled_ms": report.get("ack_spooled_ms"), "protocol_errors": report["protocol_errors"],
            "reconnects": report["reconnects"]}


def run_phase(run, name, kinds, seconds, seed, hog_camera, figures, failures):
    """One phase: start its peers, hold for `seconds`, stop them and wait
    (settling) for the server to close what they left; record its figures."""
    say(f"phase {name}: {seconds} s" + (f", {', '.join(kinds)}" if kinds else ""))
    m0 = scrape(run.admin_port)
    begin = time.monotonic()
    peers = run.start_peers(kinds, seconds, seed, hog_camera)
    time.sleep(max(0.0, begin + seconds - time.monotonic()))
    end = time.monotonic()
    for peer in peers:
        if peer.name.startswith("hog"):
            peer.stop_starting()
    reports = {peer.name: peer.finish() for peer in peers}
    # Settled: only the cameras (and nothing the abusers left) are open.
    settle_until = time.monotonic() + run.args.close_bound_s
    while time.monotonic() < settle_until:
        if (scrape(run.admin_port).get("ingest_connections_open") or 0) <= run.args.cameras:
            break
        time.sleep(0.2)
    settled = time.monotonic()
    m1 = scrape(run.admin_port)
    acks = run.fleet.figures(begin, end)
    health = healthz_figures(run.probe.between(begin, end))
    samples = run.sampler.between(begin, settled)
    phase = {
        "seconds": round(end - begin, 1), "settle_s": round(settled - end, 1),
        "ack_spooled": acks, "healthz": health, "counters": counter_deltas(m0, m1),
        "connections_open_peak": max((s[2] or 0 for s in samples), default=None),
        "connections_open_after": m1.get("ingest_connections_open"),
        "rss_peak_mib": round(max((s[1] or 0 for s in samples), default=0) / MIB, 1),
        "cpu": cpu_figures(run.sampler.between(begin, end)),
        "loop_turns_over_50ms": loop_turns_over(m0, m1, 0.05),
        "loop_turns_over_100ms": loop_turns_over(m0, m1, 0.1),
    }
    for peer_name, report in reports.items():
        if peer_name.startswith("hog"):
            phase[peer_name.split("-")[0]] = hog_figures(report, seconds)
        else:
            phase[peer_name.split("-")[0]] = report
        check_peer(peer_name, report, run.args, phase, failures)
    if (m1.get("ingest_connections_open") or 0) > run.args.cameras:
        failures.append(f"phase {name}: {m1.get('ingest_connections_open'):.0f} connections still open "
                        f"{run.args.close_bound_s} s after its peers stopped (the cameras have {run.args.cameras})")
    figures["phases"][name] = phase
    say(f"phase {name}: ACK p50 {acks.get('p50_ms')} ms, p99 {acks.get('p99_ms')} ms "
        f"({acks.get('acks')} of {acks.get('acks_expected')} acks); /healthz p99 {health['p99_ms']} ms, "
        f"{health['failed']} failed; CPU {phase['cpu']}, loop turns > 50 ms {phase['loop_turns_over_50ms']}; "
        f"counters {phase['counters']}")
    return begin, end


def check_phases(run, figures, failures):
    a = run.args
    phases = figures["phases"]
    baseline = phases["baseline"]["ack_spooled"]
    base_p99 = baseline.get("p99_ms")
    if not base_p99:
        failures.append(f"no ACK latency measured in the baseline ({baseline})")
        return
    bound = max(a.p99_factor * base_p99, base_p99 + a.p99_add_ms)
    figures["p99_bound_ms"] = round(bound, 1)
    figures["summary"] = {name: {"ack_p50_ms": phase["ack_spooled"].get("p50_ms"),
                                 "ack_p99_ms": phase["ack_spooled"].get("p99_ms"),
                                 "healthz_p99_ms": phase["healthz"]["p99_ms"],
                                 "healthz_failed": phase["healthz"]["failed"]} for name, phase in phases.items()}
    for name, phase in phases.items():
        acks, health = phase["ack_spooled"], phase["healthz"]
        if acks.get("seconds", 0) == 0:
            failures.append(f"phase {name}: no camera-sim live line")
            continue
        starved = phase["cpu"].get("ingestd_thread_cpu_wait_pct_max", 0) >= a.starved_pct
        if acks["p99_ms"] is not None and acks["p99_ms"] > bound and starved:
            # Not the server's doing: one of its threads spent that share of
            # the phase runnable, waiting for a core other processes held.
            figures.setdefault("latency_inconclusive", []).append(name)
            say(f"phase {name}: ACK p99 {acks['p99_ms']} ms beyond the bound {bound:.0f} ms, but ingestd was "
                f"starved of CPU (a thread waited for a core {phase['cpu']['ingestd_thread_cpu_wait_pct_max']}% "
                f"of the phase): not counted as a failure")
        elif acks["p99_ms"] is not None and acks["p99_ms"] > bound:
            failures.append(f"phase {name}: ACK (spooled) p99 {acks['p99_ms']} ms, beyond the bound {bound:.0f} ms "
                            f"(baseline p99 {base_p99} ms; CPU {phase['cpu']}, shard loop turns over 100 ms: "
                            f"{phase['loop_turns_over_100ms']})")
        if acks["acks"] < acks["acks_expected"] / 2 or (acks["seconds_without_acks"] and not starved):
            failures.append(f"phase {name}: the cameras got {acks['acks']} ACKs of the {acks['acks_expected']} "
                            f"their bitrate implies ({acks['seconds_without_acks']} seconds without any)")
        if acks["reconnects"] or acks["errors"]:
            failures.append(f"phase {name}: camera-sim counted {acks['reconnects']} reconnects and "
                            f"{acks['errors']} errors")
        if health["failed"]:
            failures.append(f"phase {name}: {health['failed']} of {health['probes']} /healthz probes failed "
                            f"(first: {health['first_failure']})")
        elif health["max_ms"] is not None and health["max_ms"] > a.healthz_bound_ms:
            failures.append(f"phase {name}: /healthz took up to {health['max_ms']} ms (bound "
                            f"{a.healthz_bound_ms:.0f} ms)")
        if health["probes"] == 0:
            failures.append(f"phase {name}: no /healthz probe")
    limits = {"handshake_flood": ("handshake_timeouts", "handshake_failures_cert", "handshake_failures_other",
                                  "hello_timeouts"),
              "slowloris": ("handshake_timeouts",),
              "reconnect_loop": ("sessions_welcomed", "handshakes_full")}
    for name, counters in limits.items():
        for counter in counters:
            if name in phases and not phases[name]["counters"].get(counter):
                failures.append(f"phase {name}: ingest_{counter}_total did not move ({phases[name]['counters']})")


def check_memory(run, figures, failures):
    a = run.args
    samples = run.sampler.samples
    base_begin, base_end = figures["windows"]["baseline"]
    baseline = max((s[1] or 0 for s in samples if base_begin <= s[0] < base_end), default=0)
    peak = max((s[1] or 0 for s in samples), default=0)
    abusive = max(((s[2] or 0) - a.cameras for s in samples), default=0)
    bound = ((a.shards or os.cpu_count()) * a.shard_memory_mib * MIB + 2 * UPLOAD_THREADS * SEAL_BYTES_MIB * MIB
             + abusive * 64 * 1024 + a.rss_slack_mib * MIB)
    figures["rss_mib"] = {"baseline_peak": round(baseline / MIB, 1), "peak": round(peak / MIB, 1),
                          "final": round((samples[-1][1] or 0) / MIB, 1) if samples else None,
                          "growth_bound": round(bound / MIB, 1), "abusive_connections_peak": round(abusive)}
    if not baseline or not peak:
        failures.append("no RSS samples of ingestd")
    elif peak - baseline > bound:
        failures.append(f"ingestd's RSS grew by {(peak - baseline) / MIB:.1f} MiB over the baseline's peak "
                        f"({baseline / MIB:.1f} MiB), more than the bound of {bound / MIB:.1f} MiB")


def finish(run, figures, failures):
    """The cameras stop (every recorded segment must be acknowledged), the
    server drains, and the store is read back."""
    a = run.args
    say("stopping the cameras")
    report = run.fleet.stop()
    figures["cameras_report"] = {k: report.get(k) for k in (
        "segments_recorded", "segments_acked", "all_acked", "protocol_errors", "reconnects", "connect_failures",
        "ack_spooled_ms", "longest_gap_ms")}
    if not report["all_acked"]:
        failures.append("camera-sim: not every recorded segment was acknowledged")
    if report["protocol_errors"] or report["reconnects"] or report["connect_failures"]:
        failures.append(f"camera-sim: {report['protocol_errors']} protocol errors, {report['reconnects']} "
                        f"reconnects, {report['connect_failures']} connect failures")
    say("draining the server")
    run.server.send_signal(signal.SIGTERM)
    try:
        code = run.server.wait(timeout=90)
    except subprocess.TimeoutExpired:
        code = None
    figures["ingestd_exit"] = code
    if code != 0:
        failures.append(f"ingestd's drain ended with exit code {code}")
    say("reading the store back")
    store_dir = os.path.join(run.work, "store")
    failures.extend(store_check.check_store(a.ingestctl, store_dir, ZONE, report["per_camera"]))
    counts = store_check.store_counts(a.ingestctl, store_dir, ZONE)
    figures["store"] = {"segments_acked_well_behaved": report["segments_acked"],
                        "segments_in_store_all_cameras": counts.get("segments"),
                        "batch_objects": counts.get("batch_objects")}


def loopback_sources_bindable():
    """The flood binds to addresses across 127.0.0.0/8, which Linux routes
    to lo; elsewhere only 127.0.0.1 may exist."""
    probe = socket.socket()
    try:
        probe.bind(("127.31.41.59", 0))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def main():
    args = parse_args()
    if not loopback_sources_bindable():
        print("SKIPPED: cannot bind to addresses in 127.0.0.0/8 other than 127.0.0.1", file=sys.stderr)
        return 77
    run = Run(args)
    failures = []
    figures = {"cameras": args.cameras, "bitrate_kbps": args.bitrate_kbps, "segment_ms": args.segment_ms,
               "shards": args.shards or os.cpu_count(), "flood_rate": args.flood_rate,
               "tls_slowloris": args.tls_slowloris,
               "admin_slowloris": args.admin_slowloris, "phases": {}, "windows": {}}
    ok = False
    try:
        run.port, run.admin_port = rolling_replacement.free_ports(2)
        certs = os.path.join(run.work, "certs")
        subprocess.run([args.ingestd, "certs", f"--out={certs}", f"--cameras={args.cameras + 4}"], check=True,
                       stdout=subprocess.DEVNULL, timeout=120)
        store_dir = os.path.join(run.work, "store")
        os.makedirs(store_dir)
        config = os.path.join(run.work, "ingestd.toml")
        with open(config, "w") as f:
            f.write(config_toml(args, run.work, run.port, run.admin_port, store_dir))
        with open(os.path.join(run.work, "ingestd.log"), "w") as log:
            run.server = subprocess.Popen([args.ingestd, "--config", config], stdin=subprocess.DEVNULL, stdout=log,
                                          stderr=subprocess.STDOUT)
        rolling_replacement.wait_until(
            "ingestd ready", lambda: run.server.poll() is not None or
            store_outage.http_get(f"http://127.0.0.1:{run.admin_port}/readyz")[0] == 200, 30, 0.1)
        if run.server.poll() is not None:
            raise AssertionError(f"ingestd exited at start ({run.server.returncode}); see ingestd.log")
        say(f"work folder {run.work}; ingestd on {run.port}, admin {run.admin_port}; {args.cameras} cameras")
        run.probe = HealthProbe(run.admin_port)
        run.probe.start()
        run.sampler = Sampler(run.server, run.admin_port)
        run.sampler.start()
        run.fleet = CameraFleet(args, run.work, certs, run.port)
        rolling_replacement.wait_until(
            f"{args.cameras} cameras streaming",
            lambda: scrape(run.admin_port).get("ingest_sessions_streaming", 0) >= args.cameras
            or run.fleet.proc.poll() is not None, 60, 0.2)
        if run.fleet.proc.poll() is not None:
            raise AssertionError(f"camera-sim exited early ({run.fleet.proc.returncode})")
        time.sleep(2)  # warm up: the first ACKs carry the connection set-up

        plan = [("baseline", (), args.baseline_s)] + [(kind, (kind,), args.phase_s) for kind in ABUSE_PHASES]
        plan += [("all", ABUSE_PHASES, args.all_s), ("after", (), args.after_s)]
        for number, (name, kinds, seconds) in enumerate(plan, start=1):
            hog_camera = args.cameras + (2 if name == "all" else 1)
            figures["windows"][name] = run_phase(run, name, kinds, seconds, 10 * number, hog_camera, figures,
                                                 failures)
            if run.server.poll() is not None:
                raise AssertionError(f"ingestd exited ({run.server.returncode}) in phase {name}")
        run.probe.stop()
        run.sampler.stop()
        check_phases(run, figures, failures)
        check_memory(run, figures, failures)
        finish(run, figures, failures)
        ok = not failures
    except (AssertionError, RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
        failures.append(f"{type(e).__name__}: {e}" if not isinstance(e, AssertionError) else str(e))
    finally:
        run.cleanup()
        figures.pop("windows", None)
        figures["failures"] = len(failures)
        figures["wall_s"] = round(time.monotonic() - START, 1)
        print(json.dumps(figures), flush=True)
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        if ok and not args.keep:
            shutil.rmtree(run.work, ignore_errors=True)
        else:
            with open(os.path.join(run.work, "failures.txt"), "w") as f:
                f.write("".join(f"{failure}\n" for failure in failures))
            say(f"work folder kept: {run.work}")
    say("passed" if ok else f"{len(failures)} failures")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
