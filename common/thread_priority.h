// Lowers the calling thread's CPU priority (its nice value), for threads
// whose work has slack: the sealer and the uploads may fall behind by as much
// as the spool holds, while a shard's turn is a camera waiting for its ACK.
// When the cores are all busy the kernel then runs the shards first; when
// they are not, the lowered threads run as before.
//
//   LowerThisThreadPriority(kBackgroundNice).IgnoreError();  // logged by the caller if wanted
#ifndef COMMON_THREAD_PRIORITY_H_
#define COMMON_THREAD_PRIORITY_H_

#include "absl/status/status.h"

namespace ingest {

// Nice 5 is about a third of a nice-0 thread's share of a contended core:
// enough for the sealer to keep up with what the shards accept on this
// project's 2-core bench machine (bench/README.md), little enough that it
// no longer takes a shard's core while it catches up.
inline constexpr int kBackgroundNice = 5;

// Raises this thread's nice value by `delta` (Linux keeps one per thread);
// never lowers it, so no privilege is needed.
absl::Status LowerThisThreadPriority(int delta);

}  // namespace ingest

#endif  // COMMON_THREAD_PRIORITY_H_
