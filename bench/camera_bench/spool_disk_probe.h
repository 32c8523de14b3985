// How fast the spool volume takes durable writes: sequential writes of one
// group commit's size, each followed by fdatasync, as the spool does them.
// The capacity search and `zonectl plan` use the figure instead of assuming
// one. Blocking I/O: run it from a tool's main thread, never a ring's.
//
//   ASSIGN_OR_RETURN(DiskThroughput d, MeasureSpoolDisk("/var/lib/ingestd/spool", {}));
//   d.mb_per_s  // 10^6 bytes per second, fdatasync'd
#ifndef BENCH_CAMERA_BENCH_SPOOL_DISK_PROBE_H_
#define BENCH_CAMERA_BENCH_SPOOL_DISK_PROBE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ingest::bench {

struct DiskProbeOptions {
  uint32_t write_bytes = 256 * 1024;      // one write
  uint32_t writes_per_sync = 1;           // fdatasync after this many writes
  uint64_t max_bytes = uint64_t{512} << 20;  // stop after this much ...
  absl::Duration max_time = absl::Seconds(5);  // ... or this long
};

struct DiskThroughput {
  double mb_per_s = 0;
  uint64_t bytes = 0;
  uint64_t writes = 0;
  uint32_t write_bytes = 0;
  uint32_t writes_per_sync = 0;
  absl::Duration elapsed;
};

// Writes a temporary file in `dir` (removed afterwards).
absl::StatusOr<DiskThroughput> MeasureSpoolDisk(const std::string& dir, const DiskProbeOptions& options);

}  // namespace ingest::bench

#endif  // BENCH_CAMERA_BENCH_SPOOL_DISK_PROBE_H_
