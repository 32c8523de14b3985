// How fast the spool volume takes durable writes, and how long one takes:
// sequential writes of one group commit's size, each followed by fdatasync,
// as the spool does them (O_DIRECT where the file system allows it, as the
// spool opens its files). The capacity search and `zonectl plan` use the
// throughput instead of assuming one; the commit latencies are the floor of
// ACK(spooled), which waits for one to two commits. With a competing writer
// (large O_DIRECT files, each fsync'd, as a `dir:` store on the same disk
// writes them) the probe shows what sharing the disk costs the commits.
// Blocking I/O: run it from a tool's main thread, never a ring's.
//
//   ASSIGN_OR_RETURN(DiskThroughput d, MeasureSpoolDisk("/var/lib/ingestd/spool", {}));
//   d.mb_per_s            // 10^6 bytes per second, fdatasync'd
//   d.commit_p99          // one write + fdatasync
#ifndef BENCH_CAMERA_BENCH_SPOOL_DISK_PROBE_H_
#define BENCH_CAMERA_BENCH_SPOOL_DISK_PROBE_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ingest::bench {

struct DiskProbeOptions {
  uint32_t write_bytes = 256 * 1024;      // one write (a multiple of 4 KiB for O_DIRECT)
  uint32_t writes_per_sync = 1;           // fdatasync after this many writes
  uint64_t max_bytes = uint64_t{512} << 20;  // stop after this much ...
  absl::Duration max_time = absl::Seconds(5);  // ... or this long
  // Also write this many MB/s in 16 MiB O_DIRECT files, each fsync'd, from
  // another thread; 0 for none.
  uint32_t competing_mb_per_s = 0;
};

struct DiskThroughput {
  double mb_per_s = 0;
  uint64_t bytes = 0;
  uint64_t writes = 0;
  uint32_t write_bytes = 0;
  uint32_t writes_per_sync = 0;
  bool direct = false;  // O_DIRECT (false: the file system refused it)
  absl::Duration elapsed;
  // Each commit's time, from its first write to its fdatasync returning.
  absl::Duration commit_p50;
  absl::Duration commit_p99;
  absl::Duration commit_max;
};

// Writes a temporary file in `dir` (removed afterwards).
absl::StatusOr<DiskThroughput> MeasureSpoolDisk(const std::string& dir, const DiskProbeOptions& options);

}  // namespace ingest::bench

#endif  // BENCH_CAMERA_BENCH_SPOOL_DISK_PROBE_H_
