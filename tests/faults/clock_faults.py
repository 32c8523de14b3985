#!/usr/bin/env python3
"""Clock faults: a camera whose clock jumps, and a server whose wall clock
steps. Two cases, run one after the other, each with its own ingestd and a
`dir:` store on the local disk.

camera_clock: one raw camera (tests/faults/raw_camera.py, Python ssl with a
camera certificate from `ingestd certs`) sends SEGMENTs whose
capture_start_us jumps backwards and forwards, inside and outside the
server's capture window (configured here to protocol.max_capture_age_s =
--age_s, max_capture_lead_s = --lead_s so that both edges are minutes
away). proto/README.md promises, and this case checks exactly:
  - in-window jumps (back 90 min, forward 8 min, a minute inside either
    edge) are ordinary segments: acknowledged SPOOLED, stored, and read back
    in seq order whatever their capture times (`ingestctl export` of the
    whole range, byte-exact); each is also found by its own capture time
    (an export of [capture_start_us, +1 us) gives exactly its payload);
  - out-of-window ones (a minute past either edge, far past both, 0, -1,
    i64 max) get ERROR INVALID_FIELD naming capture_start_us, the server
    closes, no ACK covers them, nothing is stored
    (ingest_segments_refused_invalid_field_total counts each); the camera
    reconnects, WELCOME's durable_seq is the last accepted seq, and the same
    seq is accepted with an in-window time.

server_clock: ingestd runs under libfaketime (LD_PRELOAD, offset read from a
FAKETIME_TIMESTAMP_FILE that FAKETIME_NO_CACHE makes it re-read at every
call; FAKETIME_DONT_FAKE_MONOTONIC keeps CLOCK_MONOTONIC real, as a real
clock step would) while camera-sim streams with --cameras cameras on the real
clock. Linux time namespaces cannot do this: they offset only
CLOCK_MONOTONIC and CLOCK_BOOTTIME. libfaketime does not move the kernel's
CLOCK_REALTIME, against which Abseil 20220623 times every timed wait
(absolute FUTEX_CLOCK_REALTIME deadlines computed from the faked
absl::Now()), so tests/faults/faketime_futex.c is preloaded too and shifts
those deadlines by the same offset (it says what that cannot reproduce: a
wait in progress across a real step back sleeps an extra hour). Phases: baseline (+0), back (-1 h), mid
(+0: forward 1 h), forward (+1 h), recovery (+0: back 1 h). That ingestd's
absl::Now() really stepped is shown through the capture window itself: a
probe camera sends a segment 30 days + 30 min old (accepted only by a server
at least 30 min behind) and one 1 day + 30 min ahead (accepted only by a
server at least 30 min ahead); each phase's probes must come out as its
offset says. Asserted: ACKs (spooled) keep coming and segments persist
(batches seal and upload) in every phase, camera-sim's cameras are never
disconnected (connections closed on the server are only the probe's), and
in the end every acknowledged segment, the probe's included, is in the
store exactly once and byte-exact (store_check.py). Reported per phase: ACK
latency p50/p99, batches and index objects written, refusals, the server's
warnings.

Exit 0 passed, 1 failed, 77 skipped: libfaketime is not installed
(scripts/setup.sh installs it; camera_clock still runs first and a failure
there is still 1). The figures go to stdout as one JSON line, progress to
stderr.

    tests/faults/clock_faults.py --build_dir build --faketime_futex wt/build/tests/libfaketime_futex.so
    tests/faults/clock_faults.py --build_dir build --case camera_clock

In CI as faults.clock_faults (both cases, about 30 s). Its first runs
(2026-12-02) found the server's timers on the wall clock: each step forward
of 1 h closed every camera as idle (Shard::Tick compared absl::Now() with
each connection's last_receive); after each step back the shard ran no Tick
for an hour (no deadline scans, no superseded closes; ingestd did not exit
on SIGTERM) and the sealer wrote no index; ACK p99 rose to 0.6-1 s around a
step back (the spool writer's commit interval). Timeouts, deadlines and
intervals now run on CLOCK_MONOTONIC (common/monotonic_clock.h).
"""

import argparse
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import types

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(HERE, "../deploy"))
import raw_camera  # noqa: E402
import rolling_replacement  # noqa: E402  (free ports, cameras, waiting)
import store_check  # noqa: E402
import store_outage  # noqa: E402  (http_get, metrics)

ZONE = rolling_replacement.ZONE
SKIPPED = 77
START = time.monotonic()
MIN = 60
HOUR = 3600
DAY = 86400
US = 1_000_000
I64_MAX = (1 << 63) - 1
LIBFAKETIME = ("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1", "/usr/lib/faketime/libfaketime.so.1",
               "/usr/local/lib/faketime/libfaketime.so.1")


def say(message):
    print(f"[{time.monotonic() - START:6.1f}s] {message}", file=sys.stderr, flush=True)


def parse_args():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--build_dir", help="build tree: server/ingestd, server/ingestctl, bench/camera-sim")
    p.add_argument("--ingestd", help="default: <build_dir>/server/ingestd")
    p.add_argument("--ingestctl", help="default: <build_dir>/server/ingestctl")
    p.add_argument("--camera_sim", help="default: <build_dir>/bench/camera-sim")
    p.add_argument("--libfaketime", help="default: the first of " + ", ".join(LIBFAKETIME) + " present")
    p.add_argument("--faketime_futex", help="libfaketime_futex.so (tests/faults/faketime_futex.c), preloaded "
                                           "before libfaketime; default: <build_dir>/tests/libfaketime_futex.so")
    p.add_argument("--case", choices=("all", "camera_clock", "server_clock"), default="all")
    p.add_argument("--age_s", type=int, default=2 * HOUR, help="camera_clock: protocol.max_capture_age_s")
    p.add_argument("--lead_s", type=int, default=10 * MIN, help="camera_clock: protocol.max_capture_lead_s")
    p.add_argument("--cameras", type=int, default=50, help="server_clock: camera-sim's cameras")
    p.add_argument("--segment_ms", type=int, default=500)
    p.add_argument("--segment_bytes", type=int, default=16384)
    p.add_argument("--step_s", type=int, default=HOUR, help="server_clock: the size of each step")
    p.add_argument("--phase_s", type=float, default=6, help="server_clock: the back and forward phases")
    p.add_argument("--quiet_s", type=float, default=4, help="server_clock: baseline, mid and recovery")
    p.add_argument("--probe_timeout_s", type=float, default=8,
                   help="bound on a step reaching ingestd's absl::Now (it resamples the system clock every "
                        "second or two)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")
    args = p.parse_args()
    rolling_replacement.binaries_from_build_dir(p, args)
    if args.faketime_futex is None and args.build_dir is not None:
        args.faketime_futex = os.path.join(args.build_dir, "tests/libfaketime_futex.so")
    if args.libfaketime is None:
        args.libfaketime = next((path for path in LIBFAKETIME if os.path.exists(path)), None)
    return args


def metrics(admin_port):
    return store_outage.metrics(types.SimpleNamespace(admin_port=admin_port))


def now_us():
    return int(time.time() * US)


class Server:
    """ingestd as a child process (its own session, stopped by pid)."""

    def __init__(self, args, work, name, protocol, store, env=None):
        self.args, self.work, self.name = args, work, name
        self.port, self.admin_port = rolling_replacement.free_ports(2)
        self.state_dir = os.path.join(work, f"{name}-state")
        self.store_dir = os.path.join(work, f"{name}-store")
        self.log_path = os.path.join(work, f"{name}-ingestd.log")
        self.config = os.path.join(work, f"{name}.toml")
        os.makedirs(self.store_dir)
        q = rolling_replacement.toml_string
        certs = os.path.join(work, "certs")
        with open(self.config, "w") as f:
            f.write(f"""# written by tests/faults/clock_faults.py ({name})
[server]
id = {q(name)}
zone = {q(ZONE)}
listen = {q(f"127.0.0.1:{self.port}")}
admin_listen = {q(f"127.0.0.1:{self.admin_port}")}
shards = 1
max_connections = 1000
state_dir = {q(self.state_dir)}

[tls]
cert_file = {q(os.path.join(certs, "server.crt"))}
key_file = {q(os.path.join(certs, "server.key"))}
camera_ca_file = {q(os.path.join(certs, "camera-ca.crt"))}

[protocol]
{protocol}

[spool]
shard_memory_bytes = "32MiB"

[store]
url = {q("dir:" + self.store_dir)}
{store}

[drain]
announce_delay_ms = 100
deadline_ms = 30000

[log]
level = "info"
""")
        environment = dict(os.environ)
        environment.update(env or {})
        with open(self.log_path, "w") as log:
            self.proc = subprocess.Popen([args.ingestd, f"--config={self.config}"], env=environment,
                                         stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                         start_new_session=True)
        rolling_replacement.wait_until(
            f"{name}: ingestd ready", lambda: self.proc.poll() is not None
            or store_outage.http_get(f"http://127.0.0.1:{self.admin_port}/readyz")[0] == 200, 30, 0.1)
        if self.proc.poll() is not None:
            raise AssertionError(f"{name}: ingestd exited at start ({self.proc.returncode}); see {self.log_path}")

    def metrics(self):
        return metrics(self.admin_port)

    def stop(self, failures, timeout_s=60):
        """SIGTERM (drain, flush, indexes written); a failure unless exit 0."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            failures.append(f"{self.name}: ingestd did not exit within {timeout_s} s of SIGTERM")
            self.kill()
            return None
        if code != 0:
            failures.append(f"{self.name}: ingestd exited {code} after SIGTERM")
        return code

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)

    def log_lines(self, pattern):
        try:
            with open(self.log_path, errors="replace") as f:
                return [line.rstrip() for line in f if re.search(pattern, line)]
        except OSError:
            return []


class NotWelcomed(Exception):
    """HELLO was answered with something other than WELCOME."""


class Camera:
    """A raw camera across connections: what it sent, what was accepted."""

    def __init__(self, server, certs, camera_id):
        self.server, self.certs, self.id = server, certs, camera_id
        self.conn = None
        self.accepted = []  # (seq, capture_start_us, payload)
        self.connections = 0

    def connect(self):
        self.conn = raw_camera.RawCamera("127.0.0.1", self.server.port, self.certs, self.id)
        self.connections += 1
        welcome = self.conn.hello(last_durable_seq=self.accepted[-1][0] if self.accepted else 0)
        if welcome.type != raw_camera.WELCOME:
            self.close()
            raise NotWelcomed(f"{self.id}: HELLO answered {welcome}")
        return welcome

    def send(self, capture_start_us, duration_us=US):
        """Sends the next seq; returns (accepted, frames): True with the ACK,
        or False with the ERROR and what else came before the close."""
        if self.conn is None:
            self.connect()
        seq = (self.accepted[-1][0] if self.accepted else 0) + 1
        payload = hashlib.sha256(f"{self.id}/{seq}/{capture_start_us}".encode()).digest() * 64
        self.conn.send_segment(seq, capture_start_us, duration_us, payload)
        answer = self.conn.wait_ack(seq)
        if answer.type == raw_camera.ACK:
            self.accepted.append((seq, capture_start_us, payload))
            return True, [answer]
        frames = [answer]
        try:
            frames += self.conn.read_until_closed()
        finally:
            self.conn.close()
            self.conn = None
        return False, frames

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def report(self):
        """What store_check.check_store wants for this camera."""
        digest = hashlib.sha256(b"".join(p for _, _, p in self.accepted)).hexdigest()
        n = len(self.accepted)
        return {"id": self.id, "segments": n, "acked_spooled": n, "sha256": digest}


def export(args, store_dir, camera_id, from_us, to_us):
    """(payload bytes, summary) of `ingestctl export` over [from_us, to_us)."""
    out = subprocess.run([args.ingestctl, f"--store_dir={store_dir}", f"--zone={ZONE}", "export",
                          f"--camera={camera_id}", f"--from={from_us}", f"--to={to_us}", "--out=-", "--json"],
                         capture_output=True, timeout=60)
    summaries = [line for line in out.stderr.decode(errors="replace").splitlines() if line.startswith('{"camera"')]
    return out.stdout, (json.loads(summaries[-1]) if summaries else {"exit": out.returncode,
                                                                     "stderr": out.stderr.decode()[-300:]})


def camera_clock(args, work, certs, figures, failures):
    a = args
    server = Server(a, work, "camera-clock", f"max_capture_age_s = {a.age_s}\nmax_capture_lead_s = {a.lead_s}",
                    'seal_age_ms = 200\nindex_interval_s = 1')
    camera = Camera(server, certs, "cam-000001")
    # (what, offset from now in seconds or an absolute capture_start_us, in the window?)
    cases = [
        ("now", 0, True),
        ("2 s later", 2, True),
        ("back 90 min", -90 * MIN, True),
        ("2 s after that", -90 * MIN + 2, True),
        ("forward 8 min", 8 * MIN, True),
        ("back to now", 4, True),
        ("1 min past the age edge", -a.age_s - MIN, False),
        ("back 2 h 5 min", -a.age_s - 5 * MIN, False),
        ("1 min inside the age edge", -a.age_s + MIN, True),
        ("1 min past the lead edge", a.lead_s + MIN, False),
        ("forward 15 min", a.lead_s + 5 * MIN, False),
        ("1 min inside the lead edge", a.lead_s - MIN, True),
        ("back 40 days", -40 * DAY, False),
        ("forward 2 days", 2 * DAY, False),
        ("capture_start_us 0", ("abs", 0), False),
        ("capture_start_us -1", ("abs", -1), False),
        ("capture_start_us i64 max", ("abs", I64_MAX), False),
        ("back to now again", 6, True),
    ]
    try:
        refused_before = server.metrics().get("ingest_segments_refused_invalid_field_total", 0)
        results = []
        for what, offset, in_window in cases:
            capture = offset[1] if isinstance(offset, tuple) else now_us() + offset * US
            seq = (camera.accepted[-1][0] if camera.accepted else 0) + 1
            accepted, frames = camera.send(capture)
            result = {"case": what, "seq": seq, "accepted": accepted}
            if not accepted:
                error = frames[0]
                result["answer"] = f"{raw_camera.TYPE_NAMES.get(error.type)} {error.fields.get('name')}"
                acks = [f.fields["seq"] for f in frames if f.type == raw_camera.ACK and f.fields["seq"] >= seq]
                if error.type != raw_camera.ERROR or error.fields.get("code") != 10 or \
                        "capture_start_us" not in error.fields.get("message", ""):
                    failures.append(f"camera_clock: {what}: expected ERROR INVALID_FIELD naming capture_start_us, "
                                    f"got {error}")
                if acks:
                    failures.append(f"camera_clock: {what}: refused seq {seq} covered by ACKs {acks}")
                welcome = camera.connect()
                durable = welcome.fields["durable_seq"]
                result["welcome_durable_seq"] = durable
                if durable != seq - 1:
                    failures.append(f"camera_clock: {what}: reconnected, WELCOME durable_seq {durable}, "
                                    f"expected {seq - 1}")
            if accepted != in_window:
                failures.append(f"camera_clock: {what} (capture_start_us {capture}, {offset} from now): "
                                f"{'accepted' if accepted else 'refused'}, proto/README.md says "
                                f"{'accept' if in_window else 'refuse with INVALID_FIELD'}"
                                + ("" if accepted else f": {frames[0]}"))
            results.append(result)
        camera.close()
        refused = round(server.metrics().get("ingest_segments_refused_invalid_field_total", 0) - refused_before)
        expected_refused = sum(1 for _, _, in_window in cases if not in_window)
        figures["refused_invalid_field"] = refused
        if refused != expected_refused:
            failures.append(f"camera_clock: ingest_segments_refused_invalid_field_total moved by {refused}, "
                            f"{expected_refused} refused")
    finally:
        camera.close()
        server.stop(failures)
    figures["cases"] = len(cases)
    figures["accepted"] = len(camera.accepted)
    figures["refused"] = [r["case"] for r in results if not r["accepted"]]
    figures["connections"] = camera.connections

    # Read back: everything in seq order, byte-exact, once; and each segment
    # by its own capture time.
    failures.extend(f"camera_clock: {p}" for p in store_check.check_store(a.ingestctl, server.store_dir, ZONE,
                                                                          [camera.report()]))
    found_by_time = 0
    for seq, capture, payload in camera.accepted:
        data, summary = export(a, server.store_dir, camera.id, capture, capture + 1)
        if data == payload and summary.get("first_seq") == seq and summary.get("last_seq") == seq:
            found_by_time += 1
        else:
            failures.append(f"camera_clock: seq {seq} (capture_start_us {capture}) not found alone by its capture "
                            f"time: export gave {len(data)} bytes, {summary}")
    figures["found_by_capture_time"] = found_by_time
    ranges = subprocess.run([a.ingestctl, f"--store_dir={server.store_dir}", f"--zone={ZONE}", "ranges",
                             f"--camera={camera.id}", "--json"], capture_output=True, text=True, timeout=60)
    try:
        figures["ranges"] = len(json.loads(ranges.stdout).get("ranges", []))
    except ValueError:
        figures["ranges"] = None


class FakeClock:
    """The offset ingestd's libfaketime reads at every clock call."""

    def __init__(self, path):
        self.path = path
        self.offset_s = 0
        self.set(0)

    def set(self, offset_s):
        tmp = self.path + ".new"
        with open(tmp, "w") as f:
            f.write(f"{offset_s:+d}\n")
        os.rename(tmp, self.path)
        self.offset_s = offset_s

    def env(self, libfaketime, faketime_futex):
        return {"LD_PRELOAD": f"{faketime_futex} {libfaketime}", "FAKETIME_TIMESTAMP_FILE": self.path, "FAKETIME_NO_CACHE": "1",
                "FAKETIME_DONT_FAKE_MONOTONIC": "1"}


LIVE_LINE = re.compile(r"^\[\s*([\d.]+)s\].*ack p50\s+([\d.]+) ms p99\s+([\d.]+) ms")


def ack_latency(log_path, sim_started, begin, end):
    p50s, p99s = [], []
    try:
        with open(log_path, errors="replace") as f:
            lines = f.readlines()
    except OSError:
        return None, None
    for line in lines:
        m = LIVE_LINE.match(line)
        if m and begin <= sim_started + float(m.group(1)) < end and float(m.group(3)) > 0:
            p50s.append(float(m.group(2)))
            p99s.append(float(m.group(3)))
    return (round(statistics.median(p50s), 1) if p50s else None), (round(max(p99s), 1) if p99s else None)


def sim_reconnects(log_path):
    """camera-sim's reconnect count on its last live line (0 before any)."""
    try:
        with open(log_path, errors="replace") as f:
            counts = re.findall(r"reconnects (\d+)", f.read())
    except OSError:
        return 0
    return int(counts[-1]) if counts else 0


def probe(camera, offset_s, deadline_s, say_what):
    """Sends the two probe segments; the one the offset lets in first,
    retried until accepted (the step may not have reached absl::Now yet) or
    deadline_s. Returns {probe: accepted}."""
    old = lambda: now_us() - (30 * DAY + 30 * MIN) * US  # noqa: E731
    new = lambda: now_us() + (DAY + 30 * MIN) * US  # noqa: E731
    order = [("30 days + 30 min old", old), ("1 day + 30 min ahead", new)]
    if offset_s > 0:
        order.reverse()
    outcome = {}
    not_welcomed = []
    deadline = time.monotonic() + deadline_s
    for i, (name, capture) in enumerate(order):
        expect_first = offset_s != 0 and i == 0
        while True:
            try:
                accepted, frames = camera.send(capture())
            except (NotWelcomed, raw_camera.Closed) as e:
                # The connection itself did not survive (the step's idle
                # timeout can hit a camera between TLS and WELCOME): again.
                not_welcomed.append(str(e))
                camera.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
                continue
            if accepted or not expect_first or time.monotonic() > deadline:
                break
            time.sleep(0.3)
        outcome[name] = accepted
    say(f"{say_what}: probes {outcome}" + (f"; connections lost before an answer: {not_welcomed}"
                                           if not_welcomed else ""))
    return outcome, not_welcomed


def server_clock(args, work, certs, figures, failures):
    a = args
    clock = FakeClock(os.path.join(work, "faketime.rc"))
    server = Server(a, work, "server-clock", "", 'seal_age_ms = 500\nseal_bytes = "8MiB"\nindex_interval_s = 1',
                    env=clock.env(a.libfaketime, a.faketime_futex))
    run = types.SimpleNamespace(args=a, work=work, sim=None)
    probe_camera = Camera(server, certs, f"cam-{a.cameras + 1:06d}")
    try:
        say(f"server_clock: {a.cameras} cameras, one {a.segment_bytes // 1024} KiB segment per {a.segment_ms} ms")
        sim_started = time.monotonic()
        rolling_replacement.start_cameras(run, certs, server.port)
        rolling_replacement.wait_until(
            f"{a.cameras} cameras streaming",
            lambda: server.metrics().get("ingest_sessions_streaming", 0) >= a.cameras or run.sim.poll() is not None,
            30, 0.2)
        if run.sim.poll() is not None:
            raise AssertionError(f"camera-sim exited early ({run.sim.returncode})")
        phases = [("baseline", 0, a.quiet_s), ("back", -a.step_s, a.phase_s), ("mid", 0, a.quiet_s),
                  ("forward", a.step_s, a.phase_s), ("recovery", 0, a.quiet_s)]
        per_phase = figures.setdefault("phases", {})
        first = server.metrics()
        for name, offset, seconds in phases:
            m0 = server.metrics()
            reconnects0 = sim_reconnects(os.path.join(work, "camera-sim.log"))
            begin = time.monotonic()
            clock.set(offset)
            say(f"phase {name}: ingestd's wall clock {offset:+d} s, {seconds} s")
            figures_phase = {"offset_s": offset}
            if name in ("baseline", "back", "forward"):
                outcome, not_welcomed = probe(probe_camera, offset, a.probe_timeout_s, f"phase {name}")
                figures_phase["probes_accepted"] = [k for k, v in outcome.items() if v]
                if not_welcomed:
                    figures_phase["probe_connections_lost"] = not_welcomed
                expected = {"30 days + 30 min old": offset <= -30 * MIN, "1 day + 30 min ahead": offset >= 30 * MIN}
                if outcome != expected:
                    failures.append(f"server_clock: phase {name} ({offset:+d} s): probes {outcome}, expected "
                                    f"{expected}: ingestd's clock did not step as set")
            time.sleep(max(0.0, seconds - (time.monotonic() - begin)))
            end = time.monotonic()
            m1 = server.metrics()
            p50, p99 = ack_latency(os.path.join(work, "camera-sim.log"), sim_started, begin + 0.5, end + 0.5)

            def delta(metric):
                return round(m1.get(metric, 0) - m0.get(metric, 0))
            figures_phase.update({
                "seconds": round(end - begin, 1), "ack_p50_ms": p50, "ack_p99_ms": p99,
                "acks_spooled": delta("ingest_acks_spooled_total"),
                "segments_persisted": delta("ingest_segments_persisted_total"),
                "batches_written": delta("ingest_batches_written_total"),
                "index_objects_written": delta("ingest_index_objects_written_total"),
                "refused_invalid_field": delta("ingest_segments_refused_invalid_field_total"),
                "store_errors": delta("ingest_store_errors_total"),
                "connections_closed": delta("ingest_connections_closed_total"),
                "connections_accepted": delta("ingest_connections_accepted_total"),
                "idle_timeouts": delta("ingest_idle_timeouts_total"),
                "camera_sim_reconnects": sim_reconnects(os.path.join(work, "camera-sim.log")) - reconnects0,
            })
            per_phase[name] = figures_phase
            say(f"phase {name}: {figures_phase}")
            for metric in ("acks_spooled", "segments_persisted", "batches_written"):
                if figures_phase[metric] <= 0:
                    failures.append(f"server_clock: phase {name} ({offset:+d} s): no {metric} while it lasted")
        probe_camera.close()
        last = server.metrics()
        closed = round(last.get("ingest_connections_closed_total", 0) - first.get("ingest_connections_closed_total", 0))
        figures["connections_closed"] = closed
        figures["probe_connections"] = probe_camera.connections
        if closed > probe_camera.connections:
            failures.append(f"server_clock: {closed} connections closed on the server, only "
                            f"{probe_camera.connections} of them the probe's: cameras were dropped")

        say("server_clock: stopping the cameras")
        report = rolling_replacement.stop_cameras(run)
        backlog = ("ingest_pending_segments", "ingest_batches_in_flight", "ingest_unindexed_segments")
        try:
            rolling_replacement.wait_until("nothing pending, in flight or unindexed",
                                           lambda: all(server.metrics().get(n, 1) == 0 for n in backlog), 30, 0.2)
        except AssertionError as e:
            # Still drained and read back below: the shutdown flush writes
            # what the timers did not.
            left = server.metrics()
            figures["left_after_cameras_stopped"] = {n: left.get(n) for n in backlog}
            failures.append(f"server_clock: {e}: {figures['left_after_cameras_stopped']}")
    finally:
        probe_camera.close()
        if run.sim is not None and run.sim.poll() is None:
            run.sim.kill()
            run.sim.wait(timeout=10)
        figures["ingestd_exit"] = server.stop(failures, timeout_s=40)
    warnings = server.log_lines(r'"level":"(warn|error)"')
    figures["server_warnings"] = len(warnings)
    figures["server_warning_kinds"] = sorted({m.group(1) for m in (re.search(r'"(?:event|msg)":"([^"]+)"', w)
                                                                   for w in warnings) if m})[:20]
    if not report["all_acked"]:
        failures.append("server_clock: camera-sim: not every recorded segment was acknowledged")
    if report["protocol_errors"] or report["reconnects"]:
        failures.append(f"server_clock: camera-sim: {report['protocol_errors']} protocol errors, "
                        f"{report['reconnects']} reconnects")
    cameras = report["per_camera"] + [probe_camera.report()]
    failures.extend(f"server_clock: {p}" for p in store_check.check_store(a.ingestctl, server.store_dir, ZONE, cameras))
    stored = store_check.store_counts(a.ingestctl, server.store_dir, ZONE)
    figures.update({"segments_acked": report["segments_acked"], "probe_segments_acked": len(probe_camera.accepted),
                    "segments_in_store": stored.get("segments"), "camera_reconnects": report["reconnects"],
                    "camera_protocol_errors": report["protocol_errors"]})
    if stored.get("segments") != report["segments_acked"] + len(probe_camera.accepted):
        failures.append(f"server_clock: {report['segments_acked']} + {len(probe_camera.accepted)} (probe) segments "
                        f"acknowledged, {stored.get('segments')} in the store")


def main():
    args = parse_args()
    work = tempfile.mkdtemp(prefix="clock-faults-")
    figures = {}
    failures = []
    skipped = None
    try:
        certs = os.path.join(work, "certs")
        subprocess.run([args.ingestd, "certs", f"--out={certs}", f"--cameras={args.cameras + 1}"], check=True,
                       stdout=subprocess.DEVNULL, timeout=120)
        say(f"work folder {work}")
        if args.case in ("all", "camera_clock"):
            say("camera_clock: a camera whose capture times jump")
            camera_clock(args, work, certs, figures.setdefault("camera_clock", {}), failures)
        if args.case in ("all", "server_clock"):
            if args.libfaketime is None:
                skipped = "libfaketime is not installed (scripts/setup.sh installs it): server_clock not run"
            elif not (args.faketime_futex and os.path.exists(args.faketime_futex)):
                skipped = f"no faketime_futex library ({args.faketime_futex}): server_clock not run"
            else:
                say(f"server_clock: ingestd under {args.libfaketime}")
                server_clock(args, work, certs, figures.setdefault("server_clock", {}), failures)
    except (AssertionError, RuntimeError, OSError, ValueError, KeyError, subprocess.SubprocessError) as e:
        failures.append(f"{type(e).__name__}: {e}" if not isinstance(e, AssertionError) else str(e))
    finally:
        figures["failures"] = len(failures)
        figures["wall_s"] = round(time.monotonic() - START, 1)
        print(json.dumps(figures), flush=True)
        for failure in failures:
            print(f"FAILED: {failure}", file=sys.stderr)
        if not failures and not args.keep:
            shutil.rmtree(work, ignore_errors=True)
        else:
            say(f"work folder kept: {work}")
    if failures:
        say(f"{len(failures)} failures")
        return 1
    if skipped:
        say(f"SKIPPED: {skipped}")
        return SKIPPED
    say("passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
