#include "bench/camera_bench/capacity_search.h"

#include <algorithm>
#include <cstdio>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/camera_bench/result_json.h"
#include "common/json_string.h"

namespace ingest::bench {
namespace {

// Between steps: the previous step's cameras are gone and the server's
// sessions closed before the next step connects.
constexpr absl::Duration kSettle = absl::Seconds(3);

absl::StatusOr<CapacityStep> RunStep(const CapacityOptions& options, int cameras, CapacityResult& result) {
  BenchParams params = options.base;
  params.cameras = cameras;
  params.duration_s = options.step_s;
  params.idle = false;
  params.storm = false;
  absl::StatusOr<BenchPlan> plan = MakePlan("steady", params);
  if (!plan.ok()) return plan.status();
  std::fprintf(stderr, "camera-bench capacity: step %zu, %d cameras\n", result.steps.size() + 1, cameras);
  absl::StatusOr<BenchRun> run = RunBench(*plan, options.hooks);
  if (!run.ok()) return run.status();
  CapacityStep step;
  step.cameras = cameras;
  step.verdict = JudgeRun(*run, RunTargets{.ack_p99_ms = options.ack_p99_ms,
                                           .spool_disk_mb_per_s = options.spool_disk_mb_per_s});
  if (run->total.ack_spooled.count() > 0) {
    step.ack_spooled_p99_ms = absl::ToDoubleMilliseconds(run->total.ack_spooled.Quantile(0.99));
  }
  step.mb_per_s = static_cast<double>(run->total.bytes_acked) / 1e6 / run->ActiveSeconds();
  step.handshake_timeouts = run->server_handshake_timeouts;
  step.errors = run->total.protocol_errors + run->total.connect_failures;
  step.server_rss_mib = run->server_rss_peak_mib;
  std::fprintf(stderr, "camera-bench capacity: %d cameras: %s (%s: %s)\n", cameras,
               step.verdict.ok ? "held" : "not held", step.verdict.binding_resource.c_str(), step.verdict.why.c_str());
  if (step.verdict.ok && (!result.answer_run || cameras > result.answer_cameras)) {
    result.answer_cameras = cameras;
    result.answer_run = std::move(*run);
  }
  result.steps.push_back(step);
  absl::SleepFor(kSettle);
  return step;
}

std::string StepsJson(const CapacityResult& result) {
  std::string out = "[";
  for (size_t i = 0; i < result.steps.size(); ++i) {
    const CapacityStep& s = result.steps[i];
    absl::StrAppend(&out, i ? "," : "", "{\"cameras\":", s.cameras, ",\"ok\":", s.verdict.ok ? "true" : "false",
                    ",\"ack_spooled_p99_ms\":", JsonNumber(s.ack_spooled_p99_ms),
                    ",\"handshake_timeouts\":", JsonNumber(s.handshake_timeouts), ",\"errors\":", s.errors,
                    ",\"server_cpu_cores\":", JsonNumber(s.verdict.use.server_cpu_cores),
                    ",\"server_rss_mib\":", JsonNumber(s.server_rss_mib),
                    ",\"generator_cpu_cores\":", JsonNumber(s.verdict.use.generator_cpu_cores),
                    ",\"mb_per_s\":", JsonNumber(s.mb_per_s),
                    ",\"binding_resource\":", JsonString(s.verdict.binding_resource),
                    ",\"reason\":", JsonString(s.verdict.why), "}");
  }
  return out + "]";
}

// The bench result zonectl plan reads (zones/plan/bench_result.h, schema 1),
// from the run at the answer; empty when the server's side was not seen
// (its CPU and memory are what a plan needs).
std::string PlanInput(const CapacityResult& result, std::string_view command) {
  if (!result.answer_run) return "";
  const BenchRun& run = *result.answer_run;
  const double seconds = run.ActiveSeconds();
  const std::optional<double> kb = run.ServerKbPerCamera();
  if (!run.server_cpu_s || !kb) return "";
  const BenchParams& p = run.plan.params;
  const uint64_t segment_bytes = EffectiveSegmentBytes(p);
  // What the cameras sent, whichever of bitrate and segment size was given.
  const double bitrate_kbps = static_cast<double>(segment_bytes) * 8 / p.segment_ms;
  const double kb_per_camera = std::max(0.1, *kb);
  // zonectl reads commands of at most 1,000 bytes.
  const std::string command_text(command.substr(0, 900));
  std::string plan = absl::StrCat(
      "{\"schema_version\":1,\"date\":", JsonString(absl::FormatTime("%Y-%m-%d", run.started, absl::UTCTimeZone())),
      ",\"machine\":", JsonString(absl::StrCat(result.machine.hostname, ": ", result.machine.cores, " cores, kernel ",
                                               result.machine.kernel, ", ", result.machine.openssl,
                                               "; the load generator on the same machine")),
      ",\"machine_cores\":", result.machine.cores, ",\"commands\":[", JsonString(command_text), "]",
      ",\"cameras\":", run.plan.cameras, ",\"bitrate_kbps\":", JsonNumber(bitrate_kbps),
      ",\"segment_bytes\":", segment_bytes,
      ",\"throughput_mb_per_s\":", JsonNumber(static_cast<double>(run.total.bytes_acked) / 1e6 / seconds),
      ",\"server_cpu_cores\":", JsonNumber(std::min<double>(result.machine.cores, *run.server_cpu_s / seconds)),
      ",\"idle_kb_per_camera\":", JsonNumber(kb_per_camera));
  if (run.server_rss_peak_mib) absl::StrAppend(&plan, ",\"rss_mib\":", JsonNumber(run.server_rss_peak_mib));
  if (result.options.spool_disk_mb_per_s) {
    absl::StrAppend(&plan, ",\"spool_disk_mb_per_s\":", JsonNumber(*result.options.spool_disk_mb_per_s));
  }
  absl::StrAppend(&plan, ",\"notes\":[", JsonString(absl::StrCat(
      "camera-bench capacity: ", result.answer_cameras, " cameras held at ", JsonNumber(bitrate_kbps),
      " kbit/s with ACK(spooled) p99 under ", result.options.ack_p99_ms, " ms; the next step ran out of ",
      result.binding_resource, ". idle_kb_per_camera is the server's growth per streaming camera, an upper bound.")),
      "]}");
  return plan;
}

}  // namespace

absl::StatusOr<CapacityResult> SearchCapacity(const CapacityOptions& options) {
  if (options.start_cameras < 1 || options.max_cameras < options.start_cameras || options.max_cameras > 200'000) {
    return absl::InvalidArgumentError("need 1 <= --start_cameras <= --max_cameras <= 200000");
  }
  // One bitrate, offered as recorded: what the answer and plan_input mean.
  if (!options.base.bitrate_mix.empty() || options.base.saturate) {
    return absl::InvalidArgumentError("capacity is at one bitrate: --bitrate_mix and --saturate do not apply");
  }
  if (!(options.ack_p99_ms > 0) || !(options.step_s > 0)) {
    return absl::InvalidArgumentError("--ack_p99_ms and --step_s must be positive");
  }
  CapacityResult result;
  result.options = options;
  result.machine = DescribeMachine();
  result.started = absl::Now();
  int held = 0;
  int failed = 0;
  const CapacityStep* first_failure = nullptr;
  for (int cameras = options.start_cameras;; cameras = std::min(options.max_cameras, cameras * 2)) {
    absl::StatusOr<CapacityStep> step = RunStep(options, cameras, result);
    if (!step.ok()) return step.status();
    if (!step->verdict.ok) {
      failed = cameras;
      break;
    }
    held = cameras;
    if (cameras == options.max_cameras) break;
    if (options.hooks.stop != nullptr && options.hooks.stop->load()) break;
  }
  for (int i = 0; failed != 0 && i < options.refine_steps && failed - held > std::max(10, held / 10); ++i) {
    if (options.hooks.stop != nullptr && options.hooks.stop->load()) break;
    const int cameras = held + (failed - held) / 2;
    absl::StatusOr<CapacityStep> step = RunStep(options, cameras, result);
    if (!step.ok()) return step.status();
    if (step->verdict.ok) {
      held = cameras;
    } else {
      failed = cameras;
    }
  }
  // The resource named is the one that ran out at the smallest failing step.
  for (const CapacityStep& step : result.steps) {
    if (!step.verdict.ok && step.cameras == failed) first_failure = &step;
  }
  if (first_failure != nullptr) {
    result.binding_resource = first_failure->verdict.binding_resource;
    result.why = absl::StrCat("at ", failed, " cameras: ", first_failure->verdict.why);
  } else {
    result.binding_resource = "search_limit";
    result.why = absl::StrCat("every step held up to --max_cameras ", options.max_cameras);
  }
  return result;
}

std::string CapacityResultJson(const CapacityResult& result, std::string_view command) {
  const BenchParams& p = result.options.base;
  const std::string title = absl::StrCat("capacity at ", p.bitrate_kbps, " kbit/s: ", result.answer_cameras,
                                         " cameras (", result.binding_resource, ")");
  std::string out = absl::StrCat("{", CommonMembers("capacity", title, result.started, command, result.machine));
  absl::StrAppend(&out, ",\"capacity\":{\"bitrate_kbps\":", p.bitrate_kbps,
                  ",\"ack_p99_target_ms\":", JsonNumber(result.options.ack_p99_ms),
                  ",\"answer_cameras\":", result.answer_cameras,
                  ",\"binding_resource\":", JsonString(result.binding_resource), ",\"why\":", JsonString(result.why),
                  ",\"spool_disk_mb_per_s\":", JsonNumber(result.options.spool_disk_mb_per_s),
                  ",\"steps\":", StepsJson(result), "}");
  if (result.answer_run) {
    const RunVerdict verdict = JudgeRun(*result.answer_run, RunTargets{.ack_p99_ms = result.options.ack_p99_ms,
                                                                         .spool_disk_mb_per_s = result.options.spool_disk_mb_per_s});
    absl::StrAppend(&out, ",", RunMembers(*result.answer_run, verdict));
  } else {
    absl::StrAppend(&out, ",\"parameters\":{\"bitrate_kbps\":", p.bitrate_kbps, "}");
  }
  const std::string plan = PlanInput(result, command);
  if (!plan.empty()) absl::StrAppend(&out, ",\"plan_input\":", plan);
  return out + "}\n";
}

std::string CapacitySummaryText(const CapacityResult& result) {
  std::string out;
  for (const CapacityStep& s : result.steps) {
    absl::StrAppendFormat(&out, "%7d cameras: %-8s ACK p99 %8s ms  %7.2f MB/s  server %s cores  generator %.2f cores\n",
                          s.cameras, s.verdict.ok ? "held" : "not held", JsonNumber(s.ack_spooled_p99_ms), s.mb_per_s,
                          s.verdict.use.server_cpu_cores ? absl::StrFormat("%.2f", *s.verdict.use.server_cpu_cores)
                                                         : std::string("?"),
                          s.verdict.use.generator_cpu_cores);
  }
  absl::StrAppendFormat(&out, "capacity at %d kbit/s, ACK(spooled) p99 under %.0f ms: %d cameras\n",
                        result.options.base.bitrate_kbps, result.options.ack_p99_ms, result.answer_cameras);
  absl::StrAppend(&out, "binding resource: ", result.binding_resource, " — ", result.why, "\n");
  return out;
}

}  // namespace ingest::bench
