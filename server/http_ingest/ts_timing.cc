#include "server/http_ingest/ts_timing.h"

#include <algorithm>
#include <limits>

namespace ingest {

void TsTiming::NotePts(uint64_t pts) {
  const int64_t unwrapped = frames_ == 0 ? static_cast<int64_t>(pts) : last_pts_ + TsPtsStep(last_raw_pts_, pts);
  min_pts_ = frames_ == 0 ? unwrapped : std::min(min_pts_, unwrapped);
  max_pts_ = frames_ == 0 ? unwrapped : std::max(max_pts_, unwrapped);
  last_pts_ = unwrapped;
  last_raw_pts_ = pts;
  ++frames_;
}

void TsTiming::Inspect(const uint8_t* packet) {
  if (packet[0] != kTsSyncByte) return;
  programs_.Inspect(packet);
  const uint16_t pid = TsPid(packet);
  if (pid == 0 || pid != programs_.video_pid() || !TsStartsUnit(packet)) return;
  if (const std::optional<uint64_t> pts = TsPesPts(TsPayload(packet))) NotePts(*pts);
}

void TsTiming::Scan(std::string_view piece) {
  packets_.Feed(piece, [&](const uint8_t* packet, uint64_t) {
    Inspect(packet);
    return true;
  });
}

std::optional<uint32_t> TsTiming::duration_us() const {
  if (frames_ < 2) return std::nullopt;
  // n frames at a constant rate span (n - 1) intervals: one more for the last frame's own.
  const double span_ticks = static_cast<double>(max_pts_ - min_pts_);
  const double ticks = span_ticks * static_cast<double>(frames_) / static_cast<double>(frames_ - 1);
  const double us = ticks * 1e6 / kTsPtsTicksPerSecond;
  if (us <= 0 || us > std::numeric_limits<uint32_t>::max()) return std::nullopt;
  return static_cast<uint32_t>(us + 0.5);
}

}  // namespace ingest
