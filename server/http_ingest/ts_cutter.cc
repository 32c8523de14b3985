#include "server/http_ingest/ts_cutter.h"

#include <algorithm>
#include <cstring>
#include <span>

#include "absl/strings/str_cat.h"

namespace ingest {
namespace {

constexpr uint8_t kSyncByte = 0x47;
constexpr uint16_t kPatPid = 0;
constexpr uint16_t kNoPid = 0x1FFF;

uint16_t PidOf(const uint8_t* p) { return static_cast<uint16_t>(((p[1] & 0x1F) << 8) | p[2]); }
bool StartsUnit(const uint8_t* p) { return (p[1] & 0x40) != 0; }
bool HasAdaptation(const uint8_t* p) { return (p[3] & 0x20) != 0; }
bool HasPayload(const uint8_t* p) { return (p[3] & 0x10) != 0; }

bool IsVideoStreamType(uint8_t type) {
  switch (type) {
    case 0x01:  // MPEG-1 video
    case 0x02:  // MPEG-2 video
    case 0x10:  // MPEG-4 part 2
    case 0x1B:  // H.264
    case 0x24:  // H.265
    case 0x33:  // H.266
      return true;
    default:
      return false;
  }
}

// The payload of a packet, or an empty span when it has none (or a bad
// adaptation field length).
std::span<const uint8_t> Payload(const uint8_t* p) {
  if (!HasPayload(p)) return {};
  size_t start = 4;
  if (HasAdaptation(p)) start += 1 + p[4];
  if (start >= kTsPacketBytes) return {};
  return {p + start, kTsPacketBytes - start};
}

// The PSI section a packet that starts one carries (after its pointer
// field), cut to its section_length and to the packet; empty if malformed.
std::span<const uint8_t> Section(const uint8_t* p) {
  if (!StartsUnit(p)) return {};
  std::span<const uint8_t> payload = Payload(p);
  if (payload.empty() || 1 + size_t{payload[0]} + 3 > payload.size()) return {};
  payload = payload.subspan(1 + payload[0]);
  const size_t length = 3 + (((payload[1] & 0x0F) << 8) | payload[2]);
  return payload.first(std::min(length, payload.size()));
}

}  // namespace

TsCutter::TsCutter(const TsCutterOptions& options)
    : options_{options.min_bytes, std::max({options.max_bytes, options.min_bytes, uint64_t{kTsPacketBytes}})},
      pmt_pid_(kNoPid) {}

void TsCutter::ReadPat(const uint8_t* section, size_t size) {
  // table_id 0, 8 bytes of header, 4-byte entries, a 4-byte CRC at the end.
  if (size < 12 || section[0] != 0x00) return;
  for (size_t at = 8; at + 4 <= size - 4; at += 4) {
    const uint16_t program = static_cast<uint16_t>((section[at] << 8) | section[at + 1]);
    if (program == 0) continue;  // the network PID, not a program
    pmt_pid_ = static_cast<uint16_t>(((section[at + 2] & 0x1F) << 8) | section[at + 3]);
    return;  // the first program: one camera, one program
  }
}

void TsCutter::ReadPmt(const uint8_t* section, size_t size) {
  // table_id 2, 12 bytes of header, program descriptors, then the streams.
  if (size < 16 || section[0] != 0x02) return;
  size_t at = 12 + (((section[10] & 0x0F) << 8) | section[11]);
  uint16_t first = 0;
  while (at + 5 <= size - 4) {
    const uint8_t type = section[at];
    const uint16_t pid = static_cast<uint16_t>(((section[at + 1] & 0x1F) << 8) | section[at + 2]);
    if (IsVideoStreamType(type)) {
      video_pid_ = pid;
      return;
    }
    if (first == 0) first = pid;
    at += 5 + (((section[at + 3] & 0x0F) << 8) | section[at + 4]);
  }
  if (first != 0) video_pid_ = first;  // no video: cut where that stream's units start
}

void TsCutter::Cut(uint64_t at, std::vector<uint64_t>& cuts) {
  if (at <= segment_start_) return;
  cuts.push_back(at);
  segment_start_ = at;
}

absl::Status TsCutter::Inspect(const uint8_t* p, uint64_t at, std::vector<uint64_t>& cuts) {
  if (p[0] != kSyncByte) {
    return absl::InvalidArgumentError(absl::StrCat("not MPEG-TS, or packet sync lost at byte ", at,
                                                   ": the stream must be whole 188-byte packets"));
  }
  const uint16_t pid = PidOf(p);
  if (pid == kPatPid) {
    if (const std::span<const uint8_t> s = Section(p); !s.empty()) ReadPat(s.data(), s.size());
    last_pat_ = at;
    seen_pat_ = true;
  } else if (pid == pmt_pid_) {
    if (const std::span<const uint8_t> s = Section(p); !s.empty()) ReadPmt(s.data(), s.size());
  } else if (pid == video_pid_ && video_pid_ != 0 && StartsUnit(p) && at - segment_start_ >= options_.min_bytes) {
    const bool random_access = HasAdaptation(p) && p[4] > 0 && (p[5] & 0x40) != 0;
    if (random_access) {
      const bool tables_just_before = seen_pat_ && last_pat_ > segment_start_ &&
                                      at - last_pat_ <= kCutLookbackPackets * kTsPacketBytes;
      Cut(tables_just_before ? last_pat_ : at, cuts);
    }
  }
  if (at + kTsPacketBytes - segment_start_ > options_.max_bytes) Cut(at, cuts);
  return absl::OkStatus();
}

absl::Status TsCutter::Scan(std::string_view piece, std::vector<uint64_t>& cuts) {
  const auto* bytes = reinterpret_cast<const uint8_t*>(piece.data());
  size_t used = 0;
  if (carried_ > 0) {
    const size_t take = std::min(kTsPacketBytes - carried_, piece.size());
    std::memcpy(carry_.data() + carried_, bytes, take);
    carried_ += take;
    used = take;
    if (carried_ < kTsPacketBytes) {
      offset_ += take;
      return absl::OkStatus();
    }
    if (absl::Status s = Inspect(carry_.data(), offset_ + take - kTsPacketBytes, cuts); !s.ok()) return s;
    carried_ = 0;
  }
  uint64_t at = offset_ + used;
  while (piece.size() - used >= kTsPacketBytes) {
    if (absl::Status s = Inspect(bytes + used, at, cuts); !s.ok()) return s;
    used += kTsPacketBytes;
    at += kTsPacketBytes;
  }
  carried_ = piece.size() - used;
  std::memcpy(carry_.data(), bytes + used, carried_);
  offset_ += piece.size();
  return absl::OkStatus();
}

}  // namespace ingest
