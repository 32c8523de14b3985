// libFuzzer target: the CBT1 batch object decoders (DecodeBatchTrailer,
// DecodeBatchIndex) on arbitrary bytes, the way a reader meets a batch object
// in the store. Seeds: tests/fuzz/corpus/batch_object/ (real encoded objects).
//
// Each input is decoded twice: as it is (so the trailer and CRC checks are
// exercised), and with the index CRC recomputed (so mutations reach the
// entry parser instead of dying at the CRC). Whatever decodes must obey the
// documented guarantees — every payload range inside the payloads — and must
// encode back to the very same index and trailer bytes; a violation aborts.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/crc32c.h"
#include "common/little_endian.h"
#include "server/batch/batch_object.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using ingest::BatchTrailer;
using ingest::SegmentLocation;

void CheckDecoded(absl::Span<const uint8_t> object, const BatchTrailer& trailer,
                  const std::vector<SegmentLocation>& entries) {
  FUZZ_CHECK(!entries.empty() && entries.size() <= ingest::kMaxBatchSegments);
  for (const SegmentLocation& e : entries) {
    FUZZ_CHECK(!e.camera.empty() && e.camera.size() <= 255);
    FUZZ_CHECK(e.offset >= ingest::kBatchHeaderBytes && e.offset <= trailer.index_offset);
    FUZZ_CHECK(e.length <= trailer.index_offset - e.offset);
  }
  // Encoding the decoded entries over the same payload bytes gives the same
  // index and trailer back (the header is not part of what was decoded).
  std::vector<uint8_t> rebuilt(object.begin(), object.begin() + static_cast<ptrdiff_t>(trailer.index_offset));
  const absl::Status finished = ingest::FinishBatchObject(rebuilt, entries);
  FUZZ_CHECK_MSG(finished.ok(), finished.ToString());
  FUZZ_CHECK(rebuilt.size() == object.size());
  FUZZ_CHECK(std::equal(rebuilt.begin() + static_cast<ptrdiff_t>(trailer.index_offset), rebuilt.end(),
                        object.begin() + static_cast<ptrdiff_t>(trailer.index_offset)));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const absl::Span<const uint8_t> object(data, size);
  if (size < ingest::kBatchTrailerBytes) return 0;
  absl::StatusOr<BatchTrailer> trailer =
      ingest::DecodeBatchTrailer(object.subspan(size - ingest::kBatchTrailerBytes), size);
  if (!trailer.ok()) return 0;
  FUZZ_CHECK(trailer->index_offset >= ingest::kBatchHeaderBytes);
  FUZZ_CHECK(trailer->index_offset + trailer->index_bytes + ingest::kBatchTrailerBytes == size);
  const absl::Span<const uint8_t> index = object.subspan(trailer->index_offset, trailer->index_bytes);

  absl::StatusOr<std::vector<SegmentLocation>> as_stored = ingest::DecodeBatchIndex(index, *trailer);
  if (as_stored.ok()) CheckDecoded(object, *trailer, *as_stored);

  BatchTrailer fixed = *trailer;
  fixed.index_crc32c = ingest::Crc32c({index.data(), index.size()});
  absl::StatusOr<std::vector<SegmentLocation>> parsed = ingest::DecodeBatchIndex(index, fixed);
  if (parsed.ok()) {
    // The trailer as the encoder would write it, so the round trip compares.
    std::vector<uint8_t> with_crc(object.begin(), object.end());
    ingest::StoreLittleEndian<uint32_t>(with_crc.data() + size - 8, fixed.index_crc32c);
    CheckDecoded(with_crc, fixed, *parsed);
  }
  return 0;
}
