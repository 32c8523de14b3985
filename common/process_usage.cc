#include "common/process_usage.h"

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>

namespace ingest {

ProcessUsage SelfUsage() {
  ProcessUsage usage;
  rusage r{};
  if (getrusage(RUSAGE_SELF, &r) == 0) {
    auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6; };
    usage.cpu_seconds = seconds(r.ru_utime) + seconds(r.ru_stime);
  }
  // statm: size resident shared ... in pages.
  if (FILE* statm = std::fopen("/proc/self/statm", "re")) {
    unsigned long long size = 0, resident = 0;
    if (std::fscanf(statm, "%llu %llu", &size, &resident) == 2) {
      usage.resident_bytes = resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
    }
    std::fclose(statm);
  }
  return usage;
}

}  // namespace ingest
