// PersistOrder as tables: each case is a list of events (records read from
// the spool, batches cut, PUTs that commit or fail, a journal recovered,
// index writes, the clock) with checks between them, and the persisted marks
// every case must end with. No files, clock or threads.
#include "server/batch/persist_order.h"

#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "gtest/gtest.h"

namespace ingest {
namespace {

// 2026-11-28T12:59:00Z: seqs 1..30 are captured in the 12:00 hour, 31.. in 13:00.
constexpr int64_t kT0 = 1795870740000000;
constexpr int64_t kSegmentUs = 2000000;
const absl::Time kStart = absl::FromUnixMicros(kT0);

const SpoolFileKey kFileA{0, 1};
const SpoolFileKey kFileB{1, 1};
const SpoolFileKey kFileC{0, 2};
const IndexPolicy kPolicy{.interval = absl::Minutes(10), .hour_grace = absl::Minutes(2)};

using Seqs = std::vector<uint64_t>;
using CameraSeqs = std::vector<std::pair<std::string, Seqs>>;

// One event, or one check of what PersistOrder decides at that point.
struct Step {
  enum class Op {
    kSpool,          // camera's seqs read from `file` in the current pass
    kNextPass,       // the sealer starts its next pass
    kCut,            // batch `batch` journaled with `segments`, `corrupt` dropped
    kRedo,           // the recovered intent `batch` redone (whatever of it is waiting)
    kCommit,         // batch's PUT succeeded
    kFail,           // batch's PUT failed: the sealer tells PersistOrder nothing
    kExpectMarks,    // persisted / committed-through marks of `camera`
    kExpectDups,     // duplicates seen so far
    kExpectDue,      // IndexesDue(policy, at, flush_all) covers `segments` exactly
    kIndexStart,     // the index write of `camera` handed to the uploader
    kIndexWritten,   // it succeeded: the journal mark is `mark`
    kIndexFailed,    // it failed, due again at `retry_at`
    kExpectReclaim,  // Reclaimable(file, fully_read) == expected
    kReclaim,        // file deleted
    kExpectChoice,   // ChooseBatch(limits, pass, flush_all) is `segments` in order
  };
  Op op = Op::kNextPass;
  std::string camera = "";
  Seqs seqs = {};
  SpoolFileKey file = kFileA;
  std::string batch = "";
  CameraSeqs segments = {};
  Seqs corrupt = {};
  absl::Duration at = absl::ZeroDuration();  // since kStart
  bool flush_all = false;
  bool fully_read = false;
  uint64_t mark = 0;
  uint64_t mark2 = 0;
  bool expected = false;
  BatchLimits limits = {};
};

Step Spool(std::string camera, Seqs seqs, SpoolFileKey file = kFileA, absl::Duration at = absl::ZeroDuration()) {
  return {.op = Step::Op::kSpool, .camera = std::move(camera), .seqs = std::move(seqs), .file = file, .at = at};
}
Step NextPass() { return {.op = Step::Op::kNextPass}; }
Step Cut(std::string batch, CameraSeqs segments, Seqs corrupt = {}) {
  return {
      .op = Step::Op::kCut, .batch = std::move(batch), .segments = std::move(segments), .corrupt = std::move(corrupt)};
}
Step Redo(std::string batch) { return {.op = Step::Op::kRedo, .batch = std::move(batch)}; }
Step Commit(std::string batch, absl::Duration at = absl::ZeroDuration()) {
  return {.op = Step::Op::kCommit, .batch = std::move(batch), .at = at};
}
Step Fail(std::string batch) { return {.op = Step::Op::kFail, .batch = std::move(batch)}; }
// Persisted mark, and committed-through mark (the duplicate threshold).
Step Marks(std::string camera, uint64_t persisted, uint64_t committed) {
  return {.op = Step::Op::kExpectMarks, .camera = std::move(camera), .mark = persisted, .mark2 = committed};
}
Step Marks(std::string camera, uint64_t persisted) { return Marks(camera, persisted, persisted); }
Step Dups(uint64_t n) { return {.op = Step::Op::kExpectDups, .mark = n}; }
Step Due(absl::Duration at, CameraSeqs covers, bool flush_all = false) {
  return {.op = Step::Op::kExpectDue, .segments = std::move(covers), .at = at, .flush_all = flush_all};
}
Step IndexStart(std::string camera) { return {.op = Step::Op::kIndexStart, .camera = std::move(camera)}; }
Step IndexWritten(std::string camera, absl::Duration at, uint64_t journal_mark) {
  return {.op = Step::Op::kIndexWritten, .camera = std::move(camera), .at = at, .mark = journal_mark};
}
Step IndexFailed(std::string camera, absl::Duration retry_at) {
  return {.op = Step::Op::kIndexFailed, .camera = std::move(camera), .at = retry_at};
}
Step Reclaimable(SpoolFileKey file, bool fully_read, bool expected) {
  return {.op = Step::Op::kExpectReclaim, .file = file, .fully_read = fully_read, .expected = expected};
}
Step Reclaim(SpoolFileKey file) { return {.op = Step::Op::kReclaim, .file = file}; }
Step Choice(BatchLimits limits, bool flush_all, CameraSeqs chosen) {
  return {.op = Step::Op::kExpectChoice, .segments = std::move(chosen), .flush_all = flush_all, .limits = limits};
}

SegmentLocation Entry(const std::string& camera, uint64_t seq, const std::string& batch = "") {
  SegmentLocation e;
  e.camera = camera;
  e.batch_key = batch;
  e.seq = seq;
  e.capture_start_us = kT0 + static_cast<int64_t>(seq - 1) * kSegmentUs;
  e.duration_us = kSegmentUs;
  e.length = 100;
  return e;
}

// What the previous run's journal said.
struct Journal {
  std::map<std::string, uint64_t> committed_through = {};
  CameraSeqs unindexed = {};
  std::vector<std::pair<std::string, CameraSeqs>> uncommitted = {};  // (batch key, segments)
};

struct Case {
  std::string name = "";
  std::vector<Step> steps = {};
  // Every raise of a persisted mark, in order.
  std::vector<PersistedMark> announced = {};
  // Recovery, when the case starts from a journal: what Recover reports.
  std::optional<Journal> journal = std::nullopt;
  std::map<std::string, uint64_t> reported = {};
};

std::string Describe(const CameraSeqs& segments) {
  std::vector<std::string> parts;
  for (const auto& [camera, seqs] : segments) parts.push_back(absl::StrCat(camera, ":", absl::StrJoin(seqs, ",")));
  return absl::StrJoin(parts, " ");
}

CameraSeqs Group(const std::vector<std::pair<std::string, uint64_t>>& flat) {
  CameraSeqs out;
  for (const auto& [camera, seq] : flat) {
    if (out.empty() || out.back().first != camera) out.push_back({camera, {}});
    out.back().second.push_back(seq);
  }
  return out;
}

std::string Describe(const std::vector<PersistedMark>& marks) {
  std::vector<std::string> parts;
  for (const PersistedMark& m : marks) parts.push_back(absl::StrCat(m.camera, "@", m.seq));
  return absl::StrJoin(parts, " ");
}

// Feeds a case's steps to a PersistOrder the way the sealer does.
class Runner {
 public:
  void Run(const Case& c) {
    if (c.journal.has_value()) Recover(*c.journal, c.reported);
    for (size_t i = 0; i < c.steps.size(); ++i) {
      SCOPED_TRACE(absl::StrCat("step ", i + 1));
      Apply(c.steps[i]);
    }
    EXPECT_EQ(Describe(announced_), Describe(c.announced));
  }

 private:
  void Recover(const Journal& journal, const std::map<std::string, uint64_t>& reported) {
    for (const auto& [camera, seq] : journal.committed_through) recovery_.committed_through[camera] = seq;
    for (const auto& [camera, seqs] : journal.unindexed) {
      for (uint64_t seq : seqs) recovery_.unindexed.push_back(Entry(camera, seq, "old-batch"));
    }
    for (const auto& [key, segments] : journal.uncommitted) {
      BatchManifest intent{.key = key, .entries = {}};
      for (const auto& [camera, seqs] : segments) {
        for (uint64_t seq : seqs) intent.entries.push_back(Entry(camera, seq, key));
      }
      recovery_.uncommitted.push_back(std::move(intent));
    }
    absl::flat_hash_map<std::string, uint64_t> got = order_.Recover(recovery_, kStart);
    const std::map<std::string, uint64_t> sorted(got.begin(), got.end());
    EXPECT_EQ(sorted, reported) << "reported after recovery";
  }

  void Apply(const Step& s) {
    const absl::Time now = kStart + s.at;
    switch (s.op) {
      case Step::Op::kSpool:
        for (uint64_t seq : s.seqs) {
          SpooledSegment segment{.seq = seq,
                                 .capture_start_us = kT0 + static_cast<int64_t>(seq - 1) * kSegmentUs,
                                 .duration_us = kSegmentUs,
                                 .length = 100,
                                 .file = s.file,
                                 .pass_seen = pass_,
                                 .seen_at = now};
          if (!order_.Spooled(s.camera, segment)) ++duplicates_;
          spooled_[{s.camera, seq}] = segment;
        }
        break;
      case Step::Op::kNextPass:
        ++pass_;
        break;
      case Step::Op::kCut: {
        std::vector<ChosenSegment> chosen;
        for (const auto& [camera, seqs] : s.segments) {
          for (uint64_t seq : seqs) chosen.push_back({camera, spooled_.at({camera, seq})});
        }
        CutChosen(s.batch, chosen, s.corrupt);
        break;
      }
      case Step::Op::kRedo: {
        const BatchManifest* intent = nullptr;
        for (const BatchManifest& m : recovery_.uncommitted) {
          if (m.key == s.batch) intent = &m;
        }
        ASSERT_NE(intent, nullptr) << s.batch;
        CutChosen(s.batch, order_.ChooseRedo(*intent), {});
        order_.RedoCut(*intent);
        break;
      }
      case Step::Op::kCommit: {
        CommitOutcome outcome = order_.Committed(batches_.at(s.batch), now);
        announced_.insert(announced_.end(), outcome.raised.begin(), outcome.raised.end());
        break;
      }
      case Step::Op::kFail:
        ASSERT_TRUE(batches_.contains(s.batch));
        break;
      case Step::Op::kExpectMarks:
        EXPECT_EQ(order_.persisted_through(s.camera), s.mark) << s.camera << " persisted";
        EXPECT_EQ(order_.committed_through(s.camera), s.mark2) << s.camera << " committed through";
        break;
      case Step::Op::kExpectDups:
        EXPECT_EQ(duplicates_, s.mark);
        break;
      case Step::Op::kExpectDue: {
        std::vector<std::pair<std::string, uint64_t>> flat;
        for (const IndexCover& due : order_.IndexesDue(kPolicy, now, s.flush_all)) {
          for (const SegmentLocation& e : due.entries) flat.push_back({due.camera, e.seq});
        }
        EXPECT_EQ(Describe(Group(flat)), Describe(s.segments)) << "due at +" << s.at;
        break;
      }
      case Step::Op::kIndexStart:
        order_.IndexStarted(s.camera);
        break;
      case Step::Op::kIndexWritten:
        EXPECT_EQ(order_.IndexWritten(s.camera, now), s.mark) << "journal indexed mark";
        break;
      case Step::Op::kIndexFailed:
        order_.IndexFailed(s.camera, now);
        break;
      case Step::Op::kExpectReclaim:
        EXPECT_EQ(order_.Reclaimable(s.file, s.fully_read), s.expected)
            << "file " << s.file.first << "/" << s.file.second;
        break;
      case Step::Op::kReclaim:
        order_.FileReclaimed(s.file);
        break;
      case Step::Op::kExpectChoice: {
        std::vector<std::pair<std::string, uint64_t>> flat;
        for (const ChosenSegment& c : order_.ChooseBatch(s.limits, pass_, s.flush_all)) {
          flat.push_back({c.camera, c.segment.seq});
        }
        EXPECT_EQ(Describe(Group(flat)), Describe(s.segments));
        break;
      }
    }
  }

  // As the sealer does: corrupt payloads found while reading, then the
  // journaled batch holds the rest.
  void CutChosen(const std::string& batch, const std::vector<ChosenSegment>& chosen, const Seqs& corrupt) {
    std::vector<SegmentLocation> entries;
    for (const ChosenSegment& c : chosen) {
      if (std::find(corrupt.begin(), corrupt.end(), c.segment.seq) != corrupt.end()) {
        order_.CorruptFound(c.camera, c.segment.seq, c.segment.file);
        continue;
      }
      entries.push_back(Entry(c.camera, c.segment.seq, batch));
    }
    order_.BatchCut(chosen, entries);
    batches_[batch] = entries;
  }

  PersistOrder order_;
  JournalRecovery recovery_;
  uint64_t pass_ = 1;
  uint64_t duplicates_ = 0;
  std::map<std::pair<std::string, uint64_t>, SpooledSegment> spooled_;
  std::map<std::string, std::vector<SegmentLocation>> batches_;
  std::vector<PersistedMark> announced_;
};

void RunCases(const std::vector<Case>& cases) {
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Runner().Run(c);
  }
}

TEST(PersistOrderTest, PersistedMarkMovesOnlyThroughCommittedHeldSeqs) {
  RunCases({
      {.name = "one batch, in order",
       .steps = {Spool("a", {1, 2, 3}), Cut("B1", {{"a", {1, 2, 3}}}), Marks("a", 0), Commit("B1"), Marks("a", 3)},
       .announced = {{"a", 3}}},
      {.name = "out-of-order commits: the lower batch commits last",
       .steps = {Spool("a", {1, 2, 3, 4}), Cut("B1", {{"a", {1, 2}}}), Cut("B2", {{"a", {3, 4}}}), Commit("B2"),
                 Marks("a", 0), Commit("B1"), Marks("a", 4)},
       .announced = {{"a", 4}}},
      {.name = "out-of-order commits: the middle batch commits last",
       .steps = {Spool("a", {1, 2, 3}), Cut("B1", {{"a", {1}}}), Cut("B2", {{"a", {2}}}), Cut("B3", {{"a", {3}}}),
                 Commit("B1"), Commit("B3"), Marks("a", 1), Commit("B2"), Marks("a", 3)},
       .announced = {{"a", 1}, {"a", 3}}},
      {.name = "a failed batch retried: nothing moves until it commits",
       .steps = {Spool("a", {1, 2, 3}), Cut("B1", {{"a", {1, 2}}}), Cut("B2", {{"a", {3}}}), Fail("B1"), Commit("B2"),
                 Marks("a", 0), Fail("B1"), Marks("a", 0), Commit("B1"), Marks("a", 3)},
       .announced = {{"a", 3}}},
      {.name = "a jump (1,2,3,7,8), all committed: persisted reaches 8",
       .steps = {Spool("a", {1, 2, 3, 7, 8}), Cut("B1", {{"a", {1, 2, 3}}}), Cut("B2", {{"a", {7, 8}}}), Commit("B1"),
                 Commit("B2"), Marks("a", 8)},
       .announced = {{"a", 3}, {"a", 8}}},
      {.name = "a jump (1,2,3,7), 7 not committed: persisted stays 3",
       .steps = {Spool("a", {1, 2, 3, 7}), Cut("B1", {{"a", {1, 2, 3}}}), Cut("B2", {{"a", {7}}}), Commit("B1"),
                 Fail("B2"), Marks("a", 3)},
       .announced = {{"a", 3}}},
      {.name = "a jump, the seq above it still waiting for a batch",
       .steps = {Spool("a", {1, 2, 3, 7}), Cut("B1", {{"a", {1, 2, 3}}}), Commit("B1"), Marks("a", 3)},
       .announced = {{"a", 3}}},
      {.name = "a jump committed before the seqs below it",
       .steps = {Spool("a", {1, 2, 3, 7, 8}), Cut("B1", {{"a", {1, 2, 3}}}), Cut("B2", {{"a", {7, 8}}}), Commit("B2"),
                 Marks("a", 0), Commit("B1"), Marks("a", 8)},
       .announced = {{"a", 8}}},
      {.name = "first seq here is high (a peer stored 1..5000)",
       .steps = {Spool("a", {5001, 5002, 5003}), Cut("B1", {{"a", {5001, 5002}}}), Cut("B2", {{"a", {5003}}}),
                 Commit("B1"), Marks("a", 5002), Commit("B2"), Marks("a", 5003)},
       .announced = {{"a", 5002}, {"a", 5003}}},
      {.name = "first seq here is high, its batch commits last",
       .steps = {Spool("a", {5001, 5002, 5003}), Cut("B1", {{"a", {5001}}}), Cut("B2", {{"a", {5002, 5003}}}),
                 Commit("B2"), Marks("a", 0), Commit("B1"), Marks("a", 5003)},
       .announced = {{"a", 5003}}},
      {.name = "two cameras interleaved in two batches",
       .steps = {Spool("a", {1}, kFileA), Spool("b", {1}, kFileB), Spool("a", {2}, kFileA), Spool("b", {2}, kFileB),
                 Spool("a", {3}, kFileA), Cut("B1", {{"a", {1, 2}}, {"b", {1}}}), Cut("B2", {{"b", {2}}, {"a", {3}}}),
                 Commit("B2"), Marks("a", 0), Marks("b", 0), Commit("B1"), Marks("a", 3), Marks("b", 2)},
       .announced = {{"a", 3}, {"b", 2}}},
      {.name = "two cameras: one camera's gap does not hold the other back",
       .steps = {Spool("a", {1, 2, 3}), Spool("b", {1, 2}), Cut("B1", {{"a", {1, 2}}}), Cut("B2", {{"b", {1, 2}}}),
                 Cut("B3", {{"a", {3}}}), Commit("B2"), Commit("B3"), Marks("a", 0), Marks("b", 2), Commit("B1"),
                 Marks("a", 3)},
       .announced = {{"b", 2}, {"a", 3}}},
      {.name = "a lower seq read a pass later still goes first",
       .steps = {Spool("a", {2, 3}, kFileA), NextPass(), Spool("a", {1}, kFileB), Cut("B1", {{"a", {2, 3}}}),
                 Commit("B1"), Marks("a", 0), Cut("B2", {{"a", {1}}}), Commit("B2"), Marks("a", 3)},
       .announced = {{"a", 3}}},
      {.name = "a corrupt payload is a hole until a good copy is committed",
       .steps = {Spool("a", {1, 2, 3}), Cut("B1", {{"a", {1, 2, 3}}}, /*corrupt=*/{2}), Commit("B1"), Marks("a", 1),
                 Spool("a", {2}, kFileB), Dups(0), Marks("a", 1), Cut("B2", {{"a", {2}}}), Marks("a", 1), Commit("B2"),
                 Marks("a", 3)},
       .announced = {{"a", 1}, {"a", 3}}},
      {.name = "a corrupt re-send keeps the hole",
       .steps = {Spool("a", {1, 2}), Cut("B1", {{"a", {1, 2}}}, /*corrupt=*/{1}), Commit("B1"), Spool("a", {1}, kFileB),
                 Cut("B2", {{"a", {1}}}, /*corrupt=*/{1}), Commit("B2"), Marks("a", 0)},
       .announced = {}},
      {.name = "a batch that committed twice (a retried PUT) changes nothing the second time",
       .steps = {Spool("a", {1, 2}), Cut("B1", {{"a", {1, 2}}}), Commit("B1"), Commit("B1"), Marks("a", 2)},
       .announced = {{"a", 2}}},
  });
}

TEST(PersistOrderTest, DuplicatesAreSkippedWhereverTheFirstCopyIs) {
  RunCases({
      {.name = "re-sent while waiting for a batch",
       .steps = {Spool("a", {1, 2}, kFileA), Spool("a", {1, 2}, kFileB), Dups(2), Cut("B1", {{"a", {1, 2}}}),
                 Commit("B1"), Marks("a", 2)},
       .announced = {{"a", 2}}},
      {.name = "re-sent while its batch is in flight, and after it failed",
       .steps = {Spool("a", {1, 2}), Cut("B1", {{"a", {1, 2}}}), Spool("a", {2}, kFileB), Fail("B1"),
                 Spool("a", {1}, kFileB), Dups(2), Commit("B1"), Marks("a", 2)},
       .announced = {{"a", 2}}},
      {.name = "re-sent after it was persisted, then new seqs",
       .steps = {Spool("a", {1, 2, 3}), Cut("B1", {{"a", {1, 2, 3}}}), Commit("B1"), Spool("a", {2, 3, 4}, kFileB),
                 Dups(2), Cut("B2", {{"a", {4}}}), Commit("B2"), Marks("a", 4)},
       .announced = {{"a", 3}, {"a", 4}}},
      {.name = "re-sent while committed above a lower seq not yet committed",
       .steps = {Spool("a", {1, 2}), Cut("B1", {{"a", {1}}}), Cut("B2", {{"a", {2}}}), Commit("B2"),
                 Spool("a", {2}, kFileB), Dups(1), Commit("B1"), Marks("a", 2)},
       .announced = {{"a", 2}}},
      {.name = "the same seq of another camera is not a duplicate",
       .steps = {Spool("a", {1}), Spool("b", {1}), Dups(0)},
       .announced = {}},
  });
}

TEST(PersistOrderTest, RecoveryReportsOnlyWhatTheJournalShowsPersisted) {
  RunCases({
      {.name = "nothing to redo: the journal's committed-through mark",
       .steps = {Spool("a", {9, 10, 11}), Dups(2), Marks("a", 10), Cut("B1", {{"a", {11}}}), Commit("B1"),
                 Marks("a", 11)},
       .announced = {{"a", 11}},
       .journal = Journal{.committed_through = {{"a", 10}}, .unindexed = {{"a", {9, 10}}}, .uncommitted = {}},
       .reported = {{"a", 10}}},
      {.name = "a crash-recovered spool with a gap: old seqs are duplicates, the jump goes on",
       .steps = {Spool("a", {1, 2, 3, 7, 8}), Dups(3), Cut("B1", {{"a", {7, 8}}}), Commit("B1"), Marks("a", 8)},
       .announced = {{"a", 8}},
       .journal = Journal{.committed_through = {{"a", 3}}, .unindexed = {{"a", {1, 2, 3}}}, .uncommitted = {}},
       .reported = {{"a", 3}}},
      {.name = "seq 1 to redo below committed 2 and 3: reports 0, then 3 once 1 commits",
       .steps = {Marks("a", 0, 3), Spool("a", {1, 2, 3}), Dups(2), NextPass(), Redo("old-1"), Marks("a", 0, 3),
                 Commit("old-1"), Marks("a", 3)},
       .announced = {{"a", 3}},
       .journal =
           Journal{
               .committed_through = {{"a", 3}}, .unindexed = {{"a", {2, 3}}}, .uncommitted = {{"old-1", {{"a", {1}}}}}},
       .reported = {{"a", 0}}},
      {.name = "a crash-recovered spool with gaps: 7 to redo after a jump, 8 committed",
       // 1..3 were indexed (the journal no longer lists them); not 6: this
       // server never held 4..6.
       .steps = {Spool("a", {7, 8}), Dups(1), Redo("old-7"), Marks("a", 0, 8), Commit("old-7"), Marks("a", 8)},
       .announced = {{"a", 8}},
       .journal =
           Journal{
               .committed_through = {{"a", 8}}, .unindexed = {{"a", {8}}}, .uncommitted = {{"old-7", {{"a", {7}}}}}},
       .reported = {{"a", 0}}},
      {.name = "a committed seq listed below the one to redo is reported",
       .steps = {Spool("a", {2, 3, 4, 5}), Dups(3), Redo("old-4"), Commit("old-4"), Marks("a", 5)},
       .announced = {{"a", 5}},
       .journal = Journal{.committed_through = {{"a", 5}},
                          .unindexed = {{"a", {2, 3, 5}}},
                          .uncommitted = {{"old-4", {{"a", {4}}}}}},
       .reported = {{"a", 3}}},
      {.name = "first seq here high, its batch to redo",
       .steps = {Spool("a", {5001, 5002}), Redo("old-5001"), Commit("old-5001"), Marks("a", 5002)},
       .announced = {{"a", 5002}},
       .journal = Journal{.committed_through = {{"a", 5002}},
                          .unindexed = {{"a", {5002}}},
                          .uncommitted = {{"old-5001", {{"a", {5001}}}}}},
       .reported = {{"a", 0}}},
      {.name = "to redo above the mark: the mark stands",
       .steps = {Spool("a", {3, 4}), Dups(1), Redo("old-4"), Commit("old-4"), Marks("a", 4)},
       .announced = {{"a", 4}},
       .journal =
           Journal{
               .committed_through = {{"a", 3}}, .unindexed = {{"a", {3}}}, .uncommitted = {{"old-4", {{"a", {4}}}}}},
       .reported = {{"a", 3}}},
      {.name = "two cameras: only the one with a batch to redo below its mark is lowered",
       .steps = {Spool("a", {1, 2}), Spool("b", {1, 2}), Dups(3), Redo("old"), Commit("old"), Marks("a", 2),
                 Marks("b", 2)},
       .announced = {{"a", 2}},
       .journal = Journal{.committed_through = {{"a", 2}, {"b", 2}},
                          .unindexed = {{"a", {2}}, {"b", {1, 2}}},
                          .uncommitted = {{"old", {{"a", {1}}}}}},
       .reported = {{"a", 0}, {"b", 2}}},
      {.name = "a new batch committing before the redone one does not pass it",
       .steps = {Spool("a", {1, 2, 3}), Redo("old-1"), Cut("B1", {{"a", {3}}}), Commit("B1"), Marks("a", 0, 2),
                 Commit("old-1"), Marks("a", 3)},
       .announced = {{"a", 3}},
       .journal =
           Journal{
               .committed_through = {{"a", 2}}, .unindexed = {{"a", {2}}}, .uncommitted = {{"old-1", {{"a", {1}}}}}},
       .reported = {{"a", 0}}},
      {.name = "a seq to redo that the spool no longer has stops holding the camera back",
       .steps = {Spool("a", {5, 6}), Dups(1), Redo("old-4"), Cut("B1", {{"a", {6}}}), Commit("B1"), Marks("a", 6)},
       .announced = {{"a", 6}},
       .journal = Journal{.committed_through = {{"a", 5}},
                          .unindexed = {{"a", {5}}},
                          .uncommitted = {{"old-4", {{"a", {4}}}}}},
       .reported = {{"a", 0}}},
  });
}

TEST(PersistOrderTest, IndexWritesAreDueAtTheIntervalOrAfterTheHour) {
  using absl::Minutes;
  using absl::Seconds;
  const absl::Duration kJustUnder = -absl::Microseconds(1);
  RunCases({
      {.name = "interval boundary: due exactly index_interval after the first persisted entry",
       // Seq 31.. are captured in the 13:00 hour, which is not over.
       .steps = {Spool("a", {31, 32}), Cut("B1", {{"a", {31, 32}}}), Commit("B1", Seconds(10)),
                 Due(Seconds(10) + Minutes(10) + kJustUnder, {}), Due(Seconds(10) + Minutes(10), {{"a", {31, 32}}}),
                 Due(Seconds(10), {{"a", {31, 32}}}, /*flush_all=*/true)},
       .announced = {{"a", 32}}},
      {.name = "hour boundary: due once the capture hour ended hour_grace ago",
       // Seq 1 is captured at 12:59:00; 13:02:00 is kStart + 3 min.
       .steps = {Spool("a", {1, 2}), Cut("B1", {{"a", {1, 2}}}), Commit("B1"), Due(Minutes(3) + kJustUnder, {}),
                 Due(Minutes(3), {{"a", {1, 2}}})},
       .announced = {{"a", 2}}},
      {.name = "not due while a write is in flight; after a failure not before its retry time",
       .steps = {Spool("a", {31}), Cut("B1", {{"a", {31}}}), Commit("B1"), IndexStart("a"),
                 Due(Minutes(20), {}, /*flush_all=*/true), IndexFailed("a", Minutes(21)),
                 Due(Minutes(21) + kJustUnder, {}, /*flush_all=*/true), Due(Minutes(21), {{"a", {31}}})},
       .announced = {{"a", 31}}},
      {.name = "written: the journal mark is the highest seq covered; the interval restarts for later entries",
       .steps = {Spool("a", {31, 32, 33}), Cut("B1", {{"a", {31, 32}}}), Commit("B1"), IndexStart("a"),
                 Cut("B2", {{"a", {33}}}), Commit("B2", Minutes(1)), IndexWritten("a", Minutes(2), 32),
                 Due(Minutes(12) + kJustUnder, {}), Due(Minutes(12), {{"a", {33}}}), IndexStart("a"),
                 IndexWritten("a", Minutes(12), 33)},
       .announced = {{"a", 32}, {"a", 33}}},
      {.name = "segments committed above a lower uncommitted seq are not indexed yet; the mark stays below it",
       .steps = {Spool("a", {31, 32, 33, 34}), Cut("B1", {{"a", {31, 32}}}), Cut("B2", {{"a", {33}}}),
                 Cut("B3", {{"a", {34}}}), Commit("B1"), Commit("B3"), Due(Minutes(1), {{"a", {31, 32}}}, true),
                 IndexStart("a"), IndexWritten("a", Minutes(1), 32), Commit("B2"),
                 Due(Minutes(1), {{"a", {33, 34}}}, true)},
       .announced = {{"a", 32}, {"a", 34}}},
      {.name = "entries persisted while a write is in flight wait for the next one",
       .steps = {Spool("a", {32, 33}, kFileA), NextPass(), Spool("a", {31}, kFileB), Cut("B1", {{"a", {32, 33}}}),
                 Cut("B2", {{"a", {31}}}), Commit("B2"), IndexStart("a"), Commit("B1"),
                 IndexWritten("a", Minutes(1), 31), Due(Minutes(1), {{"a", {32, 33}}}, true)},
       .announced = {{"a", 31}, {"a", 33}}},
      {.name = "a seq to redo, waiting for its batch, keeps the journal mark below it",
       .steps = {Spool("a", {31, 32, 33}), Due(Minutes(1), {{"a", {32, 33}}}, true), IndexStart("a"),
                 IndexWritten("a", Minutes(1), 30), Due(Minutes(1), {}, true)},
       .announced = {},
       .journal = Journal{.committed_through = {{"a", 33}},
                          .unindexed = {{"a", {32, 33}}},
                          .uncommitted = {{"old-31", {{"a", {31}}}}}},
       .reported = {{"a", 0}}},
      {.name = "a redone lower seq persisted during the write stays unindexed and keeps the mark below it",
       .steps = {Due(Minutes(1), {{"a", {32, 33}}}, true), IndexStart("a"), Spool("a", {31, 32, 33}), Redo("old-31"),
                 Commit("old-31"), IndexWritten("a", Minutes(1), 30), Due(Minutes(1), {{"a", {31}}}, true)},
       .announced = {{"a", 33}},
       .journal = Journal{.committed_through = {{"a", 33}},
                          .unindexed = {{"a", {32, 33}}},
                          .uncommitted = {{"old-31", {{"a", {31}}}}}},
       .reported = {{"a", 0}}},
      {.name = "two cameras: each due on its own clock, by name",
       .steps = {Spool("b", {31}), Spool("a", {31}), Cut("B1", {{"b", {31}}}), Commit("B1"), Cut("B2", {{"a", {31}}}),
                 Commit("B2", Minutes(5)), Due(Minutes(10), {{"b", {31}}}),
                 Due(Minutes(15), {{"a", {31}}, {"b", {31}}})},
       .announced = {{"b", 31}, {"a", 31}}},
  });
}

TEST(PersistOrderTest, ASpoolFileIsReclaimableOnceEveryRecordInItIsDone) {
  RunCases({
      {.name = "every record persisted; only once the file is fully read",
       .steps = {Spool("a", {1, 2}, kFileA), Reclaimable(kFileA, true, false), Cut("B1", {{"a", {1, 2}}}),
                 Reclaimable(kFileA, true, false), Commit("B1"), Reclaimable(kFileA, false, false),
                 Reclaimable(kFileA, true, true), Reclaim(kFileA), Reclaimable(kFileA, true, true)},
       .announced = {{"a", 2}}},
      {.name = "a record committed above a lower seq in another file waits for it",
       .steps = {Spool("a", {1}, kFileA), Spool("a", {2}, kFileB), Cut("B1", {{"a", {1}}}), Cut("B2", {{"a", {2}}}),
                 Commit("B2"), Reclaimable(kFileB, true, false), Commit("B1"), Reclaimable(kFileA, true, true),
                 Reclaimable(kFileB, true, true)},
       .announced = {{"a", 2}}},
      {.name = "duplicates only",
       .steps = {Spool("a", {1}, kFileA), Cut("B1", {{"a", {1}}}), Spool("a", {1}, kFileB),
                 Reclaimable(kFileB, true, true), Reclaimable(kFileA, true, false)},
       .announced = {}},
      {.name = "a corrupt payload keeps its file even after a good copy is stored",
       .steps = {Spool("a", {1, 2}, kFileA), Cut("B1", {{"a", {1, 2}}}, /*corrupt=*/{2}), Commit("B1"),
                 Spool("a", {2}, kFileC), Cut("B2", {{"a", {2}}}), Commit("B2"), Reclaimable(kFileA, true, false),
                 Reclaimable(kFileC, true, true)},
       .announced = {{"a", 1}, {"a", 2}}},
      {.name = "a file with no records the sealer knows of",
       .steps = {Reclaimable(kFileC, true, true), Reclaimable(kFileC, false, false)},
       .announced = {}},
  });
}

TEST(PersistOrderTest, BatchesTakeCamerasOldestFirstAndEachCameraInSeqOrder) {
  const BatchLimits kRoomy{.bytes = 10000, .max_segments = 100};
  RunCases({
      {.name = "only segments read in an earlier pass, unless flushing",
       .steps = {Spool("a", {1, 2}), Choice(kRoomy, false, {}), Choice(kRoomy, true, {{"a", {1, 2}}}), NextPass(),
                 Spool("a", {3}), Choice(kRoomy, false, {{"a", {1, 2}}}), Choice(kRoomy, true, {{"a", {1, 2, 3}}})},
       .announced = {}},
      {.name = "the camera that waited longest first, ties by name, each in seq order",
       .steps = {Spool("c", {5, 6}, kFileA, absl::Seconds(1)), Spool("b", {1}, kFileA, absl::Seconds(2)),
                 Spool("a", {7}, kFileA, absl::Seconds(2)), NextPass(),
                 Choice(kRoomy, false, {{"c", {5, 6}}, {"a", {7}}, {"b", {1}}})},
       .announced = {}},
      {.name = "stops before the segment that would pass the size, and at the segment count",
       .steps = {Spool("a", {1, 2, 3}), Spool("b", {1}, kFileA, absl::Seconds(1)), NextPass(),
                 Choice({.bytes = 250, .max_segments = 100}, false, {{"a", {1, 2}}}),
                 Choice({.bytes = 50, .max_segments = 100}, false, {{"a", {1}}}),
                 Choice({.bytes = 10000, .max_segments = 2}, false, {{"a", {1, 2}}}),
                 Choice({.bytes = 350, .max_segments = 100}, false, {{"a", {1, 2, 3}}}),
                 Choice({.bytes = 400, .max_segments = 100}, false, {{"a", {1, 2, 3}}, {"b", {1}}})},
       .announced = {}},
      {.name = "segments already in a batch are not chosen again",
       .steps = {Spool("a", {1, 2, 3}), NextPass(), Cut("B1", {{"a", {1, 2}}}), Choice(kRoomy, false, {{"a", {3}}})},
       .announced = {}},
  });
}

TEST(PersistOrderTest, EligibleAndCountsFollowTheQueues) {
  PersistOrder order;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    ASSERT_TRUE(order.Spooled(
        "a", {.seq = seq, .length = 100, .file = kFileA, .pass_seen = 1, .seen_at = kStart + absl::Seconds(seq)}));
  }
  ASSERT_TRUE(order.Spooled("b", {.seq = 1, .length = 50, .file = kFileB, .pass_seen = 2, .seen_at = kStart}));
  EligibleSegments eligible = order.Eligible(/*pass=*/2, /*flush_all=*/false);
  EXPECT_EQ(eligible.bytes, 300u);
  EXPECT_EQ(eligible.oldest_seen, kStart + absl::Seconds(1));
  eligible = order.Eligible(/*pass=*/2, /*flush_all=*/true);
  EXPECT_EQ(eligible.bytes, 350u);
  EXPECT_EQ(eligible.oldest_seen, kStart);
  EXPECT_EQ(order.Eligible(/*pass=*/1, /*flush_all=*/false).bytes, 0u);

  std::vector<ChosenSegment> chosen = order.ChooseBatch({.bytes = 10000, .max_segments = 10}, 2, false);
  ASSERT_EQ(chosen.size(), 3u);
  order.BatchCut(chosen, {Entry("a", 1, "B1"), Entry("a", 2, "B1"), Entry("a", 3, "B1")});
  PersistOrderCounts counts = order.Counts();
  EXPECT_EQ(counts.pending_segments, 1u);
  EXPECT_EQ(counts.unindexed_segments, 0u);
  EXPECT_EQ(counts.oldest_pending_seen, kStart);

  const CommitOutcome outcome =
      order.Committed({Entry("a", 1, "B1"), Entry("a", 2, "B1"), Entry("a", 3, "B1")}, kStart);
  EXPECT_EQ(outcome.segments_persisted, 3u);
  EXPECT_EQ(outcome.raised, (std::vector<PersistedMark>{{"a", 3}}));
  counts = order.Counts();
  EXPECT_EQ(counts.unindexed_segments, 3u);

  // What a rotated journal keeps: the mark, and the committed segments not
  // indexed yet.
  JournalRecovery live;
  order.AddLiveState(live);
  EXPECT_EQ(live.committed_through.at("a"), 3u);
  EXPECT_EQ(live.unindexed.size(), 3u);
  EXPECT_FALSE(live.committed_through.contains("b"));
}

TEST(PersistOrderTest, ALiveJournalKeepsSegmentsCommittedAboveAGap) {
  PersistOrder order;
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    ASSERT_TRUE(order.Spooled("a", {.seq = seq, .length = 100, .file = kFileA, .pass_seen = 1, .seen_at = kStart}));
  }
  order.BatchCut(order.ChooseBatch({.bytes = 100, .max_segments = 10}, 2, false), {Entry("a", 1, "B1")});
  order.BatchCut(order.ChooseBatch({.bytes = 200, .max_segments = 10}, 2, false),
                 {Entry("a", 2, "B2"), Entry("a", 3, "B2")});
  EXPECT_TRUE(order.Committed({Entry("a", 2, "B2"), Entry("a", 3, "B2")}, kStart).raised.empty());
  JournalRecovery live;
  order.AddLiveState(live);
  EXPECT_FALSE(live.committed_through.contains("a"));
  ASSERT_EQ(live.unindexed.size(), 2u);
  EXPECT_EQ(live.unindexed[0].seq, 2u);
  EXPECT_EQ(live.unindexed[1].seq, 3u);
}

}  // namespace
}  // namespace ingest
