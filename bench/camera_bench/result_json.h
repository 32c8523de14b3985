// The result document of a camera-bench run (RESULT_SCHEMA.md beside this
// file): what was asked, on which machine and server, the per-second series,
// the latency histograms, and the verdict.
#ifndef BENCH_CAMERA_BENCH_RESULT_JSON_H_
#define BENCH_CAMERA_BENCH_RESULT_JSON_H_

#include <optional>
#include <string>

#include "bench/camera_bench/bench_run.h"
#include "bench/camera_bench/run_verdict.h"

namespace ingest::bench {

// A JSON number, or null for a value that was not measured (or not finite).
std::string JsonNumber(std::optional<double> value);

// The members every kind of document starts with, without the braces:
// tool, schema_version, kind, title, started_at, command, machine.
std::string CommonMembers(std::string_view kind, std::string_view title, absl::Time started,
                          std::string_view command, const MachineInfo& machine);

// The members describing one run (scenario, parameters, server, summary,
// series, histograms, groups, verdict, notes), without the braces.
std::string RunMembers(const BenchRun& run, const RunVerdict& verdict);

// A whole "run" document.
std::string RunResultJson(const BenchRun& run, const RunVerdict& verdict, std::string_view command);

// One line per figure, for the terminal at the end of a run.
std::string RunSummaryText(const BenchRun& run, const RunVerdict& verdict);

}  // namespace ingest::bench

#endif  // BENCH_CAMERA_BENCH_RESULT_JSON_H_
