#!/usr/bin/env python3
"""kill -9 under load: ingestd killed at random moments while its cameras
stream, started again each time on the same spool and state, loses no
acknowledged segment and stores none twice.

One ingestd (a `dir:` store: what is tested is the spool and its recovery,
the batch journal and the uploads it redoes), camera-sim's cameras streaming
to it. After --warmup_s, --kills times: wait a random delay in
[--min_gap_s, --max_gap_s], SIGKILL ingestd, wait a random [0,
--max_down_s], start it again on the same configuration and wait until it is
ready. The delays come from --seed (printed; pass it again to repeat a
run's timing, not the machine's). The cameras lose their connections at
every kill, reconnect (camera-sim retries every 0.5-1 s) and re-send what
was not acknowledged. After the last restart the cameras stream --after_s
more, then stop; the server must flush everything (nothing pending, in
flight or unindexed) and drain with exit 0. Then the check every fault test
ends with (fault_run.check_exactly_once): every segment camera-sim recorded
was acknowledged, no protocol error, and the store holds each camera's seqs
1..N once, byte-exact (per-camera SHA-256 through `ingestctl export`),
`ingestctl verify` clean, as many segment copies in batch objects as
segments acknowledged.

Also asserted: every restart is ready within --ready_bound_s, and the cameras
are streaming again (new ACKs) within --resume_bound_s of it.

Figures on stdout as one JSON line: kills, segments acknowledged / stored /
re-sent, spool records recovered per restart, restart-to-ready times,
longest camera gap (lost connection -> next WELCOME), worst ACK (spooled)
latency, ingestd's peak RSS. Progress on stderr. Exit 0 passed, 1 failed.

    tests/faults/kill9_under_load.py --build_dir build                 # CI: 3 kills, ~30 s
    scripts/kill9_soak.sh build 25                                     # the long version
"""

import json
import os
import random
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fault_run  # noqa: E402
from fault_run import say  # noqa: E402


def parse_args():
    p = fault_run.new_parser(__doc__)
    fault_run.add_common_args(p, cameras=100, segment_ms=500, segment_bytes=16384)
    p.add_argument("--kills", type=int, default=3)
    p.add_argument("--warmup_s", type=float, default=3, help="streaming before the first kill")
    p.add_argument("--min_gap_s", type=float, default=1.5, help="least time from a restart to the next kill")
    p.add_argument("--max_gap_s", type=float, default=5)
    p.add_argument("--max_down_s", type=float, default=0.5, help="longest time ingestd stays dead")
    p.add_argument("--after_s", type=float, default=3, help="streaming after the last restart")
    p.add_argument("--ready_bound_s", type=float, default=30, help="restart to /readyz 200")
    p.add_argument("--resume_bound_s", type=float, default=30, help="restart to new ACKs at camera-sim")
    return fault_run.parse_args(p)


def json_events(server, event):
    """ingestd's log lines of one event, parsed, in order."""
    found = []
    for line in server.log_lines(f'"{event}"'):
        try:
            found.append(json.loads(line[line.index("{"):]))
        except ValueError:
            pass
    return found


def wait_acks_after(fleet, acked_before, bound_s):
    """Until camera-sim's live line shows more ACKs than acked_before;
    returns how long that took (camera-sim prints once a second)."""
    began = time.monotonic()
    fault_run.wait_until("the cameras to get ACKs again",
                         lambda: not fleet.running() or (fleet.progress() or {}).get("acked", 0) > acked_before,
                         bound_s, 0.1)
    if not fleet.running():
        raise AssertionError(f"camera-sim exited ({fleet.proc.returncode}); see camera-sim.log")
    return time.monotonic() - began


def kill_loop(args, server, fleet, rng, figures, failures):
    kills = []
    for i in range(args.kills):
        gap = rng.uniform(args.min_gap_s, args.max_gap_s)
        down = rng.uniform(0, args.max_down_s)
        time.sleep(gap)
        if not server.running():
            raise AssertionError(f"ingestd exited on its own ({server.proc.returncode}) before kill {i + 1}")
        before = server.metrics()
        fleet_before = fleet.progress() or {}
        uptime = time.monotonic() - server.started_at
        server.kill9()
        killed_at = time.monotonic()
        server.ws.sampler.label = f"down-{i + 1}"
        time.sleep(down)
        server.start()
        try:
            server.wait_ready(args.ready_bound_s)
        except AssertionError as e:
            failures.append(f"restart {i + 1}: {e}")
            raise
        ready_s = time.monotonic() - server.started_at
        server.ws.sampler.label = f"up-{i + 1}"
        acked_at_restart = (fleet.progress() or {}).get("acked", 0)
        resumed_s = wait_acks_after(fleet, acked_at_restart, args.resume_bound_s * args.slack)
        kill = {"after_s": round(gap, 2), "uptime_s": round(uptime, 2), "down_s": round(down, 2),
                "accepted_before": round(before.get("ingest_segments_accepted_total", 0)),
                "persisted_before": round(before.get("ingest_segments_persisted_total", 0)),
                "camera_acked_before": round(fleet_before.get("acked", 0)),
                "ready_s": round(ready_s, 2), "acks_again_within_s": round(resumed_s + ready_s + down, 1)}
        kills.append(kill)
        say(f"kill {i + 1}/{args.kills}: after {gap:.1f} s (uptime {uptime:.1f} s), down {down:.2f} s, ready "
            f"{ready_s:.2f} s later, ACKs again {time.monotonic() - killed_at:.1f} s after the kill")
    figures["kill_log"] = kills


def main():
    args = parse_args()
    rng = random.Random(args.seed)
    say(f"seed {args.seed}; {args.kills} kills, {args.cameras} cameras, {args.segment_bytes} B per "
        f"{args.segment_ms} ms")
    figures = {"seed": args.seed, "kills": 0, "cameras": args.cameras, "segment_bytes": args.segment_bytes,
               "segment_ms": args.segment_ms}
    failures = []
    with fault_run.Workspace("kill9-under-load-", args) as ws:
        try:
            server = ws.ingestd(spool={"commit_interval_ms": 2})
            say(f"work folder {ws.work}; ingestd on 127.0.0.1:{server.port}")
            server.start()
            server.wait_ready()
            fleet = ws.cameras(server.port)
            fault_run.wait_until(f"{args.cameras} cameras streaming",
                                 lambda: server.metrics().get("ingest_sessions_streaming", 0) >= args.cameras
                                 or not fleet.running(), 60 * args.slack, 0.2)
            if not fleet.running():
                raise AssertionError(f"camera-sim exited early ({fleet.proc.returncode})")
            ws.sampler.label = "warmup"
            time.sleep(args.warmup_s)
            try:
                kill_loop(args, server, fleet, rng, figures, failures)
            finally:
                figures["kills"] = len(server.exits)
            time.sleep(args.after_s)

            say("stopping the cameras")
            report = fleet.stop()
            say("flushing and draining ingestd")
            ws.sampler.label = "flush"
            code = server.flush_and_stop()
            figures["final_exit_code"] = code
            if code != 0:
                failures.append(f"the final drain ended with exit code {code}")
            if not all(code == -9 for code in server.exits[:-1]):
                failures.append(f"ingestd exited on its own between kills: exit codes {server.exits}")
            recovered = json_events(server, "spool_recovered")
            journal = json_events(server, "batch_journal_recovered")
            figures["server_starts"] = server.starts
            figures["spool_records_recovered"] = [e.get("records") for e in recovered[1:]]
            figures["spool_truncated_bytes"] = [e.get("truncated_bytes") for e in recovered[1:]]
            figures["journal_uncommitted_batches"] = [e.get("uncommitted_batches") for e in journal[1:]]
            figures["server_error_lines"] = len(server.log_lines(r'"level":"error"'))
            say("reading the store back")
            problems, read_back = fault_run.check_exactly_once(args, ws.store_dir, report)
            failures.extend(problems)
            figures.update(read_back)
            figures["ack_spooled_worst_second_p99_ms"] = fleet.worst_second_p99_ms()
            figures["peak_rss_mib"] = ws.sampler.peak_mib()
        except (AssertionError, RuntimeError, OSError, ValueError, subprocess.SubprocessError) as e:
            failures.append(f"{type(e).__name__}: {e}" if not isinstance(e, AssertionError) else str(e))
        return fault_run.finish(figures, failures, ws)


if __name__ == "__main__":
    sys.exit(main())
