// AlignedFileRead returns exactly the bytes asked for, whatever their
// alignment, from descriptors opened with and without O_DIRECT; and a spool
// reader that skips payloads still walks every record.
#include "server/spool/aligned_file_read.h"

#include <fcntl.h>
#include <unistd.h>

#include <fstream>
#include <optional>
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

std::vector<uint8_t> Pattern(size_t bytes) {
  std::vector<uint8_t> out(bytes);
  for (size_t i = 0; i < bytes; ++i) out[i] = static_cast<uint8_t>(i * 131 + i / 4096);
  return out;
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes) {
  std::ofstream(path, std::ios::binary | std::ios::trunc)
      .write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
}

struct Fd {
  int fd;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

// O_DIRECT where the file system takes it (the test's temp dir normally
// does); plain otherwise, which the reader must handle the same way.
int OpenForRead(const std::string& path, bool direct) {
  int fd = direct ? open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT) : -1;
  if (fd < 0) fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  return fd;
}

class AlignedFileReadTest : public ::testing::TestWithParam<bool> {};

TEST_P(AlignedFileReadTest, ReturnsExactlyTheRangeAskedForAtAnyAlignment) {
  TempDir dir;
  const std::string path = dir.path() + "/file";
  const std::vector<uint8_t> bytes = Pattern(5 * 4096 + 123);  // ends inside a block
  WriteFile(path, bytes);
  Fd file{OpenForRead(path, GetParam())};
  ASSERT_GE(file.fd, 0);
  AlignedFileRead read;
  struct Range {
    uint64_t offset;
    size_t length;
  };
  for (const Range r : {Range{0, 4096}, Range{1, 1}, Range{4095, 2}, Range{100, 3 * 4096}, Range{8192, 4096},
                        Range{5 * 4096 + 100, 23}, Range{3, bytes.size() - 3}}) {
    absl::StatusOr<absl::Span<const uint8_t>> got = read.Read(file.fd, path, r.offset, r.length);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), r.length) << "at " << r.offset;
    EXPECT_TRUE(std::equal(got->begin(), got->end(), bytes.begin() + static_cast<ptrdiff_t>(r.offset)))
        << "at " << r.offset;
  }
}

TEST_P(AlignedFileReadTest, ARangePastTheEndOfTheFileReadsShort) {
  TempDir dir;
  const std::string path = dir.path() + "/file";
  const std::vector<uint8_t> bytes = Pattern(4096 + 10);
  WriteFile(path, bytes);
  Fd file{OpenForRead(path, GetParam())};
  ASSERT_GE(file.fd, 0);
  AlignedFileRead read;
  absl::StatusOr<absl::Span<const uint8_t>> tail = read.Read(file.fd, path, 4000, 500);
  ASSERT_TRUE(tail.ok()) << tail.status();
  EXPECT_EQ(tail->size(), 106u);
  EXPECT_TRUE(std::equal(tail->begin(), tail->end(), bytes.begin() + 4000));
  absl::StatusOr<absl::Span<const uint8_t>> beyond = read.Read(file.fd, path, 9000, 10);
  ASSERT_TRUE(beyond.ok()) << beyond.status();
  EXPECT_TRUE(beyond->empty());
}

TEST_P(AlignedFileReadTest, TheBufferGrowsToTheLargestReadAndStays) {
  TempDir dir;
  const std::string path = dir.path() + "/file";
  WriteFile(path, Pattern(64 << 10));
  Fd file{OpenForRead(path, GetParam())};
  ASSERT_GE(file.fd, 0);
  AlignedFileRead read;
  ASSERT_TRUE(read.Read(file.fd, path, 10, 40 << 10).ok());
  const size_t grown = read.capacity();
  EXPECT_GE(grown, size_t{40} << 10);
  ASSERT_TRUE(read.Read(file.fd, path, 0, 100).ok());
  EXPECT_EQ(read.capacity(), grown);
}

INSTANTIATE_TEST_SUITE_P(DirectAndBuffered, AlignedFileReadTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) { return info.param ? "Direct" : "Buffered"; });

std::vector<uint8_t> Record(const std::string& camera, uint64_t seq, size_t payload_bytes) {
  const std::vector<uint8_t> payload = Pattern(payload_bytes);
  SpoolRecordMeta meta{.camera_id = camera, .seq = seq, .capture_start_us = 0, .duration_us = 1000, .flags = 0,
                       .payload_bytes = uint32_t(payload_bytes), .payload_crc = Crc32c(payload)};
  std::vector<uint8_t> out(SpoolRecordHeaderBytes(camera.size()));
  EncodeSpoolRecordHeader(meta, absl::MakeSpan(out));
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

TEST(SpoolFileReaderSkipTest, SkippingPayloadsWalksEveryRecordAndLeavesTheirCheckToTheCaller) {
  TempDir dir;
  const std::string path = dir.path() + "/spool";
  std::vector<uint8_t> bytes;
  for (uint64_t seq = 1; seq <= 4; ++seq) {
    const std::vector<uint8_t> r = Record("cam-1", seq, seq * 7000);  // records larger than the buffer
    bytes.insert(bytes.end(), r.begin(), r.end());
  }
  // Seq 2's payload rots: a header-only reader does not notice, the full one does.
  bytes[Record("cam-1", 1, 7000).size() + SpoolRecordHeaderBytes(5) + 5] ^= 0x40;
  WriteFile(path, bytes);
  Fd file{OpenForRead(path, /*direct=*/true)};
  ASSERT_GE(file.fd, 0);

  SpoolFileReader skip(file.fd, path, 0, bytes.size(), 4096, SpoolPayloadCheck::kSkip);
  std::vector<uint64_t> seqs;
  while (true) {
    absl::StatusOr<std::optional<SpoolRecord>> next = skip.Next();
    ASSERT_TRUE(next.ok()) << next.status();
    if (!next->has_value()) break;
    seqs.push_back((*next)->seq);
  }
  EXPECT_EQ(seqs, (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(skip.offset(), bytes.size());

  SpoolFileReader verify(file.fd, path, 0, bytes.size(), 4096);
  ASSERT_TRUE(verify.Next().ok());
  absl::StatusOr<std::optional<SpoolRecord>> rotten = verify.Next();
  EXPECT_TRUE(absl::IsDataLoss(rotten.status())) << rotten.status();
}

}  // namespace
}  // namespace ingest
