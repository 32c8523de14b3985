// What TsCutter and TsTiming share of MPEG-TS (ISO/IEC 13818-1): the fields
// of a 188-byte packet they read, the program tables that say which PID
// carries the video, and whole packets out of pieces cut anywhere. Every read
// is bounded by the packet: a malformed table is ignored, never trusted.
#ifndef SERVER_HTTP_INGEST_TS_PACKETS_H_
#define SERVER_HTTP_INGEST_TS_PACKETS_H_

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>

namespace ingest {

inline constexpr size_t kTsPacketBytes = 188;
inline constexpr uint8_t kTsSyncByte = 0x47;
inline constexpr uint16_t kTsPatPid = 0;
inline constexpr uint16_t kTsNoPid = 0x1FFF;

inline uint16_t TsPid(const uint8_t* p) { return static_cast<uint16_t>(((p[1] & 0x1F) << 8) | p[2]); }
// payload_unit_start_indicator: a PES or a table section starts in this packet.
inline bool TsStartsUnit(const uint8_t* p) { return (p[1] & 0x40) != 0; }
inline bool TsHasAdaptation(const uint8_t* p) { return (p[3] & 0x20) != 0; }
// The adaptation field's random_access_indicator (a keyframe starts here).
inline bool TsRandomAccess(const uint8_t* p) { return TsHasAdaptation(p) && p[4] > 0 && (p[5] & 0x40) != 0; }

// The packet's payload; empty when it has none or a bad adaptation length.
std::span<const uint8_t> TsPayload(const uint8_t* p);

// The presentation timestamp (33 bits, 90 kHz) of the PES whose header
// starts `payload` (of a packet that starts a unit), if it carries one.
std::optional<uint64_t> TsPesPts(std::span<const uint8_t> payload);
inline constexpr int64_t kTsPtsTicksPerSecond = 90'000;
// `to` less `from` on the 33-bit PTS clock, taken the short way round its
// wrap (every 26.5 hours).
int64_t TsPtsStep(uint64_t from, uint64_t to);

// Follows the PAT and the first program's PMT to the PID of its video
// stream (or, with no video, its first stream).
class TsProgramTracker {
 public:
  void Inspect(const uint8_t* packet);
  uint16_t video_pid() const { return video_pid_; }  // 0 until a PMT names one

 private:
  void ReadPat(std::span<const uint8_t> section);
  void ReadPmt(std::span<const uint8_t> section);

  uint16_t pmt_pid_ = kTsNoPid;
  uint16_t video_pid_ = 0;
};

// Whole packets out of pieces cut anywhere: a packet split across pieces is
// gathered (one packet's copy); the others are handed over in place.
class TsPacketAssembler {
 public:
  // Calls on_packet(packet, stream_offset) for each packet completed by
  // `piece`, in order, until it returns false; returns false then.
  template <typename OnPacket>
  bool Feed(std::string_view piece, OnPacket&& on_packet) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(piece.data());
    size_t used = 0;
    if (carried_ > 0) {
      used = std::min(kTsPacketBytes - carried_, piece.size());
      std::memcpy(carry_.data() + carried_, bytes, used);
      carried_ += used;
      offset_ += used;
      if (carried_ < kTsPacketBytes) return true;
      carried_ = 0;
      if (!on_packet(static_cast<const uint8_t*>(carry_.data()), offset_ - kTsPacketBytes)) return false;
    }
    for (; piece.size() - used >= kTsPacketBytes; used += kTsPacketBytes) {
      offset_ += kTsPacketBytes;
      if (!on_packet(bytes + used, offset_ - kTsPacketBytes)) return false;
    }
    carried_ = piece.size() - used;
    std::memcpy(carry_.data(), bytes + used, carried_);
    offset_ += carried_;
    return true;
  }

  uint64_t bytes_fed() const { return offset_; }
  bool at_packet_boundary() const { return carried_ == 0; }

 private:
  uint64_t offset_ = 0;
  std::array<uint8_t, kTsPacketBytes> carry_{};
  size_t carried_ = 0;
};

}  // namespace ingest

#endif  // SERVER_HTTP_INGEST_TS_PACKETS_H_
