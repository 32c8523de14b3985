// The sealer: a thread that turns durable spool records into pack objects in
// the object store, one camera's consecutive segments per object, and deletes
// spool files once everything in them is stored.
//
//   Sealer sealer({.zone = "eu1"}, catalog.get(), &store);
//   sealer.set_on_sealed([&](const std::string& camera, uint64_t last_seq) { ... });
//   sealer.Start();
//   ...
//   sealer.Stop(/*flush_all=*/true);  // after the shards have stopped writing
//
// Each pass: prepare the shards' next spool files; read the records made
// durable since the last pass; queue them per camera by seq (as references
// into the spool, never the payloads); seal a camera's queue once it holds
// seal_bytes or its oldest segment has waited seal_age. Only segments already
// seen in an earlier pass are sealed (flush_all excepted): shards accept a
// camera's seq only after every lower one is durable, possibly on another
// shard, so by the next pass every lower seq has been read too and packs come
// out in seq order. Segments at or below what the store already holds for the
// camera (found once per camera, see HighestStoredSeq) are skipped as
// duplicates of a seal done before a crash. A failed Put keeps everything
// queued for the next pass.
#ifndef SERVER_STORE_SEALER_H_
#define SERVER_STORE_SEALER_H_

#include <cstdint>
#include <functional>
#include <map>
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
#include "server/spool/spool_catalog.h"
#include "server/spool/spool_record.h"
#include "server/store/object_store.h"

namespace ingest {

struct SealerOptions {
  std::string zone = "dev";
  uint64_t seal_bytes = 8 << 20;  // seal a camera at this many queued bytes; also the pack size cap
  absl::Duration seal_age = absl::Seconds(10);  // ... or once its oldest queued segment is this old
  absl::Duration poll_interval = absl::Milliseconds(100);
};

struct SealerStats {
  uint64_t segments_sealed = 0;
  uint64_t objects_written = 0;
  uint64_t bytes_sealed = 0;  // payload bytes
  uint64_t duplicates_skipped = 0;
  uint64_t files_reclaimed = 0;
  uint64_t store_errors = 0;
  uint64_t spool_errors = 0;      // spool reads that failed or found corruption
  uint64_t corrupt_segments = 0;  // payload CRC mismatch at seal time; dropped, file kept
  uint64_t pending_segments = 0;
  absl::Duration oldest_pending_age = absl::ZeroDuration();
};

class Sealer {
 public:
  // `catalog` and `store` must outlive the sealer.
  Sealer(SealerOptions options, SpoolCatalog* catalog, ObjectStore* store);
  // Stops the thread (without flushing) if it is running.
  ~Sealer();
  Sealer(const Sealer&) = delete;
  Sealer& operator=(const Sealer&) = delete;

  // Starts the sealing thread: a pass every poll_interval. Call once.
  void Start();

  // Stops the thread after its current pass. With flush_all, then runs one
  // last pass that seals every durable record regardless of age and reclaims
  // what it can; the shards must have stopped writing by then.
  void Stop(bool flush_all);

  // One pass, on the caller's thread (tests; or instead of Start()). Returns
  // the first error of the pass; the work it could do is done regardless, and
  // what failed is retried by the next pass.
  absl::Status RunOnce(bool flush_all);

  SealerStats stats() const;

  // Called on the sealer thread after each pack is stored, with the camera and
  // the highest seq now in the store. Must not call back into the sealer. Set
  // before Start().
  void set_on_sealed(std::function<void(const std::string& camera, uint64_t last_seq)> on_sealed);

 private:
  using FileKey = std::pair<int, uint64_t>;  // (shard, file_seq)

  struct FileState {
    std::string path;
    int fd = -1;  // read-only, opened on first read
    uint64_t scan_offset = 0;
    uint64_t records = 0;       // read so far
    uint64_t records_done = 0;  // of those, sealed or skipped
    bool scan_stopped = false;  // corrupt record found: stays for an operator
    bool keep = false;          // corrupt payload found at seal time: stays too
  };
  struct PendingSegment {
    uint64_t seq = 0;
    int64_t capture_start_us = 0;
    uint32_t duration_us = 0;
    uint8_t flags = 0;
    uint32_t length = 0;
    uint32_t crc = 0;
    uint64_t payload_offset = 0;
    FileKey file;
    uint64_t pass_seen = 0;
    absl::Time seen_at;
  };
  struct CameraState {
    std::vector<PendingSegment> pending;  // sorted by seq, no seq twice
    uint64_t pending_bytes = 0;
    bool store_checked = false;  // sealed_through includes HighestStoredSeq
    uint64_t sealed_through = 0; // every seq <= this is in the store
  };

  void ScanFile(const SpoolFileState& file, absl::Time now, absl::Status& first_error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void AddPending(const SpoolRecord& record, const FileKey& file, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void SealCamera(const std::string& camera, CameraState& state, bool flush_all, absl::Time now,
                  absl::Status& first_error) ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  // Seals pending[begin, end) of `state` as one pack.
  absl::Status SealRun(const std::string& camera, CameraState& state, size_t begin, size_t end)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void ReclaimFiles(const std::vector<SpoolFileState>& snapshot, absl::Status& first_error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void NoteError(std::string_view event, const absl::Status& status, absl::Status& first_error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(run_mu_);
  void Loop();

  const SealerOptions options_;
  SpoolCatalog* const catalog_;
  ObjectStore* const store_;
  std::function<void(const std::string&, uint64_t)> on_sealed_;

  absl::Mutex run_mu_;  // one pass at a time
  uint64_t pass_ ABSL_GUARDED_BY(run_mu_) = 0;
  std::map<FileKey, FileState> files_ ABSL_GUARDED_BY(run_mu_);
  absl::flat_hash_map<std::string, CameraState> cameras_ ABSL_GUARDED_BY(run_mu_);
  log::RateLimiter error_log_ ABSL_GUARDED_BY(run_mu_){1.0, 5.0};

  mutable absl::Mutex stats_mu_;
  SealerStats stats_ ABSL_GUARDED_BY(stats_mu_);

  absl::Notification stop_;
  std::thread thread_;
};

}  // namespace ingest

#endif  // SERVER_STORE_SEALER_H_
