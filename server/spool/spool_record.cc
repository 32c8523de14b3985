#include "server/spool/spool_record.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/little_endian.h"

namespace ingest {
namespace {


uint32_t HeaderCrc(const uint8_t* fixed, const uint8_t* camera_id, size_t camera_id_len) {
  uint32_t crc = Crc32cExtend(0, {fixed, 36});
  return Crc32cExtend(crc, {camera_id, camera_id_len});
}

}  // namespace

void EncodeSpoolRecordHeader(const SpoolRecordMeta& meta, absl::Span<uint8_t> out) {
  const size_t id_len = meta.camera_id.size();
  if (id_len == 0 || id_len > kMaxSpoolCameraIdBytes || out.size() < SpoolRecordHeaderBytes(id_len)) {
    std::fprintf(stderr, "EncodeSpoolRecordHeader: camera id of %zu bytes into %zu bytes\n", id_len,
                 out.size());
    std::abort();
  }
  uint8_t* p = out.data();
  StoreLittleEndian<uint32_t>(p + 0, kSpoolRecordMagic);
  StoreLittleEndian<uint32_t>(p + 4, meta.payload_bytes);
  StoreLittleEndian<uint64_t>(p + 8, meta.seq);
  StoreLittleEndian<int64_t>(p + 16, meta.capture_start_us);
  StoreLittleEndian<uint32_t>(p + 24, meta.duration_us);
  p[28] = meta.flags;
  p[29] = static_cast<uint8_t>(id_len);
  StoreLittleEndian<uint16_t>(p + 30, 0);
  StoreLittleEndian<uint32_t>(p + 32, meta.payload_crc);
  std::memcpy(p + kSpoolRecordFixedBytes, meta.camera_id.data(), id_len);
  StoreLittleEndian<uint32_t>(p + 36, HeaderCrc(p, p + kSpoolRecordFixedBytes, id_len));
}

absl::StatusOr<SpoolRecord> DecodeSpoolRecordHeader(absl::Span<const uint8_t> bytes,
                                                    uint64_t file_offset) {
  if (bytes.size() < kSpoolRecordFixedBytes) {
    return absl::OutOfRangeError(absl::StrCat("spool record at offset ", file_offset, ": only ",
                                              bytes.size(), " header bytes"));
  }
  const uint8_t* p = bytes.data();
  if (LoadLittleEndian<uint32_t>(p) != kSpoolRecordMagic) {
    return absl::DataLossError(absl::StrCat("spool record at offset ", file_offset, ": bad magic"));
  }
  const size_t id_len = p[29];
  if (id_len == 0 || id_len > kMaxSpoolCameraIdBytes || LoadLittleEndian<uint16_t>(p + 30) != 0) {
    return absl::DataLossError(
        absl::StrCat("spool record at offset ", file_offset, ": bad camera id length or reserved field"));
  }
  if (bytes.size() < SpoolRecordHeaderBytes(id_len)) {
    return absl::OutOfRangeError(absl::StrCat("spool record at offset ", file_offset, ": only ",
                                              bytes.size(), " header bytes"));
  }
  if (LoadLittleEndian<uint32_t>(p + 36) != HeaderCrc(p, p + kSpoolRecordFixedBytes, id_len)) {
    return absl::DataLossError(absl::StrCat("spool record at offset ", file_offset, ": bad header crc"));
  }
  SpoolRecord r;
  r.camera_id.assign(reinterpret_cast<const char*>(p + kSpoolRecordFixedBytes), id_len);
  r.payload_bytes = LoadLittleEndian<uint32_t>(p + 4);
  r.seq = LoadLittleEndian<uint64_t>(p + 8);
  r.capture_start_us = LoadLittleEndian<int64_t>(p + 16);
  r.duration_us = LoadLittleEndian<uint32_t>(p + 24);
  r.flags = p[28];
  r.payload_crc = LoadLittleEndian<uint32_t>(p + 32);
  r.file_offset = file_offset;
  r.payload_offset = file_offset + SpoolRecordHeaderBytes(id_len);
  return r;
}

}  // namespace ingest
