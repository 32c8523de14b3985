#include "server/http_ingest/ts_packets.h"

#include <algorithm>

namespace ingest {
namespace {

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

// The PSI section a packet that starts one carries (after its pointer
// field), cut to its section_length and to the packet; empty if malformed.
std::span<const uint8_t> Section(const uint8_t* p) {
  if (!TsStartsUnit(p)) return {};
  std::span<const uint8_t> payload = TsPayload(p);
  if (payload.empty() || 1 + size_t{payload[0]} + 3 > payload.size()) return {};
  payload = payload.subspan(1 + payload[0]);
  const size_t length = 3 + (((payload[1] & 0x0F) << 8) | payload[2]);
  return payload.first(std::min(length, payload.size()));
}

}  // namespace

std::span<const uint8_t> TsPayload(const uint8_t* p) {
  if ((p[3] & 0x10) == 0) return {};
  size_t start = 4;
  if (TsHasAdaptation(p)) start += 1 + p[4];
  if (start >= kTsPacketBytes) return {};
  return {p + start, kTsPacketBytes - start};
}

void TsProgramTracker::Inspect(const uint8_t* packet) {
  const uint16_t pid = TsPid(packet);
  if (pid == kTsPatPid) {
    ReadPat(Section(packet));
  } else if (pid == pmt_pid_) {
    ReadPmt(Section(packet));
  }
}

void TsProgramTracker::ReadPat(std::span<const uint8_t> s) {
  // table_id 0, 8 bytes of header, 4-byte entries, a 4-byte CRC at the end.
  if (s.size() < 12 || s[0] != 0x00) return;
  for (size_t at = 8; at + 4 <= s.size() - 4; at += 4) {
    const uint16_t program = static_cast<uint16_t>((s[at] << 8) | s[at + 1]);
    if (program == 0) continue;  // the network PID, not a program
    pmt_pid_ = static_cast<uint16_t>(((s[at + 2] & 0x1F) << 8) | s[at + 3]);
    return;  // the first program: one camera, one program
  }
}

void TsProgramTracker::ReadPmt(std::span<const uint8_t> s) {
  // table_id 2, 12 bytes of header, program descriptors, then the streams.
  if (s.size() < 16 || s[0] != 0x02) return;
  size_t at = 12 + (((s[10] & 0x0F) << 8) | s[11]);
  uint16_t first = 0;
  while (at + 5 <= s.size() - 4) {
    const uint8_t type = s[at];
    const uint16_t pid = static_cast<uint16_t>(((s[at + 1] & 0x1F) << 8) | s[at + 2]);
    if (IsVideoStreamType(type)) {
      video_pid_ = pid;
      return;
    }
    if (first == 0) first = pid;
    at += 5 + (((s[at + 3] & 0x0F) << 8) | s[at + 4]);
  }
  if (first != 0) video_pid_ = first;  // no video: that stream's units then
}

std::optional<uint64_t> TsPesPts(std::span<const uint8_t> payload) {
  // 00 00 01, stream id, length (2), flags (2), header length, then PTS.
  if (payload.size() < 14 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1) return std::nullopt;
  if ((payload[7] & 0x80) == 0 || payload[8] < 5) return std::nullopt;  // no PTS
  const uint8_t* p = payload.data() + 9;
  return (static_cast<uint64_t>(p[0] & 0x0E) << 29) | (uint64_t{p[1]} << 22) |
         (static_cast<uint64_t>(p[2] & 0xFE) << 14) | (uint64_t{p[3]} << 7) | (uint64_t{p[4]} >> 1);
}

int64_t TsPtsStep(uint64_t from, uint64_t to) {
  constexpr int64_t kModulus = int64_t{1} << 33;
  int64_t step = (static_cast<int64_t>(to) - static_cast<int64_t>(from)) % kModulus;
  if (step > kModulus / 2) step -= kModulus;
  if (step < -kModulus / 2) step += kModulus;
  return step;
}

}  // namespace ingest
