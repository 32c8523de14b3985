// Whether a run met its targets and, when it did not (or nearly did not),
// which resource ran out first: the server's CPU or memory, the spool disk,
// or the load generator itself, which shares this machine and must not be
// mistaken for a server limit.
//
//   RunVerdict v = JudgeRun(run, {.ack_p99_ms = 500, .spool_disk_mb_per_s = 310});
//   if (!v.ok) Print(v.binding_resource, v.why);
#ifndef BENCH_CAMERA_BENCH_RUN_VERDICT_H_
#define BENCH_CAMERA_BENCH_RUN_VERDICT_H_

#include <optional>
#include <string>

#include "bench/camera_bench/bench_run.h"

namespace ingest::bench {

struct RunTargets {
  std::optional<double> ack_p99_ms;            // ACK(spooled) p99 the run must stay under
  std::optional<double> spool_disk_mb_per_s;   // what the spool volume takes (camera-bench disk)
};

// Use of each resource, over the run after the cameras' keys were loaded:
// CPU as the higher of the mean over the second half (past any ramp) and the
// 90th percentile of its seconds (so a burst, a storm's, counts).
struct ResourceUse {
  std::optional<double> server_cpu_cores;
  double generator_cpu_cores = 0;
  int generator_threads = 1;  // rings: each one thread, so at most one core each
  double machine_cores = 1;
  double mb_per_s = 0;
  std::optional<double> server_rss_mib;
  double memory_available_fraction = 1;  // of the machine, at the end
  double bound_wait_share = 0;           // of ring time, connects waiting for the handshake bound
};

struct RunVerdict {
  bool ok = true;
  // "none", "server_cpu", "server_memory", "spool_disk", "load_generator",
  // "handshakes" (timed out with no resource saturated: more offered than
  // the server finishes before its deadline), "errors", or "latency" (over
  // target with every resource under half its limit). A failed run whose
  // resources are all short of full names the one nearest its limit, and
  // `why` says how near.
  std::string binding_resource = "none";
  std::string why;  // one sentence with the figures
  ResourceUse use;
};

ResourceUse MeasureUse(const BenchRun& run);
RunVerdict JudgeRun(const BenchRun& run, const RunTargets& targets);

}  // namespace ingest::bench

#endif  // BENCH_CAMERA_BENCH_RUN_VERDICT_H_
