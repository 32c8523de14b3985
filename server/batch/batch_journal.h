// The batch journal: a small append-only log on the spool disk that says
// which batch objects this server wrote, so a restart neither loses the
// camera index of a batch already in the store nor writes a batch twice.
//
//   JournalRecovery recovered;
//   ASSIGN_OR_RETURN(auto journal, BatchJournal::Open(spool_dir + "/journal", &recovered));
//   RETURN_IF_ERROR(journal->AppendIntent(manifest));   // durable before the PUT
//   ... PUT the batch ...
//   RETURN_IF_ERROR(journal->AppendCommit(manifest.key));  // durable before spool reclaim
//   ... write the camera's index objects ...
//   RETURN_IF_ERROR(journal->AppendIndexed("cam-1", 1234));
//
// Records (each framed as u32 "BJR1", u32 body bytes, u32 CRC-32C of the
// body, then the body: u8 type + fields):
//   intent   batch key, entries (camera, seq, times, flags, offset, length, crc)
//            written and fdatasync'd before the batch is PUT; a later intent
//            for the same key replaces an earlier one
//   commit   batch key: the PUT succeeded
//   indexed  camera, seq: every committed segment of the camera up to seq is
//            in a camera index object
//   high     camera, seq: every seq up to it is committed (snapshots)
// Replay stops at the first torn or corrupt record, as the spool does.
//
// The log is rewritten into a fresh file (Rotate) at start-up and whenever it
// grows past a size, holding only what is still live, so it stays small.
#ifndef SERVER_BATCH_BATCH_JOURNAL_H_
#define SERVER_BATCH_BATCH_JOURNAL_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "server/batch/segment_location.h"

namespace ingest {

// One batch object and what it holds (entries with camera set, offsets
// inside the object).
struct BatchManifest {
  std::string key;
  std::vector<SegmentLocation> entries;
};

// What the journal says the previous run left behind.
struct JournalRecovery {
  // Intents with no commit: PUT or not, their segments are still in the spool.
  std::vector<BatchManifest> uncommitted;
  // Committed segments not yet in a camera index, batch_key set, per camera
  // in seq order.
  std::vector<SegmentLocation> unindexed;
  // Per camera, the highest seq such that it and (as far as this server
  // knows) every lower one is committed.
  absl::flat_hash_map<std::string, uint64_t> committed_through;
  uint64_t records = 0;
  uint64_t truncated_bytes = 0;
};

// Replays the journal files in `dir` without changing anything (tools).
// A missing folder replays as empty.
absl::StatusOr<JournalRecovery> ReadJournal(const std::string& dir);

class BatchJournal {
 public:
  // Creates `dir` if needed, replays every journal file in it into
  // `recovered`, and rotates into a fresh file holding that state.
  static absl::StatusOr<std::unique_ptr<BatchJournal>> Open(const std::string& dir, JournalRecovery* recovered);
  ~BatchJournal();
  BatchJournal(const BatchJournal&) = delete;
  BatchJournal& operator=(const BatchJournal&) = delete;

  // A failed append or sync (a full disk, say) leaves the journal broken:
  // the torn record is cut off if possible, every later append and sync is
  // refused, and only Rotate() — which rewrites the whole live state from
  // the caller's memory into a new file — mends it. So a record that did
  // not make it never leaves a gap that later records skip over on replay.

  // Appends an intent and makes it durable (fdatasync).
  absl::Status AppendIntent(const BatchManifest& manifest);
  // Appends without syncing; Sync() makes them durable.
  absl::Status AppendCommit(std::string_view batch_key);
  absl::Status AppendIndexed(std::string_view camera, uint64_t through_seq);
  absl::Status Sync();

  // Writes `live` into a new file (synced, folder synced), switches to it and
  // deletes the old ones.
  absl::Status Rotate(const JournalRecovery& live);

  // Bytes in the current file: the caller rotates when it grows too big.
  uint64_t bytes() const { return bytes_; }
  bool has_unsynced() const { return unsynced_; }
  // Why appends are refused until the next successful Rotate(); ok if not.
  const absl::Status& broken() const { return broken_; }

 private:
  BatchJournal(std::string dir, uint64_t next_file);
  absl::Status Append(const std::vector<uint8_t>& body, bool sync);
  // Remembers the first failure; returns it for the caller to pass on.
  absl::Status Break(absl::Status failure);

  const std::string dir_;
  uint64_t next_file_ = 0;
  std::string path_;
  int fd_ = -1;
  uint64_t bytes_ = 0;
  bool unsynced_ = false;
  absl::Status broken_;
};

}  // namespace ingest

#endif  // SERVER_BATCH_BATCH_JOURNAL_H_
