#include "server/batch/camera_index.h"

#include <cstring>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/byte_codec.h"
#include "common/crc32c.h"
#include "common/little_endian.h"
#include "common/std_string_view.h"
#include "server/store/object_store.h"

namespace ingest {
namespace {

constexpr std::string_view kMagic = "CIX1";
constexpr uint16_t kVersion = 1;
constexpr size_t kEntryBytes = 4 + kSegmentFieldBytes;  // batch number + fields


}  // namespace

absl::StatusOr<std::vector<uint8_t>> EncodeCameraIndex(std::string_view camera,
                                                       absl::Span<const SegmentLocation> entries) {
  if (camera.empty() || camera.size() > 255) {
    return absl::InvalidArgumentError(absl::StrCat("camera index: camera id of ", camera.size(), " bytes"));
  }
  if (entries.empty() || entries.size() > kMaxCameraIndexEntries) {
    return absl::InvalidArgumentError(absl::StrCat("camera index of ", entries.size(), " entries"));
  }
  std::vector<std::string_view> batches;
  absl::flat_hash_map<absl::string_view, uint32_t> batch_number;
  for (const SegmentLocation& e : entries) {
    // Batch keys are object keys; the decoder refuses longer ones.
    if (e.batch_key.empty() || e.batch_key.size() > kMaxObjectKeyBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat("camera index entry with a batch key of ", e.batch_key.size(), " bytes"));
    }
    if (batch_number.emplace(ToAbsl(e.batch_key), batches.size()).second) batches.push_back(e.batch_key);
  }
  std::vector<uint8_t> out;
  ByteWriter w(&out);
  w.Bytes(kMagic);
  w.U16(kVersion);
  w.U16(0);
  w.String8(camera);
  w.U32(static_cast<uint32_t>(batches.size()));
  for (std::string_view key : batches) w.String16(key);
  w.U32(static_cast<uint32_t>(entries.size()));
  for (const SegmentLocation& e : entries) {
    w.U32(batch_number[ToAbsl(e.batch_key)]);
    WriteSegmentFields(w, e);
  }
  w.U32(Crc32c({out.data(), out.size()}));
  return out;
}

absl::StatusOr<CameraIndex> DecodeCameraIndex(absl::Span<const uint8_t> bytes) {
  if (bytes.size() < 4 + 4 + 1 + 4 + 4 + 4 || bytes.size() > kMaxCameraIndexBytes) {
    return absl::DataLossError(absl::StrCat("camera index of ", bytes.size(), " bytes"));
  }
  const size_t body = bytes.size() - 4;
  if (Crc32c({bytes.data(), body}) != LoadLittleEndian<uint32_t>(bytes.data() + body)) {
    return absl::DataLossError("camera index CRC mismatch");
  }
  // A matching CRC says the bytes are as written, not that the writer was
  // sane: every count is checked against the bytes left before anything is
  // allocated from it.
  ByteReader r(bytes.subspan(0, body));
  if (r.Bytes(4) != kMagic || r.U16() != kVersion) return absl::DataLossError("not a CIX1 camera index");
  r.U16();
  CameraIndex index;
  index.camera = std::string(r.String8());
  const uint32_t batch_count = r.U32();
  // Each batch key takes at least 3 bytes, and the entry count and one entry
  // must follow; every batch is named by an entry.
  const size_t after_keys = 4 + kEntryBytes;
  if (!r.ok() || index.camera.empty() || batch_count == 0 || batch_count > kMaxCameraIndexEntries ||
      r.remaining() < after_keys || batch_count > (r.remaining() - after_keys) / 3) {
    return absl::DataLossError("camera index header is malformed");
  }
  std::vector<std::string_view> batches;
  batches.reserve(batch_count);
  for (uint32_t i = 0; i < batch_count; ++i) {
    const std::string_view key = r.String16();
    if (!r.ok()) return absl::DataLossError("camera index batch table truncated");
    if (key.empty() || key.size() > kMaxObjectKeyBytes) {
      return absl::DataLossError(absl::StrCat("camera index has a batch key of ", key.size(), " bytes"));
    }
    batches.push_back(key);
  }
  const uint32_t count = r.U32();
  if (!r.ok() || count == 0 || count > kMaxCameraIndexEntries || r.remaining() != size_t{count} * kEntryBytes) {
    return absl::DataLossError("camera index entry table is malformed");
  }
  // Every entry gets its own copy of the camera id and its batch key, so a
  // long key named by a million entries would expand a 64 MiB object into
  // gigabytes: a first pass over the table checks the batch numbers and the
  // total before anything is allocated.
  const uint8_t* table = bytes.data() + r.offset();
  uint64_t copied_bytes = 0;
  for (uint32_t i = 0; i < count; ++i) {
    const uint32_t batch = LoadLittleEndian<uint32_t>(table + size_t{i} * kEntryBytes);
    if (batch >= batch_count) return absl::DataLossError("camera index entry names no batch");
    copied_bytes += index.camera.size() + batches[batch].size();
  }
  if (copied_bytes > kMaxCameraIndexDecodedBytes) {
    return absl::DataLossError(absl::StrCat("camera index would expand to ", copied_bytes, " bytes"));
  }
  index.entries.resize(count);
  for (SegmentLocation& e : index.entries) {
    const uint32_t batch = r.U32();
    e.camera = index.camera;
    e.batch_key = std::string(batches[batch]);
    ReadSegmentFields(r, e);
  }
  if (!r.ok()) return absl::DataLossError("camera index truncated");
  return index;
}

}  // namespace ingest
