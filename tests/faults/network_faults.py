#!/usr/bin/env python3
"""Network faults between cameras and ingestd, under load: the cameras
resume with nothing lost and nothing stored twice, and the server itself
ends the connections a broken network leaves behind.

camera-sim's cameras reach one ingestd (a `dir:` store) through
tcp_fault_proxy.py, which relays TLS untouched or injects the phase's fault:

  baseline   pass-through;
  delay      --delay_ms added to every chunk, each way;
  throttle   --throttle_bps per connection, each way (below what a camera
             offers, so its backlog grows and must drain afterwards);
  stall      every open connection stops forwarding and stays open: only the
             server's idle timeout (protocol.idle_timeout_ms, short here) can
             end it; the camera learns of it when the server closes;
  half-open  every camera side dropped (RST), the server side kept open and
             silent, never a FIN; the cameras' reconnections are refused until
             the server timed the old connections out, so it is the timeout,
             not a newer connection superseding the old one, that ends them;
  reset      every connection reset on both sides (RST);
  recovery   pass-through.

Asserted, phase by phase: ingestd stays up and live, camera-sim keeps running;
delay and throttle: ACKs keep coming, no camera reconnects, no idle timeout;
stall and half-open: the server closes every affected connection itself
(idle timeouts counted, the proxy sees the close) within idle_timeout_ms +
--timeout_slack_s, no connection superseded in half-open, and every camera
is streaming again within --resume_bound_s; reset: every camera streaming
again within --resume_bound_s. Over the run ingestd's RSS grows at most
--rss_growth_mib over the baseline's peak. At the end the cameras stop, the
server flushes and drains, and the check every fault test ends with
(fault_run.check_exactly_once): every recorded segment acknowledged, no
protocol error, each camera's seqs 1..N in the store once, byte-exact.

Figures on stdout as one JSON line (per phase: what the proxy did, server
counters, ACKs, camera reconnects, how long the server took to close
stalled and half-open connections, peak RSS); progress on stderr. Exit 0
passed, 1 failed.

    tests/faults/network_faults.py --build_dir build                  # CI: 40 cameras, ~40 s
    scripts/netem_faults.sh build                                      # the same faults with tc netem
"""

import os
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fault_run  # noqa: E402
import tcp_fault_proxy  # noqa: E402
from fault_run import say  # noqa: E402

COUNTERS = ("ingest_idle_timeouts_total", "ingest_superseded_total", "ingest_sessions_welcomed_total",
            "ingest_connections_accepted_total", "ingest_connections_closed_total", "ingest_acks_spooled_total",
            "ingest_segments_accepted_total", "ingest_segments_duplicate_total", "ingest_slow_readers_total",
            "ingest_protocol_errors_total")


def parse_args():
    p = fault_run.new_parser(__doc__)
    fault_run.add_common_args(p, cameras=40, segment_ms=500, segment_bytes=16384)
    p.add_argument("--phase_s", type=float, default=4, help="baseline, delay, throttle and recovery each")
    p.add_argument("--delay_ms", type=int, default=150)
    p.add_argument("--throttle_bps", type=int, default=16384, help="per connection and direction")
    p.add_argument("--idle_timeout_ms", type=int, default=3000, help="protocol.idle_timeout_ms")
    p.add_argument("--keepalive_ms", type=int, default=1000, help="protocol.keepalive_interval_ms")
    p.add_argument("--timeout_slack_s", type=float, default=10,
                   help="on top of the idle timeout: the server's deadline scan, a loaded machine")
    p.add_argument("--resume_bound_s", type=float, default=30, help="fault over -> every camera streaming")
    p.add_argument("--rss_growth_mib", type=float, default=128, help="peak over the baseline's peak")
    return fault_run.parse_args(p)


class Phases:
    """Runs the phases and keeps their figures."""

    def __init__(self, args, server, fleet, proxy, sampler, failures):
        self.args, self.server, self.fleet, self.proxy, self.sampler = args, server, fleet, proxy, sampler
        self.failures = failures
        self.figures = {}

    def snapshot(self):
        m = self.server.metrics()
        return {"m": {k: m.get(k, 0) for k in COUNTERS}, "proxy": self.proxy.counts(),
                "fleet": self.fleet.progress() or {}, "t": time.monotonic()}

    def delta(self, before, after):
        server = {k.removeprefix("ingest_").removesuffix("_total"): round(after["m"][k] - before["m"][k])
                  for k in COUNTERS}
        proxy = {k: v - before["proxy"].get(k, 0) for k, v in after["proxy"].items()
                 if v != before["proxy"].get(k, 0)}
        camera = {k: round(after["fleet"].get(k, 0) - before["fleet"].get(k, 0))
                  for k in ("acked", "reconnects", "errors")}
        return server, proxy, camera

    def alive(self, name):
        if not self.server.running():
            raise AssertionError(f"phase {name}: ingestd exited ({self.server.proc.returncode}); log tail:\n"
                                 + self.server.log_tail())
        if fault_run.http_status(self.server.admin_port, "/healthz") != 200:
            self.failures.append(f"phase {name}: /healthz did not answer 200")
        if not self.fleet.running():
            raise AssertionError(f"phase {name}: camera-sim exited ({self.fleet.proc.returncode})")

    def all_streaming_again(self, name, welcomed_before, affected):
        """Every camera welcomed again after the fault, and streaming."""
        a = self.args

        def back():
            m = self.server.metrics()
            return (m.get("ingest_sessions_welcomed_total", 0) - welcomed_before >= affected
                    and m.get("ingest_sessions_streaming", 0) >= a.cameras) or not self.fleet.running()

        began = time.monotonic()
        try:
            fault_run.wait_until(f"every camera streaming again after {name}", back, a.resume_bound_s * a.slack, 0.1)
        except AssertionError as e:
            self.failures.append(f"phase {name}: {e}")
            return None
        return round(time.monotonic() - began, 1)

    def run(self, name, body):
        say(f"phase {name}")
        self.sampler.label = name
        before = self.snapshot()
        extra = body(name, before) or {}
        # One more camera-sim live line, so the camera figures cover the phase.
        time.sleep(1.1)
        after = self.snapshot()
        self.alive(name)
        server, proxy, camera = self.delta(before, after)
        figures = {"seconds": round(after["t"] - before["t"], 1), "server": server, "proxy": proxy,
                   "camera": camera, "peak_rss_mib": self.sampler.peak_mib([name]), **extra}
        self.figures[name] = figures
        say(f"phase {name}: server {server}; proxy {proxy}; cameras {camera}; {extra}")
        return figures

    # --- the phases ---

    def steady(self, delay_ms=0, throttle_bps=0):
        """The fault (if any) for --phase_s; figures of that window: bytes
        forwarded to the server per second and connection, and the ACK
        (spooled) latency of the seconds camera-sim reported within it."""
        def body(name, before):
            self.proxy.set_faults(delay_ms=delay_ms, throttle_bps=throttle_bps)
            began, up_before = time.monotonic(), self.proxy.counts().get("bytes_up", 0)
            time.sleep(self.args.phase_s)
            ended, up_after = time.monotonic(), self.proxy.counts().get("bytes_up", 0)
            self.proxy.set_faults()
            connections = max(1, self.proxy.connections_open())
            seconds = self.fleet.ack_latency_per_second(began + 1, ended + 0.5)
            return {"up_bytes_per_s_per_connection": round((up_after - up_before) / (ended - began) / connections),
                    "ack_ms_per_second_p50": [round(p50) for p50, _ in seconds],
                    "ack_ms_worst_second_p99": round(max((p99 for _, p99 in seconds), default=0))}
        return body

    def expect_undisturbed(self, name, figures):
        if figures["server"]["acks_spooled"] <= 0:
            self.failures.append(f"phase {name}: no ACK (spooled) while it lasted")
        # Lower bounds only: that the fault was there at all.
        if name == "delay" and max(figures["ack_ms_per_second_p50"], default=0) < 2 * self.args.delay_ms * 0.9:
            self.failures.append(f"phase delay: the ACK latency never showed the {self.args.delay_ms} ms added each "
                                 f"way (per-second p50 {figures['ack_ms_per_second_p50']} ms)")
        if name == "throttle" and figures["up_bytes_per_s_per_connection"] > 1.25 * self.args.throttle_bps:
            self.failures.append(f"phase throttle: {figures['up_bytes_per_s_per_connection']} B/s forwarded per "
                                 f"connection, above the {self.args.throttle_bps} B/s throttle")
        if figures["camera"]["reconnects"] or figures["server"]["idle_timeouts"]:
            self.failures.append(f"phase {name}: connections lost: {figures['camera']['reconnects']} camera "
                                 f"reconnects, {figures['server']['idle_timeouts']} idle timeouts")

    def timed_out_by_server(self, kind, start_fault, still_open):
        def body(name, before):
            a = self.args
            affected = start_fault()
            bound = (a.idle_timeout_ms / 1000 + a.timeout_slack_s) * a.slack
            try:
                fault_run.wait_until(f"the server to close the {affected} {kind} connections",
                                     lambda: still_open() == 0, bound, 0.1)
            except AssertionError as e:
                self.failures.append(f"phase {name}: {e}; {still_open()} still open")
                self.proxy.allow_new()
            closed_after = self.proxy.closed_after(kind)
            resumed = self.all_streaming_again(name, before["m"]["ingest_sessions_welcomed_total"], affected)
            return {"affected_connections": affected,
                    "closed_by_server_after_s": {"min": round(min(closed_after), 2) if closed_after else None,
                                                 "max": round(max(closed_after), 2) if closed_after else None,
                                                 "count": len(closed_after)},
                    "all_streaming_again_after_s": resumed}
        return body

    def expect_timed_out(self, name, figures):
        affected = figures["affected_connections"]
        if affected < self.args.cameras:
            self.failures.append(f"phase {name}: only {affected} of {self.args.cameras} connections were open to "
                                 f"fault")
        if figures["closed_by_server_after_s"]["count"] < affected:
            self.failures.append(f"phase {name}: the server closed {figures['closed_by_server_after_s']['count']} "
                                 f"of {affected} connections")
        if figures["server"]["idle_timeouts"] < affected:
            self.failures.append(f"phase {name}: {figures['server']['idle_timeouts']} idle timeouts counted for "
                                 f"{affected} silent connections")
        if name == "half-open" and figures["server"]["superseded"]:
            self.failures.append(f"phase half-open: {figures['server']['superseded']} connections superseded "
                                 f"although no camera could reconnect before the timeout")

    def reset(self, name, before):
        affected = self.proxy.reset_all()
        resumed = self.all_streaming_again(name, before["m"]["ingest_sessions_welcomed_total"], affected)
        return {"affected_connections": affected, "all_streaming_again_after_s": resumed}


def main():
    args = parse_args()
    say(f"{args.cameras} cameras, {args.segment_bytes} B per {args.segment_ms} ms, through the TCP fault proxy; "
        f"idle timeout {args.idle_timeout_ms} ms")
    figures = {"cameras": args.cameras, "segment_bytes": args.segment_bytes, "segment_ms": args.segment_ms,
               "delay_ms": args.delay_ms, "throttle_bps": args.throttle_bps, "idle_timeout_ms": args.idle_timeout_ms}
    failures = []
    with fault_run.Workspace("network-faults-", args) as ws:
        try:
            server = ws.ingestd(protocol={"idle_timeout_ms": args.idle_timeout_ms,
                                          "keepalive_interval_ms": args.keepalive_ms,
                                          "hello_timeout_ms": 5000},
                                tls={"handshake_timeout_ms": 5000})
            server.start()
            server.wait_ready()
            proxy = tcp_fault_proxy.TcpFaultProxy(server.port)
            proxy.start()
            ws.closers.append(proxy.stop)
            say(f"work folder {ws.work}; ingestd on 127.0.0.1:{server.port}, the proxy on 127.0.0.1:{proxy.port}")
            fleet = ws.cameras(proxy.port)
            fault_run.wait_until(f"{args.cameras} cameras streaming",
                                 lambda: server.metrics().get("ingest_sessions_streaming", 0) >= args.cameras
                                 or not fleet.running(), 60 * args.slack, 0.2)
            if not fleet.running():
                raise AssertionError(f"camera-sim exited early ({fleet.proc.returncode})")

            phases = Phases(args, server, fleet, proxy, ws.sampler, failures)
            phases.run("baseline", phases.steady())
            phases.expect_undisturbed("delay", phases.run("delay", phases.steady(delay_ms=args.delay_ms)))
            phases.expect_undisturbed("throttle", phases.run("throttle", phases.steady(throttle_bps=args.throttle_bps)))
            phases.expect_timed_out("stall", phases.run("stall", phases.timed_out_by_server(
                "stalled", proxy.stall, proxy.stalled_open)))
            phases.expect_timed_out("half-open", phases.run("half-open", phases.timed_out_by_server(
                "half_open", proxy.half_open, proxy.half_open_open)))
            phases.run("reset", phases.reset)
            recovery = phases.run("recovery", phases.steady())
            if recovery["server"]["acks_spooled"] <= 0:
                failures.append("phase recovery: no ACK (spooled)")
            figures["phases"] = phases.figures

            say("stopping the cameras")
            report = fleet.stop()
            say("flushing and draining ingestd")
            ws.sampler.label = "flush"
            code = server.flush_and_stop()
            figures["final_exit_code"] = code
            if code != 0:
                failures.append(f"the final drain ended with exit code {code}")
            baseline, peak = ws.sampler.peak_mib(["baseline"]), ws.sampler.peak_mib()
            figures["rss_mib"] = {"baseline_peak": baseline, "peak": peak, "growth_bound": args.rss_growth_mib}
            if baseline is None or peak is None:
                failures.append("no RSS samples of ingestd")
            elif peak - baseline > args.rss_growth_mib:
                failures.append(f"ingestd's RSS grew {peak - baseline:.1f} MiB over the baseline's peak "
                                f"({baseline} MiB), more than {args.rss_growth_mib} MiB")
            figures["proxy_totals"] = proxy.counts()
            figures["server_error_lines"] = len(server.log_lines(r'"level":"error"'))
            say("reading the store back")
            problems, read_back = fault_run.check_exactly_once(args, ws.store_dir, report)
            failures.extend(problems)
            figures.update(read_back)
            figures["ack_spooled_worst_second_p99_ms"] = fleet.worst_second_p99_ms()
        except (AssertionError, RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
            failures.append(f"{type(e).__name__}: {e}" if not isinstance(e, AssertionError) else str(e))
        return fault_run.finish(figures, failures, ws)


if __name__ == "__main__":
    sys.exit(main())
