// SpoolWriter's group commit on a real ring and real spool files in a
// temporary folder: records wait until the batch is due (its oldest record
// has waited commit_interval, or it holds commit_bytes), then go to disk with
// one write and a linked fdatasync; each is reported durable once, in order,
// and the catalog learns the new durable size; one commit is in flight at a
// time; a batch above IOV_MAX records is split; a full file rotates to the
// one the sealer prepared; and a write error other than a full disk is fatal.
// (spool_writer_disk_full_test.cc covers ENOSPC.)
#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/shard/spool_writer.h"
#include "server/spool/spool_catalog.h"
#include "server/uring/ring.h"
#include "server/uring/user_data.h"
#include "tests/support/spool_test_record.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::kSpoolTestRecordMinBytes;
using ::ingest::testing::SpoolTestRecord;
using ::ingest::testing::SpoolTestRecords;
using ::ingest::testing::TempDir;

// A fixed clock: the writer is given "now" by its caller, so due times are exact.
const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

class SpoolWriterGroupCommitTest : public ::testing::Test {
 protected:
  void Start(SpoolWriterOptions options = {}) {
    auto catalog = SpoolCatalog::Open({.dir = dir_.path() + "/spool", .shard_count = 1}, nullptr);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = *std::move(catalog);
    auto ring = Ring::Create({.sq_entries = 64, .cq_entries = 256});
    ASSERT_TRUE(ring.ok()) << ring.status();
    ring_ = *std::move(ring);
    writer_ = std::make_unique<SpoolWriter>(*ring_, *catalog_, 0, options);
  }

  // A record of `bytes` bytes (SpoolTestRecord), received at `at`.
  void Append(uint64_t seq, size_t bytes, absl::Time at = kT0) {
    buffers_.push_back(std::make_unique<std::vector<uint8_t>>(SpoolTestRecord(seq, bytes)));
    SegmentBuffer buffer{.data = buffers_.back()->data(), .capacity = bytes};
    writer_->Append({.buffer = buffer,
                     .record_bytes = static_cast<uint32_t>(bytes),
                     .payload_bytes = static_cast<uint32_t>(bytes - kSpoolTestRecordMinBytes),
                     .seq = seq,
                     .conn_id = 3,
                     .conn_generation = 9,
                     .received = at});
  }

  // Reaps the writer's completions until it is idle again (or 5 s pass).
  absl::Status Complete() {
    absl::Status result;
    for (int turn = 0; turn < 100 && result.ok() && writer_->in_flight_bytes() > 0; ++turn) {
      absl::Status waited = ring_->SubmitAndWait(absl::Milliseconds(50));
      if (!waited.ok()) return waited;
      ring_->ForEachCompletion([&](const io_uring_cqe& cqe) {
        absl::Status s =
            writer_->OnCompletion(UserData::Unpack(cqe.user_data).op, cqe.res, [&](const SpoolPendingRecord& r) {
              durable_.push_back(r.seq);
              EXPECT_EQ(r.conn_id, 3u);
              EXPECT_EQ(r.conn_generation, 9u);
            });
        if (!s.ok()) result = s;
      });
    }
    return result;
  }

  std::string FileContents(uint64_t file_seq) {
    const std::string path = SpoolFilePath(dir_.path() + "/spool", 0, file_seq);
    std::string data(1 << 22, '\0');
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0) << path;
    const ssize_t n = ::pread(fd, data.data(), data.size(), 0);
    ::close(fd);
    data.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return data;
  }

  TempDir dir_;
  std::unique_ptr<SpoolCatalog> catalog_;
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<SpoolWriter> writer_;
  std::vector<std::unique_ptr<std::vector<uint8_t>>> buffers_;
  std::vector<uint64_t> durable_;
};

TEST_F(SpoolWriterGroupCommitTest, ABatchIsDueWhenItsOldestRecordHasWaitedTheInterval) {
  Start({.commit_interval = absl::Milliseconds(2), .commit_bytes = 1 << 20});
  EXPECT_TRUE(writer_->idle());
  EXPECT_EQ(writer_->TimeUntilDue(kT0), absl::InfiniteDuration()) << "nothing to commit";
  Append(1, 100, kT0);
  Append(2, 200, kT0 + absl::Milliseconds(1));
  EXPECT_FALSE(writer_->idle());
  EXPECT_EQ(writer_->open_bytes(), 300u);
  EXPECT_EQ(writer_->TimeUntilDue(kT0 + absl::Microseconds(500)), absl::Microseconds(1500));

  writer_->MaybeCommit(kT0 + absl::Milliseconds(1));  // not yet due
  EXPECT_EQ(writer_->in_flight_bytes(), 0u);
  EXPECT_EQ(writer_->counters().commits, 0u);

  writer_->MaybeCommit(kT0 + absl::Milliseconds(2));
  EXPECT_EQ(writer_->in_flight_bytes(), 300u);
  EXPECT_EQ(writer_->open_bytes(), 0u);
  ASSERT_TRUE(Complete().ok());
  EXPECT_EQ(durable_, (std::vector<uint64_t>{1, 2}));
  EXPECT_TRUE(writer_->idle());
  EXPECT_EQ(writer_->counters().commits, 1u);
  EXPECT_EQ(writer_->counters().records, 2u);
  EXPECT_EQ(writer_->counters().bytes, 300u);
  EXPECT_EQ(catalog_->total_bytes(), 300u) << "the durable size was published";

  const std::string on_disk = FileContents(1);
  ASSERT_EQ(on_disk.size(), 300u);
  EXPECT_EQ(on_disk, SpoolTestRecords({{1, 100}, {2, 200}}));

  // The sealer learns the records from the catalog, not from the disk.
  const std::vector<SpoolRecord> published = catalog_->TakeRecords(0, 1);
  ASSERT_EQ(published.size(), 2u);
  EXPECT_EQ(published[0].seq, 1u);
  EXPECT_EQ(published[0].camera_id, "c");
  EXPECT_EQ(published[0].payload_offset, kSpoolTestRecordMinBytes);
  EXPECT_EQ(published[0].end_offset(), 100u);
  EXPECT_EQ(published[1].seq, 2u);
  EXPECT_EQ(published[1].payload_offset, 100u + kSpoolTestRecordMinBytes);
  EXPECT_EQ(published[1].payload_bytes, 200u - kSpoolTestRecordMinBytes);
  EXPECT_TRUE(catalog_->TakeRecords(0, 1).empty()) << "each record is handed out once";
  EXPECT_TRUE(catalog_->Snapshot()[0].records_published);
}

TEST_F(SpoolWriterGroupCommitTest, ABatchHoldingCommitBytesIsDueAtOnce) {
  Start({.commit_interval = absl::Seconds(10), .commit_bytes = 4096});
  Append(1, 3000);
  EXPECT_EQ(writer_->TimeUntilDue(kT0), absl::Seconds(10));
  Append(2, 1096);
  EXPECT_EQ(writer_->TimeUntilDue(kT0), absl::ZeroDuration());
  writer_->MaybeCommit(kT0);
  ASSERT_TRUE(Complete().ok());
  EXPECT_EQ(durable_, (std::vector<uint64_t>{1, 2}));
}

TEST_F(SpoolWriterGroupCommitTest, ForceCommitsABatchThatIsNotDue) {
  Start({.commit_interval = absl::Seconds(10), .commit_bytes = 1 << 20});
  writer_->MaybeCommit(kT0, /*force=*/true);  // nothing open: nothing happens
  EXPECT_TRUE(writer_->idle());
  Append(1, 50);
  writer_->MaybeCommit(kT0, /*force=*/true);
  ASSERT_TRUE(Complete().ok());
  EXPECT_EQ(durable_, (std::vector<uint64_t>{1}));
}

TEST_F(SpoolWriterGroupCommitTest, RecordsArrivingDuringACommitFormTheNextBatch) {
  Start({.commit_interval = absl::Milliseconds(2), .commit_bytes = 1 << 20});
  Append(1, 500);
  writer_->MaybeCommit(kT0, /*force=*/true);
  ASSERT_EQ(writer_->in_flight_bytes(), 500u);
  Append(2, 700, kT0);
  Append(3, 300, kT0);
  EXPECT_EQ(writer_->TimeUntilDue(kT0 + absl::Seconds(1)), absl::InfiniteDuration())
      << "one commit at a time: the loop is woken by its completion instead";
  writer_->MaybeCommit(kT0 + absl::Seconds(1), /*force=*/true);
  EXPECT_EQ(writer_->in_flight_bytes(), 500u) << "no second commit while one is in flight";
  EXPECT_EQ(writer_->open_bytes(), 1000u);
  ASSERT_TRUE(Complete().ok());
  EXPECT_EQ(durable_, (std::vector<uint64_t>{1}));

  EXPECT_EQ(writer_->TimeUntilDue(kT0 + absl::Seconds(1)), absl::ZeroDuration());
  writer_->MaybeCommit(kT0 + absl::Seconds(1));
  ASSERT_TRUE(Complete().ok());
  EXPECT_EQ(durable_, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(writer_->counters().commits, 2u);
  const std::string on_disk = FileContents(1);
  EXPECT_EQ(on_disk, SpoolTestRecords({{1, 500}, {2, 700}, {3, 300}}));
  EXPECT_EQ(catalog_->total_bytes(), 1500u);
}

TEST_F(SpoolWriterGroupCommitTest, MoreRecordsThanOneWritevTakesAreCommittedInTwoBatches) {
  Start({.commit_interval = absl::Milliseconds(2), .commit_bytes = 1 << 30});
  const uint64_t records = IOV_MAX + 10;
  for (uint64_t seq = 1; seq <= records; ++seq) Append(seq, 64);
  writer_->MaybeCommit(kT0, /*force=*/true);
  EXPECT_EQ(writer_->in_flight_bytes(), uint64_t{IOV_MAX} * 64);
  ASSERT_TRUE(Complete().ok());
  writer_->MaybeCommit(kT0, /*force=*/true);
  ASSERT_TRUE(Complete().ok());
  ASSERT_EQ(durable_.size(), records);
  for (uint64_t i = 0; i < records; ++i) ASSERT_EQ(durable_[i], i + 1);
  EXPECT_EQ(writer_->counters().commits, 2u);
  EXPECT_EQ(FileContents(1).size(), records * 64);
}

TEST_F(SpoolWriterGroupCommitTest, AFullFileRotatesToTheFileTheSealerPrepared) {
  Start({.commit_interval = absl::Milliseconds(2), .commit_bytes = 1 << 20, .file_bytes = 1000});
  Append(1, 600);
  writer_->MaybeCommit(kT0, /*force=*/true);
  ASSERT_TRUE(Complete().ok());
  Append(2, 600);
  writer_->MaybeCommit(kT0, /*force=*/true);
  ASSERT_TRUE(Complete().ok());
  // 1200 bytes >= file_bytes, but no next file yet: the shard keeps appending.
  EXPECT_EQ(writer_->counters().rotations, 0u);

  ASSERT_TRUE(catalog_->PrepareNextFiles().ok());  // the sealer's part
  Append(3, 100);
  writer_->MaybeCommit(kT0, /*force=*/true);
  ASSERT_TRUE(Complete().ok());
  EXPECT_EQ(writer_->counters().rotations, 1u);
  Append(4, 50);
  writer_->MaybeCommit(kT0, /*force=*/true);
  ASSERT_TRUE(Complete().ok());
  EXPECT_EQ(durable_, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(FileContents(1).size(), 1300u);
  EXPECT_EQ(FileContents(2), SpoolTestRecords({{4, 50}}));
  EXPECT_EQ(catalog_->total_bytes(), 1350u);
}

TEST_F(SpoolWriterGroupCommitTest, AWriteErrorOtherThanAFullDiskIsFatal) {
  Start();
  // The spool file's descriptor now refers to a file opened read-only:
  // the write fails with EBADF.
  const ActiveSpoolFile file = catalog_->active_file(0);
  const int read_only = ::open(SpoolFilePath(dir_.path() + "/spool", 0, file.file_seq).c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(read_only, 0);
  ASSERT_EQ(::dup3(read_only, file.fd, O_CLOEXEC), file.fd);
  ::close(read_only);
  Append(1, 100);
  writer_->MaybeCommit(kT0, /*force=*/true);
  absl::Status status = Complete();
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss) << status;
  EXPECT_NE(status.message().find("shard 0"), absl::string_view::npos) << status;
  EXPECT_TRUE(durable_.empty()) << "nothing failed may be reported durable";
  EXPECT_FALSE(writer_->stalled()) << "not a full disk: no retry";
}

}  // namespace
}  // namespace ingest
