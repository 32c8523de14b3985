// The process's file-descriptor limit (RLIMIT_NOFILE) as it bounds the
// io_uring rings: the kernel refuses a ring a direct-descriptor (registered
// file) table larger than the soft limit, so each shard holds at most that
// many camera sockets even though they occupy no process descriptors.
//
//   RaiseDescriptorSoftLimit();          // once at start: soft = hard
//   uint32_t per_ring = RingFileLimit(); // what one ring's table may hold
#ifndef COMMON_DESCRIPTOR_LIMIT_H_
#define COMMON_DESCRIPTOR_LIMIT_H_

#include <cstdint>

#include "absl/status/status.h"

namespace ingest {

// The kernel's own cap on one ring's registered-file table
// (IORING_MAX_FIXED_FILES).
inline constexpr uint32_t kKernelMaxRingFiles = 1u << 20;

// The largest table a ring may have once the soft limit is raised: the hard
// limit, capped at kKernelMaxRingFiles. A system call, not for a loop thread.
uint32_t RingFileLimit();

// Raises the soft limit to RingFileLimit(): the soft limit is what the
// kernel checks when a ring registers its table.
absl::Status RaiseDescriptorSoftLimit();

}  // namespace ingest

#endif  // COMMON_DESCRIPTOR_LIMIT_H_
