// The batch sealer: a thread that turns durable spool records into batch
// objects in the object store (many cameras' segments per object), writes
// each camera's index objects, reports what is persisted, and deletes spool
// files once everything in them is in the store.
//
//   BatchSealer sealer(options, catalog.get(), &store);
//   RETURN_IF_ERROR(sealer.Open());   // replays the journal
//   for (auto& [camera, seq] : sealer.recovered_committed()) ...
//   sealer.set_on_persisted([&](const std::string& camera, uint64_t seq) { ... });
//   sealer.Start();
//   ...
//   sealer.Stop(/*flush_all=*/true);  // after the shards have stopped writing
//
// Each pass: prepare the shards' next spool files; take the headers of the
// records made durable since the last pass into per-camera queues (references
// into the spool, never payloads): as the shards published them for this
// run's files, read from the disk for files an earlier run left; once the segments seen in an earlier pass add up
// to batch_bytes, or the oldest has waited batch_age, cut batches: read the
// payloads into one buffer, check their CRCs, journal the batch's manifest
// (fdatasync) and hand it to the upload pool. When a PUT succeeds the
// batch is committed in the journal, its segments become persisted in each
// camera's seq order, and they join the camera's index buffer. A camera's
// index objects are written once its entries have waited index_interval or
// the capture hour they fall in has been over for index_hour_grace; a failed
// PUT of either kind is retried with backoff, keeping everything in the spool.
// Which segment may go where, and when, is decided by PersistOrder (no I/O);
// this class does the reading, uploading and journaling around it.
//
// Why segments seen in an earlier pass only: shards accept a camera's seq only
// after every lower one is durable, possibly on another shard, so by the next
// pass every lower seq has been read too and each camera's segments go into
// batches in seq order.
#ifndef SERVER_BATCH_BATCH_SEALER_H_
#define SERVER_BATCH_BATCH_SEALER_H_

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "common/json_log.h"
#include "server/batch/batch_buffer_pool.h"
#include "server/batch/batch_journal.h"
#include "server/batch/persist_order.h"
#include "server/batch/upload_pool.h"
#include "server/spool/aligned_file_read.h"
#include "server/spool/spool_catalog.h"
#include "server/spool/spool_record.h"
#include "server/store/object_store.h"

namespace ingest {

struct BatchSealerOptions {
  std::string zone = "dev";
  std::string instance;  // NewInstanceId() when empty
  std::string journal_dir;
  // 16 MiB: at 1 Mbit/s a camera's 2 s segment is ~250 KB, so a batch holds
  // ~64 segments (64x fewer PUTs), one PUT stays a single request (multipart
  // would bill every part), and four in flight pin 64 MiB.
  uint64_t batch_bytes = 16 << 20;
  // 10 s: bounds the wait for ACK(persisted) on a quiet server; a busy one
  // fills batch_bytes first.
  absl::Duration batch_age = absl::Seconds(10);
  absl::Duration index_interval = absl::Minutes(10);
  absl::Duration index_hour_grace = absl::Minutes(2);
  int upload_threads = 4;
  int max_batches_in_flight = 8;
  absl::Duration retry_min = absl::Seconds(1);
  absl::Duration retry_max = absl::Seconds(30);
  absl::Duration poll_interval = absl::Milliseconds(100);
  // Stop(flush_all) gives up after this and leaves the rest in the spool.
  absl::Duration flush_deadline = absl::Seconds(60);
  uint64_t journal_rotate_bytes = 64 << 20;
  // While the store is not known to be writable and nothing is uploading,
  // its CheckAccess() is called every probe_interval on the sealer thread,
  // so an idle server's readiness recovers with the store. False: never.
  bool probe_store = false;
  absl::Duration probe_interval = absl::Seconds(5);
};

struct BatchSealerStats {
  uint64_t segments_persisted = 0;
  uint64_t batches_written = 0;
  uint64_t batch_bytes_written = 0;  // whole objects
  uint64_t index_objects_written = 0;
  uint64_t duplicates_skipped = 0;
  uint64_t files_reclaimed = 0;
  uint64_t store_errors = 0;
  uint64_t spool_errors = 0;
  uint64_t corrupt_segments = 0;  // payload CRC mismatch at seal time; dropped, file kept
  uint64_t pending_segments = 0;  // read from the spool, not yet in a batch
  uint64_t batches_in_flight = 0;
  uint64_t unindexed_segments = 0;
  absl::Duration oldest_pending_age = absl::ZeroDuration();
  // False from a failed PUT (or probe) until the next successful one.
  bool store_ok = true;
  std::string last_store_error;
};

class BatchSealer {
 public:
  // `catalog` and `store` must outlive the sealer.
  BatchSealer(BatchSealerOptions options, SpoolCatalog* catalog, ObjectStore* store);
  // Stops the thread (without flushing) if it is running.
  ~BatchSealer();
  BatchSealer(const BatchSealer&) = delete;
  BatchSealer& operator=(const BatchSealer&) = delete;

  // Opens and replays the journal. Call once, before anything else.
  absl::Status Open();
  // Per camera, how far the journal shows it persisted (so the registry can
  // tell cameras where to resume): the highest seq such that it and every
  // lower seq the previous run held are committed, as far as the journal
  // tells (PersistOrder::Recover).
  const absl::flat_hash_map<std::string, uint64_t>& recovered_committed() const { return recovered_committed_; }

  // Called on the sealer thread with a camera and the highest seq such that
  // it and every lower seq of the camera in this server's spool are in the
  // store. Must not call back into the sealer. Set before Start().
  void set_on_persisted(std::function<void(const std::string& camera, uint64_t seq)> on_persisted);

  // Starts the sealing thread: a pass every poll_interval (or sooner when an
  // upload finishes). Call once.
  void Start();

  // Stops the thread after its current pass. With flush_all, then keeps
  // passing with every durable record eligible until everything is uploaded
  // and indexed, or flush_deadline (or `deadline`, if sooner) passes; the
  // shards must have stopped writing by then. Returns false if something
  // was left to upload (it stays in the spool and journal for the next start).
  bool Stop(bool flush_all, absl::Time deadline = absl::InfiniteFuture());

  // The store could not be reached (e.g. at start): readiness reports it
  // until an upload or a probe succeeds.
  void ReportStoreUnreachable(const absl::Status& status) { NoteStoreError(status); }

  // One pass on the caller's thread (tests), waiting up to `wait` for upload
  // results first. Returns the first error of the pass.
  absl::Status RunOnce(bool flush_all, absl::Duration wait = absl::ZeroDuration());

  // True when nothing is pending, in flight or unindexed.
  bool Idle() const;

  BatchSealerStats stats() const;

 private:
  // What the sealer knows of a spool file to read it; which of its records
  // are done is order_'s.
  struct FileState {
    std::string path;
    int fd = -1;  // read-only, opened on first read
    uint64_t scan_offset = 0;
    bool scan_stopped = false;  // corrupt record found: stays for an operator
  };
  struct BatchInFlight {
    std::shared_ptr<const BatchBytes> object;
    uint32_t object_crc32c = 0;  // Crc32c(*object), for the store's checksum
    BatchManifest manifest;
    int attempts = 0;
    absl::Time retry_at = absl::InfinitePast();
    bool submitted = false;
  };

  void Loop();
  absl::Status Pass(bool flush_all, absl::Duration wait) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void ScanFile(const SpoolFileState& file, absl::Time now, absl::Status& first_error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void AddPending(const SpoolRecord& record, const SpoolFileKey& file, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void CutBatches(bool flush_all, absl::Time now, absl::Status& first_error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  // Takes up to batch_bytes of eligible segments (or those of `only`, a
  // recovered intent) into a new batch. False when nothing was taken.
  bool CutOneBatch(bool flush_all, const BatchManifest* only, absl::Status& first_error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void SubmitDue(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void HandleResults(const std::vector<UploadResult>& results, absl::Time now, absl::Status& first_error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void CommitBatch(uint64_t id, absl::Status& first_error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void FlushIndexes(bool flush_all, absl::Time now, absl::Status& first_error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void ReclaimFiles(const std::vector<SpoolFileState>& snapshot, absl::Status& first_error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void MaybeRotateJournal(absl::Status& first_error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void NoteError(std::string_view event, const absl::Status& status, absl::Status& first_error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void NoteStoreError(const absl::Status& status);
  void ProbeStoreIfIdleAndFailing();
  absl::Duration RetryDelay(int attempts) const;

  const BatchSealerOptions options_;
  SpoolCatalog* const catalog_;
  ObjectStore* const store_;
  std::function<void(const std::string&, uint64_t)> on_persisted_;
  absl::flat_hash_map<std::string, uint64_t> recovered_committed_;

  mutable absl::Mutex run_mu_;  // one pass at a time
  std::unique_ptr<BatchJournal> journal_ ABSL_GUARDED_BY(run_mu_);
  std::unique_ptr<UploadPool> pool_;
  // Batch objects reused rather than mapped and zeroed afresh each time.
  BatchBufferPool buffers_{static_cast<size_t>(options_.max_batches_in_flight) + 1};
  // Where spool reads land: neighbouring segments up to 4 MiB, or one larger
  // segment (max_segment_bytes), so it grows to the larger of the two and
  // stays; the scan's reader holds kScanReadBytes more.
  AlignedFileRead payload_read_;
  static constexpr size_t kScanReadBytes = 16 << 10;
  uint64_t pass_ ABSL_GUARDED_BY(run_mu_) = 0;
  uint64_t next_batch_seq_ ABSL_GUARDED_BY(run_mu_) = 1;
  uint64_t next_job_id_ ABSL_GUARDED_BY(run_mu_) = 1;
  std::map<SpoolFileKey, FileState> files_ ABSL_GUARDED_BY(run_mu_);
  PersistOrder order_ ABSL_GUARDED_BY(run_mu_);
  std::map<uint64_t, BatchInFlight> batches_ ABSL_GUARDED_BY(run_mu_);     // by job id
  std::map<uint64_t, std::string> index_jobs_ ABSL_GUARDED_BY(run_mu_);    // job id -> camera
  std::vector<BatchManifest> recovered_intents_ ABSL_GUARDED_BY(run_mu_);  // to re-upload
  log::RateLimiter error_log_ ABSL_GUARDED_BY(run_mu_){1.0, 5.0};

  mutable absl::Mutex stats_mu_;
  BatchSealerStats stats_ ABSL_GUARDED_BY(stats_mu_);

  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace ingest

#endif  // SERVER_BATCH_BATCH_SEALER_H_
