#include "server/http_ingest/ts_timing.h"

#include <algorithm>
#include <limits>

namespace ingest {
namespace {

constexpr int64_t kPtsModulus = int64_t{1} << 33;  // the 33-bit 90 kHz clock wraps every 26.5 h
constexpr int64_t kTicksPerSecond = 90'000;

// The PTS of a PES whose header starts `payload`, if it carries one.
std::optional<uint64_t> PesPts(std::span<const uint8_t> payload) {
  // 00 00 01, stream id, length (2), flags (2), header length, then PTS.
  if (payload.size() < 14 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1) return std::nullopt;
  if ((payload[7] & 0x80) == 0 || payload[8] < 5) return std::nullopt;  // no PTS
  const uint8_t* p = payload.data() + 9;
  return (static_cast<uint64_t>(p[0] & 0x0E) << 29) | (uint64_t{p[1]} << 22) |
         (static_cast<uint64_t>(p[2] & 0xFE) << 14) | (uint64_t{p[3]} << 7) | (uint64_t{p[4]} >> 1);
}

}  // namespace

void TsTiming::NotePts(uint64_t pts) {
  int64_t unwrapped = static_cast<int64_t>(pts);
  if (frames_ > 0) {
    // The step from the previous frame, taken the short way round the wrap.
    int64_t step = (static_cast<int64_t>(pts) - static_cast<int64_t>(last_raw_pts_)) % kPtsModulus;
    if (step > kPtsModulus / 2) step -= kPtsModulus;
    if (step < -kPtsModulus / 2) step += kPtsModulus;
    unwrapped = last_pts_ + step;
  }
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
  if (const std::optional<uint64_t> pts = PesPts(TsPayload(packet))) NotePts(*pts);
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
  const double us = ticks * 1e6 / kTicksPerSecond;
  if (us <= 0 || us > std::numeric_limits<uint32_t>::max()) return std::nullopt;
  return static_cast<uint32_t>(us + 0.5);
}

}  // namespace ingest
