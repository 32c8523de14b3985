#include "common/descriptor_limit.h"

#include <sys/resource.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"

namespace ingest {

uint32_t RingFileLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return 1024;
  const rlim_t hard = limit.rlim_max == RLIM_INFINITY ? rlim_t{kKernelMaxRingFiles} : limit.rlim_max;
  return static_cast<uint32_t>(std::min<rlim_t>(hard, kKernelMaxRingFiles));
}

absl::Status RaiseDescriptorSoftLimit() {
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0) return absl::ErrnoToStatus(errno, "getrlimit(RLIMIT_NOFILE)");
  const rlim_t wanted = RingFileLimit();
  if (limit.rlim_cur != RLIM_INFINITY && limit.rlim_cur >= wanted) return absl::OkStatus();
  limit.rlim_cur = wanted;
  if (setrlimit(RLIMIT_NOFILE, &limit) != 0) {
    return absl::ErrnoToStatus(errno, absl::StrCat("setrlimit(RLIMIT_NOFILE) soft limit to ", wanted));
  }
  return absl::OkStatus();
}

}  // namespace ingest
