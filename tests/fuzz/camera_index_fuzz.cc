// libFuzzer target: the CIX1 camera index decoder (DecodeCameraIndex) on
// arbitrary bytes, the way a reader meets an index object in the store.
// Seeds: tests/fuzz/corpus/camera_index/ (real encoded objects).
//
// Each input is decoded twice: as it is, and with its trailing CRC-32C
// recomputed, so mutations reach the parser instead of dying at the CRC.
// Whatever decodes must hold what the decoder promises (a camera id, batch
// keys that are object-key sized, a bounded entry count) and survive an
// encode/decode round trip unchanged; a violation aborts.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/crc32c.h"
#include "common/little_endian.h"
#include "server/batch/camera_index.h"
#include "server/store/object_store.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

bool SameEntry(const ingest::SegmentLocation& a, const ingest::SegmentLocation& b) {
  return a.camera == b.camera && a.batch_key == b.batch_key && a.seq == b.seq &&
         a.capture_start_us == b.capture_start_us && a.duration_us == b.duration_us && a.flags == b.flags &&
         a.offset == b.offset && a.length == b.length && a.crc32c == b.crc32c;
}

void Check(absl::Span<const uint8_t> bytes) {
  absl::StatusOr<ingest::CameraIndex> index = ingest::DecodeCameraIndex(bytes);
  if (!index.ok()) return;
  FUZZ_CHECK(!index->camera.empty() && index->camera.size() <= 255);
  FUZZ_CHECK(!index->entries.empty() && index->entries.size() <= ingest::kMaxCameraIndexEntries);
  for (const ingest::SegmentLocation& e : index->entries) {
    FUZZ_CHECK(e.camera == index->camera);
    FUZZ_CHECK(!e.batch_key.empty() && e.batch_key.size() <= ingest::kMaxObjectKeyBytes);
  }
  absl::StatusOr<std::vector<uint8_t>> again = ingest::EncodeCameraIndex(index->camera, index->entries);
  FUZZ_CHECK(again.ok());
  absl::StatusOr<ingest::CameraIndex> decoded_again = ingest::DecodeCameraIndex(*again);
  FUZZ_CHECK(decoded_again.ok() && decoded_again->camera == index->camera &&
             decoded_again->entries.size() == index->entries.size());
  for (size_t i = 0; i < index->entries.size(); ++i) {
    FUZZ_CHECK(SameEntry(decoded_again->entries[i], index->entries[i]));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Check(absl::Span<const uint8_t>(data, size));
  if (size >= 4 && size <= ingest::kMaxCameraIndexBytes) {
    std::vector<uint8_t> with_crc(data, data + size);
    ingest::StoreLittleEndian<uint32_t>(with_crc.data() + size - 4, ingest::Crc32c({data, size - 4}));
    Check(with_crc);
  }
  return 0;
}
