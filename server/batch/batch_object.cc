#include "server/batch/batch_object.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/byte_codec.h"
#include "common/crc32c.h"
#include "common/little_endian.h"

namespace ingest {
namespace {

constexpr uint8_t kMagic[4] = {'C', 'B', 'T', '1'};
constexpr uint16_t kVersion = 1;
constexpr size_t kMaxCameraIdBytes = 255;

}  // namespace

namespace {

// Checks `entries` against payloads ending at `index_offset`, writes the
// header into header[0, kBatchHeaderBytes) and returns the index and trailer
// to append.
absl::StatusOr<std::vector<uint8_t>> HeaderAndTail(uint8_t* header, uint64_t index_offset,
                                                   absl::Span<const SegmentLocation> entries) {
  if (entries.empty() || entries.size() > kMaxBatchSegments) {
    return absl::InvalidArgumentError(absl::StrCat("batch of ", entries.size(), " segments"));
  }
  for (const SegmentLocation& e : entries) {
    if (e.camera.empty() || e.camera.size() > kMaxCameraIdBytes) {
      return absl::InvalidArgumentError(absl::StrCat("batch entry camera id of ", e.camera.size(), " bytes"));
    }
    if (e.offset < kBatchHeaderBytes || e.offset > index_offset || e.length > index_offset - e.offset) {
      return absl::InvalidArgumentError(absl::StrCat("batch entry ", e.camera, "/", e.seq, " outside the payloads"));
    }
  }
  std::memcpy(header, kMagic, 4);
  StoreLittleEndian<uint16_t>(header + 4, kVersion);
  StoreLittleEndian<uint16_t>(header + 6, 0);
  StoreLittleEndian<uint32_t>(header + 8, static_cast<uint32_t>(entries.size()));
  StoreLittleEndian<uint32_t>(header + 12, 0);

  std::vector<uint8_t> tail;
  ByteWriter w(&tail);
  w.U32(static_cast<uint32_t>(entries.size()));
  for (const SegmentLocation& e : entries) {
    w.String8(e.camera);
    WriteSegmentFields(w, e);
  }
  const uint32_t index_crc = Crc32c({tail.data(), tail.size()});
  w.U64(index_offset);
  w.U32(index_crc);
  tail.insert(tail.end(), kMagic, kMagic + 4);
  return tail;
}

template <typename Bytes>
absl::Status Finish(Bytes& object, absl::Span<const SegmentLocation> entries) {
  if (object.size() < kBatchHeaderBytes) return absl::InvalidArgumentError("batch object has no header space");
  absl::StatusOr<std::vector<uint8_t>> tail = HeaderAndTail(object.data(), object.size(), entries);
  if (!tail.ok()) return tail.status();
  object.insert(object.end(), tail->begin(), tail->end());
  return absl::OkStatus();
}

}  // namespace

absl::Status FinishBatchObject(std::vector<uint8_t>& object, absl::Span<const SegmentLocation> entries) {
  return Finish(object, entries);
}

absl::Status FinishBatchObject(BatchBytes& object, absl::Span<const SegmentLocation> entries) {
  return Finish(object, entries);
}

uint64_t FinishedBatchObjectBytes(uint64_t payload_bytes, uint64_t segments, uint64_t camera_id_bytes) {
  // Index: u32 count, then per segment a String8 camera id (a length byte and
  // the id) and the fixed fields.
  const uint64_t index_bytes = 4 + segments * (1 + kSegmentFieldBytes) + camera_id_bytes;
  return kBatchHeaderBytes + payload_bytes + index_bytes + kBatchTrailerBytes;
}

uint32_t FinishedBatchObjectCrc32c(absl::Span<const uint8_t> object, uint64_t index_offset,
                                   uint32_t payloads_crc32c) {
  const uint32_t header = Crc32c({object.data(), kBatchHeaderBytes});
  const uint32_t through_payloads = Crc32cCombine(header, payloads_crc32c, index_offset - kBatchHeaderBytes);
  return Crc32cExtend(through_payloads, {object.data() + index_offset, object.size() - index_offset});
}

absl::StatusOr<BatchTrailer> DecodeBatchTrailer(absl::Span<const uint8_t> trailer, uint64_t object_size) {
  if (trailer.size() != kBatchTrailerBytes || object_size < kBatchHeaderBytes + kBatchTrailerBytes ||
      std::memcmp(trailer.data() + 12, kMagic, 4) != 0) {
    return absl::DataLossError("not a CBT1 batch object (bad trailer)");
  }
  BatchTrailer t;
  t.index_offset = LoadLittleEndian<uint64_t>(trailer.data());
  t.index_crc32c = LoadLittleEndian<uint32_t>(trailer.data() + 8);
  const uint64_t index_end = object_size - kBatchTrailerBytes;
  // Compared without adding to index_offset: a hostile offset near 2^64
  // would wrap around and pass.
  if (t.index_offset < kBatchHeaderBytes || t.index_offset > index_end || index_end - t.index_offset < 4) {
    return absl::DataLossError(absl::StrCat("batch trailer points outside the object: index at ", t.index_offset,
                                            " of ", object_size, " bytes"));
  }
  t.index_bytes = index_end - t.index_offset;
  return t;
}

absl::StatusOr<std::vector<SegmentLocation>> DecodeBatchIndex(absl::Span<const uint8_t> index,
                                                              const BatchTrailer& trailer) {
  if (index.size() != trailer.index_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("batch index of ", index.size(), " bytes, trailer says ",
                                                   trailer.index_bytes));
  }
  if (Crc32c({index.data(), index.size()}) != trailer.index_crc32c) {
    return absl::DataLossError("batch index CRC mismatch");
  }
  ByteReader r(index);
  const uint32_t count = r.U32();
  // Each entry takes at least a camera id byte and the fixed fields: a count
  // the bytes cannot hold is corrupt.
  if (count == 0 || count > kMaxBatchSegments || count > index.size() / (2 + kSegmentFieldBytes)) {
    return absl::DataLossError(absl::StrCat("batch index claims ", count, " segments"));
  }
  std::vector<SegmentLocation> entries(count);
  for (SegmentLocation& e : entries) {
    e.camera = std::string(r.String8());
    ReadSegmentFields(r, e);
    if (!r.ok()) return absl::DataLossError("batch index truncated");
    if (e.camera.empty() || e.offset < kBatchHeaderBytes || e.offset > trailer.index_offset ||
        e.length > trailer.index_offset - e.offset) {
      return absl::DataLossError(absl::StrCat("batch index entry ", e.camera, "/", e.seq, " is malformed"));
    }
  }
  if (r.remaining() != 0) return absl::DataLossError("batch index has trailing bytes");
  return entries;
}

}  // namespace ingest
