// Reads the records of one spool file with pread (straight from the device
// when the descriptor has O_DIRECT: see aligned_file_read.h), and recovers a
// spool file after a crash by cutting off its torn tail.
//
//   SpoolFileReader reader(fd, path, /*start_offset=*/0, /*limit=*/durable_bytes);
//   while (true) {
//     ASSIGN_OR_RETURN(std::optional<SpoolRecord> r, reader.Next());
//     if (!r) break;  // reached `limit` on a record boundary
//     ...             // r->payload_offset, r->payload_bytes locate the payload
//   }
//
//   ASSIGN_OR_RETURN(SpoolFileRecovery rec, RecoverSpoolFile(path));
#ifndef SERVER_SPOOL_SPOOL_FILE_READER_H_
#define SERVER_SPOOL_SPOOL_FILE_READER_H_

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/spool/aligned_file_read.h"
#include "server/spool/spool_record.h"

namespace ingest {

// Whether Next() reads and checks each payload, or only its header.
enum class SpoolPayloadCheck {
  kVerify,
  // Header CRC only; the payload is skipped unread. For a reader that checks
  // the payload later anyway (the batch sealer, as it copies it into a batch)
  // and reads below the durable size, where no write can be torn.
  kSkip,
};

class SpoolFileReader {
 public:
  // Reads `fd` (not owned; must outlive the reader) from `start_offset`, which
  // must be a record boundary, up to `limit`. `path` only names the file in
  // errors. Reads go through one buffer of `buffer_bytes` (at least
  // kMaxSpoolRecordHeaderBytes); payloads larger than it are streamed through.
  SpoolFileReader(int fd, std::string path, uint64_t start_offset, uint64_t limit,
                  size_t buffer_bytes = 1 << 20, SpoolPayloadCheck payload_check = SpoolPayloadCheck::kVerify);

  // Returns the next record, its header and payload CRCs verified (header
  // only with SpoolPayloadCheck::kSkip), or nullopt
  // when the reader stands exactly at `limit`. Returns DataLoss when the record
  // at offset() is torn or corrupt: it extends past `limit`, or has a bad
  // magic, header CRC or payload CRC; the reader then stays at that record.
  // Other codes are I/O errors.
  absl::StatusOr<std::optional<SpoolRecord>> Next();

  // Offset of the next record: the end of the last good record returned.
  uint64_t offset() const { return offset_; }

 private:
  // Up to `want` (<= buffer size) bytes at file offset `at`; fewer only when
  // `limit_` or the end of the file comes first.
  absl::StatusOr<absl::Span<const uint8_t>> View(uint64_t at, size_t want);

  int fd_;
  std::string path_;
  uint64_t offset_;
  uint64_t limit_;
  size_t buffer_bytes_;
  SpoolPayloadCheck payload_check_;
  AlignedFileRead read_;
  absl::Span<const uint8_t> window_;  // the bytes last read
  uint64_t window_offset_ = 0;        // their file offset
};

// What a spooled segment was, for telling a re-sent segment from a
// different one with the same seq after a restart (the session compares them).
struct SpoolSegmentSummary {
  uint64_t seq = 0;
  uint32_t payload_crc = 0;
  uint32_t payload_bytes = 0;
  int64_t capture_start_us = 0;
  uint32_t duration_us = 0;
  uint8_t flags = 0;
};

// How many of each camera's highest seqs recovery keeps summaries of.
inline constexpr size_t kRecoveredSegmentsPerCamera = 32;

// Adds `summary` to `recent`, keeping only the kRecoveredSegmentsPerCamera
// highest seqs (in no particular order).
void KeepRecentSegment(std::vector<SpoolSegmentSummary>& recent, const SpoolSegmentSummary& summary);

// What recovering one spool file found.
struct SpoolFileRecovery {
  uint64_t valid_bytes = 0;      // the file's size after recovery
  uint64_t record_count = 0;
  uint64_t truncated_bytes = 0;  // torn tail cut off
  std::map<std::string, uint64_t> max_seq_by_camera;
  std::map<std::string, std::vector<SpoolSegmentSummary>> recent_by_camera;
};

// Scans the whole file at `path`. The first record that is truncated or has a
// bad magic, header CRC or payload CRC marks a torn tail: the file is
// truncated at that record's start and fsync'd, and nothing after it is
// trusted (a later record could be a stale leftover). A file without a torn
// tail is left as is.
absl::StatusOr<SpoolFileRecovery> RecoverSpoolFile(const std::string& path);

}  // namespace ingest

#endif  // SERVER_SPOOL_SPOOL_FILE_READER_H_
