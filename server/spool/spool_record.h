// The on-disk record a shard appends to its spool file for every accepted
// segment, and its codec. A record is a 40-byte fixed header, the camera id and
// the payload; two CRC-32Cs let recovery tell a torn tail from a good record.
//
//   SpoolRecordMeta meta{.camera_id = "cam-0001", .seq = 7, ..., .payload_bytes = n,
//                        .payload_crc = Crc32c(payload)};
//   std::vector<uint8_t> header(SpoolRecordHeaderBytes(meta.camera_id.size()));
//   EncodeSpoolRecordHeader(meta, absl::MakeSpan(header));
//   // write header, then payload, at the file's next offset
//
//   ASSIGN_OR_RETURN(SpoolRecord r, DecodeSpoolRecordHeader(bytes, file_offset));
//
// Layout (little-endian):
//   0  u32 magic 0x31525053 ("SPR1" in memory order)
//   4  u32 payload_bytes
//   8  u64 seq
//   16 i64 capture_start_us
//   24 u32 duration_us
//   28 u8  flags
//   29 u8  camera_id_len (1..128)
//   30 u16 reserved (0)
//   32 u32 payload_crc   (CRC-32C of the payload)
//   36 u32 header_crc    (CRC-32C of bytes [0,36) followed by the camera id bytes)
//   40 camera id bytes, then payload
#ifndef SERVER_SPOOL_SPOOL_RECORD_H_
#define SERVER_SPOOL_SPOOL_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ingest {

inline constexpr uint32_t kSpoolRecordMagic = 0x31525053;
inline constexpr size_t kSpoolRecordFixedBytes = 40;
inline constexpr size_t kMaxSpoolCameraIdBytes = 128;
// The most header bytes any record can have; readers fetch this much up front.
inline constexpr size_t kMaxSpoolRecordHeaderBytes =
    kSpoolRecordFixedBytes + kMaxSpoolCameraIdBytes;

inline size_t SpoolRecordHeaderBytes(size_t camera_id_len) {
  return kSpoolRecordFixedBytes + camera_id_len;
}

// What the writer knows about a segment before writing it.
struct SpoolRecordMeta {
  std::string_view camera_id;  // 1..kMaxSpoolCameraIdBytes bytes
  uint64_t seq = 0;
  int64_t capture_start_us = 0;
  uint32_t duration_us = 0;
  uint8_t flags = 0;
  uint32_t payload_bytes = 0;
  uint32_t payload_crc = 0;  // Crc32c(payload)
};

// A decoded record header and where it sits in its file.
struct SpoolRecord {
  std::string camera_id;
  uint64_t seq = 0;
  int64_t capture_start_us = 0;
  uint32_t duration_us = 0;
  uint8_t flags = 0;
  uint32_t payload_bytes = 0;
  uint32_t payload_crc = 0;
  uint64_t file_offset = 0;     // of the record start
  uint64_t payload_offset = 0;  // of the first payload byte

  // Offset just past this record's payload: where the next record starts.
  uint64_t end_offset() const { return payload_offset + payload_bytes; }
};

// Writes the header (SpoolRecordHeaderBytes(meta.camera_id.size()) bytes) into
// the front of `out`. The camera id must be 1..128 bytes and `out` large
// enough; both are programming errors and abort, since a writer that produced
// such a record would poison its spool file.
void EncodeSpoolRecordHeader(const SpoolRecordMeta& meta, absl::Span<uint8_t> out);

// Decodes the header at the front of `bytes`, which starts at `file_offset` in
// its file. Returns OutOfRange if `bytes` is shorter than the header (the
// caller reads more, or treats it as truncated at the end of the data), and
// DataLoss for a bad magic, camera id length, reserved field or header CRC.
// Does not look at the payload.
absl::StatusOr<SpoolRecord> DecodeSpoolRecordHeader(absl::Span<const uint8_t> bytes,
                                                    uint64_t file_offset);

}  // namespace ingest

#endif  // SERVER_SPOOL_SPOOL_RECORD_H_
