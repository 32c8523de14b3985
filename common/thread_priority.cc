#include "common/thread_priority.h"

#include <errno.h>
#include <sys/resource.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace ingest {

absl::Status LowerThisThreadPriority(int delta) {
  if (delta <= 0) return absl::InvalidArgumentError(absl::StrCat("nice delta ", delta, " would not lower it"));
  const id_t tid = static_cast<id_t>(gettid());
  errno = 0;
  const int current = getpriority(PRIO_PROCESS, tid);  // -1 is a valid nice value: errno tells
  if (current == -1 && errno != 0) return absl::ErrnoToStatus(errno, "getpriority");
  const int wanted = current + delta > 19 ? 19 : current + delta;
  if (setpriority(PRIO_PROCESS, tid, wanted) != 0) return absl::ErrnoToStatus(errno, "setpriority");
  return absl::OkStatus();
}

}  // namespace ingest
