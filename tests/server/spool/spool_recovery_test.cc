// RecoverSpoolFile cuts a torn tail wherever the crash cut the last record,
// and stops trusting the file at the first corrupt record.
#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "server/spool/spool_file_reader.h"
#include "server/spool/spool_record.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

std::vector<uint8_t> Record(const std::string& camera, uint64_t seq, size_t payload_bytes) {
  std::vector<uint8_t> payload(payload_bytes);
  for (size_t i = 0; i < payload_bytes; ++i) payload[i] = static_cast<uint8_t>(seq * 31 + i * 7);
  SpoolRecordMeta meta{.camera_id = camera, .seq = seq, .capture_start_us = int64_t(seq) * 1000,
                       .duration_us = 1000, .flags = 0, .payload_bytes = uint32_t(payload_bytes),
                       .payload_crc = Crc32c(payload)};
  std::vector<uint8_t> out(SpoolRecordHeaderBytes(camera.size()));
  EncodeSpoolRecordHeader(meta, absl::MakeSpan(out));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

struct ThreeRecords {
  std::vector<uint8_t> bytes;
  size_t second_start = 0;
  size_t third_start = 0;
};

ThreeRecords MakeThreeRecords() {
  ThreeRecords t;
  for (auto [camera, seq, size] : {std::tuple{"cam-a", 1, 100}, {"cam-b", 7, 300}, {"cam-a", 2, 50}}) {
    if (seq == 7) t.second_start = t.bytes.size();
    if (seq == 2) t.third_start = t.bytes.size();
    std::vector<uint8_t> r = Record(camera, uint64_t(seq), size_t(size));
    t.bytes.insert(t.bytes.end(), r.begin(), r.end());
  }
  return t;
}

TEST(SpoolRecoveryTest, IntactFileIsLeftAlone) {
  TempDir dir;
  const std::string path = dir.path() + "/f.spool";
  ThreeRecords t = MakeThreeRecords();
  WriteFile(path, t.bytes);
  absl::StatusOr<SpoolFileRecovery> rec = RecoverSpoolFile(path);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->valid_bytes, t.bytes.size());
  EXPECT_EQ(rec->record_count, 3u);
  EXPECT_EQ(rec->truncated_bytes, 0u);
  EXPECT_EQ(rec->max_seq_by_camera.at("cam-a"), 2u);
  EXPECT_EQ(rec->max_seq_by_camera.at("cam-b"), 7u);
  EXPECT_EQ(ReadFile(path), t.bytes);
}

TEST(SpoolRecoveryTest, TruncatesTornTailAtEveryCutPointOfTheLastRecord) {
  TempDir dir;
  const std::string path = dir.path() + "/f.spool";
  ThreeRecords t = MakeThreeRecords();
  for (size_t cut = t.third_start + 1; cut < t.bytes.size(); ++cut) {
    WriteFile(path, std::vector<uint8_t>(t.bytes.begin(), t.bytes.begin() + cut));
    absl::StatusOr<SpoolFileRecovery> rec = RecoverSpoolFile(path);
    ASSERT_TRUE(rec.ok()) << rec.status();
    EXPECT_EQ(rec->valid_bytes, t.third_start) << "cut " << cut;
    EXPECT_EQ(rec->record_count, 2u) << "cut " << cut;
    EXPECT_EQ(rec->truncated_bytes, cut - t.third_start) << "cut " << cut;
    EXPECT_EQ(rec->max_seq_by_camera.at("cam-a"), 1u);
    EXPECT_EQ(std::filesystem::file_size(path), t.third_start) << "cut " << cut;
  }
}

TEST(SpoolRecoveryTest, FlippedPayloadByteInTheMiddleTruncatesThere) {
  TempDir dir;
  const std::string path = dir.path() + "/f.spool";
  ThreeRecords t = MakeThreeRecords();
  std::vector<uint8_t> bad = t.bytes;
  bad[t.third_start - 10] ^= 0x40;  // inside the second record's payload
  WriteFile(path, bad);
  absl::StatusOr<SpoolFileRecovery> rec = RecoverSpoolFile(path);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->valid_bytes, t.second_start);
  EXPECT_EQ(rec->record_count, 1u);
  EXPECT_EQ(rec->truncated_bytes, t.bytes.size() - t.second_start);
  EXPECT_FALSE(rec->max_seq_by_camera.contains("cam-b"));
  EXPECT_EQ(ReadFile(path), std::vector<uint8_t>(t.bytes.begin(), t.bytes.begin() + t.second_start));
}

TEST(SpoolRecoveryTest, GarbageAfterRecordsIsCut) {
  TempDir dir;
  const std::string path = dir.path() + "/f.spool";
  ThreeRecords t = MakeThreeRecords();
  std::vector<uint8_t> bytes = t.bytes;
  bytes.resize(bytes.size() + 4096, 0);  // preallocated zeros after a crash
  WriteFile(path, bytes);
  absl::StatusOr<SpoolFileRecovery> rec = RecoverSpoolFile(path);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->valid_bytes, t.bytes.size());
  EXPECT_EQ(rec->record_count, 3u);
  EXPECT_EQ(rec->truncated_bytes, 4096u);
}

TEST(SpoolFileReaderTest, StreamsPayloadsLargerThanItsBuffer) {
  TempDir dir;
  const std::string path = dir.path() + "/f.spool";
  std::vector<uint8_t> bytes = Record("cam-big", 1, 3 << 20);
  std::vector<uint8_t> small = Record("cam-big", 2, 10);
  bytes.insert(bytes.end(), small.begin(), small.end());
  WriteFile(path, bytes);
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  SpoolFileReader reader(fd, path, 0, bytes.size(), /*buffer_bytes=*/64 << 10);
  absl::StatusOr<std::optional<SpoolRecord>> first = reader.Next();
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_TRUE(first->has_value());
  EXPECT_EQ((*first)->payload_bytes, 3u << 20);
  absl::StatusOr<std::optional<SpoolRecord>> second = reader.Next();
  ASSERT_TRUE(second.ok() && second->has_value());
  EXPECT_EQ((*second)->seq, 2u);
  absl::StatusOr<std::optional<SpoolRecord>> end = reader.Next();
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->has_value());
  EXPECT_EQ(reader.offset(), bytes.size());

  // A limit inside a record is reported as a torn record, never as data.
  SpoolFileReader limited(fd, path, 0, bytes.size() - 1);
  ASSERT_TRUE(limited.Next().ok());
  absl::StatusOr<std::optional<SpoolRecord>> torn = limited.Next();
  EXPECT_TRUE(absl::IsDataLoss(torn.status())) << torn.status();
  close(fd);
}

// A file written by an older binary (SPR1, unpadded) and continued padded
// (SPR2, as an O_DIRECT writer leaves it) recovers whole; a padded record cut
// anywhere, padding included, is a torn tail.
TEST(SpoolRecoveryTest, UnpaddedAndPaddedRecordsRecoverTogetherAndATornPaddedTailIsCut) {
  TempDir dir;
  const std::string path = dir.path() + "/f.spool";
  std::vector<uint8_t> bytes = Record("cam-a", 1, 100);
  const size_t padded_start = bytes.size();
  for (auto [camera, seq, size] : {std::tuple{"cam-b", 7, 5000}, {"cam-a", 2, 50}}) {
    std::vector<uint8_t> r = Record(camera, uint64_t(seq), size_t(size));
    const size_t record_bytes = r.size();
    r.resize(record_bytes + kSpoolRecordAlignment);
    r.resize(PadSpoolRecord(absl::MakeSpan(r), record_bytes));
    bytes.insert(bytes.end(), r.begin(), r.end());
  }
  const size_t last_start = bytes.size() - kSpoolRecordAlignment;
  ASSERT_EQ(bytes.size(), padded_start + 3 * kSpoolRecordAlignment);
  WriteFile(path, bytes);
  absl::StatusOr<SpoolFileRecovery> rec = RecoverSpoolFile(path);
  ASSERT_TRUE(rec.ok()) << rec.status();
  EXPECT_EQ(rec->valid_bytes, bytes.size());
  EXPECT_EQ(rec->record_count, 3u);
  EXPECT_EQ(rec->max_seq_by_camera.at("cam-a"), 2u);
  EXPECT_EQ(rec->max_seq_by_camera.at("cam-b"), 7u);

  for (size_t cut : {last_start + 1, last_start + 200, bytes.size() - 1}) {
    WriteFile(path, std::vector<uint8_t>(bytes.begin(), bytes.begin() + static_cast<ptrdiff_t>(cut)));
    rec = RecoverSpoolFile(path);
    ASSERT_TRUE(rec.ok()) << rec.status();
    EXPECT_EQ(rec->valid_bytes, last_start) << "cut " << cut;
    EXPECT_EQ(rec->record_count, 2u) << "cut " << cut;
  }
}

}  // namespace
}  // namespace ingest
