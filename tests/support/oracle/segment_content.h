// Test support for the model-based oracle test: what every segment a test
// camera may send looks like, derived from (camera, seq, variant) alone, so
// the oracle can recompute any of them after the run and recognise any
// stored payload without keeping copies.
//
// A payload starts with a 32-byte self-describing header (magic "ORC1",
// camera number, seq, variant, length, check word) followed by bytes from a
// generator seeded with those fields. An exported recording (payloads
// concatenated in seq order, nothing between them) can therefore be split
// back into segments and each one checked byte for byte. About one segment
// in 64 has an empty payload (allowed; it leaves nothing in an export), and
// some last 0 s or the longest allowed 600 s.
//
//   SegmentContent content{.base_us = run_start_us};
//   std::string frame = content.Frame(/*camera=*/3, /*seq=*/17, Variant::kCanonical);
//   absl::StatusOr<std::vector<ParsedPayload>> parts = ParsePayloads(exported);
#ifndef TESTS_SUPPORT_ORACLE_SEGMENT_CONTENT_H_
#define TESTS_SUPPORT_ORACLE_SEGMENT_CONTENT_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "proto/frame.h"
#include "proto/frame_encoder.h"

namespace ingest::testing::oracle {

// Which version of segment (camera, seq) a frame carries. Only kCanonical may
// ever be stored: every other variant is sent in a frame the protocol
// refuses, so finding one in the store is a violation by itself.
enum class Variant : uint32_t {
  kCanonical = 0,
  // Re-sends of a stored seq with other contents (SEGMENT_MISMATCH):
  kOtherBytesSameSize = 1,
  kOtherSize = 2,
  kOtherCaptureTime = 3,  // canonical payload, capture_start_us + 1 ms
  kOtherDuration = 4,     // canonical payload, duration_us + 1
  kOtherKeyframe = 5,     // canonical payload, KEYFRAME flag flipped
  // A seq that jumps without SKIP (BAD_SEQUENCE).
  kJumpWithoutSkip = 7,
  // A field outside its range (INVALID_FIELD).
  kInvalidField = 8,
  // Larger than the server's max_segment_bytes (FRAME_TOO_LARGE).
  kOversize = 9,
};

inline constexpr uint32_t kPayloadHeaderBytes = 32;
inline constexpr uint32_t kMinPayloadBytes = 64;
// Canonical payloads are kMinPayloadBytes .. kMinPayloadBytes + kPayloadSpread - 1.
inline constexpr uint32_t kPayloadSpread = 12 * 1024;
inline constexpr uint32_t kSegmentDurationUs = 250'000;

// splitmix64: a well-mixed 64-bit function, also the payload generator.
inline uint64_t Mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

inline uint64_t MixAll(int camera, uint64_t seq, uint32_t variant) {
  return Mix(Mix(Mix(static_cast<uint64_t>(camera)) ^ seq) ^ variant);
}

// The variant whose bytes a frame of `variant` carries: the metadata
// variants repeat the canonical payload.
inline uint32_t PayloadVariant(Variant variant) {
  switch (variant) {
    case Variant::kOtherCaptureTime:
    case Variant::kOtherDuration:
    case Variant::kOtherKeyframe:
      return static_cast<uint32_t>(Variant::kCanonical);
    default:
      return static_cast<uint32_t>(variant);
  }
}

inline uint32_t PayloadBytes(int camera, uint64_t seq, uint32_t payload_variant) {
  const uint64_t mix = MixAll(camera, seq, 0);
  const uint32_t canonical = mix % 64 == 7 ? 0 : kMinPayloadBytes + static_cast<uint32_t>(mix % kPayloadSpread);
  if (payload_variant == static_cast<uint32_t>(Variant::kOtherSize)) {
    return canonical + kPayloadHeaderBytes + 1 + static_cast<uint32_t>(MixAll(camera, seq, payload_variant) % 997);
  }
  // Other bytes at the same size need at least one byte.
  if (payload_variant == static_cast<uint32_t>(Variant::kOtherBytesSameSize) && canonical == 0) {
    return kPayloadHeaderBytes;
  }
  return canonical;
}

inline void PutLe(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xFF));
}

inline uint64_t GetLe(const uint8_t* p, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= static_cast<uint64_t>(p[i]) << (8 * i);
  return value;
}

inline uint32_t HeaderCheck(int camera, uint64_t seq, uint32_t variant, uint32_t length) {
  return static_cast<uint32_t>(Mix(MixAll(camera, seq, variant) ^ length));
}

// The payload of segment (camera, seq) in `payload_variant`, `length` bytes
// (at least kPayloadHeaderBytes).
inline std::string PayloadOfLength(int camera, uint64_t seq, uint32_t payload_variant, uint32_t length) {
  if (length < kPayloadHeaderBytes) return std::string(length, '\0');
  std::string out;
  out.reserve(length);
  out.append("ORC1");
  PutLe(out, static_cast<uint32_t>(camera), 4);
  PutLe(out, seq, 8);
  PutLe(out, payload_variant, 4);
  PutLe(out, length, 4);
  PutLe(out, HeaderCheck(camera, seq, payload_variant, length), 4);
  PutLe(out, 0, 4);
  uint64_t state = MixAll(camera, seq, payload_variant);
  while (out.size() < length) {
    state = Mix(state);
    for (int i = 0; i < 8 && out.size() < length; ++i) {
      out.push_back(static_cast<char>((state >> (8 * i)) & 0xFF));
    }
  }
  return out;
}

inline std::string Payload(int camera, uint64_t seq, Variant variant) {
  const uint32_t v = PayloadVariant(variant);
  return PayloadOfLength(camera, seq, v, PayloadBytes(camera, seq, v));
}

// One payload found in a byte stream (an export) or a batch object.
struct ParsedPayload {
  int camera = 0;
  uint64_t seq = 0;
  uint32_t variant = 0;  // the payload variant its header names
  uint32_t length = 0;
  bool bytes_match = false;  // every byte equals the regenerated payload
};

// Parses one payload that must span exactly `bytes`. DataLoss if the header
// is not one of ours (then nothing can be said about the rest).
inline absl::StatusOr<ParsedPayload> ParsePayload(absl::Span<const uint8_t> bytes) {
  if (bytes.size() < kPayloadHeaderBytes || std::memcmp(bytes.data(), "ORC1", 4) != 0) {
    return absl::DataLossError(absl::StrCat("a payload of ", bytes.size(), " bytes without the test header"));
  }
  ParsedPayload p;
  p.camera = static_cast<int>(GetLe(bytes.data() + 4, 4));
  p.seq = GetLe(bytes.data() + 8, 8);
  p.variant = static_cast<uint32_t>(GetLe(bytes.data() + 16, 4));
  p.length = static_cast<uint32_t>(GetLe(bytes.data() + 20, 4));
  const uint32_t check = static_cast<uint32_t>(GetLe(bytes.data() + 24, 4));
  if (check != HeaderCheck(p.camera, p.seq, p.variant, p.length)) {
    return absl::DataLossError("a payload whose test header fails its check word");
  }
  if (p.length == bytes.size()) {
    const std::string expected = PayloadOfLength(p.camera, p.seq, p.variant, p.length);
    p.bytes_match = std::memcmp(expected.data(), bytes.data(), bytes.size()) == 0;
  }
  return p;
}

// Splits an export (payloads back to back) into its payloads, using the
// length each header names. DataLoss where the stream stops making sense.
inline absl::StatusOr<std::vector<ParsedPayload>> ParsePayloads(std::string_view stream) {
  std::vector<ParsedPayload> out;
  const auto* data = reinterpret_cast<const uint8_t*>(stream.data());
  size_t offset = 0;
  while (offset < stream.size()) {
    const size_t left = stream.size() - offset;
    if (left < kPayloadHeaderBytes) {
      return absl::DataLossError(absl::StrCat("export ends with ", left, " stray bytes"));
    }
    const uint32_t length = static_cast<uint32_t>(GetLe(data + offset + 20, 4));
    if (length < kPayloadHeaderBytes || length > left) {
      return absl::DataLossError(absl::StrCat("export byte ", offset, ": a payload header naming ", length, " bytes"));
    }
    absl::StatusOr<ParsedPayload> p = ParsePayload({data + offset, length});
    if (!p.ok()) {
      return absl::DataLossError(absl::StrCat("export byte ", offset, ": ", p.status().message()));
    }
    out.push_back(*p);
    offset += length;
  }
  return out;
}

// Segment metadata and frames, relative to the run's start time.
struct SegmentContent {
  int64_t base_us = 0;  // capture time of seq 0 of every camera

  int64_t CaptureStartUs(int camera, uint64_t seq) const {
    return base_us + static_cast<int64_t>(seq) * kSegmentDurationUs + camera * 7;
  }
  static bool Keyframe(uint64_t seq) { return seq % 4 == 1; }
  // Mostly 250 ms; now and then the extremes the protocol allows.
  static uint32_t DurationUs(int camera, uint64_t seq) {
    const uint64_t mix = MixAll(camera, seq, 0) >> 8;
    if (mix % 40 == 3) return 0;
    if (mix % 40 == 5) return camproto::kMaxSegmentDurationUs;
    return kSegmentDurationUs;
  }

  // The header of (camera, seq) in `variant`, without payload_bytes; `skip`
  // adds the SKIP flag.
  camproto::SegmentHeader Header(int camera, uint64_t seq, Variant variant, bool skip) const {
    camproto::SegmentHeader h{.seq = seq,
                              .capture_start_us = CaptureStartUs(camera, seq),
                              .duration_us = DurationUs(camera, seq),
                              .flags = Keyframe(seq) ? camproto::kSegmentFlagKeyframe : uint8_t{0}};
    if (variant == Variant::kOtherCaptureTime) h.capture_start_us += 1000;
    // (Still in range: other contents, not an invalid field.)
    if (variant == Variant::kOtherDuration) {
      h.duration_us = h.duration_us == camproto::kMaxSegmentDurationUs ? h.duration_us - 1 : h.duration_us + 1;
    }
    if (variant == Variant::kOtherKeyframe) h.flags ^= camproto::kSegmentFlagKeyframe;
    if (skip) h.flags |= camproto::kSegmentFlagSkip;
    return h;
  }

  // A whole SEGMENT frame.
  std::string Frame(int camera, uint64_t seq, Variant variant, bool skip = false) const {
    const std::string payload = Payload(camera, seq, variant);
    std::string out;
    camproto::AppendSegment(Header(camera, seq, variant, skip),
                            {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()}, out);
    return out;
  }

  // A SEGMENT frame with `header` exactly as given and the payload of
  // (camera, header.seq) in `variant`.
  static std::string FrameWithHeader(int camera, const camproto::SegmentHeader& header, Variant variant) {
    const std::string payload = Payload(camera, header.seq, variant);
    std::string out;
    camproto::AppendSegment(header, {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()}, out);
    return out;
  }
};

}  // namespace ingest::testing::oracle

#endif  // TESTS_SUPPORT_ORACLE_SEGMENT_CONTENT_H_
