#include "server/shard/spool_writer.h"

#include <fcntl.h>

#include <climits>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/monotonic_clock.h"
#include "common/status_macros.h"
#include "server/spool/spool_record.h"
#include "server/uring/prepare.h"
#include "server/uring/user_data.h"

namespace ingest {
namespace {

// writev takes at most IOV_MAX iovecs; a larger batch waits for the next commit.
constexpr size_t kMaxRecordsPerCommit = IOV_MAX;

bool IsDiskFull(int res) { return res == -ENOSPC || res == -EDQUOT; }

}  // namespace

SpoolWriter::SpoolWriter(Ring& ring, SpoolCatalog& catalog, int shard,
                         const SpoolWriterOptions& options)
    : ring_(ring), catalog_(catalog), shard_(shard), options_(options) {
  file_ = catalog_.active_file(shard_);
  AdoptFile();
  open_.reserve(kMaxRecordsPerCommit);
  committing_.reserve(kMaxRecordsPerCommit);
  iov_.reserve(kMaxRecordsPerCommit);
}

void SpoolWriter::AdoptFile() {
  const int flags = fcntl(file_.fd, F_GETFL);
  direct_ = flags >= 0 && (flags & O_DIRECT) != 0;
  if (direct_ && !catalog_.direct_io()) {
    direct_ = !(fcntl(file_.fd, F_SETFL, flags & ~O_DIRECT) == 0);
  }
}

absl::Status SpoolWriter::FallBackToBuffered(int res) {
  const int flags = fcntl(file_.fd, F_GETFL);
  if (flags < 0 || fcntl(file_.fd, F_SETFL, flags & ~O_DIRECT) != 0) {
    return absl::DataLossError(absl::StrCat("spool file ", file_.file_seq, " of shard ", shard_,
                                            " refused O_DIRECT (", std::strerror(-res),
                                            ") and clearing it failed: ", std::strerror(errno)));
  }
  direct_ = false;
  catalog_.DirectIoRefused(shard_, absl::StrCat("O_DIRECT write to spool file ", file_.file_seq, ": ",
                                                std::strerror(-res)));
  return absl::OkStatus();
}

void SpoolWriter::Append(const SpoolPendingRecord& record) {
  open_.push_back(record);
  if (direct_) {
    SpoolPendingRecord& r = open_.back();
    r.record_bytes = static_cast<uint32_t>(
        PadSpoolRecord(absl::Span<uint8_t>(r.buffer.data, r.buffer.capacity), r.record_bytes));
    counters_.pad_bytes += r.record_bytes - record.record_bytes;
  }
  open_bytes_ += open_.back().record_bytes;
}

absl::Duration SpoolWriter::TimeUntilDue(absl::Time now) const {
  if (stalled() && sqes_in_flight_ == 0) return std::max(absl::ZeroDuration(), retry_at_ - now);
  if (in_flight_ || open_.empty()) return absl::InfiniteDuration();
  if (open_bytes_ >= options_.commit_bytes) return absl::ZeroDuration();
  return std::max(absl::ZeroDuration(), open_.front().received + options_.commit_interval - now);
}

void SpoolWriter::MaybeCommit(absl::Time now, bool force) {
  if (stalled() && sqes_in_flight_ == 0 && now >= retry_at_) {
    SubmitWriteAndSync();
    return;
  }
  if (in_flight_ || open_.empty()) return;
  if (!force && TimeUntilDue(now) > absl::ZeroDuration()) return;
  size_t take = std::min(open_.size(), kMaxRecordsPerCommit);
  committing_.assign(open_.begin(), open_.begin() + static_cast<ptrdiff_t>(take));
  open_.erase(open_.begin(), open_.begin() + static_cast<ptrdiff_t>(take));
  committing_bytes_ = 0;
  for (const SpoolPendingRecord& r : committing_) committing_bytes_ += r.record_bytes;
  open_bytes_ -= committing_bytes_;
  batch_start_ = file_.size;
  batch_end_ = file_.size + committing_bytes_;
  RewindBatch();
  in_flight_ = true;
  commit_started_ = now;
  SubmitWriteAndSync();
}

void SpoolWriter::RewindBatch() {
  iov_.clear();
  for (const SpoolPendingRecord& r : committing_) iov_.push_back({r.buffer.data, r.record_bytes});
  iov_done_ = 0;
  write_offset_ = batch_start_;
}

void SpoolWriter::Stall(Op op) {
  ++counters_.disk_full_errors;
  const absl::Time now = MonotonicNow();
  if (!stalled()) stalled_since_ = now;
  retry_at_ = now + kFullDiskRetry;
  // A failed fdatasync may have dropped the written pages as if clean: only
  // writing them again makes the next sync cover them. A failed write keeps
  // what it wrote before (short writes advanced write_offset_).
  if (op == Op::kSpoolSync) RewindBatch();
}

void SpoolWriter::SubmitWriteAndSync() {
  write_ok_ = false;
  sqes_in_flight_ = 2;
  // The sync runs only if the write wrote everything (a short write breaks the
  // link and the sync completes with -ECANCELED; the remainder is resubmitted).
  PrepareWriteThenDatasync(ring_, file_.fd, iov_.data() + iov_done_,
                           static_cast<unsigned>(iov_.size() - iov_done_), write_offset_,
                           UserData{Op::kSpoolWrite, 0, 0}, UserData{Op::kSpoolSync, 0, 0});
}

absl::Status SpoolWriter::PublishDurable() {
  // The headers the buffers still hold, so the sealer learns the records
  // without reading them back from the disk.
  published_.clear();
  uint64_t offset = batch_start_;
  for (const SpoolPendingRecord& r : committing_) {
    absl::StatusOr<SpoolRecord> header =
        DecodeSpoolRecordHeader(absl::Span<const uint8_t>(r.buffer.data, r.record_bytes), offset);
    if (!header.ok()) {
      return absl::InternalError(absl::StrCat("spool record of shard ", shard_, " at offset ", offset,
                                              " of file ", file_.file_seq, ": ", header.status().message()));
    }
    published_.push_back(*std::move(header));
    offset += r.record_bytes;
  }
  catalog_.PublishDurableRecords(shard_, file_.file_seq, file_.size, published_);
  return absl::OkStatus();
}

absl::Status SpoolWriter::OnCompletion(
    Op op, int res, absl::FunctionRef<void(const SpoolPendingRecord&)> on_durable) {
  --sqes_in_flight_;
  if (op == Op::kSpoolWrite) {
    if (IsDiskFull(res)) {
      Stall(op);  // the linked sync completes -ECANCELED next
      return absl::OkStatus();
    }
    if (res == -EINVAL && direct_) {
      // Nothing was written; the linked sync completes -ECANCELED next and
      // the batch goes again from write_offset_, through the page cache.
      return FallBackToBuffered(res);
    }
    if (res < 0) {
      return absl::DataLossError(absl::StrCat("spool write to file ", file_.file_seq, " of shard ", shard_,
                                              " failed: ", std::strerror(-res)));
    }
    uint64_t expected = batch_end_ - write_offset_;
    write_offset_ += static_cast<uint64_t>(res);
    if (static_cast<uint64_t>(res) == expected) {
      write_ok_ = true;
      return absl::OkStatus();
    }
    // Short write: advance past what was written; resubmitted when the
    // cancelled sync completes.
    ++counters_.short_writes;
    size_t left = static_cast<size_t>(res);
    while (left > 0 && iov_done_ < iov_.size()) {
      iovec& v = iov_[iov_done_];
      if (left >= v.iov_len) {
        left -= v.iov_len;
        ++iov_done_;
      } else {
        v.iov_base = static_cast<uint8_t*>(v.iov_base) + left;
        v.iov_len -= left;
        left = 0;
      }
    }
    return absl::OkStatus();
  }
  // Op::kSpoolSync
  if (res == -ECANCELED && !write_ok_) {
    // A short write is continued now; a full disk waits for MaybeCommit.
    if (!stalled()) SubmitWriteAndSync();
    return absl::OkStatus();
  }
  if (IsDiskFull(res)) {
    Stall(op);
    return absl::OkStatus();
  }
  if (res < 0) {
    return absl::DataLossError(absl::StrCat("spool fdatasync of file ", file_.file_seq, " of shard ", shard_,
                                            " failed: ", std::strerror(-res)));
  }
  stalled_since_ = absl::InfinitePast();
  file_.size = batch_end_;
  RETURN_IF_ERROR(PublishDurable());
  ++counters_.commits;
  counters_.records += committing_.size();
  counters_.bytes += committing_bytes_;
  for (const SpoolPendingRecord& r : committing_) on_durable(r);
  committing_.clear();
  in_flight_ = false;
  if (file_.size >= options_.file_bytes) {
    if (std::optional<ActiveSpoolFile> next = catalog_.RotateIfPrepared(shard_, file_.size)) {
      file_ = *next;
      AdoptFile();
      ++counters_.rotations;
    }
  }
  return absl::OkStatus();
}

}  // namespace ingest
