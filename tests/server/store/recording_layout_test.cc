// Keys, and reading recordings back: ranges, exports (overlapping objects
// give each seq once), HighestStoredSeq and Verify.
#include "server/store/recording_layout.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "server/store/local_dir_store.h"
#include "server/store/segment_pack.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

constexpr int64_t kT0 = 1795870800000000;  // 2026-11-28T13:00:00Z
constexpr int64_t kSecond = 1000000;

std::vector<uint8_t> Payload(uint64_t seq) {
  return std::vector<uint8_t>(size_t(50 + seq % 7), static_cast<uint8_t>(seq));
}

// Stores one pack of 2-second segments [first, last], segment seq starting at
// kT0 + 2 s * (seq - 1) + shift_us.
std::string PutPack(ObjectStore& store, const std::string& camera, uint64_t first, uint64_t last,
                    int64_t shift_us = 0) {
  std::vector<std::vector<uint8_t>> payloads;
  for (uint64_t seq = first; seq <= last; ++seq) payloads.push_back(Payload(seq));
  std::vector<PackSegment> segments;
  for (uint64_t seq = first; seq <= last; ++seq) {
    const auto& p = payloads[seq - first];
    segments.push_back({seq, kT0 + 2 * kSecond * int64_t(seq - 1) + shift_us, 2 * kSecond, 0, Crc32c(p), p});
  }
  const std::string key = RecordingKey("dev", camera, segments.front().capture_start_us, first, last);
  EXPECT_TRUE(store.Put(key, *EncodePack(camera, segments)).ok());
  return key;
}

std::vector<uint8_t> Expected(uint64_t first, uint64_t last) {
  std::vector<uint8_t> out;
  for (uint64_t seq = first; seq <= last; ++seq) {
    std::vector<uint8_t> p = Payload(seq);
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

absl::StatusOr<std::vector<uint8_t>> ExportBytes(RecordingReader& reader, const std::string& camera,
                                                 int64_t from, int64_t to, ExportStats* stats = nullptr) {
  std::vector<uint8_t> out;
  absl::StatusOr<ExportStats> s = reader.Export(camera, from, to, [&](absl::Span<const uint8_t> p) {
    out.insert(out.end(), p.begin(), p.end());
    return absl::OkStatus();
  });
  if (!s.ok()) return s.status();
  if (stats != nullptr) *stats = *s;
  return out;
}

TEST(RecordingKeyTest, FormatsAndParses) {
  const std::string key = RecordingKey("eu1", "cam-0001", kT0 + 123456, 7, 19);
  EXPECT_EQ(key,
            "eu1/cam-0001/2026-11-28/13/"
            "00001795870800123456-00000000000000000007-00000000000000000019.cpk");
  absl::StatusOr<RecordingKeyParts> parts = ParseRecordingKey(key);
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ(parts->zone, "eu1");
  EXPECT_EQ(parts->camera, "cam-0001");
  EXPECT_EQ(parts->first_capture_us, kT0 + 123456);
  EXPECT_EQ(parts->first_seq, 7u);
  EXPECT_EQ(parts->last_seq, 19u);
  EXPECT_TRUE(ValidateObjectKey(key).ok());

  EXPECT_FALSE(ParseRecordingKey("eu1/cam/2026-11-28/13/x.cpk").ok());
  EXPECT_FALSE(ParseRecordingKey(
                   "eu1/cam/2026-11-28/13/01795870800000123456-00000000000000000019-00000000000000000007.cpk")
                   .ok());
  // A broken camera clock still yields a well-formed key.
  EXPECT_EQ(RecordingKey("z", "c", -5, 1, 1).substr(0, 18), "z/c/1970-01-01/00/");
  EXPECT_EQ(RecordingHourStartUs(kT0 + 3599 * kSecond), kT0);
}

TEST(RecordingReaderTest, ExportsEachSeqOnceAcrossOverlappingObjects) {
  TempDir dir;
  LocalDirStore store(dir.path());
  PutPack(store, "cam-1", 1, 4);
  PutPack(store, "cam-1", 3, 6);  // re-sealed after a crash
  PutPack(store, "cam-2", 1, 2);
  RecordingReader reader(&store, "dev");

  ExportStats stats;
  absl::StatusOr<std::vector<uint8_t>> all = ExportBytes(reader, "cam-1", kT0, kT0 + 3600 * kSecond, &stats);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(*all, Expected(1, 6));
  EXPECT_EQ(stats.segments, 6u);
  EXPECT_EQ(stats.first_seq, 1u);
  EXPECT_EQ(stats.last_seq, 6u);
  EXPECT_EQ(stats.duplicates_skipped, 2u);

  // [3 s, 5 s) overlaps seq 2 ([2 s, 4 s)) and seq 3 ([4 s, 6 s)).
  absl::StatusOr<std::vector<uint8_t>> part = ExportBytes(reader, "cam-1", kT0 + 3 * kSecond, kT0 + 5 * kSecond);
  ASSERT_TRUE(part.ok());
  EXPECT_EQ(*part, Expected(2, 3));
  // End-exclusive: [4 s, 6 s) is exactly seq 3.
  EXPECT_EQ(*ExportBytes(reader, "cam-1", kT0 + 4 * kSecond, kT0 + 6 * kSecond), Expected(3, 3));
  EXPECT_TRUE(ExportBytes(reader, "cam-1", kT0 - 10 * kSecond, kT0)->empty());
  EXPECT_TRUE(ExportBytes(reader, "nobody", kT0, kT0 + kSecond)->empty());
}

TEST(RecordingReaderTest, ExportFindsSegmentsStartedInThePreviousHourAndDay) {
  TempDir dir;
  LocalDirStore store(dir.path());
  // Seq 1 starts a second before midnight, so its pack sits in the previous day.
  const int64_t shift = -13 * 3600 * kSecond - kSecond;  // kT0 - 13 h - 1 s = 2026-11-27T23:59:59Z
  PutPack(store, "cam-1", 1, 1, shift);
  PutPack(store, "cam-1", 2, 3, shift);
  RecordingReader reader(&store, "dev");
  const int64_t midnight = kT0 - 13 * 3600 * kSecond;
  EXPECT_EQ(*ExportBytes(reader, "cam-1", midnight, midnight + kSecond / 2), Expected(1, 1));
  EXPECT_EQ(*ExportBytes(reader, "cam-1", midnight, midnight + 2 * kSecond), Expected(1, 2));
}

TEST(RecordingReaderTest, ListsCamerasAndMergesContiguousRanges) {
  TempDir dir;
  LocalDirStore store(dir.path());
  PutPack(store, "cam-1", 1, 3);
  PutPack(store, "cam-1", 4, 5);
  PutPack(store, "cam-1", 8, 9);  // seq 6, 7 lost: a hole
  PutPack(store, "cam-2", 1, 1);
  RecordingReader reader(&store, "dev");
  EXPECT_EQ(*reader.Cameras(), (std::vector<std::string>{"cam-1", "cam-2"}));

  absl::StatusOr<std::vector<RecordedRange>> ranges = reader.Ranges("cam-1");
  ASSERT_TRUE(ranges.ok()) << ranges.status();
  ASSERT_EQ(ranges->size(), 2u);
  EXPECT_EQ((*ranges)[0].first_seq, 1u);
  EXPECT_EQ((*ranges)[0].last_seq, 5u);
  EXPECT_EQ((*ranges)[0].start_us, kT0);
  EXPECT_EQ((*ranges)[0].end_us, kT0 + 10 * kSecond);
  EXPECT_EQ((*ranges)[0].segments, 5u);
  EXPECT_EQ((*ranges)[1].first_seq, 8u);
  EXPECT_EQ((*ranges)[1].start_us, kT0 + 14 * kSecond);
}

TEST(HighestStoredSeqTest, ReadsTheNewestHourFolder) {
  TempDir dir;
  LocalDirStore store(dir.path());
  EXPECT_EQ(*HighestStoredSeq(store, "dev", "cam-1"), 0u);
  PutPack(store, "cam-1", 1, 10, -2 * 3600 * kSecond);
  PutPack(store, "cam-1", 11, 20);
  PutPack(store, "cam-1", 21, 25);
  EXPECT_EQ(*HighestStoredSeq(store, "dev", "cam-1"), 25u);
  EXPECT_EQ(*HighestStoredSeq(store, "dev", "cam-2"), 0u);
}

TEST(RecordingReaderTest, VerifyFindsCorruptPayloads) {
  TempDir dir;
  LocalDirStore store(dir.path());
  PutPack(store, "cam-1", 1, 3);
  const std::string bad_key = PutPack(store, "cam-2", 1, 3);
  RecordingReader reader(&store, "dev");
  absl::StatusOr<VerifyReport> report = reader.Verify("");
  ASSERT_TRUE(report.ok());
  EXPECT_EQ(report->objects, 2u);
  EXPECT_EQ(report->segments, 6u);
  EXPECT_TRUE(report->problems.empty());

  {
    std::fstream f(dir.path() + "/" + bad_key, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(-1, std::ios::end);
    f.put('\x7f');
  }
  report = reader.Verify("");
  ASSERT_TRUE(report.ok());
  ASSERT_EQ(report->problems.size(), 1u);
  EXPECT_EQ(report->problems[0].key, bad_key);
  EXPECT_TRUE(reader.Verify("cam-1")->problems.empty());
  absl::StatusOr<std::vector<uint8_t>> exported = ExportBytes(reader, "cam-2", kT0, kT0 + 3600 * kSecond);
  EXPECT_TRUE(absl::IsDataLoss(exported.status())) << exported.status();
}

}  // namespace
}  // namespace ingest
