// The capacity search: the largest number of cameras at one bitrate that the
// server holds with ACK(spooled) p99 under a target, no handshake timeouts
// and no errors — doubling until a step fails, then halving the interval —
// and which resource ran out first at the step that failed (run_verdict.h:
// the load generator itself included, so its limit is never reported as the
// server's).
//
//   ASSIGN_OR_RETURN(CapacityResult r, SearchCapacity({.base = params, .ack_p99_ms = 500}));
//   r.answer_cameras, r.binding_resource
#ifndef BENCH_CAMERA_BENCH_CAPACITY_SEARCH_H_
#define BENCH_CAMERA_BENCH_CAPACITY_SEARCH_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "bench/camera_bench/bench_run.h"
#include "bench/camera_bench/run_verdict.h"
#include "bench/camera_bench/scenario.h"

namespace ingest::bench {

struct CapacityOptions {
  BenchParams base;  // targets, bitrate, segments, ...; cameras and duration are the search's
  double ack_p99_ms = 500;
  int start_cameras = 100;
  int max_cameras = 20'000;
  double step_s = 20;  // each camera records this long per step
  // Steps of bisection after the first failure (each halves the interval).
  int refine_steps = 3;
  RunHooks hooks;
  std::optional<double> spool_disk_mb_per_s;
};

struct CapacityStep {
  int cameras = 0;
  RunVerdict verdict;
  std::optional<double> ack_spooled_p99_ms;  // nullopt: no segment acknowledged
  double mb_per_s = 0;
  std::optional<double> handshake_timeouts;  // nullopt: no --admin to read them from
  uint64_t errors = 0;
  std::optional<double> server_rss_mib;
};

struct CapacityResult {
  CapacityOptions options;
  std::vector<CapacityStep> steps;
  int answer_cameras = 0;  // 0: not even the first step passed
  std::string binding_resource;
  std::string why;
  std::optional<BenchRun> answer_run;  // the passing step at the answer
  MachineInfo machine;
  absl::Time started;
};

absl::StatusOr<CapacityResult> SearchCapacity(const CapacityOptions& options);

// The "capacity" document: the steps, the answer, the answer's run, and the
// bench result `zonectl plan --bench` reads (plan_input).
std::string CapacityResultJson(const CapacityResult& result, std::string_view command);
std::string CapacitySummaryText(const CapacityResult& result);

}  // namespace ingest::bench

#endif  // BENCH_CAMERA_BENCH_CAPACITY_SEARCH_H_
