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

size_t PadSpoolRecord(absl::Span<uint8_t> buffer, size_t record_bytes) {
  const size_t padded = (record_bytes + kSpoolRecordAlignment - 1) / kSpoolRecordAlignment * kSpoolRecordAlignment;
  uint8_t* p = buffer.data();
  if (record_bytes < kSpoolRecordFixedBytes || padded > buffer.size() ||
      LoadLittleEndian<uint32_t>(p) != kSpoolRecordMagic || LoadLittleEndian<uint16_t>(p + 30) != 0) {
    std::fprintf(stderr, "PadSpoolRecord: a record of %zu bytes in a buffer of %zu bytes\n", record_bytes,
                 buffer.size());
    std::abort();
  }
  const size_t id_len = p[29];
  StoreLittleEndian<uint32_t>(p + 0, kSpoolPaddedRecordMagic);
  StoreLittleEndian<uint16_t>(p + 30, static_cast<uint16_t>(padded - record_bytes));
  StoreLittleEndian<uint32_t>(p + 36, HeaderCrc(p, p + kSpoolRecordFixedBytes, id_len));
  std::memset(p + record_bytes, 0, padded - record_bytes);
  return padded;
}

absl::StatusOr<SpoolRecord> DecodeSpoolRecordHeader(absl::Span<const uint8_t> bytes,
                                                    uint64_t file_offset) {
  if (bytes.size() < kSpoolRecordFixedBytes) {
    return absl::OutOfRangeError(absl::StrCat("spool record at offset ", file_offset, ": only ",
                                              bytes.size(), " header bytes"));
  }
  const uint8_t* p = bytes.data();
  const uint32_t magic = LoadLittleEndian<uint32_t>(p);
  if (magic != kSpoolRecordMagic && magic != kSpoolPaddedRecordMagic) {
    return absl::DataLossError(absl::StrCat("spool record at offset ", file_offset, ": bad magic"));
  }
  const size_t id_len = p[29];
  // SPR1's reserved field must be 0; SPR2's padding stays below the alignment.
  const uint16_t pad_bytes = LoadLittleEndian<uint16_t>(p + 30);
  const bool pad_ok = magic == kSpoolRecordMagic ? pad_bytes == 0 : pad_bytes < kSpoolRecordAlignment;
  if (id_len == 0 || id_len > kMaxSpoolCameraIdBytes || !pad_ok) {
    return absl::DataLossError(absl::StrCat("spool record at offset ", file_offset,
                                            ": bad camera id length, reserved field or padding"));
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
  r.pad_bytes = pad_bytes;
  r.file_offset = file_offset;
  r.payload_offset = file_offset + SpoolRecordHeaderBytes(id_len);
  return r;
}

}  // namespace ingest
