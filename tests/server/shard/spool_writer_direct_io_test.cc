// SpoolWriter on a spool opened with O_DIRECT: every record is padded to
// kSpoolRecordAlignment, the file stays aligned, each record is durable
// (fdatasync) before it is reported, and the reader used by the sealer and by
// recovery reads the records back. A write the file system refuses with
// EINVAL (here: a record buffer that is not aligned in memory) is written
// again buffered, and the catalog gives O_DIRECT up for new files.
#include <fcntl.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "server/session/segment_buffer_pool.h"
#include "server/shard/spool_writer.h"
#include "server/spool/spool_catalog.h"
#include "server/spool/spool_file_reader.h"
#include "server/spool/spool_record.h"
#include "server/uring/ring.h"
#include "server/uring/user_data.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

const absl::Time kT0 = absl::FromUnixSeconds(1'800'000'000);

class SpoolWriterDirectIoTest : public ::testing::Test {
 protected:
  void Start() {
    auto catalog = SpoolCatalog::Open({.dir = dir_.path() + "/spool", .shard_count = 1, .direct_io = true}, nullptr);
    ASSERT_TRUE(catalog.ok()) << catalog.status();
    catalog_ = *std::move(catalog);
    auto ring = Ring::Create({.sq_entries = 64, .cq_entries = 256});
    ASSERT_TRUE(ring.ok()) << ring.status();
    ring_ = *std::move(ring);
    writer_ = std::make_unique<SpoolWriter>(*ring_, *catalog_, 0, SpoolWriterOptions{});
  }

  // Encodes the record of camera "cam-7", `seq`, with `payload_bytes` bytes
  // into `buffer` and appends it.
  void Append(SegmentBuffer buffer, uint64_t seq, uint32_t payload_bytes) {
    const std::string camera = "cam-7";
    const size_t header = SpoolRecordHeaderBytes(camera.size());
    ASSERT_LE(header + payload_bytes, buffer.capacity);
    for (uint32_t i = 0; i < payload_bytes; ++i) buffer.data[header + i] = static_cast<uint8_t>(seq + i);
    EncodeSpoolRecordHeader({.camera_id = camera, .seq = seq, .payload_bytes = payload_bytes,
                             .payload_crc = Crc32c({buffer.data + header, payload_bytes})},
                            absl::Span<uint8_t>(buffer.data, header));
    writer_->Append({.buffer = buffer,
                     .record_bytes = static_cast<uint32_t>(header + payload_bytes),
                     .payload_bytes = payload_bytes,
                     .seq = seq,
                     .received = kT0});
  }

  absl::Status CommitAndComplete() {
    writer_->MaybeCommit(kT0, /*force=*/true);
    absl::Status result;
    for (int turn = 0; turn < 100 && result.ok() && writer_->in_flight_bytes() > 0; ++turn) {
      absl::Status waited = ring_->SubmitAndWait(absl::Milliseconds(50));
      if (!waited.ok()) return waited;
      ring_->ForEachCompletion([&](const io_uring_cqe& cqe) {
        absl::Status s = writer_->OnCompletion(UserData::Unpack(cqe.user_data).op, cqe.res,
                                               [&](const SpoolPendingRecord& r) { durable_.push_back(r.seq); });
        if (!s.ok()) result = s;
      });
    }
    return result;
  }

  // Every record of the shard's first file, as the sealer reads them.
  std::vector<SpoolRecord> ReadBack() {
    const SpoolFileState file = catalog_->Snapshot().at(0);
    const int fd = ::open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
    EXPECT_GE(fd, 0);
    SpoolFileReader reader(fd, file.path, 0, file.durable_bytes);
    std::vector<SpoolRecord> records;
    while (true) {
      absl::StatusOr<std::optional<SpoolRecord>> next = reader.Next();
      EXPECT_TRUE(next.ok()) << next.status();
      if (!next.ok() || !next->has_value()) break;
      records.push_back(**next);
    }
    ::close(fd);
    return records;
  }

  TempDir dir_;
  std::unique_ptr<SpoolCatalog> catalog_;
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<SpoolWriter> writer_;
  std::vector<uint64_t> durable_;
};

TEST_F(SpoolWriterDirectIoTest, EveryRecordIsPaddedDurableAndReadBack) {
  Start();
  if (!writer_->direct()) GTEST_SKIP() << "the temporary folder's file system refuses O_DIRECT";
  SegmentBufferPool pool(64 << 20);
  const std::vector<uint32_t> sizes = {1, 4096 - 45, 262144, 100000};  // 45 header bytes: "cam-7"
  std::vector<SegmentBuffer> buffers;
  for (size_t i = 0; i < sizes.size(); ++i) {
    buffers.push_back(pool.Allocate(45 + sizes[i]));
    Append(buffers.back(), i + 1, sizes[i]);
  }
  ASSERT_TRUE(CommitAndComplete().ok());
  EXPECT_EQ(durable_, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_TRUE(writer_->direct());
  EXPECT_EQ(writer_->counters().bytes % kSpoolRecordAlignment, 0u);
  EXPECT_EQ(writer_->counters().bytes, 4096u + 4096u + 266240u + 102400u);

  const std::vector<SpoolRecord> records = ReadBack();
  ASSERT_EQ(records.size(), sizes.size());
  for (size_t i = 0; i < records.size(); ++i) {
    EXPECT_EQ(records[i].seq, i + 1);
    EXPECT_EQ(records[i].payload_bytes, sizes[i]);
    EXPECT_EQ(records[i].file_offset % kSpoolRecordAlignment, 0u) << i;
  }
  for (const SegmentBuffer& b : buffers) pool.Release(b);
}

TEST_F(SpoolWriterDirectIoTest, ARefusedDirectWriteIsWrittenBufferedAndNewFilesStayBuffered) {
  Start();
  if (!writer_->direct()) GTEST_SKIP() << "the temporary folder's file system refuses O_DIRECT";
  // Room for a padded record, but 8 bytes off the alignment O_DIRECT needs
  // in memory: the kernel refuses the write with EINVAL.
  auto* base = static_cast<uint8_t*>(std::aligned_alloc(4096, 3 * 4096));
  ASSERT_NE(base, nullptr);
  Append({.data = base + 8, .capacity = 2 * 4096}, 1, 3000);
  ASSERT_TRUE(CommitAndComplete().ok());
  EXPECT_EQ(durable_, (std::vector<uint64_t>{1}));
  EXPECT_FALSE(writer_->direct());
  EXPECT_FALSE(catalog_->direct_io());

  // Buffered from now on: records are no longer padded, and both read back.
  Append({.data = base + 8, .capacity = 2 * 4096}, 2, 10);
  ASSERT_TRUE(CommitAndComplete().ok());
  EXPECT_EQ(durable_, (std::vector<uint64_t>{1, 2}));
  const std::vector<SpoolRecord> records = ReadBack();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[0].pad_bytes, 4096u - 45 - 3000);
  EXPECT_EQ(records[1].pad_bytes, 0u);
  EXPECT_EQ(records[1].file_offset, 4096u);
  std::free(base);
}

}  // namespace
}  // namespace ingest
