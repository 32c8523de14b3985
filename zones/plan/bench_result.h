// A bench result: what one ingestd measured on a known machine, in a small
// JSON file the capacity planner reads (bench/results/*.json). Each file says
// which commands produced its figures and when, so a plan can be traced back
// to a measurement.
//
//   ASSIGN_OR_RETURN(BenchResult bench, LoadBenchResult("bench/results/ingest-2026-11-22.json"));
//   double cores_per_mb_s = bench.IngestCoresPerMBps();
//
// Schema (version 1). Units: MB = 10^6 bytes, KB = 10^3 bytes, MiB = 2^20.
// Required:
//   schema_version        1
//   date                  "YYYY-MM-DD", when the figures were measured
//   machine               free text: the machine, and what shared it
//   machine_cores         cores of that machine (> 0)
//   commands              non-empty array of the commands that produced the figures
//   cameras               cameras in the throughput run (integer >= 1)
//   bitrate_kbps          their bitrate (kbit/s)
//   segment_bytes         their segment size (integer)
//   throughput_mb_per_s   payload received by the server, MB/s
//   server_cpu_cores      server CPU during that run, in cores (<= machine_cores)
//   idle_kb_per_camera    resident memory per connected camera, KB (the worst measured)
// Optional:
//   rss_mib               server resident memory at the end of the throughput run (shown only)
//   closed_loop_mb_per_s, closed_loop_cpu_cores   a saturated run (both or neither)
//   upload_cpu_ms_per_put, upload_put_bytes       CPU to upload one batch object (both or neither)
//   max_cameras_per_server  a cap found by measurement, applied as is
//   spool_disk_mb_per_s   the spool volume's fdatasync'd sequential write
//                         throughput, MB/s (`camera-bench disk`); replaces the
//                         plan's assumed spool disk unless --spool_disk_mib_per_s is given
//   notes                 free text, or an array of free text
// Unknown members are errors, so a misspelt field is not silently ignored.
// A `camera-bench capacity` result file (tool "camera-bench") is read too:
// its plan_input member is a document of this schema.
#ifndef ZONES_PLAN_BENCH_RESULT_H_
#define ZONES_PLAN_BENCH_RESULT_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ingest::zones {

// Bench result files larger than this are refused: a real one is a few KB.
inline constexpr size_t kMaxBenchResultBytes = 1 << 20;

struct BenchResult {
  int schema_version = 1;
  std::string date;
  std::string machine;
  double machine_cores = 0;
  std::vector<std::string> commands;

  uint32_t cameras = 0;
  double bitrate_kbps = 0;
  uint64_t segment_bytes = 0;
  double throughput_mb_per_s = 0;
  double server_cpu_cores = 0;
  double idle_kb_per_camera = 0;

  std::optional<double> rss_mib;
  std::optional<double> closed_loop_mb_per_s;
  std::optional<double> closed_loop_cpu_cores;
  std::optional<double> upload_cpu_ms_per_put;
  std::optional<uint64_t> upload_put_bytes;
  std::optional<uint32_t> max_cameras_per_server;
  std::optional<double> spool_disk_mb_per_s;
  std::vector<std::string> notes;

  // Server cores per MB/s received: the worse (higher) of the throughput run
  // and the closed-loop run, so a plan never rests on the cheaper figure.
  double IngestCoresPerMBps() const;
  // Cores per MB/s uploaded to the object store; 0 when not measured.
  double UploadCoresPerMBps() const;
};

// Parses and validates a bench result document. Errors read
// "<source_name>: <field>: <problem>" (or "<source_name>: line L, column C:
// <problem>" for malformed JSON): a missing field, a wrong type, a negative,
// zero, non-integral or absurd value, a throughput above what the run's
// cameras could send, more server CPU than the machine has, half of a pair.
absl::StatusOr<BenchResult> ParseBenchResult(std::string_view json, std::string_view source_name);

// Reads `path` (at most kMaxBenchResultBytes) and parses it, naming the file.
absl::StatusOr<BenchResult> LoadBenchResult(const std::string& path);

}  // namespace ingest::zones

#endif  // ZONES_PLAN_BENCH_RESULT_H_
