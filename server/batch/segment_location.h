// Where one segment's payload lives in the object store: the batch object,
// the byte range inside it, and the segment's metadata. The same record is
// the batch object's own index entry, the camera index entry and the batch
// journal entry.
#ifndef SERVER_BATCH_SEGMENT_LOCATION_H_
#define SERVER_BATCH_SEGMENT_LOCATION_H_

#include <cstdint>
#include <limits>
#include <string>

#include "common/byte_codec.h"

namespace ingest {

// The capture start times readers accept as real: [1970-01-01, 2300-01-01)
// UTC. The wire allows any i64, and a store may hold what an older server
// accepted or what damage left; a segment starting outside this window is
// reported by the readers and never merged into a camera's ranges. The window
// sits far inside i64 (about +-292,000 years), so for a segment inside it the
// end (start + a u32 duration), gap sums and differences never overflow.
inline constexpr int64_t kEarliestCaptureStartUs = 0;                    // 1970-01-01T00:00:00Z
inline constexpr int64_t kCaptureStartLimitUs = 10'413'792'000'000'000;  // 2300-01-01T00:00:00Z, excluded

inline bool CaptureStartInBounds(int64_t capture_start_us) {
  return capture_start_us >= kEarliestCaptureStartUs && capture_start_us < kCaptureStartLimitUs;
}

// a + b, held at the int64 limits instead of overflowing (undefined behaviour).
inline int64_t SaturatingAdd(int64_t a, int64_t b) {
  int64_t sum = 0;
  if (!__builtin_add_overflow(a, b, &sum)) return sum;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

struct SegmentLocation {
  std::string camera;     // empty inside a camera index object (implied)
  std::string batch_key;  // empty inside a batch object's own index (implied)
  uint64_t seq = 0;
  int64_t capture_start_us = 0;
  uint32_t duration_us = 0;
  uint8_t flags = 0;
  uint64_t offset = 0;  // from the batch object's first byte
  uint32_t length = 0;
  uint32_t crc32c = 0;  // of the payload

  // Saturates: a damaged or hostile start near INT64_MAX must not overflow.
  int64_t capture_end_us() const { return SaturatingAdd(capture_start_us, int64_t{duration_us}); }
  // Does [capture_start, capture_end) overlap [from_us, to_us)? A zero-length
  // segment counts when its start is inside.
  bool Overlaps(int64_t from_us, int64_t to_us) const {
    if (duration_us == 0) return capture_start_us >= from_us && capture_start_us < to_us;
    return capture_start_us < to_us && capture_end_us() > from_us;
  }
};

// The fixed fields every format stores per segment (after the camera id or
// batch number): u64 seq, i64 capture_start_us, u32 duration_us, u8 flags,
// u64 offset, u32 length, u32 crc32c — 37 bytes.
inline constexpr size_t kSegmentFieldBytes = 8 + 8 + 4 + 1 + 8 + 4 + 4;

inline void WriteSegmentFields(ByteWriter& w, const SegmentLocation& e) {
  w.U64(e.seq);
  w.I64(e.capture_start_us);
  w.U32(e.duration_us);
  w.U8(e.flags);
  w.U64(e.offset);
  w.U32(e.length);
  w.U32(e.crc32c);
}

inline void ReadSegmentFields(ByteReader& r, SegmentLocation& e) {
  e.seq = r.U64();
  e.capture_start_us = r.I64();
  e.duration_us = r.U32();
  e.flags = r.U8();
  e.offset = r.U64();
  e.length = r.U32();
  e.crc32c = r.U32();
}

}  // namespace ingest

#endif  // SERVER_BATCH_SEGMENT_LOCATION_H_
