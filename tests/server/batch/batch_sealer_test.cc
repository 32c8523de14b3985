// The batch sealer end to end over a real spool, a real journal folder and a
// real LocalDirStore (behind FaultyStore for outages): records written as a
// shard writes them come back byte-exactly through the camera index, each
// (camera, seq) in exactly one batch object, across outages and crashes.
#include "server/batch/batch_sealer.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "server/batch/batch_layout.h"
#include "server/batch/recording_reader.h"
#include "server/spool/spool_catalog.h"
#include "server/spool/spool_record.h"
#include "tests/support/faulty_store.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::FaultyStore;
using ::ingest::testing::TempDir;

// 2026-11-28T12:59:00Z: a camera's first 30 segments fall in the 12:00 hour,
// the rest in 13:00, so index objects are cut per camera-hour.
constexpr int64_t kT0 = 1795870740000000;
constexpr int64_t kSegmentUs = 2000000;
constexpr int64_t kDayUs = int64_t{24} * 3600 * 1000000;
constexpr uint64_t kFileBytes = 4096;  // spool files rotate every few records
constexpr char kInstanceA[] = "aaaaaaaaaaaaaaaa";
constexpr char kInstanceB[] = "bbbbbbbbbbbbbbbb";
constexpr char kInstanceC[] = "cccccccccccccccc";

std::vector<uint8_t> Payload(const std::string& camera, uint64_t seq) {
  std::vector<uint8_t> p(size_t(200 + (seq * 37) % 500));
  const uint32_t salt = Crc32c({reinterpret_cast<const uint8_t*>(camera.data()), camera.size()});
  for (size_t i = 0; i < p.size(); ++i) p[i] = static_cast<uint8_t>(salt + seq * 13 + i);
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

// Appends records to one shard's active spool file the way a shard does:
// pwrite at the next offset, then publish after fdatasync, and rotate once
// the file is full and the sealer has prepared the next one.
class TestShard {
 public:
  // With publish_records, commits hand the records' headers to the catalog as
  // SpoolWriter does; without, the sealer reads them back from the file.
  TestShard(SpoolCatalog* catalog, int shard, bool publish_records = false)
      : catalog_(catalog), shard_(shard), publish_records_(publish_records), file_(catalog->active_file(shard)) {}

  void Append(const std::string& camera, uint64_t seq) {
    std::vector<uint8_t> payload = Payload(camera, seq);
    SpoolRecordMeta meta{.camera_id = camera,
                         .seq = seq,
                         .capture_start_us = kT0 + int64_t(seq - 1) * kSegmentUs,
                         .duration_us = uint32_t(kSegmentUs),
                         .flags = 0,
                         .payload_bytes = uint32_t(payload.size()),
                         .payload_crc = Crc32c(payload)};
    std::vector<uint8_t> record(SpoolRecordHeaderBytes(camera.size()));
    EncodeSpoolRecordHeader(meta, absl::MakeSpan(record));
    record.insert(record.end(), payload.begin(), payload.end());
    ASSERT_EQ(pwrite(file_.fd, record.data(), record.size(), off_t(file_.size)), ssize_t(record.size()));
    absl::StatusOr<SpoolRecord> header = DecodeSpoolRecordHeader(record, file_.size);
    ASSERT_TRUE(header.ok()) << header.status();
    uncommitted_.push_back(*std::move(header));
    file_.size += record.size();
  }

  void Commit() {
    ASSERT_EQ(fdatasync(file_.fd), 0);
    if (publish_records_) {
      catalog_->PublishDurableRecords(shard_, file_.file_seq, file_.size, uncommitted_);
    } else {
      catalog_->PublishDurable(shard_, file_.file_seq, file_.size);
    }
    uncommitted_.clear();
    if (file_.size >= catalog_->options().file_bytes) {
      if (std::optional<ActiveSpoolFile> next = catalog_->RotateIfPrepared(shard_, file_.size)) file_ = *next;
    }
  }

  void AppendAndCommit(const std::string& camera, uint64_t seq) {
    Append(camera, seq);
    Commit();
  }

 private:
  SpoolCatalog* catalog_;
  int shard_;
  bool publish_records_;
  ActiveSpoolFile file_;
  std::vector<SpoolRecord> uncommitted_;
};

std::unique_ptr<SpoolCatalog> OpenCatalog(const std::string& dir, int shards, uint64_t file_bytes = kFileBytes) {
  absl::StatusOr<std::unique_ptr<SpoolCatalog>> catalog =
      SpoolCatalog::Open({.dir = dir, .shard_count = shards, .file_bytes = file_bytes}, nullptr);
  EXPECT_TRUE(catalog.ok()) << catalog.status();
  return catalog.ok() ? *std::move(catalog) : nullptr;
}

// Small batches, no waiting for age, fast retries; index objects only when
// flushing (the capture hours are never "over"), unless a test says otherwise.
BatchSealerOptions Options(const std::string& journal_dir, const std::string& instance = kInstanceA) {
  BatchSealerOptions o;
  o.zone = "dev";
  o.instance = instance;
  o.journal_dir = journal_dir;
  o.batch_bytes = 3000;
  o.batch_age = absl::ZeroDuration();
  o.index_interval = absl::Hours(1000);
  o.index_hour_grace = absl::Hours(24 * 365 * 100);
  o.upload_threads = 2;
  o.retry_min = absl::Milliseconds(1);
  o.retry_max = absl::Milliseconds(4);
  o.poll_interval = absl::Milliseconds(5);
  o.flush_deadline = absl::Seconds(4);
  return o;
}

std::unique_ptr<BatchSealer> OpenSealer(const BatchSealerOptions& options, SpoolCatalog* catalog, ObjectStore* store) {
  auto sealer = std::make_unique<BatchSealer>(options, catalog, store);
  absl::Status opened = sealer->Open();
  EXPECT_TRUE(opened.ok()) << opened;
  return opened.ok() ? std::move(sealer) : nullptr;
}

// Records on_persisted calls, per camera in call order.
class PersistLog {
 public:
  std::function<void(const std::string&, uint64_t)> Callback() {
    return [this](const std::string& camera, uint64_t seq) {
      absl::MutexLock lock(&mu_);
      calls_[camera].push_back(seq);
    };
  }
  std::vector<uint64_t> calls(const std::string& camera) const {
    absl::MutexLock lock(&mu_);
    auto it = calls_.find(camera);
    return it == calls_.end() ? std::vector<uint64_t>{} : it->second;
  }
  uint64_t last(const std::string& camera) const {
    std::vector<uint64_t> c = calls(camera);
    return c.empty() ? 0 : c.back();
  }
  bool empty() const {
    absl::MutexLock lock(&mu_);
    return calls_.empty();
  }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, std::vector<uint64_t>> calls_ ABSL_GUARDED_BY(mu_);
};

void ExpectStrictlyIncreasing(const std::vector<uint64_t>& seqs, const std::string& camera) {
  for (size_t i = 1; i < seqs.size(); ++i) EXPECT_LT(seqs[i - 1], seqs[i]) << camera << " call " << i;
}

std::vector<std::string> BatchKeys(ObjectStore& store) {
  std::vector<std::string> keys;
  absl::StatusOr<std::vector<ObjectInfo>> objects = store.List("dev/batches/");
  EXPECT_TRUE(objects.ok()) << objects.status();
  if (objects.ok()) {
    for (const ObjectInfo& o : *objects) keys.push_back(o.key);
  }
  return keys;
}

std::vector<std::string> IndexKeys(ObjectStore& store) {
  std::vector<std::string> keys;
  absl::StatusOr<std::vector<ObjectInfo>> objects = store.List("dev/index/");
  EXPECT_TRUE(objects.ok()) << objects.status();
  if (objects.ok()) {
    for (const ObjectInfo& o : *objects) keys.push_back(o.key);
  }
  return keys;
}

std::vector<std::string> KeysContaining(const std::vector<std::string>& keys, std::string_view part) {
  std::vector<std::string> out;
  for (const std::string& key : keys) {
    if (key.find(part) != std::string::npos) out.push_back(key);
  }
  return out;
}

using CameraSeq = std::pair<std::string, uint64_t>;

// How many batch objects of the zone hold each (camera, seq), from every
// batch object's own footer (not the camera index).
std::map<CameraSeq, int> StoredCopies(ObjectStore& store) {
  std::map<CameraSeq, int> copies;
  for (const std::string& key : BatchKeys(store)) {
    absl::StatusOr<BatchFooter> footer = ReadBatchFooter(store, key);
    EXPECT_TRUE(footer.ok()) << key << ": " << footer.status();
    if (!footer.ok()) continue;
    for (const SegmentLocation& e : footer->entries) ++copies[{e.camera, e.seq}];
  }
  return copies;
}

// Every seq 1..last of every camera in exactly one batch object, nothing else.
void ExpectEachStoredOnce(ObjectStore& store, const std::map<std::string, uint64_t>& last_seq) {
  std::map<CameraSeq, int> expected;
  for (const auto& [camera, last] : last_seq) {
    for (uint64_t seq = 1; seq <= last; ++seq) expected[{camera, seq}] = 1;
  }
  const std::map<CameraSeq, int> copies = StoredCopies(store);
  for (const auto& [segment, n] : copies) {
    auto it = expected.find(segment);
    EXPECT_EQ(n, it == expected.end() ? 0 : 1)
        << segment.first << " seq " << segment.second << " stored " << n << " times";
  }
  for (const auto& [segment, n] : expected) {
    EXPECT_TRUE(copies.contains(segment)) << segment.first << " seq " << segment.second << " not stored";
  }
}

std::vector<uint8_t> ExportAll(ObjectStore& store, const std::string& camera) {
  RecordingReader reader(&store, "dev");
  std::vector<uint8_t> out;
  absl::StatusOr<ExportStats> stats =
      reader.Export(camera, kT0 - kDayUs, kT0 + kDayUs, [&](absl::Span<const uint8_t> p) {
        out.insert(out.end(), p.begin(), p.end());
        return absl::OkStatus();
      });
  EXPECT_TRUE(stats.ok()) << camera << ": " << stats.status();
  return out;
}

// Compares sizes first so a mismatch prints something readable.
void ExpectExported(ObjectStore& store, const std::string& camera, uint64_t first, uint64_t last) {
  const std::vector<uint8_t> got = ExportAll(store, camera);
  const std::vector<uint8_t> want = Expected(camera, first, last);
  EXPECT_EQ(got.size(), want.size()) << camera;
  EXPECT_TRUE(got == want) << camera << ": exported bytes differ from seqs " << first << ".." << last;
}

size_t ClosedFiles(const SpoolCatalog& catalog) {
  size_t closed = 0;
  for (const SpoolFileState& f : catalog.Snapshot()) closed += f.closed ? 1 : 0;
  return closed;
}

// Passes (waiting up to 10 ms for uploads) until `done` or 4 s.
template <typename Done>
bool RunUntil(BatchSealer& sealer, Done done) {
  const absl::Time deadline = absl::Now() + absl::Seconds(4);
  for (int pass = 0; pass < 2000 && absl::Now() < deadline; ++pass) {
    if (done()) return true;
    sealer.RunOnce(/*flush_all=*/false, absl::Milliseconds(10)).IgnoreError();
  }
  return done();
}

bool EndsWithBatchSeq(std::string_view key, uint64_t batch_seq) {
  return key.ends_with(absl::StrFormat("-%012d.cbt", batch_seq));
}

TEST(BatchSealerTest, EveryCameraComesBackByteExactlyAcrossShardsAndRotations) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 2);
  ASSERT_NE(catalog, nullptr);
  FaultyStore store(dir.path() + "/store");
  auto sealer = OpenSealer(Options(dir.path() + "/journal"), catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  PersistLog log;
  sealer->set_on_persisted(log.Callback());

  TestShard shards[2] = {TestShard(catalog.get(), 0), TestShard(catalog.get(), 1)};
  const std::vector<std::string> cameras = {"cam-a", "cam-b", "cam-c", "cam-d", "cam-e"};
  constexpr uint64_t kSegments = 40;
  // Each camera's segments move between the shards (reconnects), always
  // with every lower seq durable first.
  for (uint64_t seq = 1; seq <= kSegments; ++seq) {
    for (size_t c = 0; c < cameras.size(); ++c) shards[(seq / 7 + c) % 2].AppendAndCommit(cameras[c], seq);
    if (seq % 5 == 0) {
      EXPECT_TRUE(sealer->RunOnce(false, absl::Milliseconds(5)).ok());
    }
  }
  EXPECT_GT(sealer->stats().segments_persisted, 0u);  // sealing while cameras still send
  sealer->Stop(/*flush_all=*/true);
  EXPECT_TRUE(sealer->Idle());

  std::map<std::string, uint64_t> last;
  RecordingReader reader(&store, "dev");
  for (const std::string& camera : cameras) {
    ExpectExported(store, camera, 1, kSegments);
    last[camera] = kSegments;
    // on_persisted moves forward only and ends at the last seq.
    const std::vector<uint64_t> calls = log.calls(camera);
    ExpectStrictlyIncreasing(calls, camera);
    EXPECT_EQ(log.last(camera), kSegments) << camera;
    // One index hour folder per capture hour, and only those.
    const int64_t first_hour = IndexHourStartUs(kT0);
    const int64_t second_hour = IndexHourStartUs(kT0 + int64_t(kSegments - 1) * kSegmentUs);
    ASSERT_EQ(second_hour, first_hour + kMicrosPerHour);
    for (int64_t hour : {first_hour, second_hour}) {
      EXPECT_FALSE(store.List(CameraIndexHourPrefix("dev", camera, hour)).value().empty()) << camera;
    }
    const std::vector<ObjectInfo> index_objects = store.List(CameraIndexPrefix("dev", camera)).value();
    for (const ObjectInfo& o : index_objects) {
      EXPECT_TRUE(o.key.starts_with(CameraIndexHourPrefix("dev", camera, first_hour)) ||
                  o.key.starts_with(CameraIndexHourPrefix("dev", camera, second_hour)))
          << o.key;
    }
    absl::StatusOr<std::vector<RecordedRange>> ranges = reader.Ranges(camera);
    ASSERT_TRUE(ranges.ok()) << ranges.status();
    ASSERT_EQ(ranges->size(), 1u) << camera;
    EXPECT_EQ((*ranges)[0].first_seq, 1u);
    EXPECT_EQ((*ranges)[0].last_seq, kSegments);
  }
  ExpectEachStoredOnce(store, last);

  // Batches are cross-camera.
  int multi_camera = 0;
  for (const std::string& key : BatchKeys(store)) {
    absl::StatusOr<BatchFooter> footer = ReadBatchFooter(store, key);
    ASSERT_TRUE(footer.ok()) << footer.status();
    std::set<std::string> in_batch;
    for (const SegmentLocation& e : footer->entries) in_batch.insert(e.camera);
    multi_camera += in_batch.size() > 1 ? 1 : 0;
  }
  EXPECT_GT(multi_camera, 0);

  const BatchSealerStats stats = sealer->stats();
  EXPECT_EQ(stats.segments_persisted, cameras.size() * kSegments);
  EXPECT_EQ(stats.batches_written, BatchKeys(store).size());
  EXPECT_GT(stats.batches_written, 10u);  // batch_bytes cut many batches
  // Every batch went with its CRC-32C, combined from the segment CRCs, and
  // each was the object's (FaultyStore refuses a wrong one, as S3 would).
  EXPECT_EQ(store.puts_with_crc32c(), static_cast<int>(stats.batches_written));
  EXPECT_EQ(store.crc32c_mismatches(), 0);
  EXPECT_GE(stats.index_objects_written, 2 * cameras.size());
  EXPECT_EQ(stats.pending_segments, 0u);
  EXPECT_EQ(stats.batches_in_flight, 0u);
  EXPECT_EQ(stats.unindexed_segments, 0u);
  EXPECT_EQ(stats.duplicates_skipped, 0u);
  EXPECT_EQ(stats.store_errors, 0u);
  EXPECT_EQ(stats.spool_errors, 0u);
  EXPECT_TRUE(stats.store_ok);
  // Every closed spool file was reclaimed; only the shards' active files are left.
  EXPECT_GT(stats.files_reclaimed, 4u);
  EXPECT_EQ(ClosedFiles(*catalog), 0u);
  EXPECT_EQ(catalog->Snapshot().size(), 2u);
  for (const auto& [key, n] : store.successful_puts()) EXPECT_EQ(n, 1) << key;

  absl::StatusOr<VerifyReport> report = reader.Verify("");
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->problems.empty()) << report->problems.front().key << ": " << report->problems.front().message;
  EXPECT_EQ(report->segments, cameras.size() * kSegments);
}

TEST(BatchSealerTest, RecordsPublishedByTheShardAreSealedWithoutReadingTheirHeadersBack) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 1);
  ASSERT_NE(catalog, nullptr);
  FaultyStore store(dir.path() + "/store");
  auto sealer = OpenSealer(Options(dir.path() + "/journal"), catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  PersistLog log;
  sealer->set_on_persisted(log.Callback());
  TestShard shard(catalog.get(), 0, /*publish_records=*/true);
  for (uint64_t seq = 1; seq <= 3; ++seq) shard.Append("cam-1", seq);
  // The disk garbles seq 1's header magic: a scan would stop at it and keep
  // the file for an operator; the published headers do not need it.
  {
    const int fd = open(catalog->Snapshot()[0].path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const uint8_t junk = 0;
    ASSERT_EQ(pwrite(fd, &junk, 1, 0), 1);
    close(fd);
  }
  shard.Commit();
  sealer->Stop(/*flush_all=*/true);
  EXPECT_TRUE(sealer->Idle());
  EXPECT_EQ(sealer->stats().spool_errors, 0u);
  EXPECT_EQ(log.last("cam-1"), 3u);
  ExpectExported(store, "cam-1", 1, 3);
  ExpectEachStoredOnce(store, {{"cam-1", 3}});
}

TEST(BatchSealerTest, SealsOnlySegmentsSeenInAnEarlierPass) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 1);
  ASSERT_NE(catalog, nullptr);
  FaultyStore store(dir.path() + "/store");
  auto sealer = OpenSealer(Options(dir.path() + "/journal"), catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  TestShard shard(catalog.get(), 0);
  for (uint64_t seq = 1; seq <= 3; ++seq) shard.Append("cam-1", seq);
  shard.Commit();
  ASSERT_TRUE(sealer->RunOnce(false).ok());
  EXPECT_EQ(sealer->stats().pending_segments, 3u);  // first seen in this pass
  EXPECT_EQ(sealer->stats().batches_in_flight, 0u);

  shard.AppendAndCommit("cam-1", 4);
  ASSERT_TRUE(sealer->RunOnce(false).ok());
  EXPECT_EQ(sealer->stats().batches_in_flight, 1u);  // 1..3
  EXPECT_EQ(sealer->stats().pending_segments, 1u);   // 4 waits one more pass
  ASSERT_TRUE(RunUntil(*sealer, [&] { return sealer->stats().segments_persisted == 4; }));
  ExpectEachStoredOnce(store, {{"cam-1", 4}});
  std::vector<size_t> batch_sizes;
  for (const std::string& key : BatchKeys(store)) batch_sizes.push_back(ReadBatchFooter(store, key)->entries.size());
  std::sort(batch_sizes.begin(), batch_sizes.end());
  EXPECT_EQ(batch_sizes, (std::vector<size_t>{1, 3}));
}

TEST(BatchSealerTest, AStoreOutageKeepsEverythingSpooledThenStoresEachSegmentOnce) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 2);
  ASSERT_NE(catalog, nullptr);
  FaultyStore store(dir.path() + "/store");
  BatchSealerOptions options = Options(dir.path() + "/journal");
  options.max_batches_in_flight = 4;
  auto sealer = OpenSealer(options, catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  PersistLog log;
  sealer->set_on_persisted(log.Callback());
  store.FailAllPuts(true);

  TestShard shards[2] = {TestShard(catalog.get(), 0), TestShard(catalog.get(), 1)};
  const std::vector<std::string> cameras = {"cam-1", "cam-2", "cam-3"};
  constexpr uint64_t kSegments = 30;
  int unavailable_passes = 0;
  for (uint64_t seq = 1; seq <= kSegments; ++seq) {
    for (size_t c = 0; c < cameras.size(); ++c) shards[(seq / 4 + c) % 2].AppendAndCommit(cameras[c], seq);
    if (seq % 3 == 0) unavailable_passes += absl::IsUnavailable(sealer->RunOnce(false, absl::Milliseconds(5)));
  }
  for (int i = 0; i < 10; ++i) unavailable_passes += absl::IsUnavailable(sealer->RunOnce(false, absl::Milliseconds(5)));

  // Nothing persisted, nothing reclaimed, and the sealer says why.
  BatchSealerStats stats = sealer->stats();
  EXPECT_GT(unavailable_passes, 0);
  EXPECT_EQ(stats.segments_persisted, 0u);
  EXPECT_EQ(stats.batches_written, 0u);
  EXPECT_TRUE(log.empty());
  EXPECT_EQ(stats.files_reclaimed, 0u);
  EXPECT_GT(ClosedFiles(*catalog), 4u);
  EXPECT_FALSE(stats.store_ok);
  EXPECT_GT(stats.store_errors, 0u);
  EXPECT_NE(stats.last_store_error.find("refused"), std::string::npos) << stats.last_store_error;
  EXPECT_GT(stats.batches_in_flight, 0u);
  EXPECT_LE(stats.batches_in_flight, 4u);
  EXPECT_GT(stats.pending_segments, 0u);  // beyond what is in flight
  EXPECT_TRUE(store.List("dev/").value().empty());
  EXPECT_GT(catalog->total_bytes(), 0u);

  store.Heal();
  sealer->Stop(/*flush_all=*/true);
  stats = sealer->stats();
  EXPECT_TRUE(stats.store_ok);
  EXPECT_EQ(stats.segments_persisted, cameras.size() * kSegments);
  EXPECT_TRUE(sealer->Idle());
  std::map<std::string, uint64_t> last;
  for (const std::string& camera : cameras) {
    last[camera] = kSegments;
    ExpectExported(store, camera, 1, kSegments);
    ExpectStrictlyIncreasing(log.calls(camera), camera);
    EXPECT_EQ(log.last(camera), kSegments);
  }
  ExpectEachStoredOnce(store, last);
  // Retries reused their keys: every object landed once.
  for (const auto& [key, n] : store.successful_puts()) EXPECT_EQ(n, 1) << key;
  EXPECT_EQ(ClosedFiles(*catalog), 0u);
}

TEST(BatchSealerTest, ACrashAfterIntentsBeforeAnyPutRedoesTheSameKeys) {
  TempDir dir;
  const std::string spool = dir.path() + "/spool";
  const std::string journal = dir.path() + "/journal";
  FaultyStore store(dir.path() + "/store");
  const std::vector<std::string> cameras = {"cam-1", "cam-2", "cam-3"};
  constexpr uint64_t kSegments = 20;
  std::vector<std::string> intent_keys;
  {
    auto catalog = OpenCatalog(spool, 2);
    ASSERT_NE(catalog, nullptr);
    BatchSealerOptions options = Options(journal, kInstanceA);
    options.max_batches_in_flight = 3;
    auto sealer = OpenSealer(options, catalog.get(), &store);
    ASSERT_NE(sealer, nullptr);
    store.FailAllPuts(true);
    TestShard shards[2] = {TestShard(catalog.get(), 0), TestShard(catalog.get(), 1)};
    for (uint64_t seq = 1; seq <= kSegments; ++seq) {
      for (size_t c = 0; c < cameras.size(); ++c) shards[(seq + c) % 2].AppendAndCommit(cameras[c], seq);
      if (seq % 4 == 0) sealer->RunOnce(false).IgnoreError();
    }
    ASSERT_TRUE(RunUntil(*sealer, [&] { return KeysContaining(store.attempted_keys(), "/batches/").size() == 3; }));
    intent_keys = KeysContaining(store.attempted_keys(), "/batches/");
    EXPECT_GT(sealer->stats().pending_segments, 0u);  // more than three batches' worth
    EXPECT_EQ(sealer->stats().segments_persisted, 0u);
    // Crash: the sealer and the catalog go away without a flush.
  }
  for (const std::string& key : intent_keys) EXPECT_NE(key.find(kInstanceA), std::string::npos) << key;
  store.Heal();

  auto catalog = OpenCatalog(spool, 2);
  ASSERT_NE(catalog, nullptr);
  auto sealer = OpenSealer(Options(journal, kInstanceB), catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  // Nothing was committed.
  for (const auto& [camera, seq] : sealer->recovered_committed()) EXPECT_EQ(seq, 0u) << camera;
  PersistLog log;
  sealer->set_on_persisted(log.Callback());
  sealer->Stop(/*flush_all=*/true);

  // The journaled batches went up under the first run's keys, once each;
  // everything else under the new run's instance.
  const std::vector<std::string> keys = BatchKeys(store);
  EXPECT_EQ(KeysContaining(keys, kInstanceA), intent_keys);
  EXPECT_EQ(KeysContaining(keys, kInstanceA).size() + KeysContaining(keys, kInstanceB).size(), keys.size());
  EXPECT_FALSE(KeysContaining(keys, kInstanceB).empty());
  for (const std::string& key : intent_keys) EXPECT_EQ(store.puts_ok(key), 1) << key;
  std::map<std::string, uint64_t> last;
  for (const std::string& camera : cameras) {
    last[camera] = kSegments;
    ExpectExported(store, camera, 1, kSegments);
    ExpectStrictlyIncreasing(log.calls(camera), camera);
    EXPECT_EQ(log.last(camera), kSegments);
  }
  ExpectEachStoredOnce(store, last);
  EXPECT_EQ(sealer->stats().segments_persisted, cameras.size() * kSegments);
  EXPECT_EQ(sealer->stats().duplicates_skipped, 0u);
  EXPECT_EQ(ClosedFiles(*catalog), 0u);
}

TEST(BatchSealerTest, ACrashAfterAPutLandedButBeforeItsCommitRewritesTheSameKeys) {
  // The PUT reached the store but its response was lost, so no commit was
  // journaled; the next run uploads the batch again under the same key,
  // replacing the object rather than adding a second copy.
  TempDir dir;
  const std::string spool = dir.path() + "/spool";
  const std::string journal = dir.path() + "/journal";
  FaultyStore store(dir.path() + "/store");
  const std::vector<std::string> cameras = {"cam-1", "cam-2"};
  constexpr uint64_t kSegments = 15;
  std::vector<std::string> landed;
  {
    auto catalog = OpenCatalog(spool, 2);
    ASSERT_NE(catalog, nullptr);
    BatchSealerOptions options = Options(journal, kInstanceA);
    options.max_batches_in_flight = 2;
    auto sealer = OpenSealer(options, catalog.get(), &store);
    ASSERT_NE(sealer, nullptr);
    store.LosePutResponses(true);
    TestShard shards[2] = {TestShard(catalog.get(), 0), TestShard(catalog.get(), 1)};
    for (uint64_t seq = 1; seq <= kSegments; ++seq) {
      for (size_t c = 0; c < cameras.size(); ++c) shards[(seq + c) % 2].AppendAndCommit(cameras[c], seq);
    }
    ASSERT_TRUE(RunUntil(*sealer, [&] { return BatchKeys(store).size() == 2; }));
    landed = BatchKeys(store);
    EXPECT_EQ(sealer->stats().batches_written, 0u);
  }
  store.Heal();
  auto catalog = OpenCatalog(spool, 2);
  ASSERT_NE(catalog, nullptr);
  auto sealer = OpenSealer(Options(journal, kInstanceB), catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  EXPECT_TRUE(sealer->recovered_committed().empty());
  sealer->Stop(/*flush_all=*/true);
  EXPECT_EQ(KeysContaining(BatchKeys(store), kInstanceA), landed);
  for (const std::string& key : landed) EXPECT_GE(store.puts_ok(key), 2) << key;
  std::map<std::string, uint64_t> last;
  for (const std::string& camera : cameras) {
    last[camera] = kSegments;
    ExpectExported(store, camera, 1, kSegments);
  }
  ExpectEachStoredOnce(store, last);
}

TEST(BatchSealerTest, ASegmentResentWhileRecoveredBatchesWaitForASlotIsNotStoredAgain) {
  // Run A journals two batches of cam-1 ({1,2,3} and {4,5}) and crashes
  // before either is stored. Run B may have only one batch in flight, so it
  // redoes them one after the other; meanwhile the camera reconnects and
  // re-sends seq 2, which B has already stored.
  TempDir dir;
  const std::string spool = dir.path() + "/spool";
  const std::string journal = dir.path() + "/journal";
  FaultyStore store(dir.path() + "/store");
  BatchSealerOptions options = Options(journal, kInstanceA);
  options.batch_bytes = 822;  // seqs 1..3 exactly
  {
    auto catalog = OpenCatalog(spool, 1);
    ASSERT_NE(catalog, nullptr);
    auto sealer = OpenSealer(options, catalog.get(), &store);
    ASSERT_NE(sealer, nullptr);
    store.FailAllPuts(true);
    TestShard shard(catalog.get(), 0);
    for (uint64_t seq = 1; seq <= 5; ++seq) shard.AppendAndCommit("cam-1", seq);
    ASSERT_TRUE(RunUntil(*sealer, [&] { return KeysContaining(store.attempted_keys(), "/batches/").size() == 2; }));
  }
  store.Heal();
  auto catalog = OpenCatalog(spool, 1);
  ASSERT_NE(catalog, nullptr);
  options.instance = kInstanceB;
  options.max_batches_in_flight = 1;
  options.upload_threads = 1;
  auto sealer = OpenSealer(options, catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  ASSERT_TRUE(sealer->RunOnce(false).ok());  // reads the spool
  ASSERT_TRUE(sealer->RunOnce(false).ok());  // redoes {1,2,3}; {4,5} waits for the slot
  TestShard shard(catalog.get(), 0);
  shard.AppendAndCommit("cam-1", 2);  // the re-send
  // Takes {1,2,3}'s result, then reads the re-sent seq 2.
  sealer->RunOnce(false, absl::Seconds(2)).IgnoreError();
  sealer->Stop(/*flush_all=*/true);
  EXPECT_EQ(sealer->stats().duplicates_skipped, 1u);
  ExpectEachStoredOnce(store, {{"cam-1", 5}});
  ExpectExported(store, "cam-1", 1, 5);
}

TEST(BatchSealerTest, RecoveredCommittedIsWhereTheCrashedRunHadPersisted) {
  TempDir dir;
  const std::string spool = dir.path() + "/spool";
  const std::string journal = dir.path() + "/journal";
  FaultyStore store(dir.path() + "/store");
  const std::vector<std::string> cameras = {"cam-1", "cam-2", "cam-3"};
  std::map<std::string, uint64_t> persisted_before_crash;
  {
    auto catalog = OpenCatalog(spool, 2);
    ASSERT_NE(catalog, nullptr);
    auto sealer = OpenSealer(Options(journal, kInstanceA), catalog.get(), &store);
    ASSERT_NE(sealer, nullptr);
    PersistLog log;
    sealer->set_on_persisted(log.Callback());
    TestShard shards[2] = {TestShard(catalog.get(), 0), TestShard(catalog.get(), 1)};
    for (uint64_t seq = 1; seq <= 10; ++seq) {
      for (size_t c = 0; c < cameras.size(); ++c) shards[(seq + c) % 2].AppendAndCommit(cameras[c], seq);
    }
    ASSERT_TRUE(RunUntil(*sealer, [&] { return sealer->stats().segments_persisted == 30; }));
    // The store goes down; more arrives and is journaled, never committed.
    store.FailAllPuts(true);
    for (uint64_t seq = 11; seq <= 20; ++seq) {
      for (size_t c = 0; c < cameras.size(); ++c) shards[(seq + c) % 2].AppendAndCommit(cameras[c], seq);
    }
    ASSERT_TRUE(RunUntil(*sealer, [&] { return store.failed_puts() >= 3; }));
    for (const std::string& camera : cameras) persisted_before_crash[camera] = log.last(camera);
  }
  store.Heal();

  auto catalog = OpenCatalog(spool, 2);
  ASSERT_NE(catalog, nullptr);
  auto sealer = OpenSealer(Options(journal, kInstanceB), catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  for (const std::string& camera : cameras) {
    EXPECT_EQ(persisted_before_crash[camera], 10u);
    auto it = sealer->recovered_committed().find(camera);
    ASSERT_NE(it, sealer->recovered_committed().end()) << camera;
    EXPECT_EQ(it->second, 10u) << camera;
  }
  PersistLog log;
  sealer->set_on_persisted(log.Callback());
  sealer->Stop(/*flush_all=*/true);
  std::map<std::string, uint64_t> last;
  for (const std::string& camera : cameras) {
    last[camera] = 20;
    ExpectExported(store, camera, 1, 20);
    const std::vector<uint64_t> calls = log.calls(camera);
    ASSERT_FALSE(calls.empty()) << camera;
    EXPECT_GT(calls.front(), 10u) << camera;
    ExpectStrictlyIncreasing(calls, camera);
    EXPECT_EQ(calls.back(), 20u) << camera;
  }
  ExpectEachStoredOnce(store, last);
  for (const auto& [key, n] : store.successful_puts()) EXPECT_EQ(n, 1) << key;
}

TEST(BatchSealerTest, ACrashAfterCommitsBeforeTheIndexWritesTheIndexWithoutReuploading) {
  TempDir dir;
  const std::string spool = dir.path() + "/spool";
  const std::string journal = dir.path() + "/journal";
  FaultyStore store(dir.path() + "/store");
  const std::vector<std::string> cameras = {"cam-1", "cam-2", "cam-3"};
  constexpr uint64_t kSegments = 20;
  std::vector<std::string> batch_keys;
  {
    auto catalog = OpenCatalog(spool, 2);
    ASSERT_NE(catalog, nullptr);
    auto sealer = OpenSealer(Options(journal, kInstanceA), catalog.get(), &store);
    ASSERT_NE(sealer, nullptr);
    TestShard shards[2] = {TestShard(catalog.get(), 0), TestShard(catalog.get(), 1)};
    for (uint64_t seq = 1; seq <= kSegments; ++seq) {
      for (size_t c = 0; c < cameras.size(); ++c) shards[(seq / 3 + c) % 2].AppendAndCommit(cameras[c], seq);
      if (seq % 4 == 0) sealer->RunOnce(false).IgnoreError();
    }
    ASSERT_TRUE(RunUntil(*sealer, [&] { return sealer->stats().segments_persisted == cameras.size() * kSegments; }));
    EXPECT_EQ(sealer->stats().unindexed_segments, cameras.size() * kSegments);
    EXPECT_TRUE(store.List("dev/index/").value().empty());
    batch_keys = BatchKeys(store);
    ASSERT_FALSE(batch_keys.empty());
    // Crash before index_interval ran out.
  }

  auto catalog = OpenCatalog(spool, 2);
  ASSERT_NE(catalog, nullptr);
  auto sealer = OpenSealer(Options(journal, kInstanceB), catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  for (const std::string& camera : cameras) {
    auto it = sealer->recovered_committed().find(camera);
    ASSERT_NE(it, sealer->recovered_committed().end()) << camera;
    EXPECT_EQ(it->second, kSegments) << camera;
  }
  sealer->Stop(/*flush_all=*/true);

  const BatchSealerStats stats = sealer->stats();
  EXPECT_EQ(stats.batches_written, 0u);
  EXPECT_EQ(stats.segments_persisted, 0u);
  EXPECT_GT(stats.index_objects_written, 0u);
  // No batch re-uploaded, under a new key or its old one.
  EXPECT_EQ(BatchKeys(store), batch_keys);
  for (const std::string& key : batch_keys) EXPECT_EQ(store.puts_ok(key), 1) << key;
  std::map<std::string, uint64_t> last;
  for (const std::string& camera : cameras) {
    last[camera] = kSegments;
    EXPECT_FALSE(store.List(CameraIndexPrefix("dev", camera)).value().empty()) << camera;
    ExpectExported(store, camera, 1, kSegments);
  }
  ExpectEachStoredOnce(store, last);
  EXPECT_EQ(ClosedFiles(*catalog), 0u);
}

TEST(BatchSealerTest, AnIndexWrittenAgainAfterACrashReplacesItsObject) {
  // The index PUTs landed but their responses were lost, so no index mark was
  // journaled; the next run (another instance id) writes the same index
  // again. Index objects are named by their contents, so that replaces each
  // object instead of adding a second copy of every entry.
  TempDir dir;
  const std::string spool = dir.path() + "/spool";
  const std::string journal = dir.path() + "/journal";
  FaultyStore store(dir.path() + "/store");
  const std::vector<std::string> cameras = {"cam-1", "cam-2"};
  constexpr uint64_t kSegments = 12;
  std::vector<std::string> index_keys;
  {
    auto catalog = OpenCatalog(spool, 2);
    ASSERT_NE(catalog, nullptr);
    auto sealer = OpenSealer(Options(journal, kInstanceA), catalog.get(), &store);
    ASSERT_NE(sealer, nullptr);
    TestShard shards[2] = {TestShard(catalog.get(), 0), TestShard(catalog.get(), 1)};
    for (uint64_t seq = 1; seq <= kSegments; ++seq) {
      for (size_t c = 0; c < cameras.size(); ++c) shards[(seq + c) % 2].AppendAndCommit(cameras[c], seq);
    }
    ASSERT_TRUE(RunUntil(*sealer, [&] { return sealer->stats().segments_persisted == cameras.size() * kSegments; }));
    store.LosePutResponses(true);
    sealer->Stop(/*flush_all=*/true);
    index_keys = IndexKeys(store);
    ASSERT_FALSE(index_keys.empty());
  }
  store.Heal();
  auto catalog = OpenCatalog(spool, 2);
  ASSERT_NE(catalog, nullptr);
  auto sealer = OpenSealer(Options(journal, kInstanceB), catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  sealer->Stop(/*flush_all=*/true);
  EXPECT_GT(sealer->stats().index_objects_written, 0u);
  EXPECT_EQ(IndexKeys(store), index_keys);
  for (const std::string& key : index_keys) EXPECT_GE(store.puts_ok(key), 2) << key;
  for (const std::string& camera : cameras) {
    RecordingReader reader(&store, "dev");
    absl::StatusOr<ExportStats> stats =
        reader.Export(camera, kT0 - kDayUs, kT0 + kDayUs, [](absl::Span<const uint8_t>) { return absl::OkStatus(); });
    ASSERT_TRUE(stats.ok()) << stats.status();
    EXPECT_EQ(stats->segments, kSegments) << camera;
    EXPECT_EQ(stats->duplicates_skipped, 0u) << camera;
  }
}

TEST(BatchSealerTest, SegmentsResentForCommittedSeqsAreSkipped) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 2);
  ASSERT_NE(catalog, nullptr);
  FaultyStore store(dir.path() + "/store");
  auto sealer = OpenSealer(Options(dir.path() + "/journal"), catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  PersistLog log;
  sealer->set_on_persisted(log.Callback());
  TestShard a(catalog.get(), 0);
  TestShard b(catalog.get(), 1);
  for (uint64_t seq = 1; seq <= 10; ++seq) a.AppendAndCommit("cam-1", seq);
  ASSERT_TRUE(RunUntil(*sealer, [&] { return log.last("cam-1") == 10; }));

  // The camera reconnects to another shard and re-sends 6..10 before its
  // persisted ACK arrived, then goes on.
  for (uint64_t seq = 6; seq <= 12; ++seq) b.AppendAndCommit("cam-1", seq);
  sealer->Stop(/*flush_all=*/true);
  EXPECT_EQ(sealer->stats().duplicates_skipped, 5u);
  EXPECT_EQ(sealer->stats().segments_persisted, 12u);
  EXPECT_EQ(log.last("cam-1"), 12u);
  ExpectStrictlyIncreasing(log.calls("cam-1"), "cam-1");
  ExpectEachStoredOnce(store, {{"cam-1", 12}});
  ExpectExported(store, "cam-1", 1, 12);
}

TEST(BatchSealerTest, SegmentsResentWhileTheirBatchIsPendingOrInFlightAreSkipped) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 2);
  ASSERT_NE(catalog, nullptr);
  FaultyStore store(dir.path() + "/store");
  BatchSealerOptions options = Options(dir.path() + "/journal");
  options.max_batches_in_flight = 1;  // the rest stays pending
  auto sealer = OpenSealer(options, catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  TestShard a(catalog.get(), 0);
  TestShard b(catalog.get(), 1);
  store.FailAllPuts(true);
  for (uint64_t seq = 1; seq <= 10; ++seq) a.AppendAndCommit("cam-1", seq);
  ASSERT_TRUE(RunUntil(*sealer, [&] { return store.failed_puts() > 0; }));
  EXPECT_EQ(sealer->stats().batches_in_flight, 1u);
  EXPECT_GT(sealer->stats().pending_segments, 0u);
  for (uint64_t seq = 1; seq <= 10; ++seq) b.AppendAndCommit("cam-1", seq);  // all of it again
  sealer->RunOnce(false, absl::Milliseconds(5)).IgnoreError();
  EXPECT_EQ(sealer->stats().duplicates_skipped, 10u);
  store.Heal();
  sealer->Stop(/*flush_all=*/true);
  EXPECT_EQ(sealer->stats().duplicates_skipped, 10u);
  EXPECT_EQ(sealer->stats().segments_persisted, 10u);
  ExpectEachStoredOnce(store, {{"cam-1", 10}});
  ExpectExported(store, "cam-1", 1, 10);
  EXPECT_EQ(ClosedFiles(*catalog), 0u);
}

// on_persisted(camera, seq) that also checks, at the moment of the call, that
// every seq 1..seq of the camera is in some batch object in the store.
class CheckedPersistLog : public PersistLog {
 public:
  explicit CheckedPersistLog(ObjectStore* store) : store_(store) {}
  std::function<void(const std::string&, uint64_t)> Callback() {
    auto record = PersistLog::Callback();
    return [this, record](const std::string& camera, uint64_t seq) {
      const std::map<CameraSeq, int> copies = StoredCopies(*store_);
      for (uint64_t s = 1; s <= seq; ++s) {
        EXPECT_TRUE(copies.contains({camera, s}))
            << "persisted " << camera << " " << seq << " before seq " << s << " was stored";
      }
      record(camera, seq);
    };
  }

 private:
  ObjectStore* store_;
};

TEST(BatchSealerTest, PersistedNeverJumpsOverALowerSeqFromAnotherShard) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 2);
  ASSERT_NE(catalog, nullptr);
  FaultyStore store(dir.path() + "/store");
  BatchSealerOptions options = Options(dir.path() + "/journal");
  options.batch_bytes = 1;  // one segment per batch
  options.upload_threads = 1;
  auto sealer = OpenSealer(options, catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  CheckedPersistLog log(&store);
  sealer->set_on_persisted(log.Callback());
  // Seq 1 on shard 1, then 2 and 3 on shard 0: all durable before one pass,
  // which reads shard 0 first.
  TestShard a(catalog.get(), 0);
  TestShard b(catalog.get(), 1);
  b.AppendAndCommit("cam-x", 1);
  a.AppendAndCommit("cam-x", 2);
  a.AppendAndCommit("cam-x", 3);
  // The batch holding seq 1 (the first cut) fails; 2 and 3 go up.
  store.FailPutsMatching([](std::string_view key) { return EndsWithBatchSeq(key, 1); });
  ASSERT_TRUE(RunUntil(*sealer, [&] { return sealer->stats().batches_written == 2; }));
  for (int i = 0; i < 3; ++i) sealer->RunOnce(false, absl::Milliseconds(2)).IgnoreError();
  EXPECT_EQ(StoredCopies(store).count({"cam-x", 1}), 0u);
  EXPECT_EQ(sealer->stats().segments_persisted, 0u);
  EXPECT_TRUE(log.calls("cam-x").empty());

  store.Heal();
  ASSERT_TRUE(RunUntil(*sealer, [&] { return log.last("cam-x") == 3; }));
  EXPECT_EQ(log.calls("cam-x"), std::vector<uint64_t>{3});
  EXPECT_EQ(sealer->stats().segments_persisted, 3u);
  sealer->Stop(/*flush_all=*/true);
  ExpectEachStoredOnce(store, {{"cam-x", 3}});
  ExpectExported(store, "cam-x", 1, 3);
}

TEST(BatchSealerTest, ALowerSeqDurableAPassLaterStillGoesFirst) {
  // Not what a shard does (it accepts a seq only after every lower one is
  // durable), but the sealer must not persist past a gap even then.
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 2);
  ASSERT_NE(catalog, nullptr);
  FaultyStore store(dir.path() + "/store");
  BatchSealerOptions options = Options(dir.path() + "/journal");
  options.batch_bytes = 1;
  auto sealer = OpenSealer(options, catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  CheckedPersistLog log(&store);
  sealer->set_on_persisted(log.Callback());
  TestShard a(catalog.get(), 0);
  TestShard b(catalog.get(), 1);
  a.AppendAndCommit("cam-x", 2);
  a.AppendAndCommit("cam-x", 3);
  ASSERT_TRUE(sealer->RunOnce(false).ok());
  b.AppendAndCommit("cam-x", 1);
  for (int i = 0; i < 5; ++i) sealer->RunOnce(false, absl::Milliseconds(5)).IgnoreError();
  ASSERT_TRUE(RunUntil(*sealer, [&] { return log.last("cam-x") == 3; }));
  ExpectStrictlyIncreasing(log.calls("cam-x"), "cam-x");
  sealer->Stop(/*flush_all=*/true);
  ExpectEachStoredOnce(store, {{"cam-x", 3}});
  ExpectExported(store, "cam-x", 1, 3);
}

TEST(BatchSealerTest, TheThreadSealsInTheBackgroundAndStopFlushes) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 1);
  ASSERT_NE(catalog, nullptr);
  FaultyStore store(dir.path() + "/store");
  BatchSealerOptions options = Options(dir.path() + "/journal");
  options.batch_bytes = 16 << 20;
  options.batch_age = absl::Hours(1);  // only the flush seals
  auto sealer = OpenSealer(options, catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  PersistLog log;
  sealer->set_on_persisted(log.Callback());
  sealer->Start();
  TestShard shard(catalog.get(), 0);
  for (uint64_t seq = 1; seq <= 20; ++seq) shard.AppendAndCommit("cam-1", seq);
  sealer->Stop(/*flush_all=*/true);
  EXPECT_TRUE(sealer->Idle());
  EXPECT_EQ(log.last("cam-1"), 20u);
  ExpectExported(store, "cam-1", 1, 20);
  ExpectEachStoredOnce(store, {{"cam-1", 20}});
}

TEST(BatchSealerTest, APayloadThatRotsAfterItWasReadIsNotStoredAndItsFileIsKept) {
  TempDir dir;
  auto catalog = OpenCatalog(dir.path() + "/spool", 1, /*file_bytes=*/1000);
  ASSERT_NE(catalog, nullptr);
  FaultyStore store(dir.path() + "/store");
  auto sealer = OpenSealer(Options(dir.path() + "/journal"), catalog.get(), &store);
  ASSERT_NE(sealer, nullptr);
  PersistLog log;
  sealer->set_on_persisted(log.Callback());
  TestShard shard(catalog.get(), 0);
  for (uint64_t seq = 1; seq <= 3; ++seq) shard.Append("cam-1", seq);  // 957 bytes
  shard.Commit();
  ASSERT_TRUE(sealer->RunOnce(false).ok());  // read, CRCs checked
  ASSERT_EQ(catalog->Snapshot().size(), 1u);
  // The disk changes seq 2's payload under the sealer.
  const uint64_t seq2_payload = SpoolRecordHeaderBytes(5) * 2 + Payload("cam-1", 1).size();
  {
    const int fd = open(catalog->Snapshot()[0].path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    const uint8_t junk = 0x5a ^ Payload("cam-1", 2)[10];
    ASSERT_EQ(pwrite(fd, &junk, 1, off_t(seq2_payload + 10)), 1);
    close(fd);
  }
  shard.AppendAndCommit("cam-2", 1);  // fills the file: it closes
  sealer->Stop(/*flush_all=*/true);

  const BatchSealerStats stats = sealer->stats();
  EXPECT_EQ(stats.corrupt_segments, 1u);
  EXPECT_EQ(ClosedFiles(*catalog), 1u);  // kept for an operator
  const std::map<CameraSeq, int> copies = StoredCopies(store);
  EXPECT_EQ(copies, (std::map<CameraSeq, int>{{{"cam-1", 1}, 1}, {{"cam-1", 3}, 1}, {{"cam-2", 1}, 1}}));
  // The dropped segment's CRC is not in the batch's checksum either.
  EXPECT_GT(store.puts_with_crc32c(), 0);
  EXPECT_EQ(store.crc32c_mismatches(), 0);
  EXPECT_EQ(log.last("cam-2"), 1u);
  // Seq 2 is in the spool but not in the store, so the camera must not be
  // told it is persisted (it still holds the only good copy).
  EXPECT_EQ(log.last("cam-1"), 1u);
}

// ---------------------------------------------------------------------------
// A camera's batches that commit out of order: seq 1's batch fails while 2's
// and 3's succeed, and the server crashes before 1 is retried.

struct OutOfOrderCrash {
  TempDir dir;
  std::string spool = dir.path() + "/spool";
  std::string journal = dir.path() + "/journal";
  FaultyStore store{dir.path() + "/store"};
};

// Run A: batches of one segment, seq 1's batch refused, 2 and 3 committed,
// then a crash. `rotate_every_pass` makes A rotate its journal each pass;
// `first_seq` numbers the three segments from there instead (a camera whose
// lower seqs a peer stored).
void CrashWithSeqOneUncommitted(OutOfOrderCrash& t, bool rotate_every_pass, uint64_t first_seq = 1) {
  auto catalog = OpenCatalog(t.spool, 1);
  ASSERT_NE(catalog, nullptr);
  BatchSealerOptions options = Options(t.journal, kInstanceA);
  options.batch_bytes = 1;
  options.upload_threads = 1;
  if (rotate_every_pass) options.journal_rotate_bytes = 1;
  auto sealer = OpenSealer(options, catalog.get(), &t.store);
  ASSERT_NE(sealer, nullptr);
  TestShard shard(catalog.get(), 0);
  for (uint64_t seq = first_seq; seq < first_seq + 3; ++seq) shard.AppendAndCommit("cam-1", seq);
  t.store.FailPutsMatching([](std::string_view key) { return EndsWithBatchSeq(key, 1); });
  ASSERT_TRUE(RunUntil(*sealer, [&] { return sealer->stats().batches_written == 2; }));
  for (int i = 0; i < 3; ++i) sealer->RunOnce(false, absl::Milliseconds(2)).IgnoreError();
  EXPECT_EQ(sealer->stats().segments_persisted, 0u);
  ASSERT_EQ(StoredCopies(t.store).size(), 2u);
}

TEST(BatchSealerOutOfOrderCommitTest, AJournalRotationKeepsBatchesCommittedAboveAGap) {
  OutOfOrderCrash t;
  ASSERT_NO_FATAL_FAILURE(CrashWithSeqOneUncommitted(t, /*rotate_every_pass=*/true));
  t.store.Heal();
  auto catalog = OpenCatalog(t.spool, 1);
  ASSERT_NE(catalog, nullptr);
  BatchSealerOptions options = Options(t.journal, kInstanceB);
  options.upload_threads = 1;
  auto sealer = OpenSealer(options, catalog.get(), &t.store);
  ASSERT_NE(sealer, nullptr);
  sealer->Stop(/*flush_all=*/true);
  // 2 and 3 are already in the store: only 1 goes up, under its old key.
  ExpectEachStoredOnce(t.store, {{"cam-1", 3}});
  EXPECT_TRUE(KeysContaining(BatchKeys(t.store), kInstanceB).empty());
  ExpectExported(t.store, "cam-1", 1, 3);
}

TEST(BatchSealerOutOfOrderCommitTest, TheRedoneBatchBelowCommittedSeqsIsIndexed) {
  OutOfOrderCrash t;
  ASSERT_NO_FATAL_FAILURE(CrashWithSeqOneUncommitted(t, /*rotate_every_pass=*/false));
  t.store.Heal();
  auto catalog = OpenCatalog(t.spool, 1);
  ASSERT_NE(catalog, nullptr);
  BatchSealerOptions options = Options(t.journal, kInstanceB);
  options.upload_threads = 1;  // the default 4 makes the outcome a race
  auto sealer = OpenSealer(options, catalog.get(), &t.store);
  ASSERT_NE(sealer, nullptr);
  EXPECT_EQ(sealer->recovered_committed().at("cam-1"), 0u);
  sealer->Stop(/*flush_all=*/true);
  ExpectEachStoredOnce(t.store, {{"cam-1", 3}});
  ExpectExported(t.store, "cam-1", 1, 3);
  RecordingReader reader(&t.store, "dev");
  absl::StatusOr<std::vector<SegmentLocation>> located = reader.Locations("cam-1", kT0 - kDayUs, kT0 + kDayUs);
  ASSERT_TRUE(located.ok()) << located.status();
  EXPECT_EQ(located->size(), 3u);
}

TEST(BatchSealerOutOfOrderCommitTest, TheRedoneBatchOfACameraWhoseSeqsStartHighClaimsNothingBelowIt) {
  // The camera's first seq here is 5001 (a peer stored 1..5000). 5001's
  // batch is redone below the committed 5002 and 5003: the restart reports
  // nothing persisted (not 5000, a seq this server never held), and the
  // camera is persisted through 5003 once the redone batch commits.
  OutOfOrderCrash t;
  ASSERT_NO_FATAL_FAILURE(CrashWithSeqOneUncommitted(t, /*rotate_every_pass=*/false, /*first_seq=*/5001));
  t.store.Heal();
  auto catalog = OpenCatalog(t.spool, 1);
  ASSERT_NE(catalog, nullptr);
  BatchSealerOptions options = Options(t.journal, kInstanceB);
  options.upload_threads = 1;
  auto sealer = OpenSealer(options, catalog.get(), &t.store);
  ASSERT_NE(sealer, nullptr);
  EXPECT_EQ(sealer->recovered_committed().at("cam-1"), 0u);
  PersistLog log;
  sealer->set_on_persisted(log.Callback());
  sealer->Stop(/*flush_all=*/true);
  EXPECT_EQ(log.calls("cam-1"), std::vector<uint64_t>{5003});
  EXPECT_EQ(StoredCopies(t.store),
            (std::map<CameraSeq, int>{{{"cam-1", 5001}, 1}, {{"cam-1", 5002}, 1}, {{"cam-1", 5003}, 1}}));
  ExpectExported(t.store, "cam-1", 5001, 5003);
}

TEST(BatchSealerOutOfOrderCommitTest, AnIndexedMarkDoesNotHideTheRedoneBatchAfterASecondCrash) {
  OutOfOrderCrash t;
  ASSERT_NO_FATAL_FAILURE(CrashWithSeqOneUncommitted(t, /*rotate_every_pass=*/false));
  {
    // Run B indexes 2 and 3 while seq 1's batch still fails; then the batch
    // goes up but its index does not, and B crashes too.
    auto catalog = OpenCatalog(t.spool, 1);
    ASSERT_NE(catalog, nullptr);
    BatchSealerOptions options = Options(t.journal, kInstanceB);
    options.upload_threads = 1;
    options.index_interval = absl::ZeroDuration();
    auto sealer = OpenSealer(options, catalog.get(), &t.store);
    ASSERT_NE(sealer, nullptr);
    ASSERT_TRUE(RunUntil(*sealer, [&] {
      return !t.store.List("dev/index/").value().empty() && sealer->stats().unindexed_segments == 0;
    }));
    t.store.Heal();
    t.store.FailPutsWithPrefix("dev/index/");
    ASSERT_TRUE(RunUntil(*sealer, [&] { return sealer->stats().batches_written == 1; }));
    for (int i = 0; i < 3; ++i) sealer->RunOnce(false, absl::Milliseconds(2)).IgnoreError();
    EXPECT_EQ(StoredCopies(t.store).size(), 3u);
  }
  t.store.Heal();
  auto catalog = OpenCatalog(t.spool, 1);
  ASSERT_NE(catalog, nullptr);
  auto sealer = OpenSealer(Options(t.journal, kInstanceC), catalog.get(), &t.store);
  ASSERT_NE(sealer, nullptr);
  sealer->Stop(/*flush_all=*/true);
  ExpectEachStoredOnce(t.store, {{"cam-1", 3}});
  ExpectExported(t.store, "cam-1", 1, 3);
}

}  // namespace
}  // namespace ingest
