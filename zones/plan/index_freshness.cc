#include "zones/plan/index_freshness.h"

#include <algorithm>

namespace ingest::zones {
namespace {

// Milliseconds, so the hour rule's edge cases compare exactly.
constexpr int64_t kHourMs = 3'600'000;
constexpr int64_t kGraceMs = static_cast<int64_t>(kIndexHourGraceS * 1000);
constexpr int64_t kLagMs = static_cast<int64_t>(kAssumedPersistLagS * 1000);
static_assert(kLagMs < kGraceMs, "a segment must be persisted before its hour's grace ends");

}  // namespace

IndexFreshness ModelIndexWrites(uint32_t interval_s) {
  IndexFreshness f;
  f.interval_s = interval_s;
  if (interval_s == 0) return f;
  const int64_t interval = int64_t{interval_s} * 1000;

  // A window opened by a segment captured in hour h is cut by the hour rule
  // only if it is still open kGraceMs after h ends. Windows no longer than
  // grace minus lag never are: every window is the full interval, in
  // whatever phase the camera started.
  if (interval <= kGraceMs - kLagMs) {
    f.writes_per_camera_hour = 3600.0 / interval_s;
    f.worst_delay_s = interval_s;
    f.typical_delay_s = interval_s / 2.0;
  } else {
    // Longer windows: start just after the hour rule fired (writes then
    // fall at grace + k x interval past the hour) and follow the windows
    // until it fires again; from there everything repeats. It fires again
    // within 3,600 / gcd(interval, 3,600) windows, when a window would reach
    // past the grace after its first segment's hour (for whole seconds, at
    // most 3,600 windows).
    const int64_t start = kHourMs + kGraceMs;
    int64_t open = start;  // the window's first segment is persisted now
    uint64_t writes = 0;
    int64_t longest = 0;
    double wait_ms_sum = 0;  // a window of w ms holds w ms of segments, waiting w / 2 on average
    for (uint64_t guard = 0; guard < 1'000'000; ++guard) {
      const int64_t first_hour = (open - kLagMs) / kHourMs;  // capture hour of the window's first segment
      const int64_t hour_rule = (first_hour + 1) * kHourMs + kGraceMs;
      const int64_t written = std::min(open + interval, hour_rule);
      ++writes;
      longest = std::max(longest, written - open);
      wait_ms_sum += static_cast<double>(written - open) * static_cast<double>(written - open) / 2;
      open = written;
      if (written == hour_rule) break;
    }
    const double hours = static_cast<double>(open - start) / kHourMs;
    f.writes_per_camera_hour = static_cast<double>(writes) / hours;
    f.worst_delay_s = static_cast<double>(longest) / 1000;
    f.typical_delay_s = wait_ms_sum / static_cast<double>(open - start) / 1000;
  }
  // Windows follow one another without a gap, so each hour's end (in
  // capture time) falls inside one of them, and no window spans more than
  // two hours: that write puts two objects, every other write one.
  f.puts_per_camera_hour = f.writes_per_camera_hour + 1;
  return f;
}

}  // namespace ingest::zones
