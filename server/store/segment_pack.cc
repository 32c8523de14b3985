#include "server/store/segment_pack.h"

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/little_endian.h"
#include "server/spool/spool_record.h"
#include "common/status_macros.h"

namespace ingest {
namespace {

constexpr uint8_t kPackMagic[4] = {'C', 'P', 'K', '1'};
// Camera ids are bounded by the spool record format (the same 128 as the wire).
constexpr size_t kMaxCameraIdBytes = kMaxSpoolCameraIdBytes;


size_t HeaderBytes(size_t camera_id_len, size_t count) {
  return kPackFixedBytes + camera_id_len + count * kPackIndexEntryBytes + sizeof(uint32_t);
}

}  // namespace

absl::StatusOr<std::vector<uint8_t>> EncodePack(std::string_view camera_id,
                                                absl::Span<const PackSegment> segments) {
  if (camera_id.empty() || camera_id.size() > kMaxCameraIdBytes) {
    return absl::InvalidArgumentError(absl::StrCat("pack: camera id of ", camera_id.size(), " bytes"));
  }
  if (segments.empty() || segments.size() > kMaxPackSegments) {
    return absl::InvalidArgumentError(absl::StrCat("pack for camera ", std::string(camera_id), ": ",
                                                   segments.size(), " segments"));
  }
  const size_t header_bytes = HeaderBytes(camera_id.size(), segments.size());
  uint64_t total = header_bytes;
  for (const PackSegment& s : segments) total += s.payload.size();
  std::vector<uint8_t> out(total);
  uint8_t* p = out.data();
  std::memcpy(p, kPackMagic, 4);
  StoreLittleEndian<uint16_t>(p + 4, kPackVersion);
  StoreLittleEndian<uint16_t>(p + 6, static_cast<uint16_t>(camera_id.size()));
  StoreLittleEndian<uint32_t>(p + 8, static_cast<uint32_t>(segments.size()));
  StoreLittleEndian<uint32_t>(p + 12, 0);
  std::memcpy(p + kPackFixedBytes, camera_id.data(), camera_id.size());
  uint8_t* entry = p + kPackFixedBytes + camera_id.size();
  uint64_t offset = header_bytes;
  for (const PackSegment& s : segments) {
    if (s.payload.size() > UINT32_MAX) return absl::InvalidArgumentError("pack: payload over 4 GiB");
    StoreLittleEndian<uint64_t>(entry + 0, s.seq);
    StoreLittleEndian<int64_t>(entry + 8, s.capture_start_us);
    StoreLittleEndian<uint32_t>(entry + 16, s.duration_us);
    entry[20] = s.flags;
    entry[21] = entry[22] = entry[23] = 0;
    StoreLittleEndian<uint64_t>(entry + 24, offset);
    StoreLittleEndian<uint32_t>(entry + 32, static_cast<uint32_t>(s.payload.size()));
    StoreLittleEndian<uint32_t>(entry + 36, s.crc32c);
    if (!s.payload.empty()) std::memcpy(p + offset, s.payload.data(), s.payload.size());
    offset += s.payload.size();
    entry += kPackIndexEntryBytes;
  }
  StoreLittleEndian<uint32_t>(entry, Crc32c({p, header_bytes - sizeof(uint32_t)}));
  return out;
}

absl::StatusOr<size_t> PackHeaderBytes(absl::Span<const uint8_t> prefix) {
  if (prefix.size() < kPackFixedBytes) return absl::OutOfRangeError("pack: header prefix too short");
  const uint8_t* p = prefix.data();
  if (std::memcmp(p, kPackMagic, 4) != 0) return absl::DataLossError("pack: bad magic");
  if (LoadLittleEndian<uint16_t>(p + 4) != kPackVersion) {
    return absl::DataLossError(absl::StrCat("pack: unsupported version ", LoadLittleEndian<uint16_t>(p + 4)));
  }
  const size_t id_len = LoadLittleEndian<uint16_t>(p + 6);
  const uint32_t count = LoadLittleEndian<uint32_t>(p + 8);
  if (id_len == 0 || id_len > kMaxCameraIdBytes || count == 0 || count > kMaxPackSegments ||
      LoadLittleEndian<uint32_t>(p + 12) != 0) {
    return absl::DataLossError("pack: bad camera id length, segment count or reserved field");
  }
  return HeaderBytes(id_len, count);
}

absl::StatusOr<PackIndex> DecodePackIndex(absl::Span<const uint8_t> bytes, uint64_t object_size) {
  ASSIGN_OR_RETURN(size_t header_bytes, PackHeaderBytes(bytes));
  if (bytes.size() < header_bytes) {
    return absl::OutOfRangeError(absl::StrCat("pack: need ", header_bytes, " header bytes, have ", bytes.size()));
  }
  if (object_size < header_bytes) return absl::DataLossError("pack: object shorter than its header");
  const uint8_t* p = bytes.data();
  const size_t crc_at = header_bytes - sizeof(uint32_t);
  if (LoadLittleEndian<uint32_t>(p + crc_at) != Crc32c({p, crc_at})) return absl::DataLossError("pack: bad header crc");

  PackIndex index;
  index.header_bytes = header_bytes;
  const size_t id_len = LoadLittleEndian<uint16_t>(p + 6);
  const uint32_t count = LoadLittleEndian<uint32_t>(p + 8);
  index.camera_id.assign(reinterpret_cast<const char*>(p + kPackFixedBytes), id_len);
  index.entries.reserve(count);
  const uint8_t* entry = p + kPackFixedBytes + id_len;
  uint64_t next_offset = header_bytes;
  for (uint32_t i = 0; i < count; ++i, entry += kPackIndexEntryBytes) {
    PackEntry e;
    e.seq = LoadLittleEndian<uint64_t>(entry + 0);
    e.capture_start_us = LoadLittleEndian<int64_t>(entry + 8);
    e.duration_us = LoadLittleEndian<uint32_t>(entry + 16);
    e.flags = entry[20];
    e.offset = LoadLittleEndian<uint64_t>(entry + 24);
    e.length = LoadLittleEndian<uint32_t>(entry + 32);
    e.crc32c = LoadLittleEndian<uint32_t>(entry + 36);
    if (e.offset < next_offset || e.offset > object_size || e.length > object_size - e.offset) {
      return absl::DataLossError(absl::StrCat("pack: segment ", e.seq, " lies outside the object or overlaps"));
    }
    next_offset = e.offset + e.length;
    index.entries.push_back(e);
  }
  return index;
}

}  // namespace ingest
