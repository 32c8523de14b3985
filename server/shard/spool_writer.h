// A shard's group commit: records from all of the shard's cameras are
// gathered into one batch, written with a single writev at the end of the
// shard's active spool file and made durable with fdatasync linked behind it,
// both through the shard's ring. One commit is in flight at a time; records
// arriving meanwhile form the next batch. A batch is committed when it holds
// commit_bytes, or its oldest record has waited commit_interval.
//
//   SpoolWriter writer(ring, catalog, shard, options);
//   writer.Append(record);                 // from a session
//   writer.MaybeCommit(now);               // once per loop turn
//   ... completions with Op::kSpoolWrite / kSpoolSync -> writer.OnCompletion(cqe, on_durable)
//
// Buffers stay owned by the records until on_durable hands them back.
//
// When the catalog opened the file with O_DIRECT, Append pads each record to
// kSpoolRecordAlignment (the pooled buffers are 4 KiB aligned and sized in
// 4 KiB steps, so the padding always fits): the writes then go from the
// buffers to the device without the page-cache copy. (An append that grows
// the file may still be handed to an io_uring worker thread, as every
// buffered write was, but the worker no longer copies.) fdatasync still
// follows every write before any ACK. If a
// write is refused with EINVAL (e.g. a buffer the kernel finds misaligned),
// the writer clears O_DIRECT on the file, tells the catalog (one log line)
// and writes the batch again, buffered; padded records stay valid in a
// buffered file. (A file system that refuses the I/O whatever our flags say,
// like a FUSE passthrough that opened its own file O_DIRECT, is caught by the
// catalog's probe at start-up, before any spool file is opened O_DIRECT.)
//
// A full disk (ENOSPC, EDQUOT) is not an error: the batch stays unacknowledged
// and is written again every kFullDiskRetry until it fits, and the shard
// stops reading from its cameras meanwhile (stalled()). When fdatasync is the
// call that fails, the kernel may already have dropped the dirty pages, so
// the whole batch is written again before the next sync. Any other write or
// sync error is fatal.
#ifndef SERVER_SHARD_SPOOL_WRITER_H_
#define SERVER_SHARD_SPOOL_WRITER_H_

#include <sys/uio.h>

#include <cstdint>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "server/session/camera_registry.h"
#include "server/session/segment_buffer_pool.h"
#include "server/spool/spool_catalog.h"
#include "server/uring/ring.h"
#include "server/uring/user_data.h"

namespace ingest {

struct SpoolWriterOptions {
  absl::Duration commit_interval = absl::Milliseconds(2);
  uint64_t commit_bytes = 1 << 20;
  uint64_t file_bytes = 64 << 20;
};

// A record waiting for durability, and who to tell.
struct SpoolPendingRecord {
  SegmentBuffer buffer;
  uint32_t record_bytes = 0;
  uint32_t payload_bytes = 0;
  uint64_t seq = 0;
  CameraState* camera = nullptr;
  uint32_t conn_id = 0;
  uint32_t conn_generation = 0;
  absl::Time received;
};

// How often a batch refused for lack of space is tried again.
inline constexpr absl::Duration kFullDiskRetry = absl::Milliseconds(250);

struct SpoolWriterCounters {
  uint64_t commits = 0;
  uint64_t disk_full_errors = 0;  // writes or syncs refused with ENOSPC / EDQUOT
  uint64_t records = 0;
  uint64_t bytes = 0;
  uint64_t short_writes = 0;
  uint64_t rotations = 0;
  uint64_t pad_bytes = 0;  // zero bytes written to align records for O_DIRECT
};

class SpoolWriter {
 public:
  SpoolWriter(Ring& ring, SpoolCatalog& catalog, int shard, const SpoolWriterOptions& options);

  void Append(const SpoolPendingRecord& record);

  // Starts a commit if none is in flight and the open batch is due (or
  // `force` and it is not empty).
  void MaybeCommit(absl::Time now, bool force = false);

  // How long until the open batch is due (or a stalled batch is retried);
  // InfiniteDuration when there is nothing to commit or a commit is in flight.
  absl::Duration TimeUntilDue(absl::Time now) const;

  // Handles a completion of one of this writer's SQEs (Op::kSpoolWrite or
  // kSpoolSync). Calls on_durable(record) for every record of the batch once
  // it is durable. A full disk stalls the batch (see above); any other failed
  // write or sync is an error status: the spool can no longer promise
  // durability and the caller must stop the server.
  absl::Status OnCompletion(Op op, int res,
                            absl::FunctionRef<void(const SpoolPendingRecord&)> on_durable);

  bool idle() const { return !in_flight_ && open_.empty(); }
  // A batch is waiting for disk space; since when, and the last error.
  bool stalled() const { return stalled_since_ != absl::InfinitePast(); }
  absl::Time stalled_since() const { return stalled_since_; }
  uint64_t open_bytes() const { return open_bytes_; }
  uint64_t in_flight_bytes() const { return in_flight_ ? committing_bytes_ : 0; }
  const SpoolWriterCounters& counters() const { return counters_; }
  // When the last commit (the one in flight, if any) was started.
  absl::Time commit_started() const { return commit_started_; }
  // Whether the active file is written with O_DIRECT (records padded).
  bool direct() const { return direct_; }

 private:
  // Submits writev(iov_[iov_done_..]) at write_offset_ linked with fdatasync.
  void SubmitWriteAndSync();
  // The disk is full: the batch waits kFullDiskRetry; after a failed sync
  // it is written again from its first byte.
  void Stall(Op op);
  // (Re)builds iov_ over the whole batch being committed.
  void RewindBatch();
  // Reads whether file_ is open with O_DIRECT; clears the flag if the catalog
  // has given O_DIRECT up since the file was created.
  void AdoptFile();
  // The file system refused an O_DIRECT write: continue buffered.
  absl::Status FallBackToBuffered(int res);
  // The committed batch is durable: tells the catalog its new size and the
  // headers of its records (from the buffers, not the disk).
  absl::Status PublishDurable();

  Ring& ring_;
  SpoolCatalog& catalog_;
  const int shard_;
  const SpoolWriterOptions options_;

  ActiveSpoolFile file_;
  bool direct_ = false;
  std::vector<SpoolPendingRecord> open_;
  uint64_t open_bytes_ = 0;
  std::vector<SpoolPendingRecord> committing_;
  uint64_t committing_bytes_ = 0;
  std::vector<iovec> iov_;
  std::vector<SpoolRecord> published_;  // reused by PublishDurable
  size_t iov_done_ = 0;          // iovecs fully written
  uint64_t write_offset_ = 0;    // file offset of the next byte to write
  uint64_t batch_end_ = 0;       // file offset after the whole batch
  uint64_t batch_start_ = 0;     // file offset of the batch's first byte
  bool in_flight_ = false;
  bool write_ok_ = false;
  int sqes_in_flight_ = 0;       // the write and its linked sync
  absl::Time stalled_since_ = absl::InfinitePast();
  absl::Time retry_at_ = absl::InfinitePast();  // while stalled
  absl::Time commit_started_ = absl::InfinitePast();
  SpoolWriterCounters counters_;
};

}  // namespace ingest

#endif  // SERVER_SHARD_SPOOL_WRITER_H_
