// The batch sealer's ordering rules, with no I/O: per camera, which spooled
// segments may go into the next batch, how far the camera is persisted (the
// seq ACK persisted reports), which segments its next index object covers and
// how far the journal may mark it indexed; per spool file, whether every
// record in it is done so the file may be deleted. Plain data goes in (what
// the previous run's journal says, records read, batches cut, PUT outcomes,
// the time) and decisions come out; the sealer reads, uploads and journals.
//
//   PersistOrder order;
//   recovered_committed = order.Recover(journal_recovery, now);
//   if (!order.Spooled(camera, segment)) ++duplicates;  // already stored or queued
//   std::vector<ChosenSegment> chosen = order.ChooseBatch(limits, pass, flush_all);
//   ... read and check the payloads, journal the manifest ...
//   order.BatchCut(chosen, manifest.entries);
//   ... the PUT succeeded ...
//   for (const PersistedMark& m : order.Committed(manifest.entries, now).raised) AckPersisted(m);
//   for (const IndexCover& due : order.IndexesDue(policy, now, flush_all)) ... PUT, IndexStarted ...
//   if (order.Reclaimable(file, fully_read)) ... delete it ...
//
// Why "contiguous" means over the seqs this server holds, never seq + 1: a
// camera may give up seqs on purpose (SKIP) and its first seq here may be
// high (a peer stored the lower ones), so a missing number says nothing. A
// camera's persisted mark moves up through the seqs it has here, in seq
// order, and stops below the first that is not committed yet: one waiting
// for a batch, in a batch whose PUT has not succeeded, dropped as corrupt (a
// hole), or in a batch the previous run journaled and this run must redo.
//
// Not thread-safe: the sealer calls it from one pass at a time.
#ifndef SERVER_BATCH_PERSIST_ORDER_H_
#define SERVER_BATCH_PERSIST_ORDER_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/time/time.h"
#include "server/batch/batch_journal.h"
#include "server/batch/segment_location.h"

namespace ingest {

// A spool file as the catalog names it: (shard, file_seq).
using SpoolFileKey = std::pair<int, uint64_t>;

// A durable spool record the sealer has read: the segment's metadata and
// where its payload lies, never the payload.
struct SpooledSegment {
  uint64_t seq = 0;
  int64_t capture_start_us = 0;
  uint32_t duration_us = 0;
  uint8_t flags = 0;
  uint32_t length = 0;
  uint32_t crc = 0;
  uint64_t payload_offset = 0;
  SpoolFileKey file = {0, 0};
  uint64_t pass_seen = 0;  // the sealer pass that read it
  absl::Time seen_at = absl::UnixEpoch();
};

// A segment chosen for the batch being cut.
struct ChosenSegment {
  std::string camera;
  SpooledSegment segment;
};

// How big one batch may get.
struct BatchLimits {
  uint64_t bytes = 0;  // stop before a segment that would pass it (unless the batch is empty)
  size_t max_segments = 0;
};

// What the segments waiting for a batch add up to.
struct EligibleSegments {
  uint64_t bytes = 0;
  absl::Time oldest_seen = absl::InfiniteFuture();
};

// A camera's persisted mark moved up to `seq`.
struct PersistedMark {
  std::string camera;
  uint64_t seq = 0;

  bool operator==(const PersistedMark&) const = default;
};

struct CommitOutcome {
  std::vector<PersistedMark> raised;  // in the order the cameras first appear in the batch
  uint64_t segments_persisted = 0;    // segments that became persisted (not only this batch's)
};

// When a camera's index object is due.
struct IndexPolicy {
  absl::Duration interval = absl::ZeroDuration();    // after its oldest unindexed entry waited this long
  absl::Duration hour_grace = absl::ZeroDuration();  // or once the capture hour of that entry is over by this much
};

// An index write that is due: the camera and every entry it must cover, in
// the order they became persisted.
struct IndexCover {
  std::string camera;
  std::vector<SegmentLocation> entries;
};

// Totals for the sealer's figures.
struct PersistOrderCounts {
  uint64_t pending_segments = 0;
  uint64_t unindexed_segments = 0;
  absl::Time oldest_pending_seen = absl::InfiniteFuture();
};

class PersistOrder {
 public:
  // Seeds the state from the previous run's journal, before any record is
  // read: each camera's committed-through mark, the committed segments still
  // to index, and the seqs of batches journaled but never committed (which
  // must be redone, and are not duplicates when read from the spool). Returns
  // per camera the persisted mark to report: the journal's committed-through
  // mark, or, when a batch to redo lies at or below it, the highest seq the
  // journal lists as committed below that batch (0 if it lists none); the
  // seqs it lists as committed above count towards the mark once the batch
  // is redone and committed. `now` starts the index interval of the
  // recovered unindexed entries. Call once, first.
  absl::flat_hash_map<std::string, uint64_t> Recover(const JournalRecovery& recovered, absl::Time now);

  // A record read from the spool. True if it is new and now waits for a
  // batch; false if the camera's seq is already waiting, in a batch, or
  // stored (at or below the committed-through mark and not to be redone), in
  // which case the record counts as done for its file. Every call counts one
  // record of `segment.file`.
  bool Spooled(const std::string& camera, const SpooledSegment& segment);

  // The waiting segments a batch may take now: with flush_all every one,
  // otherwise each camera's waiting segments below the first read in pass
  // `pass` or later (a lower seq of the camera may still be on its way from
  // another shard until the next pass).
  EligibleSegments Eligible(uint64_t pass, bool flush_all) const;

  // The next batch: cameras whose oldest waiting segment was read first go
  // first (ties by where that segment lies in the spool, then by name), each
  // camera's eligible segments from its lowest seq up, until `limits` is
  // reached. Spool order among a pass's cameras lets the sealer read a
  // batch's segments in few long reads. Empty when nothing is eligible.
  // Changes nothing: BatchCut does, once the batch is journaled.
  std::vector<ChosenSegment> ChooseBatch(const BatchLimits& limits, uint64_t pass, bool flush_all) const;

  // The segments of a batch the previous run journaled that are waiting
  // here, in the intent's order (a seq not read from the spool is left out).
  std::vector<ChosenSegment> ChooseRedo(const BatchManifest& intent) const;

  // The payload of a waiting segment did not match its CRC: the seq is a
  // hole (the camera is not persisted past it until a good copy goes into a
  // batch) and its file is kept for an operator. The segment stays waiting
  // until BatchCut says what happened to it.
  void CorruptFound(const std::string& camera, uint64_t seq, const SpoolFileKey& file);

  // `chosen` was cut into a journaled batch holding `entries` (those of
  // `chosen` whose payload was good, with camera set): every chosen segment
  // stops waiting; the kept ones wait for the batch's commit, and a copy of
  // a hole's seq fills the hole; the dropped ones count as done for their
  // file.
  void BatchCut(const std::vector<ChosenSegment>& chosen, const std::vector<SegmentLocation>& entries);

  // The sealer has processed a batch the previous run journaled (redone or
  // found nothing to redo): its seqs stop being exempt from the duplicate
  // check and stop holding the camera's marks back by themselves.
  void RedoCut(const BatchManifest& intent);

  // The batch holding `entries` is in the store. Each of its cameras is
  // persisted through the longest run of its held seqs, from the lowest up,
  // that are all committed; the segments in that run count as done for their
  // files and join the camera's unindexed entries. A camera whose mark went
  // up is in `raised`. A failed PUT needs no call: nothing moves. `now`
  // starts the index interval of a camera that had nothing unindexed.
  CommitOutcome Committed(const std::vector<SegmentLocation>& entries, absl::Time now);

  // Cameras whose index object is due at `now` and what it must cover: every
  // persisted segment not in an index yet, when no index write of the camera
  // is in flight or waiting for its retry time, and flush_all, or the oldest
  // entry waited `policy.interval`, or the capture hour of the first entry
  // ended `policy.hour_grace` ago at `wall_now` (capture hours are dates;
  // every other time here is on the caller's interval clock). By camera name.
  std::vector<IndexCover> IndexesDue(const IndexPolicy& policy, absl::Time now, absl::Time wall_now,
                                     bool flush_all) const;
  // The same, when one clock serves both (tests).
  std::vector<IndexCover> IndexesDue(const IndexPolicy& policy, absl::Time now, bool flush_all) const {
    return IndexesDue(policy, now, now, flush_all);
  }

  // The index write of `camera`, covering what IndexesDue returned, was
  // handed to the uploader.
  void IndexStarted(const std::string& camera);

  // The index write of `camera` succeeded: exactly what it covered stops
  // being unindexed (a redone lower seq may have become persisted since).
  // Returns the seq the journal may mark the camera indexed through: the
  // highest covered seq, lowered below every seq of the camera that is not
  // in an index yet or may still become committed; 0 for no mark.
  uint64_t IndexWritten(const std::string& camera, absl::Time now);

  // The index write of `camera` failed: it is due again from `retry_at`.
  void IndexFailed(const std::string& camera, absl::Time retry_at);

  // True when `file` may be deleted: the sealer read all of it
  // (`fully_read`: closed, durable to its end, scanned to its end), every
  // record in it is done (persisted, a duplicate, or dropped) and none was
  // corrupt.
  bool Reclaimable(const SpoolFileKey& file, bool fully_read) const;
  // `file` was deleted: forget its records.
  void FileReclaimed(const SpoolFileKey& file);

  // What a rotated journal must hold from this state: each camera's
  // committed-through mark and every committed segment not in an index yet
  // (including those committed above a lower seq that is not).
  void AddLiveState(JournalRecovery& live) const;

  PersistOrderCounts Counts() const;

  // The camera's persisted mark (0 for a camera never seen).
  uint64_t persisted_through(const std::string& camera) const;
  // The camera's committed-through mark: at or above the persisted mark;
  // above it after a restart that has batches to redo below seqs the
  // previous run committed. A seq read at or below it is a duplicate
  // (unless it is to be redone).
  uint64_t committed_through(const std::string& camera) const;

 private:
  // A segment in a batch, waiting for the batch's (and every lower seq's) commit.
  struct InFlight {
    SegmentLocation location;
    SpoolFileKey file;
    bool committed = false;
  };
  struct Camera {
    std::vector<SpooledSegment> pending;  // read, not in a batch yet; by seq
    std::deque<InFlight> in_flight;       // by seq
    std::set<uint64_t> holes;             // dropped as corrupt, no good copy batched yet
    std::set<uint64_t> to_redo;           // in a recovered intent not processed yet
    // Recovered: committed by the previous run above a batch it must redo,
    // already among `unindexed`; they count towards the persisted mark once
    // every lower seq is committed.
    std::set<uint64_t> committed_above_redo;
    uint64_t persisted_through = 0;
    uint64_t committed_through = 0;
    std::vector<SegmentLocation> unindexed;  // persisted, not in an index yet
    absl::Time unindexed_since;
    bool index_in_flight = false;
    std::vector<uint64_t> index_seqs;  // every seq of the index write in flight, sorted
    absl::Time index_retry_at = absl::InfinitePast();
  };
  struct FileRecords {
    uint64_t read = 0;
    uint64_t done = 0;  // persisted, duplicate or dropped
    bool keep = false;  // a corrupt payload: stays for an operator
  };

  // Moves `camera`'s persisted mark up through its committed seqs; returns
  // the new mark if it went up, else 0.
  uint64_t Advance(Camera& state, uint64_t& segments_persisted, absl::Time now);
  const Camera* Find(const std::string& camera) const;

  absl::flat_hash_map<std::string, Camera> cameras_;
  std::map<SpoolFileKey, FileRecords> files_;
};

}  // namespace ingest

#endif  // SERVER_BATCH_PERSIST_ORDER_H_
