// The clock for timeouts, deadlines and intervals: CLOCK_MONOTONIC as an
// absl::Time. Its values mean nothing as dates (they count from boot); only
// differences between them do. absl::Now() is the wall clock, which an NTP
// step or an operator can move by hours: measured with it, a step forward
// looks like an hour of silence on every connection and a step back stops
// every periodic job for an hour. Wall time is for what is a date — capture
// windows, object names, log timestamps.
//
//   const absl::Time deadline = MonotonicNow() + absl::Seconds(10);
//   if (MonotonicNow() >= deadline) ...
#ifndef COMMON_MONOTONIC_CLOCK_H_
#define COMMON_MONOTONIC_CLOCK_H_

#include <time.h>

#include "absl/time/time.h"

namespace ingest {

inline absl::Time MonotonicNow() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return absl::TimeFromTimespec(ts);
}

}  // namespace ingest

#endif  // COMMON_MONOTONIC_CLOCK_H_
