// The spool writer on a full disk: the batch is held, not failed, nothing is
// acknowledged while the disk refuses it, and the same batch lands once space
// returns. /dev/full stands in for the full file system: every write to it
// fails with ENOSPC, as on a full ext4 or tmpfs, without needing root.
#include "server/shard/spool_writer.h"

#include <fcntl.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "common/monotonic_clock.h"
#include "gtest/gtest.h"
#include "server/spool/spool_catalog.h"
#include "server/uring/ring.h"
#include "tests/support/spool_test_record.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::SpoolTestRecord;
using ::ingest::testing::SpoolTestRecords;
using ::ingest::testing::TempDir;

class SpoolWriterDiskFullTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto catalog = SpoolCatalog::Open({.dir = dir_.path() + "/spool", .shard_count = 1}, nullptr);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = *std::move(catalog);
    auto ring = Ring::Create({.sq_entries = 64, .cq_entries = 256, .registered_files = 16});
    ASSERT_TRUE(ring.ok()) << ring.status();
    ring_ = *std::move(ring);
    writer_ = std::make_unique<SpoolWriter>(*ring_, *catalog_, 0, SpoolWriterOptions{});
  }

  // Points the shard's spool file descriptor at /dev/full (full) or back at
  // the spool file (not full): the writer keeps using the same number.
  void SetDiskFull(bool full) {
    const ActiveSpoolFile file = catalog_->active_file(0);
    const std::string path = full ? "/dev/full" : SpoolFilePath(dir_.path() + "/spool", 0, file.file_seq);
    const int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(dup3(fd, file.fd, O_CLOEXEC), file.fd);
    close(fd);
  }

  void Append(uint64_t seq, size_t bytes) {
    buffers_.push_back(SpoolTestRecord(seq, bytes));
    SegmentBuffer buffer;
    buffer.data = buffers_.back().data();
    buffer.capacity = bytes;
    writer_->Append({.buffer = buffer, .record_bytes = static_cast<uint32_t>(bytes), .seq = seq,
                     .received = MonotonicNow()});
  }

  // Turns the loop once as a shard does: commit if due, wait, complete.
  absl::Status Turn() {
    writer_->MaybeCommit(MonotonicNow());
    absl::Status waited = ring_->SubmitAndWait(absl::Milliseconds(50));
    if (!waited.ok()) return waited;
    absl::Status result;
    ring_->ForEachCompletion([&](const io_uring_cqe& cqe) {
      absl::Status s = writer_->OnCompletion(UserData::Unpack(cqe.user_data).op, cqe.res,
                                             [&](const SpoolPendingRecord& r) { durable_.push_back(r.seq); });
      if (!s.ok()) result = s;
    });
    return result;
  }

  TempDir dir_;
  std::unique_ptr<SpoolCatalog> catalog_;
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<SpoolWriter> writer_;
  std::vector<std::vector<uint8_t>> buffers_;
  std::vector<uint64_t> durable_;
};

TEST_F(SpoolWriterDiskFullTest, AFullDiskHoldsTheBatchUntilSpaceReturns) {
  SetDiskFull(true);
  Append(1, 4000);
  Append(2, 5000);
  const absl::Time start = MonotonicNow();
  while (writer_->counters().disk_full_errors < 3 && MonotonicNow() - start < absl::Seconds(10)) {
    ASSERT_TRUE(Turn().ok());
  }
  EXPECT_GE(writer_->counters().disk_full_errors, 3u) << "the write is retried while the disk is full";
  EXPECT_TRUE(writer_->stalled());
  EXPECT_TRUE(durable_.empty()) << "nothing is durable, so nothing may be acknowledged";
  EXPECT_EQ(catalog_->total_bytes(), 0u);
  // Retries are paced, not spun: at most one per kFullDiskRetry.
  EXPECT_LE(writer_->counters().disk_full_errors,
            1 + static_cast<uint64_t>((MonotonicNow() - start) / kFullDiskRetry));

  SetDiskFull(false);
  Append(3, 100);  // arrives during the stall: waits for the next batch
  while (durable_.size() < 3 && MonotonicNow() - start < absl::Seconds(20)) ASSERT_TRUE(Turn().ok());
  EXPECT_EQ(durable_, (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_FALSE(writer_->stalled());
  EXPECT_EQ(catalog_->total_bytes(), 9100u);

  // Exactly the records, in order, once: what recovery would read back.
  const std::string path = SpoolFilePath(dir_.path() + "/spool", 0, 1);
  std::vector<uint8_t> on_disk(9200);
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(pread(fd, on_disk.data(), on_disk.size(), 0), 9100);
  close(fd);
  on_disk.resize(9100);
  EXPECT_EQ(std::string(on_disk.begin(), on_disk.end()), SpoolTestRecords({{1, 4000}, {2, 5000}, {3, 100}}));
}

TEST_F(SpoolWriterDiskFullTest, TimeUntilDueWakesTheLoopForTheRetry) {
  SetDiskFull(true);
  Append(1, 100);
  // Stalled once the write fails; the retry is scheduled once the linked
  // sync's cancellation is in too (until then that completion wakes the loop).
  const absl::Time start = MonotonicNow();
  while ((!writer_->stalled() || writer_->TimeUntilDue(MonotonicNow()) == absl::InfiniteDuration()) &&
         MonotonicNow() - start < absl::Seconds(5)) {
    ASSERT_TRUE(Turn().ok());
  }
  const absl::Duration due = writer_->TimeUntilDue(MonotonicNow());
  EXPECT_GT(due, absl::ZeroDuration());
  EXPECT_LE(due, kFullDiskRetry);
}

}  // namespace
}  // namespace ingest
