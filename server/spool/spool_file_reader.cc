#include "server/spool/spool_file_reader.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/status_macros.h"

namespace ingest {
namespace {

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(std::string(what), " ", path, ": ", std::strerror(errno)));
}

}  // namespace

SpoolFileReader::SpoolFileReader(int fd, std::string path, uint64_t start_offset, uint64_t limit,
                                 size_t buffer_bytes, SpoolPayloadCheck payload_check)
    : fd_(fd),
      path_(std::move(path)),
      offset_(start_offset),
      limit_(limit),
      buffer_bytes_(std::max(buffer_bytes, kMaxSpoolRecordHeaderBytes)),
      payload_check_(payload_check) {}

absl::StatusOr<absl::Span<const uint8_t>> SpoolFileReader::View(uint64_t at, size_t want) {
  if (at >= limit_) return absl::Span<const uint8_t>();
  want = static_cast<size_t>(std::min<uint64_t>(want, limit_ - at));
  if (at < window_offset_ || at + want > window_offset_ + window_.size()) {
    const size_t fill = static_cast<size_t>(std::min<uint64_t>(buffer_bytes_, limit_ - at));
    // A truncated file reads short; the caller finds the record cut off.
    ASSIGN_OR_RETURN(window_, read_.Read(fd_, path_, at, fill));
    window_offset_ = at;
  }
  const size_t have = static_cast<size_t>(std::min<uint64_t>(want, window_offset_ + window_.size() - at));
  return window_.subspan(static_cast<size_t>(at - window_offset_), have);
}

absl::StatusOr<std::optional<SpoolRecord>> SpoolFileReader::Next() {
  if (offset_ >= limit_) return std::nullopt;
  ASSIGN_OR_RETURN(absl::Span<const uint8_t> head, View(offset_, kMaxSpoolRecordHeaderBytes));
  absl::StatusOr<SpoolRecord> record = DecodeSpoolRecordHeader(head, offset_);
  if (!record.ok()) {
    if (absl::IsOutOfRange(record.status())) {
      return absl::DataLossError(absl::StrCat(path_, ": truncated record header at offset ", offset_));
    }
    return absl::DataLossError(absl::StrCat(path_, ": ", record.status().message()));
  }
  if (record->end_offset() > limit_) {
    return absl::DataLossError(absl::StrCat(path_, ": record at offset ", offset_,
                                            " ends past the readable end ", limit_));
  }
  if (payload_check_ == SpoolPayloadCheck::kSkip) {
    offset_ = record->end_offset();
    return std::optional<SpoolRecord>(*std::move(record));
  }
  // The payload may exceed the buffer: checksum it chunk by chunk.
  uint32_t crc = 0;
  uint64_t at = record->payload_offset;
  uint64_t left = record->payload_bytes;
  while (left > 0) {
    ASSIGN_OR_RETURN(absl::Span<const uint8_t> chunk,
                     View(at, static_cast<size_t>(std::min<uint64_t>(left, buffer_bytes_))));
    if (chunk.empty()) {
      return absl::DataLossError(absl::StrCat(path_, ": truncated payload of record at offset ", offset_));
    }
    crc = Crc32cExtend(crc, {chunk.data(), chunk.size()});
    at += chunk.size();
    left -= chunk.size();
  }
  if (crc != record->payload_crc) {
    return absl::DataLossError(absl::StrCat(path_, ": bad payload crc in record at offset ", offset_,
                                            " (camera ", record->camera_id, " seq ", record->seq, ")"));
  }
  offset_ = record->end_offset();
  return std::optional<SpoolRecord>(*std::move(record));
}

void KeepRecentSegment(std::vector<SpoolSegmentSummary>& recent, const SpoolSegmentSummary& summary) {
  recent.push_back(summary);
  if (recent.size() < 2 * kRecoveredSegmentsPerCamera) return;
  // Trim in batches so a long spool costs O(records), not a sort per record.
  std::nth_element(recent.begin(), recent.begin() + kRecoveredSegmentsPerCamera, recent.end(),
                   [](const SpoolSegmentSummary& a, const SpoolSegmentSummary& b) { return a.seq > b.seq; });
  recent.resize(kRecoveredSegmentsPerCamera);
}

absl::StatusOr<SpoolFileRecovery> RecoverSpoolFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open", path);
  struct FdCloser {
    int fd;
    ~FdCloser() { close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0) return ErrnoError("fstat", path);
  const uint64_t file_size = static_cast<uint64_t>(st.st_size);

  SpoolFileRecovery result;
  // No bigger a buffer than the file: start-up recovers every spool file the
  // last run left, and a small one need not cost a whole megabyte.
  SpoolFileReader reader(fd, path, 0, file_size, static_cast<size_t>(std::min<uint64_t>(file_size, 1 << 20)));
  while (true) {
    absl::StatusOr<std::optional<SpoolRecord>> next = reader.Next();
    if (!next.ok()) {
      if (!absl::IsDataLoss(next.status())) return next.status();
      break;  // torn tail starts at reader.offset()
    }
    if (!next->has_value()) break;
    const SpoolRecord& r = **next;
    ++result.record_count;
    uint64_t& max_seq = result.max_seq_by_camera[r.camera_id];
    max_seq = std::max(max_seq, r.seq);
    KeepRecentSegment(result.recent_by_camera[r.camera_id],
                      SpoolSegmentSummary{.seq = r.seq,
                                          .payload_crc = r.payload_crc,
                                          .payload_bytes = r.payload_bytes,
                                          .capture_start_us = r.capture_start_us,
                                          .duration_us = r.duration_us,
                                          .flags = r.flags});
  }
  result.valid_bytes = reader.offset();
  result.truncated_bytes = file_size - result.valid_bytes;
  if (result.truncated_bytes > 0) {
    if (ftruncate(fd, static_cast<off_t>(result.valid_bytes)) != 0) return ErrnoError("ftruncate", path);
    if (fsync(fd) != 0) return ErrnoError("fsync", path);
  }
  return result;
}

}  // namespace ingest
