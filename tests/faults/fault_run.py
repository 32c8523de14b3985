"""What the camera-side fault tests (kill9_under_load.py, network_faults.py)
share: their common flags, one ingestd on a `dir:` store that can be killed
and started again on the same spool, camera-sim with its report, an RSS
sampler that follows ingestd across restarts, and the check every fault test
ends with (every acknowledged segment stored exactly once, byte-exact).

    p = fault_run.new_parser(__doc__)
    fault_run.add_common_args(p, cameras=40, segment_ms=500, segment_bytes=16384)
    args = fault_run.parse_args(p)                 # after adding the test's own flags
    with fault_run.Workspace("kill9-", args) as ws:
        server = ws.ingestd(protocol={"idle_timeout_ms": 3000})   # [section] keys over the defaults
        server.start(); server.wait_ready()
        fleet = ws.cameras(server.port)
        ...
        report = fleet.stop()
        server.flush_and_stop()
        problems, figures = fault_run.check_exactly_once(args, ws.store_dir, report)
        return fault_run.finish(figures, failures, ws)

Everything a Workspace starts is stopped by pid when the `with` ends, even on
failure; its folder is removed unless the run failed or --keep was given.
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
import urllib.error
import urllib.request

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../deploy"))
import rolling_replacement  # noqa: E402  (free ports, binaries from a build folder)
import store_check  # noqa: E402

ZONE = "dev"
SKIPPED = 77
MIB = 1 << 20
START = time.monotonic()


def say(message):
    print(f"[{time.monotonic() - START:6.1f}s] {message}", file=sys.stderr, flush=True)


def add_common_args(p, cameras, segment_ms, segment_bytes):
    p.add_argument("--build_dir", help="build tree: server/ingestd, server/ingestctl, bench/camera-sim")
    p.add_argument("--ingestd", help="default: <build_dir>/server/ingestd")
    p.add_argument("--ingestctl", help="default: <build_dir>/server/ingestctl")
    p.add_argument("--camera_sim", help="default: <build_dir>/bench/camera-sim")
    p.add_argument("--cameras", type=int, default=cameras)
    p.add_argument("--segment_ms", type=int, default=segment_ms)
    p.add_argument("--segment_bytes", type=int, default=segment_bytes)
    p.add_argument("--seed", type=int, default=None, help="default: from the clock (printed)")
    p.add_argument("--slack", type=float, default=1.0, help="multiplies every time bound (sanitized builds)")
    p.add_argument("--keep", action="store_true", help="keep the work folder")


def parse_args(p):
    args = p.parse_args()
    rolling_replacement.binaries_from_build_dir(p, args)
    for path in (args.ingestd, args.ingestctl, args.camera_sim):
        if not os.access(path, os.X_OK):
            p.error(f"{path}: not an executable")
    if args.seed is None:
        args.seed = int(time.time() * 1000) % 1_000_000
    return args


def wait_until(what, predicate, timeout_s, interval=0.1):
    rolling_replacement.wait_until(what, predicate, timeout_s, interval)


def scrape(admin_port, timeout=2):
    """/metrics as {name: sum over its label sets}; {} without an answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=timeout) as response:
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
        values[name] = values.get(name, 0.0) + number
    return values


def http_status(admin_port, path, timeout=2):
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}{path}", timeout=timeout) as response:
            return response.status
    except urllib.error.HTTPError as e:
        return e.code
    except (OSError, urllib.error.URLError):
        return None


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def nothing_pending(metrics):
    return all(metrics.get(name) == 0 for name in (
        "ingest_pending_segments", "ingest_batches_in_flight", "ingest_unindexed_segments"))


class Ingestd:
    """One ingestd on fixed ports and one state folder, started as often as
    the test likes; every start appends to one log. Killed only by its pid."""

    def __init__(self, ws, sections):
        self.ws = ws
        self.port, self.admin_port = rolling_replacement.free_ports(2)
        self.config = os.path.join(ws.work, "ingestd.toml")
        self.log_path = os.path.join(ws.work, "ingestd.log")
        self.proc = None
        self.starts = 0
        self.started_at = None
        self.exits = []  # exit codes of processes that ended, SIGKILL as -9
        with open(self.config, "w") as f:
            f.write(self._config_toml(sections))

    def _config_toml(self, sections):
        q = json.dumps  # a TOML basic string is a JSON string here
        certs = self.ws.certs
        base = {
            "server": {"id": q("fault-run"), "zone": q(ZONE), "listen": q(f"127.0.0.1:{self.port}"),
                       "admin_listen": q(f"127.0.0.1:{self.admin_port}"), "shards": 1,
                       "max_connections": 10000, "max_connections_per_source": 10000,
                       "state_dir": q(os.path.join(self.ws.work, "state"))},
            "tls": {"cert_file": q(os.path.join(certs, "server.crt")), "key_file": q(os.path.join(certs, "server.key")),
                    "camera_ca_file": q(os.path.join(certs, "camera-ca.crt")),
                    "ticket_keys_file": q(os.path.join(certs, "ticket.keys"))},
            "spool": {"shard_memory_bytes": q("64MiB")},
            "store": {"url": q("dir:" + self.ws.store_dir), "seal_age_ms": 300, "index_interval_s": 1},
            "drain": {"announce_delay_ms": 100, "reconnect_after_min_ms": 100, "reconnect_after_max_ms": 500,
                      "deadline_ms": 60000},
            "log": {"level": q("info")},
        }
        for name, values in sections.items():
            base.setdefault(name, {}).update(values)
        text = f"# written by {os.path.basename(sys.argv[0])} (tests/faults/fault_run.py)\n"
        for name, values in base.items():
            text += f"\n[{name}]\n" + "".join(f"{key} = {value}\n" for key, value in values.items())
        return text

    def start(self):
        with open(self.log_path, "a") as log:
            self.proc = subprocess.Popen([self.ws.args.ingestd, f"--config={self.config}"], stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.starts += 1
        self.started_at = time.monotonic()
        self.ws.sampler.follow(self.proc.pid)

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def metrics(self):
        return scrape(self.admin_port) if self.running() else {}

    def wait_ready(self, timeout_s=60):
        """Until /readyz answers 200; an AssertionError if ingestd exits."""
        wait_until("ingestd ready", lambda: not self.running() or http_status(self.admin_port, "/readyz") == 200,
                   timeout_s * self.ws.args.slack, 0.05)
        if not self.running():
            raise AssertionError(f"ingestd exited with {self.proc.returncode} while starting; log tail:\n"
                                 + self.log_tail())

    def kill9(self):
        """SIGKILL, then reaped."""
        self.proc.send_signal(signal.SIGKILL)
        self.exits.append(self.proc.wait(timeout=30))

    def flush_and_stop(self, timeout_s=60):
        """With the cameras gone: until nothing is pending, in flight or
        unindexed, then SIGTERM (a drain); returns the exit code, None if
        it had to be killed. An AssertionError if the flush never ends."""
        wait_until("nothing pending, in flight or unindexed", lambda: nothing_pending(self.metrics()),
                   timeout_s * self.ws.args.slack, 0.2)
        self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout_s * self.ws.args.slack)
        except subprocess.TimeoutExpired:
            self.kill()
            code = None
        self.exits.append(code)
        return code

    def kill(self):
        if self.running():
            self.proc.kill()
            self.proc.wait(timeout=10)

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


class RssSampler(threading.Thread):
    """ingestd's VmRSS every interval, whichever process is current."""

    def __init__(self, interval_s=0.5):
        super().__init__(daemon=True)
        self.interval_s = interval_s
        self.pid = None
        self.label = "start"
        self.samples = []  # (monotonic, label, KiB)
        self._stopping = threading.Event()

    def follow(self, pid):
        self.pid = pid

    def run(self):
        while not self._stopping.wait(self.interval_s):
            rss = rss_kib(self.pid) if self.pid else None
            if rss is not None and len(self.samples) < 100_000:
                self.samples.append((time.monotonic(), self.label, rss))

    def stop(self):
        self._stopping.set()
        if self.is_alive():
            self.join(timeout=5)

    def peak_mib(self, labels=None):
        rss = [s[2] for s in self.samples if labels is None or s[1] in labels]
        return round(max(rss) / 1024, 1) if rss else None


class CameraFleet:
    """camera-sim streaming to 127.0.0.1:port until stop()."""

    LIVE = re.compile(r"^\[\s*([\d.]+)s\]\s+connected\s+(\d+)\s+recorded\s+(\d+)\s+acked\s+(\d+).*"
                      r"ack p50\s+([\d.]+) ms p99\s+([\d.]+) ms\s+reconnects (\d+)\s+errors (\d+)")

    def __init__(self, ws, port):
        a = ws.args
        self.ws = ws
        self.json_path = os.path.join(ws.work, "camera-sim.json")
        self.log_path = os.path.join(ws.work, "camera-sim.log")
        self.started = time.monotonic()
        with open(self.json_path, "w") as out, open(self.log_path, "w") as err:
            self.proc = subprocess.Popen(
                [a.camera_sim, f"--target=127.0.0.1:{port}", f"--certs_dir={ws.certs}", f"--cameras={a.cameras}",
                 f"--segment_ms={a.segment_ms}", f"--segment_bytes={a.segment_bytes}", "--duration_s=100000",
                 "--drain_timeout_s=60", "--json", "--per_camera"],
                stdin=subprocess.DEVNULL, stdout=out, stderr=err, start_new_session=True)

    def running(self):
        return self.proc.poll() is None

    def progress(self):
        """camera-sim's last live line as a dict, or None."""
        try:
            with open(self.log_path, errors="replace") as f:
                lines = f.readlines()[-50:]
        except OSError:
            return None
        for line in reversed(lines):
            m = self.LIVE.match(line)
            if m:
                keys = ("elapsed_s", "connected", "recorded", "acked", "p50_ms", "p99_ms", "reconnects", "errors")
                return dict(zip(keys, (float(g) for g in m.groups())))
        return None

    def ack_latency_per_second(self, since=None, until=None):
        """[(p50, p99) ms] of each second camera-sim reported ending within
        the monotonic window, seconds without ACKs left out."""
        seconds = []
        try:
            with open(self.log_path, errors="replace") as f:
                for line in f:
                    m = self.LIVE.match(line)
                    if not m:
                        continue
                    when = self.started + float(m.group(1))
                    if (since is None or when >= since) and (until is None or when < until) \
                            and float(m.group(6)) > 0:
                        seconds.append((float(m.group(5)), float(m.group(6))))
        except OSError:
            pass
        return seconds

    def worst_second_p99_ms(self, since=None, until=None):
        """The worst per-second ACK p99 camera-sim printed (monotonic window)."""
        return round(max((p99 for _, p99 in self.ack_latency_per_second(since, until)), default=0.0), 1)

    def stop(self, timeout_s=90):
        """SIGTERM: the cameras stop recording, wait for their ACKs (up to
        camera-sim's drain timeout) and report; the report as a dict."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"camera-sim did not finish within {timeout_s} s of SIGTERM")
        with open(self.json_path) as f:
            text = f.read()
        if not text.strip():
            raise AssertionError(f"camera-sim exited {self.proc.returncode} without a report")
        return json.loads(text)

    def kill(self):
        if self.running():
            self.proc.kill()
            self.proc.wait(timeout=10)


class Workspace:
    """A work folder with certificates and a store folder; every process the
    test starts through it is stopped (by pid) when the `with` block ends."""

    def __init__(self, prefix, args):
        self.args = args
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.certs = os.path.join(self.work, "certs")
        self.store_dir = os.path.join(self.work, "store")
        self.servers = []
        self.fleets = []
        self.closers = []  # more things to stop: callables
        self.sampler = RssSampler()
        self.failed = True  # until the test says otherwise

    def __enter__(self):
        try:
            os.makedirs(self.store_dir)
            subprocess.run([self.args.ingestd, "certs", f"--out={self.certs}", f"--cameras={self.args.cameras}"],
                           check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=180)
        except (OSError, subprocess.SubprocessError):
            shutil.rmtree(self.work, ignore_errors=True)
            raise
        self.sampler.start()
        return self

    def ingestd(self, **sections):
        server = Ingestd(self, sections)
        self.servers.append(server)
        return server

    def cameras(self, port):
        fleet = CameraFleet(self, port)
        self.fleets.append(fleet)
        return fleet

    def __exit__(self, *exc):
        for fleet in self.fleets:
            fleet.kill()
        for server in self.servers:
            server.kill()
        for close in self.closers:
            try:
                close()
            except Exception as e:  # noqa: BLE001  (cleanup goes on)
                say(f"cleanup: {type(e).__name__}: {e}")
        self.sampler.stop()
        if self.failed or self.args.keep:
            say(f"work folder kept: {self.work}")
        else:
            shutil.rmtree(self.work, ignore_errors=True)
        return False


def check_exactly_once(args, store_dir, report):
    """The end of every fault test: camera-sim's report says every recorded
    segment was acknowledged and no protocol error happened; the store holds
    each camera's seqs 1..recorded once, byte-exact (SHA-256 of the payloads
    in seq order, via `ingestctl export`), `ingestctl verify` finds nothing
    and counts as many segment copies in batch objects as were acknowledged.
    Returns (problems, figures)."""
    problems = []
    if not report["all_acked"]:
        problems.append(f"camera-sim: {report['segments_recorded'] - report['segments_acked']} recorded segments "
                        f"never acknowledged")
    if report["protocol_errors"]:
        problems.append(f"camera-sim: {report['protocol_errors']} protocol errors (see camera-sim.log)")
    problems.extend(store_check.check_store(args.ingestctl, store_dir, ZONE, report["per_camera"]))
    stored = store_check.store_counts(args.ingestctl, store_dir, ZONE)
    if stored.get("segments") != report["segments_acked"]:
        problems.append(f"{report['segments_acked']} segments acknowledged, {stored.get('segments')} segment "
                        f"copies in the store's batch objects")
    per_camera = report.get("per_camera", [])
    figures = {
        "segments_recorded": report["segments_recorded"],
        "segments_acked": report["segments_acked"],
        "segments_in_store": stored.get("segments"),
        "batch_objects": stored.get("batch_objects"),
        "segments_resent": sum(c["resent"] for c in per_camera),
        "camera_reconnects": report["reconnects"],
        "camera_connect_failures": report["connect_failures"],
        "camera_protocol_errors": report["protocol_errors"],
        "longest_camera_gap_ms": round(report["longest_gap_ms"], 1),
        "open_gaps_at_end": report["open_gaps"],
        "ack_spooled_ms": {k: round(v, 1) for k, v in report["ack_spooled_ms"].items()},
    }
    return problems, figures


def finish(figures, failures, ws=None):
    """Prints the figures (stdout, one JSON line) and the failures (stderr);
    returns the exit code."""
    figures["failures"] = len(failures)
    figures["wall_s"] = round(time.monotonic() - START, 1)
    print(json.dumps(figures), flush=True)
    for failure in failures:
        print(f"FAILED: {failure}", file=sys.stderr)
    if ws is not None:
        ws.failed = bool(failures)
        if failures:
            with open(os.path.join(ws.work, "failures.txt"), "w") as f:
                f.write("".join(f"{failure}\n" for failure in failures))
    say("passed" if not failures else f"{len(failures)} failures")
    return 0 if not failures else 1


def new_parser(doc):
    return argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
