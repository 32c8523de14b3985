// Reading back a zone that holds damaged or hostile data: one camera
// ("cam-bad") is poisoned one way per case — impossible capture times, index
// entries outside their batch, garbled or truncated objects, CRC mismatches,
// absurd counts — beside an intact camera ("cam-good") that shares a batch
// with it. For every case RangesSkippingBad, ExportSkippingBad and Verify
// report the bad item and go on: cam-bad's intact segments are listed and
// exported, cam-good is untouched, and nothing crashes or overflows (this
// test runs under UBSan too).
#include <cstdint>
#include <functional>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include "common/byte_codec.h"
#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "server/batch/batch_layout.h"
#include "server/batch/recording_reader.h"
#include "server/store/local_dir_store.h"
#include "tests/server/batch/hand_made_zone.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::HandMadePayloads;
using ::ingest::testing::HandMadeZone;
using ::ingest::testing::kHandMadeSecond;
using ::ingest::testing::kHandMadeT0;
using ::ingest::testing::Seg;
using ::ingest::testing::TempDir;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
constexpr char kGood[] = "cam-good";
constexpr char kBad[] = "cam-bad";

// cam-good 1..4 and cam-bad 1..3 interleaved in batch A, cam-bad 4..6 in
// batch B; one index object per camera and batch, all in one hour.
struct PoisonedZone {
  PoisonedZone() : store(dir.path()), writer(store) {
    batch_a = writer.PutBatch(
        {Seg(kGood, 1), Seg(kBad, 1), Seg(kGood, 2), Seg(kBad, 2), Seg(kGood, 3), Seg(kBad, 3), Seg(kGood, 4)});
    batch_b = writer.PutBatch({Seg(kBad, 4), Seg(kBad, 5), Seg(kBad, 6)});
    good_index = writer.PutIndex(kGood, Of(kGood, batch_a));
    bad_index_a = writer.PutIndex(kBad, Of(kBad, batch_a));
    bad_index_b = writer.PutIndex(kBad, batch_b);
  }

  static std::vector<SegmentLocation> Of(const std::string& camera, const std::vector<SegmentLocation>& in) {
    std::vector<SegmentLocation> out;
    for (const SegmentLocation& e : in) {
      if (e.camera == camera) out.push_back(e);
    }
    return out;
  }

  // Where cam-bad's `seq` is stored.
  SegmentLocation Bad(uint64_t seq) const {
    for (const auto* batch : {&batch_a, &batch_b}) {
      for (const SegmentLocation& e : *batch) {
        if (e.camera == kBad && e.seq == seq) return e;
      }
    }
    ADD_FAILURE() << "no seq " << seq;
    return {};
  }

  // A seq 7 of cam-bad that reuses seq 6's payload, with `edit` applied.
  SegmentLocation Seq7(const std::function<void(SegmentLocation&)>& edit) const {
    SegmentLocation e = Bad(6);
    e.seq = 7;
    e.capture_start_us = Seg(kBad, 7).start_us;
    edit(e);
    return e;
  }

  // Replaces cam-bad's batch-B index object by one of seqs 4..6 and `extra`.
  void RewriteIndexB(const SegmentLocation& extra) {
    std::vector<SegmentLocation> entries = batch_b;
    entries.push_back(extra);
    ASSERT_TRUE(store.Delete(bad_index_b).ok());
    bad_index_b = writer.PutIndex(kBad, entries);
  }

  std::vector<uint8_t> Bytes(const std::string& key) {
    absl::StatusOr<std::vector<uint8_t>> bytes = store.Get(key);
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return bytes.ok() ? *bytes : std::vector<uint8_t>();
  }
  void Rewrite(const std::string& key, const std::function<void(std::vector<uint8_t>&)>& edit) {
    std::vector<uint8_t> bytes = Bytes(key);
    edit(bytes);
    ASSERT_TRUE(store.Put(key, bytes).ok());
  }

  TempDir dir;
  LocalDirStore store;
  HandMadeZone writer;
  std::vector<SegmentLocation> batch_a, batch_b;
  std::string good_index, bad_index_a, bad_index_b;
};

struct HostileCase {
  std::string name;
  std::function<void(PoisonedZone&)> poison;
  // What the readers must still deliver of cam-bad, and how many problems
  // they report on the way.
  std::vector<std::pair<uint64_t, uint64_t>> ranges;  // (first_seq, last_seq), oldest first
  size_t ranges_skipped = 0;
  std::vector<uint64_t> exported;  // seqs, in order
  uint64_t export_segments_skipped = 0;
  size_t export_problems = 0;
  std::string problem_mentions;  // in the first problem each reader reports
};

std::vector<HostileCase> Cases() {
  const std::vector<uint64_t> all = {1, 2, 3, 4, 5, 6};
  const std::vector<std::pair<uint64_t, uint64_t>> one_range = {{1, 6}};
  auto hostile_time = [&](std::string name, int64_t start_us, bool own_index) {
    return HostileCase{
        .name = std::move(name),
        .poison =
            [start_us, own_index](PoisonedZone& z) {
              const SegmentLocation e = z.Seq7([&](SegmentLocation& s) { s.capture_start_us = start_us; });
              // Filed where the sealer would file it, alone or beside good entries.
              if (own_index) {
                z.writer.PutIndex(kBad, {e});
              } else {
                z.RewriteIndexB(e);
              }
            },
        .ranges = one_range,
        .ranges_skipped = 1,
        .exported = all,
        .export_segments_skipped = 0,
        .export_problems = 1,
        .problem_mentions = "seq 7: capture start",
    };
  };
  std::vector<HostileCase> cases = {
      hostile_time("StartIsInt64MaxInItsOwnHourFolder", kMax, true),
      hostile_time("StartIsInt64MaxBesideGoodEntries", kMax, false),
      hostile_time("StartIsInt64MaxMinus1000With2sDuration", kMax - 1000, false),
      hostile_time("StartIsInt64Min", kMin, false),
      hostile_time("StartIsInt64MinInItsOwnHourFolder", kMin, true),
      hostile_time("StartIsMinusOne", -1, false),
      hostile_time("StartIsYear2400", 13569465600000000, true),
      hostile_time("StartIsTheExcludedLimit", kCaptureStartLimitUs, false),
  };
  cases.push_back({
      .name = "EntryPointsPastItsBatchsEnd",
      .poison = [](PoisonedZone& z) { z.RewriteIndexB(z.Seq7([](SegmentLocation& e) { e.offset += 4096; })); },
      .ranges = {{1, 7}},  // its metadata is plausible: only reading it shows it is not there
      .ranges_skipped = 0,
      .exported = all,
      .export_segments_skipped = 1,
      .export_problems = 1,
      .problem_mentions = "seq 7: payload",
  });
  cases.push_back({
      .name = "EntryLengthRunsPastItsBatchsEnd",
      .poison = [](PoisonedZone& z) { z.RewriteIndexB(z.Seq7([](SegmentLocation& e) { e.length = 0xffffffffu; })); },
      .ranges = {{1, 7}},
      .ranges_skipped = 0,
      .exported = all,
      .export_segments_skipped = 1,
      .export_problems = 1,
      .problem_mentions = "seq 7: payload",
  });
  cases.push_back({
      .name = "EntryOffsetNearUint64Max",
      .poison =
          [](PoisonedZone& z) {
            z.RewriteIndexB(z.Seq7([](SegmentLocation& e) {
              e.offset = std::numeric_limits<uint64_t>::max() - 5;
              e.length = 0xffffffffu;
            }));
          },
      .ranges = one_range,
      .ranges_skipped = 1,
      .exported = all,
      .export_segments_skipped = 0,
      .export_problems = 1,
      .problem_mentions = "seq 7: payload at offset",
  });
  cases.push_back({
      .name = "EntryNamesABatchOutsideTheZone",
      .poison =
          [](PoisonedZone& z) { z.RewriteIndexB(z.Seq7([](SegmentLocation& e) { e.batch_key = "other/x.cbt"; })); },
      .ranges = one_range,
      .ranges_skipped = 1,
      .exported = all,
      .export_segments_skipped = 0,
      .export_problems = 1,
      .problem_mentions = "seq 7: names a batch outside",
  });
  cases.push_back({
      .name = "EntryNamesAMissingBatch",
      .poison =
          [](PoisonedZone& z) {
            z.RewriteIndexB(z.Seq7([](SegmentLocation& e) { e.batch_key = "dev/batches/00/gone.cbt"; }));
          },
      .ranges = {{1, 7}},
      .ranges_skipped = 0,
      .exported = all,
      .export_segments_skipped = 1,
      .export_problems = 1,
      .problem_mentions = "seq 7: batch object missing",
  });
  cases.push_back({
      .name = "PayloadCrcMismatch",
      .poison =
          [](PoisonedZone& z) {
            const SegmentLocation e = z.Bad(2);
            z.Rewrite(e.batch_key, [&](std::vector<uint8_t>& b) { b[e.offset + 3] ^= 0x40; });
          },
      .ranges = one_range,
      .ranges_skipped = 0,
      .exported = {1, 3, 4, 5, 6},
      .export_segments_skipped = 1,
      .export_problems = 1,
      .problem_mentions = "seq 2: bad payload CRC",
  });
  cases.push_back({
      .name = "BadFirstCopyIsReplacedByAnIntactLaterCopy",
      .poison =
          [](PoisonedZone& z) {
            // Seqs 5..6 sealed again (a retried seal) into a batch of their
            // own, indexed after batch B's index; then batch B's copy of 5 rots.
            const std::vector<SegmentLocation> again = z.writer.PutBatch({Seg(kBad, 5), Seg(kBad, 6)});
            z.writer.PutIndex(kBad, again);
            const SegmentLocation e = z.Bad(5);
            z.Rewrite(e.batch_key, [&](std::vector<uint8_t>& b) { b[e.offset] ^= 1; });
          },
      .ranges = one_range,
      .ranges_skipped = 0,
      .exported = all,
      .export_segments_skipped = 0,
      .export_problems = 1,
      .problem_mentions = "seq 5: bad payload CRC",
  });
  cases.push_back({
      .name = "IndexObjectTruncated",
      .poison =
          [](PoisonedZone& z) { z.Rewrite(z.bad_index_b, [](std::vector<uint8_t>& b) { b.resize(b.size() / 2); }); },
      .ranges = {{1, 3}},
      .ranges_skipped = 1,
      .exported = {1, 2, 3},
      .export_segments_skipped = 0,  // an unreadable index cannot say what it held
      .export_problems = 1,
      .problem_mentions = "camera index",
  });
  cases.push_back({
      .name = "IndexObjectGarbled",
      .poison = [](PoisonedZone& z) { z.Rewrite(z.bad_index_b, [](std::vector<uint8_t>& b) { b[30] ^= 0xff; }); },
      .ranges = {{1, 3}},
      .ranges_skipped = 1,
      .exported = {1, 2, 3},
      .export_segments_skipped = 0,
      .export_problems = 1,
      .problem_mentions = "camera index CRC mismatch",
  });
  cases.push_back({
      .name = "IndexObjectEmpty",
      .poison = [](PoisonedZone& z) { z.Rewrite(z.bad_index_b, [](std::vector<uint8_t>& b) { b.clear(); }); },
      .ranges = {{1, 3}},
      .ranges_skipped = 1,
      .exported = {1, 2, 3},
      .export_segments_skipped = 0,
      .export_problems = 1,
      .problem_mentions = "camera index of 0 bytes",
  });
  cases.push_back({
      .name = "IndexObjectClaimsAbsurdCountsWithAValidCrc",
      .poison =
          [](PoisonedZone& z) {
            std::vector<uint8_t> bytes;
            ByteWriter w(&bytes);
            w.Bytes("CIX1");
            w.U16(1);
            w.U16(0);
            w.String8(kBad);
            w.U32(0xffffffffu);  // batch keys
            w.String16("dev/batches/00/x.cbt");
            w.U32(0xffffffffu);  // entries
            w.Bytes(std::string(64, 'z'));
            w.U32(Crc32c({bytes.data(), bytes.size()}));
            z.writer.PutRawIndex(kBad, IndexHourStartUs(kHandMadeT0), 7, 7, bytes);
          },
      .ranges = one_range,
      .ranges_skipped = 1,
      .exported = all,
      .export_segments_skipped = 0,
      .export_problems = 1,
      .problem_mentions = "camera index header is malformed",
  });
  cases.push_back({
      .name = "IndexObjectOfAnotherCameraInItsFolder",
      .poison =
          [](PoisonedZone& z) {
            z.writer.PutRawIndex(kBad, IndexHourStartUs(kHandMadeT0), 1, 4, z.Bytes(z.good_index), "00000000000000ff");
          },
      .ranges = one_range,
      .ranges_skipped = 1,
      .exported = all,
      .export_segments_skipped = 0,
      .export_problems = 1,
      .problem_mentions = "index of camera cam-good",
  });
  cases.push_back({
      .name = "BatchObjectTruncatedInsideItsLastPayload",
      .poison =
          [](PoisonedZone& z) {
            const SegmentLocation e = z.Bad(6);
            z.Rewrite(e.batch_key, [&](std::vector<uint8_t>& b) { b.resize(e.offset + 5); });
          },
      .ranges = one_range,
      .ranges_skipped = 0,
      .exported = {1, 2, 3, 4, 5},
      .export_segments_skipped = 1,
      .export_problems = 1,
      .problem_mentions = "seq 6: payload",
  });
  cases.push_back({
      .name = "BatchObjectMissing",
      .poison = [](PoisonedZone& z) { ASSERT_TRUE(z.store.Delete(z.Bad(4).batch_key).ok()); },
      .ranges = one_range,
      .ranges_skipped = 0,
      .exported = {1, 2, 3},
      .export_segments_skipped = 3,
      .export_problems = 3,
      .problem_mentions = "seq 4: batch object missing",
  });
  cases.push_back({
      .name = "BatchTrailerGarbled",
      .poison =
          [](PoisonedZone& z) {
            z.Rewrite(z.Bad(4).batch_key, [](std::vector<uint8_t>& b) { b[b.size() - 12] ^= 0x80; });
          },
      // Payload reads need no trailer: only Verify notices.
      .ranges = one_range,
      .ranges_skipped = 0,
      .exported = all,
      .export_segments_skipped = 0,
      .export_problems = 0,
      .problem_mentions = "",
  });
  return cases;
}

class RecordingReaderHostileDataTest : public ::testing::TestWithParam<HostileCase> {};

absl::StatusOr<ExportStats> ExportEverything(RecordingReader& reader, const std::string& camera, bool skipping_bad,
                                             std::vector<uint8_t>& out) {
  auto sink = [&](absl::Span<const uint8_t> p) {
    out.insert(out.end(), p.begin(), p.end());
    return absl::OkStatus();
  };
  return skipping_bad ? reader.ExportSkippingBad(camera, kMin, kMax, sink) : reader.Export(camera, kMin, kMax, sink);
}

TEST_P(RecordingReaderHostileDataTest, ReadersReportTheBadItemAndGoOn) {
  const HostileCase& c = GetParam();
  PoisonedZone z;
  c.poison(z);
  RecordingReader reader(&z.store, "dev");

  // Ranges: cam-bad's intact entries only; every skipped item names where it is.
  absl::StatusOr<RangesReport> ranges = reader.RangesSkippingBad(kBad);
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  std::vector<std::pair<uint64_t, uint64_t>> got;
  for (const RecordedRange& r : ranges->ranges) {
    got.emplace_back(r.first_seq, r.last_seq);
    EXPECT_EQ(r.start_us, Seg(kBad, r.first_seq).start_us);
    EXPECT_EQ(r.end_us, Seg(kBad, r.last_seq).start_us + 2 * kHandMadeSecond);
    EXPECT_EQ(r.segments, r.last_seq - r.first_seq + 1);
  }
  EXPECT_EQ(got, c.ranges);
  ASSERT_EQ(ranges->skipped.size(), c.ranges_skipped);
  for (const ReadProblem& p : ranges->skipped) {
    EXPECT_FALSE(p.key.empty());
    EXPECT_EQ(p.camera, kBad);
    EXPECT_NE(p.message.find(c.problem_mentions), std::string::npos) << ProblemText(p);
  }
  // The strict reader stops at the same item, naming it.
  absl::StatusOr<std::vector<RecordedRange>> strict = reader.Ranges(kBad);
  if (c.ranges_skipped == 0) {
    EXPECT_TRUE(strict.ok()) << strict.status();
  } else {
    EXPECT_TRUE(absl::IsDataLoss(strict.status())) << strict.status();
    EXPECT_NE(strict.status().message().find(ranges->skipped[0].key), absl::string_view::npos) << strict.status();
  }

  // Export: every intact segment of cam-bad, in seq order, each bad one reported.
  std::vector<uint8_t> bytes;
  absl::StatusOr<ExportStats> stats = ExportEverything(reader, kBad, true, bytes);
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(bytes, HandMadePayloads(kBad, c.exported));
  EXPECT_EQ(stats->segments, c.exported.size());
  EXPECT_EQ(stats->segments_skipped, c.export_segments_skipped);
  ASSERT_EQ(stats->problems.size(), c.export_problems);
  if (!stats->problems.empty()) {
    EXPECT_NE(stats->problems[0].message.find(c.problem_mentions), std::string::npos)
        << ProblemText(stats->problems[0]);
    EXPECT_EQ(stats->problems[0].camera, kBad);
  }
  bytes.clear();
  absl::StatusOr<ExportStats> strict_export = ExportEverything(reader, kBad, false, bytes);
  EXPECT_EQ(strict_export.ok(), c.export_problems == 0) << strict_export.status();

  // Verify: the whole zone, every problem of cam-bad, and it went on to the end.
  absl::StatusOr<VerifyReport> report = reader.Verify("");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_FALSE(report->problems.empty());
  for (const VerifyProblem& p : report->problems) EXPECT_EQ(p.camera, kBad) << ProblemText(p);
  EXPECT_GE(report->segments, 4u);  // at least batch A's payloads were checked

  // cam-good, which shares batch A with cam-bad, reads back as if nothing happened.
  absl::StatusOr<std::vector<RecordedRange>> good_ranges = reader.Ranges(kGood);
  ASSERT_TRUE(good_ranges.ok()) << good_ranges.status();
  ASSERT_EQ(good_ranges->size(), 1u);
  EXPECT_EQ((*good_ranges)[0].first_seq, 1u);
  EXPECT_EQ((*good_ranges)[0].last_seq, 4u);
  bytes.clear();
  ASSERT_TRUE(ExportEverything(reader, kGood, false, bytes).ok());
  EXPECT_EQ(bytes, HandMadePayloads(kGood, {1, 2, 3, 4}));
  absl::StatusOr<VerifyReport> good_report = reader.Verify(kGood);
  ASSERT_TRUE(good_report.ok()) << good_report.status();
  EXPECT_TRUE(good_report->problems.empty()) << ProblemText(good_report->problems[0]);
}

INSTANTIATE_TEST_SUITE_P(Cases, RecordingReaderHostileDataTest, ::testing::ValuesIn(Cases()),
                         [](const ::testing::TestParamInfo<HostileCase>& info) { return info.param.name; });

TEST(RecordingReaderHostileDataTest, ExportWindowsAtTheInt64LimitsReadNoOverflow) {
  PoisonedZone z;
  z.writer.PutIndex(kBad, {z.Seq7([](SegmentLocation& e) { e.capture_start_us = kMax - 1000; })});
  z.writer.PutIndex(kBad, {z.Seq7([](SegmentLocation& e) {
                      e.seq = 8;
                      e.capture_start_us = kMin;
                    })});
  RecordingReader reader(&z.store, "dev");
  const std::pair<int64_t, int64_t> windows[] = {
      {kMin, kMax}, {kMin, kMin + 1}, {kMax - 1, kMax}, {kMin, 0}, {kMax - 3000, kMax}, {0, kMax},
  };
  for (auto [from, to] : windows) {
    std::vector<uint8_t> bytes;
    absl::StatusOr<ExportStats> stats = reader.ExportSkippingBad(kBad, from, to, [&](absl::Span<const uint8_t> p) {
      bytes.insert(bytes.end(), p.begin(), p.end());
      return absl::OkStatus();
    });
    ASSERT_TRUE(stats.ok()) << stats.status();
    for (const ReadProblem& p : stats->problems) {
      EXPECT_TRUE(p.seq == 7u || p.seq == 8u) << ProblemText(p);
    }
    if (from <= Seg(kBad, 1).start_us && to > Seg(kBad, 6).start_us) {
      EXPECT_EQ(bytes, HandMadePayloads(kBad, {1, 2, 3, 4, 5, 6})) << from << ".." << to;
    } else {
      EXPECT_TRUE(bytes.empty()) << from << ".." << to;
    }
  }
}

TEST(RecordingReaderHostileDataTest, ASinkErrorStillStopsTheExport) {
  PoisonedZone z;
  RecordingReader reader(&z.store, "dev");
  int calls = 0;
  absl::StatusOr<ExportStats> stats = reader.ExportSkippingBad(kBad, kMin, kMax, [&](absl::Span<const uint8_t>) {
    return ++calls == 2 ? absl::InternalError("disk full") : absl::OkStatus();
  });
  EXPECT_TRUE(absl::IsInternal(stats.status())) << stats.status();
  EXPECT_EQ(calls, 2);
}

TEST(RecordingReaderHostileDataTest, UntrustedStringsAreEscapedInProblems) {
  PoisonedZone z;
  // A CRC-valid index in cam-bad's folder that claims to be a camera whose
  // id is control characters and invalid UTF-8, and a batch key of garbage.
  absl::StatusOr<std::vector<uint8_t>> other = EncodeCameraIndex(std::string("\x1b[2J\xff\xfe", 6), {z.Bad(4)});
  ASSERT_TRUE(other.ok());
  z.writer.PutRawIndex(kBad, IndexHourStartUs(kHandMadeT0), 9, 9, *other);
  z.RewriteIndexB(z.Seq7([](SegmentLocation& e) { e.batch_key = std::string(300, '\x07'); }));
  RecordingReader reader(&z.store, "dev");
  absl::StatusOr<RangesReport> ranges = reader.RangesSkippingBad(kBad);
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  ASSERT_EQ(ranges->skipped.size(), 2u);
  for (const ReadProblem& p : ranges->skipped) {
    for (char ch : p.key + p.camera + p.message) {
      EXPECT_TRUE(ch >= 0x20 && ch < 0x7f) << ProblemText(p);
    }
    EXPECT_LT(p.message.size(), 400u) << ProblemText(p);
  }
}

}  // namespace
}  // namespace ingest
