#include "server/batch/persist_order.h"

#include <algorithm>
#include <limits>
#include <string_view>
#include <tuple>

#include "server/batch/batch_layout.h"

namespace ingest {
namespace {

constexpr uint64_t kNone = std::numeric_limits<uint64_t>::max();

std::vector<SpooledSegment>::const_iterator FindPending(const std::vector<SpooledSegment>& pending, uint64_t seq) {
  auto at = std::lower_bound(pending.begin(), pending.end(), seq,
                             [](const SpooledSegment& s, uint64_t seq) { return s.seq < seq; });
  return at != pending.end() && at->seq == seq ? at : pending.end();
}

}  // namespace

absl::flat_hash_map<std::string, uint64_t> PersistOrder::Recover(const JournalRecovery& recovered, absl::Time now) {
  for (const auto& [camera, seq] : recovered.committed_through) {
    Camera& state = cameras_[camera];
    state.committed_through = seq;
    state.persisted_through = seq;
  }
  for (const SegmentLocation& e : recovered.unindexed) {
    Camera& state = cameras_[e.camera];
    if (state.unindexed.empty()) state.unindexed_since = now;
    state.unindexed.push_back(e);
  }
  for (const BatchManifest& intent : recovered.uncommitted) {
    for (const SegmentLocation& e : intent.entries) cameras_[e.camera].to_redo.insert(e.seq);
  }
  // A batch redone after a crash may hold seqs below a later batch that did
  // commit: the camera is persisted only below the redone batch, through the
  // highest seq the journal shows committed there. Not "first redone seq - 1":
  // the camera may have skipped seqs, or started here above seqs a peer holds,
  // and a mark must never claim a seq this server does not hold.
  absl::flat_hash_map<std::string, uint64_t> persisted;
  for (auto& [camera, state] : cameras_) {
    if (!state.to_redo.empty() && state.persisted_through >= *state.to_redo.begin()) {
      const uint64_t first_redo = *state.to_redo.begin();
      uint64_t below = 0;
      for (const SegmentLocation& e : state.unindexed) {
        if (e.seq < first_redo) {
          below = std::max(below, e.seq);
        } else if (!state.to_redo.contains(e.seq)) {
          state.committed_above_redo.insert(e.seq);
        }
      }
      state.persisted_through = below;
    }
    if (recovered.committed_through.contains(camera)) persisted[camera] = state.persisted_through;
  }
  return persisted;
}

bool PersistOrder::Spooled(const std::string& camera, const SpooledSegment& segment) {
  FileRecords& file = files_[segment.file];
  ++file.read;
  Camera& state = cameras_[camera];
  const uint64_t seq = segment.seq;
  auto at = std::lower_bound(state.pending.begin(), state.pending.end(), seq,
                             [](const SpooledSegment& s, uint64_t seq) { return s.seq < seq; });
  bool duplicate =
      (seq <= state.committed_through && !state.to_redo.contains(seq)) || (at != state.pending.end() && at->seq == seq);
  for (const InFlight& s : state.in_flight) duplicate = duplicate || s.location.seq == seq;
  if (duplicate) {
    ++file.done;
    return false;
  }
  state.pending.insert(at, segment);
  return true;
}

EligibleSegments PersistOrder::Eligible(uint64_t pass, bool flush_all) const {
  EligibleSegments out;
  for (const auto& [camera, state] : cameras_) {
    for (const SpooledSegment& s : state.pending) {
      if (!flush_all && s.pass_seen >= pass) break;
      out.bytes += s.length;
      out.oldest_seen = std::min(out.oldest_seen, s.seen_at);
    }
  }
  return out;
}

std::vector<ChosenSegment> PersistOrder::ChooseBatch(const BatchLimits& limits, uint64_t pass, bool flush_all) const {
  struct Candidate {
    const SpooledSegment* oldest;
    const std::string* camera;
  };
  std::vector<Candidate> order;
  for (const auto& [camera, state] : cameras_) {
    if (!state.pending.empty() && (flush_all || state.pending.front().pass_seen < pass)) {
      order.push_back({&state.pending.front(), &camera});
    }
  }
  std::sort(order.begin(), order.end(), [](const Candidate& a, const Candidate& b) {
    return std::tie(a.oldest->seen_at, a.oldest->file, a.oldest->payload_offset, *a.camera) <
           std::tie(b.oldest->seen_at, b.oldest->file, b.oldest->payload_offset, *b.camera);
  });
  std::vector<ChosenSegment> chosen;
  uint64_t total = 0;
  for (const auto& [oldest, camera] : order) {
    for (const SpooledSegment& s : cameras_.find(*camera)->second.pending) {
      if (!flush_all && s.pass_seen >= pass) break;
      if (!chosen.empty() && total + s.length > limits.bytes) break;
      if (chosen.size() >= limits.max_segments) break;
      chosen.push_back({*camera, s});
      total += s.length;
    }
    if (total >= limits.bytes) break;
  }
  return chosen;
}

std::vector<ChosenSegment> PersistOrder::ChooseRedo(const BatchManifest& intent) const {
  std::vector<ChosenSegment> chosen;
  for (const SegmentLocation& e : intent.entries) {
    const Camera* state = Find(e.camera);
    if (state == nullptr) continue;
    auto at = FindPending(state->pending, e.seq);
    if (at != state->pending.end()) chosen.push_back({e.camera, *at});
  }
  return chosen;
}

void PersistOrder::CorruptFound(const std::string& camera, uint64_t seq, const SpoolFileKey& file) {
  cameras_[camera].holes.insert(seq);
  files_[file].keep = true;
}

void PersistOrder::BatchCut(const std::vector<ChosenSegment>& chosen, const std::vector<SegmentLocation>& entries) {
  std::map<std::pair<std::string_view, uint64_t>, const SegmentLocation*> kept;
  for (const SegmentLocation& e : entries) kept[{e.camera, e.seq}] = &e;
  for (const ChosenSegment& c : chosen) {
    Camera& state = cameras_[c.camera];
    auto at = FindPending(state.pending, c.segment.seq);
    if (at == state.pending.end()) continue;
    auto entry = kept.find({c.camera, c.segment.seq});
    if (entry == kept.end()) {
      ++files_[at->file].done;  // corrupt: dropped
    } else {
      auto pos = std::lower_bound(state.in_flight.begin(), state.in_flight.end(), c.segment.seq,
                                  [](const InFlight& s, uint64_t seq) { return s.location.seq < seq; });
      state.in_flight.insert(pos, InFlight{*entry->second, at->file, false});
      state.holes.erase(c.segment.seq);  // a good copy arrived
    }
    state.pending.erase(at);
  }
}

void PersistOrder::RedoCut(const BatchManifest& intent) {
  for (const SegmentLocation& e : intent.entries) {
    auto it = cameras_.find(e.camera);
    if (it != cameras_.end()) it->second.to_redo.erase(e.seq);
  }
}

uint64_t PersistOrder::Advance(Camera& state, uint64_t& segments_persisted, absl::Time now) {
  // Everything that holds the mark back: the lowest seq still waiting for a
  // batch, dropped as corrupt, or in a batch still to be redone. Seqs in a
  // batch not yet committed stop the walk where they stand.
  uint64_t blocked_at = kNone;
  if (!state.pending.empty()) blocked_at = std::min(blocked_at, state.pending.front().seq);
  if (!state.holes.empty()) blocked_at = std::min(blocked_at, *state.holes.begin());
  if (!state.to_redo.empty()) blocked_at = std::min(blocked_at, *state.to_redo.begin());
  uint64_t through = 0;
  while (true) {
    const uint64_t recovered = state.committed_above_redo.empty() ? kNone : *state.committed_above_redo.begin();
    const uint64_t batched = state.in_flight.empty() ? kNone : state.in_flight.front().location.seq;
    if (recovered < batched) {
      if (recovered >= blocked_at) break;
      // Committed, journaled and listed for its index by the previous run.
      through = recovered;
      state.committed_above_redo.erase(state.committed_above_redo.begin());
      continue;
    }
    if (batched == kNone || batched >= blocked_at || !state.in_flight.front().committed) break;
    InFlight& s = state.in_flight.front();
    ++files_[s.file].done;
    through = s.location.seq;
    if (state.unindexed.empty()) state.unindexed_since = now;
    state.unindexed.push_back(std::move(s.location));
    state.in_flight.pop_front();
    ++segments_persisted;
  }
  if (through <= state.persisted_through) return 0;
  state.persisted_through = through;
  state.committed_through = std::max(state.committed_through, through);
  return through;
}

CommitOutcome PersistOrder::Committed(const std::vector<SegmentLocation>& entries, absl::Time now) {
  CommitOutcome out;
  std::vector<const std::string*> cameras;
  for (const SegmentLocation& e : entries) {
    Camera& state = cameras_[e.camera];
    for (InFlight& s : state.in_flight) {
      if (s.location.seq == e.seq) s.committed = true;
    }
    if (std::none_of(cameras.begin(), cameras.end(), [&](const std::string* c) { return *c == e.camera; })) {
      cameras.push_back(&e.camera);
    }
  }
  for (const std::string* camera : cameras) {
    const uint64_t raised = Advance(cameras_[*camera], out.segments_persisted, now);
    if (raised > 0) out.raised.push_back({*camera, raised});
  }
  return out;
}

std::vector<IndexCover> PersistOrder::IndexesDue(const IndexPolicy& policy, absl::Time now, absl::Time wall_now,
                                                 bool flush_all) const {
  const int64_t now_us = absl::ToUnixMicros(wall_now);
  std::vector<IndexCover> due;
  for (const auto& [camera, state] : cameras_) {
    if (state.unindexed.empty() || state.index_in_flight || now < state.index_retry_at) continue;
    const int64_t first_hour = IndexHourStartUs(state.unindexed.front().capture_start_us);
    const bool hour_over = first_hour + kMicrosPerHour + absl::ToInt64Microseconds(policy.hour_grace) <= now_us;
    if (!flush_all && !hour_over && now - state.unindexed_since < policy.interval) continue;
    due.push_back({camera, state.unindexed});
  }
  std::sort(due.begin(), due.end(), [](const IndexCover& a, const IndexCover& b) { return a.camera < b.camera; });
  return due;
}

void PersistOrder::IndexStarted(const std::string& camera) {
  Camera& state = cameras_[camera];
  state.index_in_flight = true;
  state.index_seqs.clear();
  for (const SegmentLocation& e : state.unindexed) state.index_seqs.push_back(e.seq);
  std::sort(state.index_seqs.begin(), state.index_seqs.end());
}

uint64_t PersistOrder::IndexWritten(const std::string& camera, absl::Time now) {
  Camera& state = cameras_[camera];
  state.index_in_flight = false;
  std::erase_if(state.unindexed, [&](const SegmentLocation& e) {
    return std::binary_search(state.index_seqs.begin(), state.index_seqs.end(), e.seq);
  });
  // The journal mark says every committed seq up to it is in an index, so it
  // stays below anything that is not, or may still be committed.
  uint64_t mark = state.index_seqs.empty() ? 0 : state.index_seqs.back();
  auto below = [&](uint64_t seq) {
    if (seq <= mark) mark = seq - 1;
  };
  for (const SegmentLocation& e : state.unindexed) below(e.seq);
  if (!state.in_flight.empty()) below(state.in_flight.front().location.seq);
  if (!state.pending.empty()) below(state.pending.front().seq);
  if (!state.to_redo.empty()) below(*state.to_redo.begin());
  if (!state.unindexed.empty()) state.unindexed_since = now;
  return mark;
}

void PersistOrder::IndexFailed(const std::string& camera, absl::Time retry_at) {
  Camera& state = cameras_[camera];
  state.index_in_flight = false;
  state.index_retry_at = retry_at;
}

bool PersistOrder::Reclaimable(const SpoolFileKey& file, bool fully_read) const {
  if (!fully_read) return false;
  auto it = files_.find(file);
  return it == files_.end() || (it->second.done == it->second.read && !it->second.keep);
}

void PersistOrder::FileReclaimed(const SpoolFileKey& file) { files_.erase(file); }

void PersistOrder::AddLiveState(JournalRecovery& live) const {
  for (const auto& [camera, state] : cameras_) {
    if (state.committed_through > 0) live.committed_through[camera] = state.committed_through;
    live.unindexed.insert(live.unindexed.end(), state.unindexed.begin(), state.unindexed.end());
    // Committed segments waiting on a lower seq are committed too.
    for (const InFlight& s : state.in_flight) {
      if (s.committed) live.unindexed.push_back(s.location);
    }
  }
}

PersistOrderCounts PersistOrder::Counts() const {
  PersistOrderCounts counts;
  for (const auto& [camera, state] : cameras_) {
    counts.pending_segments += state.pending.size();
    counts.unindexed_segments += state.unindexed.size();
    for (const SpooledSegment& s : state.pending)
      counts.oldest_pending_seen = std::min(counts.oldest_pending_seen, s.seen_at);
  }
  return counts;
}

uint64_t PersistOrder::persisted_through(const std::string& camera) const {
  const Camera* state = Find(camera);
  return state == nullptr ? 0 : state->persisted_through;
}

uint64_t PersistOrder::committed_through(const std::string& camera) const {
  const Camera* state = Find(camera);
  return state == nullptr ? 0 : state->committed_through;
}

const PersistOrder::Camera* PersistOrder::Find(const std::string& camera) const {
  auto it = cameras_.find(camera);
  return it == cameras_.end() ? nullptr : &it->second;
}

}  // namespace ingest
