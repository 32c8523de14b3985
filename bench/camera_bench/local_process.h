// The server's process, when it runs on this machine: found by the port it
// listens on, and sampled from /proc (CPU time, resident memory), so a bench
// result says what the server spent, not only what the cameras saw.
//
//   std::optional<pid_t> pid = FindListeningProcess(7443);
//   absl::StatusOr<ProcessSample> s = SampleProcess(*pid);
#ifndef BENCH_CAMERA_BENCH_LOCAL_PROCESS_H_
#define BENCH_CAMERA_BENCH_LOCAL_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>

#include "absl/status/statusor.h"

namespace ingest::bench {

struct ProcessSample {
  double cpu_s = 0;  // user + system, all threads
  uint64_t rss_bytes = 0;
};

// The process holding a TCP socket listening on `port` (IPv4 or IPv6, any
// address), or nullopt when none is visible to us.
std::optional<pid_t> FindListeningProcess(uint16_t port);

absl::StatusOr<ProcessSample> SampleProcess(pid_t pid);

// This process (the load generator itself).
ProcessSample SampleSelf();

// Bytes of memory the machine has available (MemAvailable), 0 if unknown.
uint64_t MemoryAvailableBytes();

}  // namespace ingest::bench

#endif  // BENCH_CAMERA_BENCH_LOCAL_PROCESS_H_
