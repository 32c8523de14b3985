// Reading recordings back from batch objects and camera index objects written
// by hand: exports (byte-exact, each seq once, coalesced range reads,
// segments started in an earlier hour or day), cameras and ranges, and what
// Verify finds.
#include "server/batch/recording_reader.h"

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/crc32c.h"
#include "absl/strings/match.h"
#include "gtest/gtest.h"
#include "server/batch/batch_layout.h"
#include "server/batch/batch_object.h"
#include "server/batch/camera_index.h"
#include "server/spool/metadata_streams.h"
#include "server/store/local_dir_store.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

constexpr int64_t kT0 = 1795870800000000;  // 2026-11-28T13:00:00Z
constexpr int64_t kSecond = 1000000;
constexpr int64_t kHour = 3600 * kSecond;
constexpr char kZone[] = "dev";

// Counts the range reads a reader makes, and passes everything through.
class CountingStore : public ObjectStore {
 public:
  explicit CountingStore(const std::string& root) : inner_(root) {}
  absl::Status Put(std::string_view key, absl::Span<const uint8_t> data) override { return inner_.Put(key, data); }
  absl::StatusOr<std::vector<uint8_t>> Get(std::string_view key) override { return inner_.Get(key); }
  absl::StatusOr<std::vector<uint8_t>> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    ++range_reads;
    return inner_.GetRange(key, offset, length);
  }
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override { return inner_.List(prefix); }
  absl::StatusOr<std::vector<std::string>> ListFolders(std::string_view prefix) override {
    return inner_.ListFolders(prefix);
  }
  absl::Status Delete(std::string_view key) override { return inner_.Delete(key); }
  absl::StatusOr<ObjectInfo> Head(std::string_view key) override { return inner_.Head(key); }

  int range_reads = 0;

 private:
  LocalDirStore inner_;
};

std::vector<uint8_t> Payload(const std::string& camera, uint64_t seq) {
  const uint8_t tag = static_cast<uint8_t>(camera.back());
  std::vector<uint8_t> p(50 + seq % 7 + tag % 5);
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(seq * 31 + tag * 7 + i);
  return p;
}

std::vector<uint8_t> Expected(const std::string& camera, uint64_t first, uint64_t last) {
  std::vector<uint8_t> out;
  for (uint64_t seq = first; seq <= last; ++seq) {
    std::vector<uint8_t> p = Payload(camera, seq);
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

struct Segment {
  std::string camera;
  uint64_t seq = 0;
  int64_t start_us = 0;
  uint32_t duration_us = 2 * kSecond;
  uint8_t flags = 0;
};

// The usual 2-second segment seq of `camera`: starts at kT0 + 2 s * (seq - 1) + shift.
Segment Seg(const std::string& camera, uint64_t seq, int64_t shift_us = 0) {
  return {camera, seq, kT0 + 2 * kSecond * static_cast<int64_t>(seq - 1) + shift_us};
}

// Builds a zone by hand, the way the sealer writes it: batch objects holding
// several cameras' payloads, then per-camera-hour index objects.
class ZoneWriter {
 public:
  explicit ZoneWriter(ObjectStore& store) : store_(store) {}

  // Stores one batch object of `segments` (in this order); returns their locations.
  std::vector<SegmentLocation> PutBatch(const std::vector<Segment>& segments) {
    std::vector<uint8_t> object(kBatchHeaderBytes);
    std::vector<SegmentLocation> entries;
    for (const Segment& s : segments) {
      const std::vector<uint8_t> payload = Payload(s.camera, s.seq);
      SegmentLocation e;
      e.camera = s.camera;
      e.seq = s.seq;
      e.capture_start_us = s.start_us;
      e.duration_us = s.duration_us;
      e.flags = s.flags;
      e.offset = object.size();
      e.length = static_cast<uint32_t>(payload.size());
      e.crc32c = Crc32c(payload);
      object.insert(object.end(), payload.begin(), payload.end());
      entries.push_back(e);
    }
    EXPECT_TRUE(FinishBatchObject(object, entries).ok());
    const std::string key = BatchKey(kZone, "00000000000000aa", ++batch_seq_, absl::FromUnixMicros(kT0));
    EXPECT_TRUE(store_.Put(key, object).ok());
    for (SegmentLocation& e : entries) e.batch_key = key;
    return entries;
  }

  // Stores one index object per camera and capture hour of `locations`;
  // returns their keys.
  std::vector<std::string> PutIndexes(const std::vector<SegmentLocation>& locations,
                                      const std::string& instance = "00000000000000aa") {
    std::map<std::pair<std::string, int64_t>, std::vector<SegmentLocation>> groups;
    for (const SegmentLocation& e : locations) groups[{e.camera, IndexHourStartUs(e.capture_start_us)}].push_back(e);
    std::vector<std::string> keys;
    for (const auto& [group, entries] : groups) {
      absl::StatusOr<std::vector<uint8_t>> bytes = EncodeCameraIndex(group.first, entries);
      EXPECT_TRUE(bytes.ok()) << bytes.status();
      keys.push_back(
          CameraIndexKey(kZone, group.first, group.second, entries.front().seq, entries.back().seq, instance));
      EXPECT_TRUE(store_.Put(keys.back(), *bytes).ok());
    }
    return keys;
  }

  std::vector<SegmentLocation> PutBatchAndIndexes(const std::vector<Segment>& segments) {
    std::vector<SegmentLocation> locations = PutBatch(segments);
    PutIndexes(locations);
    return locations;
  }

 private:
  ObjectStore& store_;
  uint64_t batch_seq_ = 0;
};

absl::StatusOr<std::vector<uint8_t>> ExportBytes(RecordingReader& reader, const std::string& camera, int64_t from,
                                                 int64_t to, ExportStats* stats = nullptr) {
  std::vector<uint8_t> out;
  absl::StatusOr<ExportStats> s = reader.Export(camera, from, to, [&](absl::Span<const uint8_t> p) {
    out.insert(out.end(), p.begin(), p.end());
    return absl::OkStatus();
  });
  if (!s.ok()) return s.status();
  if (stats != nullptr) *stats = *s;
  return out;
}

void FlipByte(const std::string& root, const std::string& key, uint64_t offset) {
  std::fstream f(root + "/" + key, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  const char c = static_cast<char>(f.get());
  f.seekp(static_cast<std::streamoff>(offset));
  f.put(static_cast<char>(c ^ 0x5a));
}

TEST(RecordingReaderTest, ExportsEachSeqOnceAcrossOverlappingIndexObjects) {
  TempDir dir;
  CountingStore store(dir.path());
  ZoneWriter zone(store);
  // cam-1 and cam-2 interleaved in one batch, then cam-1 3..6 re-sealed into
  // a second batch after a crash, with its own index object.
  zone.PutBatchAndIndexes(
      {Seg("cam-1", 1), Seg("cam-2", 1), Seg("cam-1", 2), Seg("cam-1", 3), Seg("cam-2", 2), Seg("cam-1", 4)});
  zone.PutBatchAndIndexes({Seg("cam-1", 3), Seg("cam-1", 4), Seg("cam-1", 5), Seg("cam-1", 6)});
  RecordingReader reader(&store, kZone);

  ExportStats stats;
  absl::StatusOr<std::vector<uint8_t>> all = ExportBytes(reader, "cam-1", kT0, kT0 + kHour, &stats);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, Expected("cam-1", 1, 6));
  EXPECT_EQ(stats.segments, 6u);
  EXPECT_EQ(stats.bytes, Expected("cam-1", 1, 6).size());
  EXPECT_EQ(stats.first_seq, 1u);
  EXPECT_EQ(stats.last_seq, 6u);
  EXPECT_EQ(stats.duplicates_skipped, 2u);
  EXPECT_EQ(stats.conflicting_copies, 0u);
  EXPECT_EQ(*ExportBytes(reader, "cam-2", kT0, kT0 + kHour), Expected("cam-2", 1, 2));

  absl::StatusOr<std::vector<SegmentLocation>> locations = reader.Locations("cam-1", kT0, kT0 + kHour);
  ASSERT_TRUE(locations.ok()) << locations.status();
  ASSERT_EQ(locations->size(), 6u);
  for (size_t i = 0; i < 6; ++i) EXPECT_EQ((*locations)[i].seq, i + 1);
  // The first index object by key (seqs 1..4) wins for seqs 3 and 4.
  EXPECT_EQ((*locations)[3].batch_key, (*locations)[0].batch_key);
  EXPECT_NE((*locations)[4].batch_key, (*locations)[0].batch_key);

  // [3 s, 5 s) overlaps seq 2 ([2 s, 4 s)) and seq 3 ([4 s, 6 s)); end-exclusive.
  EXPECT_EQ(*ExportBytes(reader, "cam-1", kT0 + 3 * kSecond, kT0 + 5 * kSecond), Expected("cam-1", 2, 3));
  EXPECT_EQ(*ExportBytes(reader, "cam-1", kT0 + 4 * kSecond, kT0 + 6 * kSecond), Expected("cam-1", 3, 3));
}

TEST(RecordingReaderTest, ExportOfARangeWithoutDataSendsNothing) {
  TempDir dir;
  LocalDirStore store(dir.path());
  ZoneWriter zone(store);
  zone.PutBatchAndIndexes({Seg("cam-1", 1), Seg("cam-1", 2)});
  RecordingReader reader(&store, kZone);
  for (auto [from, to] : std::initializer_list<std::pair<int64_t, int64_t>>{{kT0 - 10 * kSecond, kT0},
                                                                            {kT0 + 4 * kSecond, kT0 + kHour},
                                                                            {kT0 + 5 * kHour, kT0 + 6 * kHour},
                                                                            {kT0 + kSecond, kT0 + kSecond},
                                                                            {kT0 + kSecond, kT0}}) {
    ExportStats stats;
    absl::StatusOr<std::vector<uint8_t>> bytes = ExportBytes(reader, "cam-1", from, to, &stats);
    ASSERT_TRUE(bytes.ok()) << bytes.status();
    EXPECT_TRUE(bytes->empty());
    EXPECT_EQ(stats.segments, 0u);
  }
  ExportStats stats;
  EXPECT_TRUE(ExportBytes(reader, "nobody", kT0, kT0 + kHour, &stats)->empty());
  EXPECT_EQ(stats.segments, 0u);
  EXPECT_TRUE(reader.Ranges("nobody")->empty());
  EXPECT_TRUE(absl::IsInvalidArgument(ExportBytes(reader, "../cam-1", kT0, kT0 + kHour).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(ExportBytes(reader, "a/b", kT0, kT0 + kHour).status()));
}

TEST(RecordingReaderTest, ExportCoalescesNearbyPayloadsOfABatchIntoOneRead) {
  TempDir dir;
  CountingStore store(dir.path());
  ZoneWriter zone(store);
  std::vector<Segment> segments;
  for (uint64_t seq = 1; seq <= 20; ++seq) {
    segments.push_back(Seg("cam-1", seq));
    segments.push_back(Seg("cam-2", seq));  // small gaps between cam-1's payloads
  }
  zone.PutBatchAndIndexes(segments);
  RecordingReader reader(&store, kZone);
  store.range_reads = 0;
  EXPECT_EQ(*ExportBytes(reader, "cam-1", kT0, kT0 + kHour), Expected("cam-1", 1, 20));
  EXPECT_EQ(store.range_reads, 1);
}

TEST(RecordingReaderTest, ExportFindsSegmentsStartedInThePreviousHourAndDay) {
  TempDir dir;
  LocalDirStore store(dir.path());
  ZoneWriter zone(store);
  const int64_t midnight = kT0 - 13 * kHour;  // 2026-11-28T00:00:00Z
  // Seq 1 starts a second before midnight: indexed under the previous day.
  const int64_t shift = midnight - kSecond - kT0;
  zone.PutBatchAndIndexes({Seg("cam-1", 1, shift), Seg("cam-1", 2, shift), Seg("cam-1", 3, shift)});
  // A 40-minute segment that started 30 minutes before the hour of the range.
  Segment longer{"cam-2", 1, kT0 - 30 * 60 * kSecond, 40 * 60 * 1000000u};
  zone.PutBatchAndIndexes({longer, Seg("cam-2", 2, 20 * 60 * kSecond)});
  RecordingReader reader(&store, kZone);

  EXPECT_EQ(*ExportBytes(reader, "cam-1", midnight, midnight + kSecond / 2), Expected("cam-1", 1, 1));
  EXPECT_EQ(*ExportBytes(reader, "cam-1", midnight, midnight + 2 * kSecond), Expected("cam-1", 1, 2));
  EXPECT_EQ(*ExportBytes(reader, "cam-2", kT0 + 5 * 60 * kSecond, kT0 + 6 * 60 * kSecond), Expected("cam-2", 1, 1));
}

TEST(RecordingReaderTest, ListsCamerasAndMergesContiguousRanges) {
  TempDir dir;
  LocalDirStore store(dir.path());
  ZoneWriter zone(store);
  zone.PutBatchAndIndexes({Seg("cam-1", 1), Seg("cam-1", 2), Seg("cam-2", 1), Seg("cam-1", 3)});
  zone.PutBatchAndIndexes({Seg("cam-1", 4), Seg("cam-1", 5)});
  zone.PutBatchAndIndexes({Seg("cam-1", 8), Seg("cam-1", 9)});  // seq 6, 7 lost: a hole
  zone.PutBatchAndIndexes({Seg("cam-1", 4), Seg("cam-1", 5)});  // a retried seal: duplicates
  // Seq 10 starts in the next hour, after a gap of an hour: a new range.
  zone.PutBatchAndIndexes({Seg("cam-1", 10, kHour)});
  RecordingReader reader(&store, kZone);
  EXPECT_EQ(*reader.Cameras(), (std::vector<std::string>{"cam-1", "cam-2"}));

  absl::StatusOr<std::vector<RecordedRange>> ranges = reader.Ranges("cam-1");
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  ASSERT_EQ(ranges->size(), 3u);
  EXPECT_EQ((*ranges)[0].first_seq, 1u);
  EXPECT_EQ((*ranges)[0].last_seq, 5u);
  EXPECT_EQ((*ranges)[0].start_us, kT0);
  EXPECT_EQ((*ranges)[0].end_us, kT0 + 10 * kSecond);
  EXPECT_EQ((*ranges)[0].segments, 5u);
  EXPECT_EQ((*ranges)[0].bytes, Expected("cam-1", 1, 5).size());
  EXPECT_EQ((*ranges)[1].first_seq, 8u);
  EXPECT_EQ((*ranges)[1].last_seq, 9u);
  EXPECT_EQ((*ranges)[1].start_us, kT0 + 14 * kSecond);
  EXPECT_EQ((*ranges)[2].first_seq, 10u);
  EXPECT_EQ((*ranges)[2].start_us, kT0 + kHour + 18 * kSecond);
  ASSERT_EQ(reader.Ranges("cam-2")->size(), 1u);
}

TEST(RecordingReaderTest, VerifyFindsACorruptPayloadAndAMissingBatch) {
  TempDir dir;
  LocalDirStore store(dir.path());
  ZoneWriter zone(store);
  zone.PutBatchAndIndexes({Seg("cam-1", 1), Seg("cam-2", 1), Seg("cam-1", 2), Seg("cam-2", 2)});
  const std::vector<SegmentLocation> second = zone.PutBatchAndIndexes({Seg("cam-1", 3), Seg("cam-2", 3)});
  RecordingReader reader(&store, kZone);

  absl::StatusOr<VerifyReport> report = reader.Verify("");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->problems.empty()) << report->problems[0].key << ": " << report->problems[0].message;
  EXPECT_EQ(report->batch_objects, 2u);
  EXPECT_EQ(report->index_objects, 4u);  // two batches x two cameras, one hour
  EXPECT_EQ(report->objects, 6u);
  EXPECT_EQ(report->segments, 6u);  // each payload once, though two indexes name each batch
  EXPECT_EQ(reader.Verify("cam-1")->segments, 3u);

  // One byte of cam-2's seq 3 payload.
  const SegmentLocation& bad = second[1];
  FlipByte(dir.path(), bad.batch_key, bad.offset + 5);
  report = reader.Verify("");
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0].key, bad.batch_key);
  EXPECT_NE(report->problems[0].message.find("cam-2 seq 3"), std::string::npos) << report->problems[0].message;
  EXPECT_TRUE(reader.Verify("cam-1")->problems.empty());  // cam-1's own payloads are intact
  EXPECT_EQ(reader.Verify("cam-2")->problems.size(), 1u);
  absl::StatusOr<std::vector<uint8_t>> exported = ExportBytes(reader, "cam-2", kT0, kT0 + kHour);
  EXPECT_TRUE(absl::IsDataLoss(exported.status())) << exported.status();
  EXPECT_NE(exported.status().message().find(bad.batch_key), absl::string_view::npos) << exported.status();
  EXPECT_EQ(*ExportBytes(reader, "cam-1", kT0, kT0 + kHour), Expected("cam-1", 1, 3));

  // The batch gone: one problem for it, and Export fails naming it.
  ASSERT_TRUE(store.Delete(bad.batch_key).ok());
  report = reader.Verify("");
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0].key, bad.batch_key);
  EXPECT_NE(report->problems[0].message.find("missing"), std::string::npos) << report->problems[0].message;
  exported = ExportBytes(reader, "cam-1", kT0, kT0 + kHour);
  EXPECT_TRUE(absl::IsDataLoss(exported.status())) << exported.status();
  EXPECT_NE(exported.status().message().find("missing"), absl::string_view::npos) << exported.status();
}

TEST(RecordingReaderTest, CorruptIndexObjectIsDataLossForReadsAndAProblemForVerify) {
  TempDir dir;
  LocalDirStore store(dir.path());
  ZoneWriter zone(store);
  const std::vector<std::string> keys =
      zone.PutIndexes(zone.PutBatch({Seg("cam-1", 1), Seg("cam-1", 2), Seg("cam-2", 1)}));
  const std::string& cam1_index = keys[0];
  FlipByte(dir.path(), cam1_index, 20);
  RecordingReader reader(&store, kZone);

  absl::StatusOr<std::vector<RecordedRange>> ranges = reader.Ranges("cam-1");
  EXPECT_TRUE(absl::IsDataLoss(ranges.status())) << ranges.status();
  EXPECT_NE(ranges.status().message().find(cam1_index), absl::string_view::npos) << ranges.status();
  EXPECT_TRUE(absl::IsDataLoss(ExportBytes(reader, "cam-1", kT0, kT0 + kHour).status()));
  absl::StatusOr<VerifyReport> report = reader.Verify("");
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0].key, cam1_index);
  EXPECT_EQ(report->segments, 3u);  // cam-2's index still leads to the batch
}

TEST(RecordingReaderTest, ThePayloadIndexedTwiceIsNotASecondCopy) {
  // An index write retried with more entries after its first answer was
  // lost: two index objects name seqs 2..3 at the same batch offsets.
  TempDir dir;
  LocalDirStore store(dir.path());
  ZoneWriter zone(store);
  std::vector<SegmentLocation> stored = zone.PutBatch({Seg("cam-1", 1), Seg("cam-1", 2), Seg("cam-1", 3)});
  zone.PutIndexes({stored[0], stored[1], stored[2]}, "00000000000000aa");
  zone.PutIndexes({stored[1], stored[2]}, "00000000000000bb");
  RecordingReader reader(&store, kZone);

  ExportStats stats;
  EXPECT_EQ(*ExportBytes(reader, "cam-1", kT0, kT0 + kHour, &stats), Expected("cam-1", 1, 3));
  EXPECT_EQ(stats.segments, 3u);
  EXPECT_EQ(stats.reindexed_skipped, 2u);
  EXPECT_EQ(stats.duplicates_skipped, 0u);
  EXPECT_EQ(stats.conflicting_copies, 0u);
}

TEST(RecordingReaderTest, DisagreeingCopiesOfASeqAreCountedAndReported) {
  TempDir dir;
  LocalDirStore store(dir.path());
  ZoneWriter zone(store);
  zone.PutBatchAndIndexes({Seg("cam-1", 1), Seg("cam-1", 2)});
  // A second batch claims seq 2 with other bytes (cam-9's payload).
  std::vector<SegmentLocation> other = zone.PutBatch({Seg("cam-9", 2)});
  other[0].camera = "cam-1";
  zone.PutIndexes(other, "00000000000000bb");
  RecordingReader reader(&store, kZone);

  ExportStats stats;
  EXPECT_EQ(*ExportBytes(reader, "cam-1", kT0, kT0 + kHour, &stats), Expected("cam-1", 1, 2));
  EXPECT_EQ(stats.duplicates_skipped, 1u);
  EXPECT_EQ(stats.conflicting_copies, 1u);
  absl::StatusOr<VerifyReport> report = reader.Verify("cam-1");
  ASSERT_TRUE(report.ok()) << report.status();
  // The second index both disagrees with the first and names an entry the
  // batch does not hold for cam-1.
  ASSERT_EQ(report->problems.size(), 2u);
  EXPECT_NE(report->problems[0].message.find("seq 2"), std::string::npos) << report->problems[0].message;
}

TEST(RecordingReaderTest, VerifyChecksIndexEntriesAgainstTheBatchsOwnIndex) {
  TempDir dir;
  LocalDirStore store(dir.path());
  ZoneWriter zone(store);
  std::vector<SegmentLocation> locations = zone.PutBatch({Seg("cam-1", 1), Seg("cam-1", 2)});
  locations[1].offset += 1;  // the camera index is wrong about where seq 2 lives
  zone.PutIndexes(locations);
  RecordingReader reader(&store, kZone);
  absl::StatusOr<VerifyReport> report = reader.Verify("cam-1");
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0].key, locations[1].batch_key);
  EXPECT_NE(report->problems[0].message.find("seq 2"), std::string::npos) << report->problems[0].message;
  EXPECT_TRUE(absl::IsDataLoss(ExportBytes(reader, "cam-1", kT0, kT0 + kHour).status()));

  // An index entry pointing past the batch's end: a short read, never a crash.
  std::vector<SegmentLocation> far = zone.PutBatch({Seg("cam-3", 1)});
  far[0].offset = uint64_t{1} << 40;
  zone.PutIndexes(far);
  absl::StatusOr<std::vector<uint8_t>> exported = ExportBytes(reader, "cam-3", kT0, kT0 + kHour);
  EXPECT_TRUE(absl::IsDataLoss(exported.status())) << exported.status();
  report = reader.Verify("cam-3");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->problems.size(), 1u);
}

// fMP4 segments of "cam-f" whose inits are in "cam-f~init": the first for
// seqs 1.., the second (pushed after seq 2) for seqs 3...
std::vector<Segment> FragmentedCamera(const std::string& camera) {
  std::vector<Segment> segments;
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    Segment s = Seg(camera, seq);
    s.flags = kRecordFlagFragment;
    segments.push_back(s);
  }
  return segments;
}

std::vector<uint8_t> Cat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const std::vector<uint8_t>& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

TEST(RecordingReaderTest, AnFmp4SegmentIsExportedAfterItsInitWhereverTheRangeStarts) {
  TempDir dir;
  LocalDirStore store(dir.path());
  ZoneWriter zone(store);
  const std::string init_stream = InitStreamId("cam-f");
  zone.PutBatchAndIndexes({Segment{init_stream, InitSeq(1, 0), kT0 - kSecond, 0},
                           Segment{init_stream, InitSeq(3, 0), kT0 + 4 * kSecond, 0}});
  zone.PutBatchAndIndexes(FragmentedCamera("cam-f"));
  RecordingReader reader(&store, kZone);
  const std::vector<uint8_t> init1 = Payload(init_stream, InitSeq(1, 0));
  const std::vector<uint8_t> init2 = Payload(init_stream, InitSeq(3, 0));

  ExportStats stats;
  absl::StatusOr<std::vector<uint8_t>> all = ExportBytes(reader, "cam-f", kT0, kT0 + kHour, &stats);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, Cat({init1, Expected("cam-f", 1, 2), init2, Expected("cam-f", 3, 4)}));
  EXPECT_EQ(stats.segments, 4u);
  EXPECT_EQ(stats.bytes, Expected("cam-f", 1, 4).size());
  EXPECT_EQ(stats.init_segments, 2u);
  EXPECT_EQ(stats.init_bytes, init1.size() + init2.size());

  // A range that starts inside: still playable from its first byte.
  EXPECT_EQ(*ExportBytes(reader, "cam-f", kT0 + 2 * kSecond, kT0 + 4 * kSecond), Cat({init1, Expected("cam-f", 2, 2)}));
  EXPECT_EQ(*ExportBytes(reader, "cam-f", kT0 + 6 * kSecond, kT0 + kHour), Cat({init2, Expected("cam-f", 4, 4)}));

  // The metadata stream is a camera of the zone like any other, for verify.
  absl::StatusOr<std::vector<std::string>> cameras = reader.Cameras();
  ASSERT_TRUE(cameras.ok()) << cameras.status();
  EXPECT_EQ(*cameras, (std::vector<std::string>{"cam-f", init_stream}));
  absl::StatusOr<VerifyReport> report = reader.Verify("");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->problems.empty());
}

TEST(RecordingReaderTest, AnFmp4SegmentWithoutAStoredInitIsAProblem) {
  TempDir dir;
  LocalDirStore store(dir.path());
  ZoneWriter zone(store);
  zone.PutBatchAndIndexes(FragmentedCamera("cam-g"));
  RecordingReader reader(&store, kZone);
  absl::StatusOr<std::vector<uint8_t>> strict = ExportBytes(reader, "cam-g", kT0, kT0 + kHour);
  EXPECT_TRUE(absl::IsDataLoss(strict.status())) << strict.status();
  EXPECT_TRUE(absl::StrContains(strict.status().message(), "no initialization segment")) << strict.status();

  std::vector<uint8_t> out;
  absl::StatusOr<ExportStats> stats =
      reader.ExportSkippingBad("cam-g", kT0, kT0 + kHour, [&](absl::Span<const uint8_t> p) {
        out.insert(out.end(), p.begin(), p.end());
        return absl::OkStatus();
      });
  ASSERT_TRUE(stats.ok()) << stats.status();
  EXPECT_EQ(out, Expected("cam-g", 1, 4)) << "every segment is still sent";
  EXPECT_EQ(stats->problems.size(), 1u) << "reported once, not per segment";
}

}  // namespace
}  // namespace ingest
