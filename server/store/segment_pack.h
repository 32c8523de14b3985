// The object format for sealed recordings ("pack"): one camera's consecutive
// segments in one object, with an index up front so that a reader fetches the
// index with one range read and then exactly the payloads it needs.
//
//   std::vector<PackSegment> segments = ...;  // seq order, payload spans
//   ASSIGN_OR_RETURN(std::vector<uint8_t> object, EncodePack("cam-1", segments));
//
//   ASSIGN_OR_RETURN(std::vector<uint8_t> head, store.GetRange(key, 0, kPackIndexPrefetchBytes));
//   ASSIGN_OR_RETURN(size_t need, PackHeaderBytes(head));  // fetch more if head is shorter
//   ASSIGN_OR_RETURN(PackIndex index, DecodePackIndex(head, object_size));
//
// Layout (little-endian):
//   0   "CPK1"
//   4   u16 version (1)
//   6   u16 camera_id_len (1..128)
//   8   u32 segment_count (1..kMaxPackSegments)
//   12  u32 reserved (0)
//   16  camera id bytes
//   ... segment_count index entries of 40 bytes:
//         u64 seq, i64 capture_start_us, u32 duration_us, u8 flags, u8[3] reserved,
//         u64 offset (from the object's start), u32 length, u32 crc32c (of the payload)
//   ... u32 header_crc: CRC-32C of every header byte before it
//   then the payloads, back to back in index order.
#ifndef SERVER_STORE_SEGMENT_PACK_H_
#define SERVER_STORE_SEGMENT_PACK_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ingest {

inline constexpr uint16_t kPackVersion = 1;
inline constexpr size_t kPackFixedBytes = 16;
inline constexpr size_t kPackIndexEntryBytes = 40;
inline constexpr uint32_t kMaxPackSegments = 1 << 20;
// A first range read of this size holds the whole index of typical packs.
inline constexpr size_t kPackIndexPrefetchBytes = 64 << 10;

// One segment to encode; `payload` must outlive the EncodePack call and
// `crc32c` must be its (already verified) CRC-32C.
struct PackSegment {
  uint64_t seq = 0;
  int64_t capture_start_us = 0;
  uint32_t duration_us = 0;
  uint8_t flags = 0;
  uint32_t crc32c = 0;
  absl::Span<const uint8_t> payload;
};

// One index entry: where a segment's payload sits in the object.
struct PackEntry {
  uint64_t seq = 0;
  int64_t capture_start_us = 0;
  uint32_t duration_us = 0;
  uint8_t flags = 0;
  uint64_t offset = 0;
  uint32_t length = 0;
  uint32_t crc32c = 0;
};

struct PackIndex {
  std::string camera_id;
  std::vector<PackEntry> entries;  // in the order encoded (seq order from the sealer)
  uint64_t header_bytes = 0;       // where the payloads start
};

// Builds a pack of `segments` (1..kMaxPackSegments, camera id 1..128 bytes).
absl::StatusOr<std::vector<uint8_t>> EncodePack(std::string_view camera_id,
                                                absl::Span<const PackSegment> segments);

// The total header size (index included) from the first kPackFixedBytes of an
// object. OutOfRange if `prefix` is shorter; DataLoss if it is not a pack.
absl::StatusOr<size_t> PackHeaderBytes(absl::Span<const uint8_t> prefix);

// Decodes and checks the header at the front of `bytes` (at least
// PackHeaderBytes()) of an object of `object_size` bytes: header CRC, and
// every payload range inside the object, after the header and not
// overlapping. OutOfRange if `bytes` is too short, DataLoss if corrupt.
absl::StatusOr<PackIndex> DecodePackIndex(absl::Span<const uint8_t> bytes, uint64_t object_size);

}  // namespace ingest

#endif  // SERVER_STORE_SEGMENT_PACK_H_
