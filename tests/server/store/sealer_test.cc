// The sealer end to end over a real spool and a real LocalDirStore: records
// written as a shard writes them come back byte-exactly from the store.
#include "server/store/sealer.h"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "server/spool/spool_catalog.h"
#include "server/spool/spool_record.h"
#include "server/store/local_dir_store.h"
#include "server/store/recording_layout.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

constexpr int64_t kT0 = 1795870800000000;  // 2026-11-28T13:00:00Z
constexpr int64_t kSegmentUs = 2000000;
constexpr int64_t kDayUs = int64_t{24} * 3600 * 1000000;

std::vector<uint8_t> Payload(const std::string& camera, uint64_t seq) {
  std::vector<uint8_t> p(size_t(200 + (seq * 37) % 500));
  const uint32_t salt = Crc32c({reinterpret_cast<const uint8_t*>(camera.data()), camera.size()});
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(salt + seq * 13 + i);
  return p;
}

// Appends records to one shard's active spool file the way a shard does:
// pwrite at the next offset, then publish after "fdatasync".
class TestShard {
 public:
  TestShard(SpoolCatalog* catalog, int shard) : catalog_(catalog), shard_(shard), file_(catalog->active_file(shard)) {}

  void Append(const std::string& camera, uint64_t seq) {
    std::vector<uint8_t> payload = Payload(camera, seq);
    SpoolRecordMeta meta{.camera_id = camera, .seq = seq, .capture_start_us = kT0 + int64_t(seq - 1) * kSegmentUs,
                         .duration_us = uint32_t(kSegmentUs), .flags = 0,
                         .payload_bytes = uint32_t(payload.size()), .payload_crc = Crc32c(payload)};
    std::vector<uint8_t> record(SpoolRecordHeaderBytes(camera.size()));
    EncodeSpoolRecordHeader(meta, absl::MakeSpan(record));
    record.insert(record.end(), payload.begin(), payload.end());
    ASSERT_EQ(pwrite(file_.fd, record.data(), record.size(), off_t(file_.size)), ssize_t(record.size()));
    file_.size += record.size();
  }

  // fdatasync done: publish, and rotate once the file is full, as a shard does.
  void Commit() {
    ASSERT_EQ(fdatasync(file_.fd), 0);
    catalog_->PublishDurable(shard_, file_.file_seq, file_.size);
    if (file_.size >= catalog_->options().file_bytes) {
      if (std::optional<ActiveSpoolFile> next = catalog_->RotateIfPrepared(shard_, file_.size)) file_ = *next;
    }
  }

 private:
  SpoolCatalog* catalog_;
  int shard_;
  ActiveSpoolFile file_;
};

std::vector<uint8_t> Expected(const std::string& camera, uint64_t first, uint64_t last) {
  std::vector<uint8_t> out;
  for (uint64_t seq = first; seq <= last; ++seq) {
    std::vector<uint8_t> p = Payload(camera, seq);
    out.insert(out.end(), p.begin(), p.end());
  }
  return out;
}

std::vector<uint8_t> ExportAll(ObjectStore& store, const std::string& camera) {
  RecordingReader reader(&store, "dev");
  std::vector<uint8_t> out;
  absl::StatusOr<ExportStats> stats = reader.Export(camera, kT0 - kDayUs, kT0 + kDayUs, [&](absl::Span<const uint8_t> p) {
    out.insert(out.end(), p.begin(), p.end());
    return absl::OkStatus();
  });
  EXPECT_TRUE(stats.ok()) << stats.status();
  return out;
}

size_t ObjectCount(ObjectStore& store) { return store.List("")->size(); }

std::unique_ptr<SpoolCatalog> OpenCatalog(const std::string& dir, int shards, uint64_t file_bytes = 64 << 20) {
  absl::StatusOr<std::unique_ptr<SpoolCatalog>> catalog =
      SpoolCatalog::Open({.dir = dir, .shard_count = shards, .file_bytes = file_bytes}, nullptr);
  EXPECT_TRUE(catalog.ok()) << catalog.status();
  return catalog.ok() ? *std::move(catalog) : nullptr;
}

SealerOptions Immediate() {
  return {.zone = "dev", .seal_bytes = 8 << 20, .seal_age = absl::ZeroDuration(),
          .poll_interval = absl::Milliseconds(5)};
}

TEST(SealerTest, SealsEveryCameraByteExactlyAcrossShardsAndRotations) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 2, /*file_bytes=*/4096);
  ASSERT_NE(catalog, nullptr);
  LocalDirStore store(dir.path() + "/store");
  Sealer sealer({.zone = "dev", .seal_bytes = 3000, .seal_age = absl::ZeroDuration()}, catalog.get(), &store);
  std::map<std::string, uint64_t> last_sealed;
  sealer.set_on_sealed([&](const std::string& camera, uint64_t seq) { last_sealed[camera] = seq; });

  TestShard shards[2] = {TestShard(catalog.get(), 0), TestShard(catalog.get(), 1)};
  const std::vector<std::string> cameras = {"cam-a", "cam-b", "cam-c"};
  // Each camera's segments alternate between the shards (reconnects), always
  // with every lower seq durable first.
  for (uint64_t seq = 1; seq <= 40; ++seq) {
    for (size_t c = 0; c < cameras.size(); ++c) {
      TestShard& shard = shards[(seq / 7 + c) % 2];
      shard.Append(cameras[c], seq);
      shard.Commit();
    }
    if (seq % 5 == 0) {
      ASSERT_TRUE(sealer.RunOnce(false).ok());
    }
  }
  ASSERT_TRUE(sealer.RunOnce(false).ok());
  ASSERT_TRUE(sealer.RunOnce(false).ok());

  for (const std::string& camera : cameras) {
    EXPECT_EQ(ExportAll(store, camera), Expected(camera, 1, 40)) << camera;
    EXPECT_EQ(last_sealed[camera], 40u);
  }
  SealerStats stats = sealer.stats();
  EXPECT_EQ(stats.segments_sealed, 120u);
  EXPECT_EQ(stats.pending_segments, 0u);
  EXPECT_EQ(stats.duplicates_skipped, 0u);
  EXPECT_EQ(stats.store_errors, 0u);
  EXPECT_GT(stats.objects_written, 3u);  // seal_bytes cut packs
  EXPECT_GT(stats.files_reclaimed, 0u);
  // Only each shard's active file is left.
  for (const SpoolFileState& f : catalog->Snapshot()) EXPECT_FALSE(f.closed) << f.path;

  RecordingReader reader(&store, "dev");
  absl::StatusOr<VerifyReport> report = reader.Verify("");
  ASSERT_TRUE(report.ok());
  EXPECT_TRUE(report->problems.empty());
  EXPECT_EQ(report->segments, 120u);
}

TEST(SealerTest, SealsOnlySegmentsSeenInAnEarlierPass) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 1);
  LocalDirStore store(dir.path() + "/store");
  Sealer sealer(Immediate(), catalog.get(), &store);
  TestShard shard(catalog.get(), 0);
  for (uint64_t seq = 1; seq <= 3; ++seq) shard.Append("cam-1", seq);
  shard.Commit();

  ASSERT_TRUE(sealer.RunOnce(false).ok());
  EXPECT_EQ(sealer.stats().segments_sealed, 0u);  // first seen in this pass
  EXPECT_EQ(sealer.stats().pending_segments, 3u);

  shard.Append("cam-1", 4);
  shard.Commit();
  ASSERT_TRUE(sealer.RunOnce(false).ok());
  EXPECT_EQ(sealer.stats().segments_sealed, 3u);  // 4 waits one more pass
  EXPECT_EQ(ExportAll(store, "cam-1"), Expected("cam-1", 1, 3));

  ASSERT_TRUE(sealer.RunOnce(false).ok());
  EXPECT_EQ(sealer.stats().segments_sealed, 4u);
  EXPECT_EQ(ExportAll(store, "cam-1"), Expected("cam-1", 1, 4));
}

TEST(SealerTest, WaitsForSealAgeOrSealBytesUnlessFlushing) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 1);
  LocalDirStore store(dir.path() + "/store");
  Sealer sealer({.zone = "dev", .seal_bytes = 2000, .seal_age = absl::Hours(1)}, catalog.get(), &store);
  TestShard shard(catalog.get(), 0);
  shard.Append("small", 1);
  shard.Commit();
  ASSERT_TRUE(sealer.RunOnce(false).ok());
  ASSERT_TRUE(sealer.RunOnce(false).ok());
  EXPECT_EQ(sealer.stats().segments_sealed, 0u);  // young and small

  for (uint64_t seq = 1; seq <= 10; ++seq) shard.Append("big", seq);  // > seal_bytes
  shard.Commit();
  ASSERT_TRUE(sealer.RunOnce(false).ok());
  ASSERT_TRUE(sealer.RunOnce(false).ok());
  EXPECT_EQ(sealer.stats().segments_sealed, 10u);
  EXPECT_EQ(ExportAll(store, "big"), Expected("big", 1, 10));

  ASSERT_TRUE(sealer.RunOnce(/*flush_all=*/true).ok());
  EXPECT_EQ(ExportAll(store, "small"), Expected("small", 1, 1));
  EXPECT_EQ(sealer.stats().pending_segments, 0u);
}

TEST(SealerTest, ReSealAfterACrashStoresNothingTwice) {
  TempDir dir;
  LocalDirStore store(dir.path() + "/store");
  {
    auto catalog = OpenCatalog(dir.path() + "/spool", 2);
    Sealer sealer(Immediate(), catalog.get(), &store);
    TestShard a(catalog.get(), 0), b(catalog.get(), 1);
    for (uint64_t seq = 1; seq <= 10; ++seq) {
      a.Append("cam-1", seq);
      b.Append("cam-2", seq);
    }
    a.Commit();
    b.Commit();
    ASSERT_TRUE(sealer.RunOnce(/*flush_all=*/true).ok());
    EXPECT_EQ(sealer.stats().segments_sealed, 20u);
    // "Crash": the active spool files, fully sealed, were never reclaimed.
  }
  const size_t objects = ObjectCount(store);
  {
    auto catalog = OpenCatalog(dir.path() + "/spool", 2);
    Sealer sealer(Immediate(), catalog.get(), &store);
    TestShard a(catalog.get(), 0);
    for (uint64_t seq = 11; seq <= 12; ++seq) a.Append("cam-1", seq);  // new after the restart
    a.Commit();
    ASSERT_TRUE(sealer.RunOnce(/*flush_all=*/true).ok());
    SealerStats stats = sealer.stats();
    EXPECT_EQ(stats.duplicates_skipped, 20u);
    EXPECT_EQ(stats.segments_sealed, 2u);
    EXPECT_EQ(stats.objects_written, 1u);
    // The two recovered spool files, and the two empty next files the first
    // run had prepared; only the new active files remain.
    EXPECT_EQ(stats.files_reclaimed, 4u);
    for (const SpoolFileState& f : catalog->Snapshot()) EXPECT_FALSE(f.closed) << f.path;
  }
  EXPECT_EQ(ObjectCount(store), objects + 1);
  EXPECT_EQ(ExportAll(store, "cam-1"), Expected("cam-1", 1, 12));
  EXPECT_EQ(ExportAll(store, "cam-2"), Expected("cam-2", 1, 10));
}

// Fails every Put while `failing` is set; everything else goes to the real store.
class FlakyStore : public LocalDirStore {
 public:
  using LocalDirStore::LocalDirStore;
  absl::Status Put(std::string_view key, absl::Span<const uint8_t> data) override {
    if (failing) return absl::UnavailableError("store down");
    return LocalDirStore::Put(key, data);
  }
  bool failing = false;
};

TEST(SealerTest, KeepsSegmentsPendingWhileTheStoreFails) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 1);
  FlakyStore store(dir.path() + "/store");
  Sealer sealer(Immediate(), catalog.get(), &store);
  TestShard shard(catalog.get(), 0);
  for (uint64_t seq = 1; seq <= 5; ++seq) shard.Append("cam-1", seq);
  shard.Commit();
  store.failing = true;
  ASSERT_TRUE(sealer.RunOnce(false).ok());
  EXPECT_TRUE(absl::IsUnavailable(sealer.RunOnce(false)));
  EXPECT_TRUE(absl::IsUnavailable(sealer.RunOnce(false)));
  EXPECT_EQ(sealer.stats().store_errors, 2u);
  EXPECT_EQ(sealer.stats().pending_segments, 5u);
  store.failing = false;
  ASSERT_TRUE(sealer.RunOnce(false).ok());
  EXPECT_EQ(sealer.stats().segments_sealed, 5u);
  EXPECT_EQ(sealer.stats().objects_written, 1u);
  EXPECT_EQ(ExportAll(store, "cam-1"), Expected("cam-1", 1, 5));
}

TEST(SealerTest, ThreadSealsInTheBackgroundAndFlushesOnStop) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 1);
  LocalDirStore store(dir.path() + "/store");
  Sealer sealer({.zone = "dev", .seal_age = absl::Hours(1), .poll_interval = absl::Milliseconds(5)},
                catalog.get(), &store);
  sealer.Start();
  TestShard shard(catalog.get(), 0);
  for (uint64_t seq = 1; seq <= 20; ++seq) {
    shard.Append("cam-1", seq);
    shard.Commit();
  }
  sealer.Stop(/*flush_all=*/true);
  EXPECT_EQ(ExportAll(store, "cam-1"), Expected("cam-1", 1, 20));
  EXPECT_EQ(sealer.stats().pending_segments, 0u);
}

}  // namespace
}  // namespace ingest
