// The catalog's file lifecycle: open (recovering old files), publish,
// rotate onto a prepared file, reclaim, and file_seq across restarts.
#include "server/spool/spool_catalog.h"

#include <fcntl.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "server/spool/spool_record.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

// Appends one record at `offset` as a shard would; returns the new end.
uint64_t Append(int fd, uint64_t offset, const std::string& camera, uint64_t seq, size_t payload_bytes) {
  std::vector<uint8_t> payload(payload_bytes, static_cast<uint8_t>(seq));
  SpoolRecordMeta meta{.camera_id = camera, .seq = seq, .capture_start_us = 1, .duration_us = 1, .flags = 0,
                       .payload_bytes = uint32_t(payload_bytes), .payload_crc = Crc32c(payload)};
  std::vector<uint8_t> record(SpoolRecordHeaderBytes(camera.size()));
  EncodeSpoolRecordHeader(meta, absl::MakeSpan(record));
  record.insert(record.end(), payload.begin(), payload.end());
  EXPECT_EQ(pwrite(fd, record.data(), record.size(), off_t(offset)), ssize_t(record.size()));
  return offset + record.size();
}

std::unique_ptr<SpoolCatalog> OpenCatalog(const std::string& dir, int shards, RecoveryReport* report = nullptr) {
  absl::StatusOr<std::unique_ptr<SpoolCatalog>> catalog =
      SpoolCatalog::Open({.dir = dir, .shard_count = shards, .file_bytes = 1024}, report);
  EXPECT_TRUE(catalog.ok()) << catalog.status();
  return catalog.ok() ? *std::move(catalog) : nullptr;
}

TEST(SpoolCatalogTest, OpenCreatesOneActiveFilePerShard) {
  TempDir dir;
  RecoveryReport report;
  auto catalog = OpenCatalog(dir.path() + "/spool", 3, &report);
  ASSERT_NE(catalog, nullptr);
  EXPECT_EQ(report.files, 0u);
  for (int shard = 0; shard < 3; ++shard) {
    ActiveSpoolFile file = catalog->active_file(shard);
    EXPECT_GE(file.fd, 0);
    EXPECT_EQ(file.file_seq, 1u);
    EXPECT_EQ(file.size, 0u);
    EXPECT_TRUE(std::filesystem::exists(SpoolFilePath(dir.path() + "/spool", shard, 1)));
  }
  EXPECT_EQ(SpoolFilePath("/s", 2, 7), "/s/shard-02/0000000000000007.spool");
  EXPECT_EQ(catalog->Snapshot().size(), 3u);
  EXPECT_EQ(catalog->total_bytes(), 0u);
}

TEST(SpoolCatalogTest, RotatesOnlyOntoAPreparedFileAndReclaimsClosedOnes) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path(), 1);
  ASSERT_NE(catalog, nullptr);
  ActiveSpoolFile file = catalog->active_file(0);
  uint64_t end = Append(file.fd, 0, "cam-1", 1, 2000);
  catalog->PublishDurable(0, file.file_seq, end);
  catalog->PublishDurable(0, file.file_seq, 10);  // not monotonic: ignored
  EXPECT_EQ(catalog->total_bytes(), end);

  EXPECT_FALSE(catalog->RotateIfPrepared(0, end).has_value());  // nothing prepared yet
  ASSERT_TRUE(catalog->PrepareNextFiles().ok());
  std::optional<ActiveSpoolFile> next = catalog->RotateIfPrepared(0, end);
  ASSERT_TRUE(next.has_value());
  EXPECT_EQ(next->file_seq, 2u);
  EXPECT_EQ(next->size, 0u);

  std::vector<SpoolFileState> files = catalog->Snapshot();
  ASSERT_EQ(files.size(), 2u);
  EXPECT_TRUE(files[0].closed);
  EXPECT_EQ(files[0].final_bytes, end);
  EXPECT_EQ(files[0].durable_bytes, end);
  EXPECT_FALSE(files[1].closed);

  EXPECT_TRUE(absl::IsFailedPrecondition(catalog->Reclaim(0, 2)));  // active
  EXPECT_TRUE(absl::IsNotFound(catalog->Reclaim(0, 99)));
  ASSERT_TRUE(catalog->Reclaim(0, 1).ok());
  EXPECT_FALSE(std::filesystem::exists(files[0].path));
  EXPECT_EQ(catalog->Snapshot().size(), 1u);
  EXPECT_EQ(catalog->total_bytes(), 0u);
}

TEST(SpoolCatalogTest, ClosedFileIsNotReclaimableUntilItsFinalBytesAreDurable) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path(), 1);
  ASSERT_NE(catalog, nullptr);
  ActiveSpoolFile file = catalog->active_file(0);
  uint64_t end = Append(file.fd, 0, "cam-1", 1, 2000);
  ASSERT_TRUE(catalog->PrepareNextFiles().ok());
  ASSERT_TRUE(catalog->RotateIfPrepared(0, end).has_value());  // write still in flight
  EXPECT_TRUE(absl::IsFailedPrecondition(catalog->Reclaim(0, 1)));
  catalog->PublishDurable(0, 1, end);  // the old file's last fdatasync completed
  EXPECT_TRUE(catalog->Reclaim(0, 1).ok());
}

TEST(SpoolCatalogTest, ReopenRecoversFilesAsClosedAndKeepsFileSeqGrowing) {
  TempDir dir;
  {
    auto catalog = OpenCatalog(dir.path(), 2);
    ASSERT_NE(catalog, nullptr);
    ActiveSpoolFile f0 = catalog->active_file(0);
    uint64_t end = Append(f0.fd, 0, "cam-1", 5, 100);
    end = Append(f0.fd, end, "cam-2", 9, 100);
    Append(f0.fd, end, "cam-1", 6, 100);
    // Tear the last record as a crash mid-write would.
    ASSERT_EQ(ftruncate(f0.fd, off_t(end + 30)), 0);
  }
  // A folder from a run with more shards is sealed too, never appended to.
  std::filesystem::create_directories(dir.path() + "/shard-05");
  {
    int fd = open(SpoolFilePath(dir.path(), 5, 3).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    ASSERT_GE(fd, 0);
    Append(fd, 0, "cam-3", 1, 10);
    close(fd);
  }
  RecoveryReport report;
  auto catalog = OpenCatalog(dir.path(), 2, &report);
  ASSERT_NE(catalog, nullptr);
  EXPECT_EQ(report.files, 3u);  // two shards' old active files + shard-05's
  EXPECT_EQ(report.records, 3u);
  EXPECT_EQ(report.truncated_bytes, 30u);
  EXPECT_EQ(report.max_seq_by_camera.at("cam-1"), 5u);
  EXPECT_EQ(report.max_seq_by_camera.at("cam-2"), 9u);
  EXPECT_EQ(report.max_seq_by_camera.at("cam-3"), 1u);
  EXPECT_EQ(catalog->active_file(0).file_seq, 2u);
  EXPECT_EQ(catalog->active_file(1).file_seq, 2u);

  int closed = 0;
  for (const SpoolFileState& f : catalog->Snapshot()) {
    if (f.closed) {
      ++closed;
      EXPECT_EQ(f.durable_bytes, f.final_bytes);
    }
  }
  EXPECT_EQ(closed, 3);
  EXPECT_TRUE(catalog->Reclaim(5, 3).ok());
}

TEST(SpoolCatalogTest, DiskLowWhenFreeSpaceMinusPendingIsBelowTheReserve) {
  TempDir dir;
  auto low = SpoolCatalog::Open({.dir = dir.path() + "/a", .shard_count = 1, .min_free_bytes = uint64_t{1} << 60},
                                nullptr);
  ASSERT_TRUE(low.ok()) << low.status();
  EXPECT_TRUE((*low)->disk_low()) << "no disk here has an exbibyte free";
  auto roomy = SpoolCatalog::Open({.dir = dir.path() + "/b", .shard_count = 1, .min_free_bytes = 0}, nullptr);
  ASSERT_TRUE(roomy.ok()) << roomy.status();
  const uint64_t free = (*roomy)->disk_free_bytes();
  EXPECT_GT(free, 0u);
  EXPECT_FALSE((*roomy)->disk_low());
  EXPECT_TRUE((*roomy)->disk_low(free + 1)) << "pending bytes count against the free space";
  // Durable appends lower the figure until the next measurement.
  const ActiveSpoolFile file = (*roomy)->active_file(0);
  (*roomy)->PublishDurable(0, file.file_seq, 4096);
  EXPECT_LE((*roomy)->disk_free_bytes(), free - 4096);
  ASSERT_TRUE((*roomy)->RefreshDiskSpace().ok());
}

}  // namespace
}  // namespace ingest
