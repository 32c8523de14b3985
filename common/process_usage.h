// This process's CPU time and resident memory, as the standard Prometheus
// process metrics report them (process_cpu_seconds_total,
// process_resident_memory_bytes), so a load generator on another machine can
// follow a server's cost from /metrics alone.
#ifndef COMMON_PROCESS_USAGE_H_
#define COMMON_PROCESS_USAGE_H_

#include <cstdint>

namespace ingest {

struct ProcessUsage {
  double cpu_seconds = 0;  // user + system, every thread
  uint64_t resident_bytes = 0;
};

// A getrusage call and a read of /proc/self/statm: cheap, but not for a loop thread.
ProcessUsage SelfUsage();

}  // namespace ingest

#endif  // COMMON_PROCESS_USAGE_H_
