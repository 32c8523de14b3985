#include "server/http_ingest/ts_cutter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ingest {

TsCutter::TsCutter(const TsCutterOptions& options)
    : options_{.min_bytes = options.min_bytes,
               .max_bytes = std::max({options.max_bytes, options.min_bytes, uint64_t{kTsPacketBytes}}),
               .min_duration_us = options.min_duration_us,
               .max_duration_us = options.max_duration_us},
      open_min_bytes_(options_.min_bytes),
      open_max_bytes_(options_.max_bytes) {}

void TsCutter::Cut(uint64_t at, std::vector<uint64_t>& cuts) {
  if (at <= segment_start_) return;
  cuts.push_back(at);
  segment_start_ = at;
  segment_first_pts_.reset();
  open_min_bytes_ = options_.min_bytes;
  open_max_bytes_ = options_.max_bytes;
}

void TsCutter::LimitOpenSegment(uint64_t max_bytes) {
  const uint64_t held = open_segment_bytes();
  open_max_bytes_ = std::clamp(max_bytes, held + kTsPacketBytes, std::max(options_.max_bytes, held + kTsPacketBytes));
  open_min_bytes_ = std::min(options_.min_bytes, open_max_bytes_ / 2);
}

int64_t TsCutter::TicksIntoSegment(std::optional<uint64_t> pts) {
  if (!pts.has_value()) return 0;
  if (!segment_first_pts_.has_value()) {
    segment_first_pts_ = pts;
    return 0;
  }
  const int64_t ticks = TsPtsStep(*segment_first_pts_, *pts);
  // B-frames come a little before the frame that opened the segment; a
  // clock that jumps back further (an encoder restarted) starts the count again.
  if (ticks < -kTsPtsTicksPerSecond) segment_first_pts_ = pts;
  return std::max<int64_t>(ticks, 0);
}

void TsCutter::AtFrame(const uint8_t* p, uint64_t at, std::vector<uint64_t>& cuts) {
  const std::optional<uint64_t> pts = TsPesPts(TsPayload(p));
  const int64_t ticks = TicksIntoSegment(pts);
  const auto lasted = [&](uint32_t us) { return us != 0 && ticks * 1'000'000 >= int64_t{us} * kTsPtsTicksPerSecond; };
  const bool keyframe_due =
      TsRandomAccess(p) && (at - segment_start_ >= open_min_bytes_ || lasted(options_.min_duration_us));
  if (!keyframe_due && !lasted(options_.max_duration_us)) return;
  // Only tables between them: a PAT sent in the middle of the previous
  // frame (periodic ones are) stays with that frame's packets.
  const bool tables_just_before = seen_pat_ && last_pat_ > segment_start_ && last_pat_ > last_video_packet_ &&
                                  at - last_pat_ <= kCutLookbackPackets * kTsPacketBytes;
  Cut(tables_just_before ? last_pat_ : at, cuts);
  // This frame opens the new segment.
  segment_first_pts_ = pts;
}

absl::Status TsCutter::Inspect(const uint8_t* p, uint64_t at, std::vector<uint64_t>& cuts) {
  if (p[0] != kTsSyncByte) {
    return absl::InvalidArgumentError(
        absl::StrCat("not MPEG-TS, or packet sync lost at byte ", at, ": the stream must be whole 188-byte packets"));
  }
  programs_.Inspect(p);
  const uint16_t pid = TsPid(p);
  if (pid == kTsPatPid) {
    last_pat_ = at;
    seen_pat_ = true;
  } else if (pid == programs_.video_pid() && pid != 0) {
    if (TsStartsUnit(p)) AtFrame(p, at, cuts);
    last_video_packet_ = at;
  }
  if (at + kTsPacketBytes - segment_start_ > open_max_bytes_) Cut(at, cuts);
  return absl::OkStatus();
}

absl::Status TsCutter::Scan(std::string_view piece, std::vector<uint64_t>& cuts) {
  absl::Status status;
  packets_.Feed(piece, [&](const uint8_t* packet, uint64_t at) {
    status = Inspect(packet, at, cuts);
    return status.ok();
  });
  return status;
}

}  // namespace ingest
