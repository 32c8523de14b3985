// The on-disk record a shard appends to its spool file for every accepted
// segment, and its codec. A record is a 40-byte fixed header, the camera id,
// the payload and, in the padded form, zero bytes up to the next multiple of
// kSpoolRecordAlignment; two CRC-32Cs let recovery tell a torn tail from a
// good record.
//
//   SpoolRecordMeta meta{.camera_id = "cam-0001", .seq = 7, ..., .payload_bytes = n,
//                        .payload_crc = Crc32c(payload)};
//   std::vector<uint8_t> header(SpoolRecordHeaderBytes(meta.camera_id.size()));
//   EncodeSpoolRecordHeader(meta, absl::MakeSpan(header));
//   // write header, then payload, at the file's next offset
//
//   size_t on_disk = PadSpoolRecord(buffer, record_bytes);   // for O_DIRECT writers
//
//   ASSIGN_OR_RETURN(SpoolRecord r, DecodeSpoolRecordHeader(bytes, file_offset));
//
// Layout (little-endian):
//   0  u32 magic 0x31525053 ("SPR1" in memory order), or 0x32525053 ("SPR2")
//   4  u32 payload_bytes
//   8  u64 seq
//   16 i64 capture_start_us
//   24 u32 duration_us
//   28 u8  flags
//   29 u8  camera_id_len (1..128)
//   30 u16 SPR1: reserved (0); SPR2: pad_bytes (0..4095) after the payload
//   32 u32 payload_crc   (CRC-32C of the payload)
//   36 u32 header_crc    (CRC-32C of bytes [0,36) followed by the camera id bytes)
//   40 camera id bytes, then payload, then pad_bytes zero bytes (SPR2)
//
// The version is per record: a file may hold both forms, and every reader
// accepts both. SPR2 exists so that an O_DIRECT writer can start every record
// on a 4 KiB boundary; a binary that knows only SPR1 takes an SPR2 record for a
// torn tail, so a spool written padded must be drained before a downgrade.
#ifndef SERVER_SPOOL_SPOOL_RECORD_H_
#define SERVER_SPOOL_SPOOL_RECORD_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ingest {

inline constexpr uint32_t kSpoolRecordMagic = 0x31525053;        // SPR1: unpadded
inline constexpr uint32_t kSpoolPaddedRecordMagic = 0x32525053;  // SPR2: padded
// Padded records end on a multiple of this: the O_DIRECT unit of any file
// system the spool meets (logical blocks of 512 or 4096 bytes).
inline constexpr size_t kSpoolRecordAlignment = 4096;
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
  uint32_t pad_bytes = 0;       // zero bytes after the payload (SPR2)
  uint64_t file_offset = 0;     // of the record start
  uint64_t payload_offset = 0;  // of the first payload byte

  // Offset just past this record's payload and padding: where the next record
  // starts.
  uint64_t end_offset() const { return payload_offset + payload_bytes + pad_bytes; }
};

// Writes the header (SpoolRecordHeaderBytes(meta.camera_id.size()) bytes) into
// the front of `out`. The camera id must be 1..128 bytes and `out` large
// enough; both are programming errors and abort, since a writer that produced
// such a record would poison its spool file.
void EncodeSpoolRecordHeader(const SpoolRecordMeta& meta, absl::Span<uint8_t> out);

// The record of `record_bytes` (header and payload) at the front of `buffer`
// becomes a padded (SPR2) record: its header is rewritten to say how many
// zero bytes follow the payload, and those bytes are zeroed, up to the next
// multiple of kSpoolRecordAlignment. Returns the padded size. `buffer` must
// hold an encoded record and have room for the padding; both are programming
// errors and abort.
size_t PadSpoolRecord(absl::Span<uint8_t> buffer, size_t record_bytes);

// Decodes the header at the front of `bytes`, which starts at `file_offset` in
// its file. Returns OutOfRange if `bytes` is shorter than the header (the
// caller reads more, or treats it as truncated at the end of the data), and
// DataLoss for a bad magic, camera id length, reserved field or header CRC.
// Does not look at the payload.
absl::StatusOr<SpoolRecord> DecodeSpoolRecordHeader(absl::Span<const uint8_t> bytes,
                                                    uint64_t file_offset);

}  // namespace ingest

#endif  // SERVER_SPOOL_SPOOL_RECORD_H_
