// Which spool files exist, which one each shard appends to, and how far each
// is durable. Shared by the shard threads (publish, rotate) and the sealer
// (prepare next files, snapshot, reclaim); every method is thread-safe.
//
//   RecoveryReport report;
//   ASSIGN_OR_RETURN(std::unique_ptr<SpoolCatalog> catalog,
//                    SpoolCatalog::Open({.dir = "/var/spool/ingest", .shard_count = 4}, &report));
//   ActiveSpoolFile file = catalog->active_file(shard);    // shard thread, at start-up
//   ... write records at file.size with io_uring, fdatasync ...
//   catalog->PublishDurable(shard, file.file_seq, new_size);
//   if (new_size >= file_bytes)
//     if (auto next = catalog->RotateIfPrepared(shard, new_size)) file = *next;
//
// Files live at <dir>/shard-NN/<file_seq, 16 digits>.spool; file_seq grows per
// shard across restarts, so name order is write order.
#ifndef SERVER_SPOOL_SPOOL_CATALOG_H_
#define SERVER_SPOOL_SPOOL_CATALOG_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/types/span.h"
#include "server/spool/spool_file_reader.h"
#include "server/spool/spool_record.h"

namespace ingest {

struct SpoolCatalogOptions {
  std::string dir;
  int shard_count = 1;
  uint64_t file_bytes = 64 << 20;  // a shard rotates once its file reaches this size
  // Free space the spool leaves on its file system, for the batch journal
  // (which must still be written for any upload to free space) and for
  // whatever else shares the disk: below it, disk_low() says stop reading.
  uint64_t min_free_bytes = 64 << 20;
  // Open spool files with O_DIRECT, so a shard's writes skip the page cache.
  // Only for writers that pad every record to kSpoolRecordAlignment from
  // aligned buffers (SpoolWriter does; ingestd's spool.direct_io turns it on).
  // Open() first writes a probe block O_DIRECT; where the file system refuses
  // it (at the open, the probe or a later write), files are opened buffered
  // from then on.
  bool direct_io = false;
};

// A file a shard appends to. The catalog owns `fd`; the shard must not close it.
struct ActiveSpoolFile {
  int fd = -1;
  uint64_t file_seq = 0;
  uint64_t size = 0;  // next write offset
};

// What Open() found in the spool left by the previous run.
struct RecoveryReport {
  uint64_t files = 0;
  uint64_t records = 0;
  uint64_t valid_bytes = 0;
  uint64_t truncated_bytes = 0;
  std::map<std::string, uint64_t> max_seq_by_camera;  // highest spooled seq per camera
  // Summaries of (up to about) each camera's kRecoveredSegmentsPerCamera highest seqs.
  std::map<std::string, std::vector<SpoolSegmentSummary>> recent_by_camera;
};

// One live spool file as the sealer sees it.
struct SpoolFileState {
  int shard = 0;
  uint64_t file_seq = 0;
  std::string path;
  uint64_t durable_bytes = 0;  // records in [0, durable_bytes) are fsync'd
  bool closed = false;         // no more appends
  uint64_t final_bytes = 0;    // size when closed; valid only if closed
  // The writer publishes each record's header with its durability
  // (PublishDurableRecords): the sealer takes them (TakeRecords) instead of
  // reading the headers back from the disk. False for files recovered at
  // start-up, which are read.
  bool records_published = false;
};

class SpoolCatalog {
 public:
  // Opens (creating) dir/shard-NN/ for every shard, recovers every existing
  // *.spool file under dir (in any shard-NN folder, even NN >= shard_count)
  // and registers it as closed, then creates one fresh active file per shard.
  // Fills `report` (may be null) with what recovery found.
  static absl::StatusOr<std::unique_ptr<SpoolCatalog>> Open(SpoolCatalogOptions options,
                                                            RecoveryReport* report);
  ~SpoolCatalog();
  SpoolCatalog(const SpoolCatalog&) = delete;
  SpoolCatalog& operator=(const SpoolCatalog&) = delete;

  const SpoolCatalogOptions& options() const { return options_; }

  // The file `shard` (0..shard_count-1) appends to now. Meant for start-up;
  // afterwards the shard follows RotateIfPrepared().
  ActiveSpoolFile active_file(int shard) const;

  // Records that bytes [0, durable_bytes) of the shard's file `file_seq` are
  // durable. Monotonic: a smaller value than already published is ignored.
  // Cheap (one mutex, no I/O); valid for the active file and for the file
  // just rotated away from while its last writes complete.
  void PublishDurable(int shard, uint64_t file_seq, uint64_t durable_bytes);
  // PublishDurable, with the headers of the records that became durable, in
  // file order, each with its payload_offset; kept until TakeRecords. A file
  // is published either always this way or never.
  void PublishDurableRecords(int shard, uint64_t file_seq, uint64_t durable_bytes,
                             absl::Span<const SpoolRecord> records);
  // The records published for the file since the last call (sealer side).
  std::vector<SpoolRecord> TakeRecords(int shard, uint64_t file_seq);

  // If the sealer has prepared a next file for `shard`, closes the current one
  // at `final_bytes` (no record may be written past it), takes over its fd and
  // returns the new active file; otherwise nullopt, and the shard keeps
  // appending and asks again later. Never does I/O. The shard may keep using
  // the old fd for writes and fdatasync below `final_bytes` until it has
  // published `final_bytes` as durable; only then is the fd closed.
  std::optional<ActiveSpoolFile> RotateIfPrepared(int shard, uint64_t final_bytes);

  // Bytes in all live spool files (durable, and closed files' final size):
  // what is waiting for the sealer. For backpressure; lock-free.
  uint64_t total_bytes() const { return total_bytes_.load(std::memory_order_relaxed); }

  // Free bytes on the spool's file system as an unprivileged writer sees
  // them: measured by RefreshDiskSpace(), lowered by every durable append
  // since (so a fast writer does not overrun the reserve between two
  // measurements). Lock-free.
  uint64_t disk_free_bytes() const { return disk_free_bytes_.load(std::memory_order_relaxed); }
  // True when writing `pending` more bytes would leave less than
  // min_free_bytes free.
  bool disk_low(uint64_t pending = 0) const {
    const uint64_t free = disk_free_bytes();
    return free < pending || free - pending < options_.min_free_bytes;
  }
  // Measures the free space (statvfs). Does I/O: sealer thread only.
  absl::Status RefreshDiskSpace();

  // Whether new files are opened with O_DIRECT: options().direct_io until the
  // file system refused it once, at an open or at a shard's write. Lock-free.
  bool direct_io() const { return direct_io_.load(std::memory_order_relaxed); }
  // The file system refused O_DIRECT (EINVAL) for `shard`'s file: files
  // created from now on are buffered. Logs the first refusal only, with `why`.
  // Cheap, no I/O; any thread.
  void DirectIoRefused(int shard, std::string_view why);

  // Sealer side. Creates the next file for every shard without one ready
  // (fsyncing the folder), and closes fds handed over by rotation whose final
  // bytes are durable. Does I/O: call from the sealer thread only.
  absl::Status PrepareNextFiles();

  // Every live file, ordered by (shard, file_seq).
  std::vector<SpoolFileState> Snapshot() const;

  // Deletes a closed file whose records are all sealed. FailedPrecondition if
  // it is active or not durable to its final size; NotFound if unknown.
  absl::Status Reclaim(int shard, uint64_t file_seq);

 private:
  struct File {
    std::string path;
    int fd = -1;  // open while active or until its final bytes are durable
    uint64_t durable_bytes = 0;
    bool closed = false;
    uint64_t final_bytes = 0;
    bool records_published = false;
    std::vector<SpoolRecord> records;  // published, not yet taken
  };
  // A file left by an earlier run, closed at its recovered size.
  static File RecoveredFile(std::string path, uint64_t bytes) {
    File f;
    f.path = std::move(path);
    f.durable_bytes = f.final_bytes = bytes;
    f.closed = true;
    return f;
  }
  // A new, empty file a shard appends to.
  static File ActiveFile(std::string path, int fd) {
    File f;
    f.path = std::move(path);
    f.fd = fd;
    return f;
  }
  struct Shard {
    uint64_t active_file_seq = 0;
    uint64_t next_file_seq = 1;          // for the next file to create
    std::optional<ActiveSpoolFile> prepared;  // created by the sealer, not yet active
  };
  using FileKey = std::pair<int, uint64_t>;  // (shard, file_seq)

  explicit SpoolCatalog(SpoolCatalogOptions options);
  // Creates an empty spool file, O_DIRECT while direct_io(), and makes its
  // name durable.
  absl::StatusOr<int> CreateFile(int shard, uint64_t file_seq);
  uint64_t LiveBytes(const File& f) const { return f.closed ? f.final_bytes : f.durable_bytes; }
  void PublishDurableLocked(File& file, uint64_t durable_bytes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const SpoolCatalogOptions options_;
  mutable absl::Mutex mu_;
  std::map<FileKey, File> files_ ABSL_GUARDED_BY(mu_);
  std::vector<Shard> shards_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> total_bytes_{0};
  std::atomic<uint64_t> disk_free_bytes_{UINT64_MAX};
  std::atomic<bool> direct_io_;
};

// "<dir>/shard-NN" and "<dir>/shard-NN/<file_seq, 16 digits>.spool".
std::string SpoolShardDir(const std::string& dir, int shard);
std::string SpoolFilePath(const std::string& dir, int shard, uint64_t file_seq);

// Every *.spool file under `dir` as (shard, file_seq, path), ordered. Does not
// open the files; for the catalog and read-only tools.
struct SpoolFileName {
  int shard = 0;
  uint64_t file_seq = 0;
  std::string path;
};
absl::StatusOr<std::vector<SpoolFileName>> ListSpoolFiles(const std::string& dir);

}  // namespace ingest

#endif  // SERVER_SPOOL_SPOOL_CATALOG_H_
