#include "server/http_ingest/ts_cutter.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace ingest {

TsCutter::TsCutter(const TsCutterOptions& options)
    : options_{options.min_bytes, std::max({options.max_bytes, options.min_bytes, uint64_t{kTsPacketBytes}})} {}

void TsCutter::Cut(uint64_t at, std::vector<uint64_t>& cuts) {
  if (at <= segment_start_) return;
  cuts.push_back(at);
  segment_start_ = at;
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
  } else if (pid == programs_.video_pid() && pid != 0 && TsStartsUnit(p) && TsRandomAccess(p) &&
             at - segment_start_ >= options_.min_bytes) {
    const bool tables_just_before =
        seen_pat_ && last_pat_ > segment_start_ && at - last_pat_ <= kCutLookbackPackets * kTsPacketBytes;
    Cut(tables_just_before ? last_pat_ : at, cuts);
  }
  if (at + kTsPacketBytes - segment_start_ > options_.max_bytes) Cut(at, cuts);
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
