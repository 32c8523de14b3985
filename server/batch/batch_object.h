// The batch object format ("CBT1"): many cameras' segments in one S3 object,
// so a server writes one PUT per batch instead of one per segment, with the
// batch's own index at the end so the object can be verified (or an index
// rebuilt) from the object alone.
//
//   std::vector<uint8_t> object;
//   object.reserve(FinishedBatchObjectBytes(payload_bytes, entries.size(), camera_id_bytes));
//   object.resize(kBatchHeaderBytes + payload_bytes);
//   ... pread payloads into object at each entry's offset ...
//   RETURN_IF_ERROR(FinishBatchObject(object, entries));
//
//   // Reading: the trailer, then the index, with two range reads.
//   ASSIGN_OR_RETURN(BatchTrailer t, DecodeBatchTrailer(last_16_bytes, size));
//   ASSIGN_OR_RETURN(std::vector<SegmentLocation> index, DecodeBatchIndex(index_bytes, t));
//
// Layout (little-endian):
//   0    "CBT1", u16 version (1), u16 reserved, u32 segment_count, u32 reserved
//   16   payloads, back to back
//   ...  index: per segment String8 camera, u64 seq, i64 capture_start_us,
//        u32 duration_us, u8 flags, u64 offset, u32 length, u32 crc32c
//   end-16  trailer: u64 index_offset, u32 index_crc32c, "CBT1"
#ifndef SERVER_BATCH_BATCH_OBJECT_H_
#define SERVER_BATCH_BATCH_OBJECT_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/batch/batch_bytes.h"
#include "server/batch/segment_location.h"

namespace ingest {

inline constexpr size_t kBatchHeaderBytes = 16;
inline constexpr size_t kBatchTrailerBytes = 16;
inline constexpr uint32_t kMaxBatchSegments = 1 << 20;

// Writes the header into object[0, 16) and appends index and trailer.
// `object` holds the header space and the payloads at the offsets `entries`
// name; entries must lie inside it, after the header. Camera ids 1..255 bytes.
// (BatchBytes: the sealer's page-aligned buffers.)
absl::Status FinishBatchObject(std::vector<uint8_t>& object, absl::Span<const SegmentLocation> entries);
absl::Status FinishBatchObject(BatchBytes& object, absl::Span<const SegmentLocation> entries);

// The size of a finished object with `payload_bytes` of payloads in
// `segments` segments whose camera ids add up to `camera_id_bytes`: header,
// payloads, index and trailer. Reserve it before reading the payloads, so
// FinishBatchObject's append never reallocates (a vector grown past its
// capacity doubles it: a 16 MiB batch would hold 32 MiB while it uploads).
uint64_t FinishedBatchObjectBytes(uint64_t payload_bytes, uint64_t segments, uint64_t camera_id_bytes);

// The CRC-32C of a whole finished object, given `payloads_crc32c`, the CRC-32C
// of its payload bytes [kBatchHeaderBytes, index_offset) (index_offset: the
// object's size before FinishBatchObject). Reads only the header, index and
// trailer: the sealer combines the payload CRC from the segments' own CRCs,
// which it checks anyway as it reads each segment, so the S3 upload's
// checksum costs no second pass over the payloads.
uint32_t FinishedBatchObjectCrc32c(absl::Span<const uint8_t> object, uint64_t index_offset,
                                   uint32_t payloads_crc32c);

struct BatchTrailer {
  uint64_t index_offset = 0;
  uint64_t index_bytes = 0;
  uint32_t index_crc32c = 0;
};

// Decodes the last kBatchTrailerBytes of an object of `object_size` bytes.
// DataLoss if they are not a CBT1 trailer or point outside the object.
absl::StatusOr<BatchTrailer> DecodeBatchTrailer(absl::Span<const uint8_t> trailer, uint64_t object_size);

// Decodes the index bytes the trailer points at (batch_key left empty):
// CRC, and every payload range inside [kBatchHeaderBytes, index_offset).
absl::StatusOr<std::vector<SegmentLocation>> DecodeBatchIndex(absl::Span<const uint8_t> index,
                                                              const BatchTrailer& trailer);

}  // namespace ingest

#endif  // SERVER_BATCH_BATCH_OBJECT_H_
