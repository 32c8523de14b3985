#include "server/spool/spool_record.h"

#include <string>
#include <vector>

#include "common/crc32c.h"
#include "gtest/gtest.h"

namespace ingest {
namespace {

std::vector<uint8_t> Encode(const SpoolRecordMeta& meta) {
  std::vector<uint8_t> out(SpoolRecordHeaderBytes(meta.camera_id.size()));
  EncodeSpoolRecordHeader(meta, absl::MakeSpan(out));
  return out;
}

SpoolRecordMeta Meta() {
  return {.camera_id = "cam-0001", .seq = 42, .capture_start_us = 1795870800123456, .duration_us = 2000000,
          .flags = 0x3, .payload_bytes = 1234, .payload_crc = 0xdeadbeef};
}

TEST(SpoolRecordTest, RoundTrips) {
  std::vector<uint8_t> bytes = Encode(Meta());
  ASSERT_EQ(bytes.size(), 48u);
  // "SPR1" in memory order.
  EXPECT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "SPR1");
  absl::StatusOr<SpoolRecord> r = DecodeSpoolRecordHeader(bytes, 4096);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->camera_id, "cam-0001");
  EXPECT_EQ(r->seq, 42u);
  EXPECT_EQ(r->capture_start_us, 1795870800123456);
  EXPECT_EQ(r->duration_us, 2000000u);
  EXPECT_EQ(r->flags, 0x3);
  EXPECT_EQ(r->payload_bytes, 1234u);
  EXPECT_EQ(r->payload_crc, 0xdeadbeefu);
  EXPECT_EQ(r->file_offset, 4096u);
  EXPECT_EQ(r->payload_offset, 4096u + 48);
  EXPECT_EQ(r->end_offset(), 4096u + 48 + 1234);
}

TEST(SpoolRecordTest, HeaderCrcCoversFixedBytesAndCameraId) {
  const std::vector<uint8_t> good = Encode(Meta());
  for (size_t i = 0; i < good.size(); ++i) {
    if (i >= 36 && i < 40) continue;  // the crc itself
    std::vector<uint8_t> bad = good;
    bad[i] ^= 0x01;
    absl::StatusOr<SpoolRecord> r = DecodeSpoolRecordHeader(bad, 0);
    EXPECT_FALSE(r.ok()) << "flipped byte " << i;
    // Byte 29 is the id length: a longer id makes the input look short.
    if (!r.ok() && i != 29) {
      EXPECT_TRUE(absl::IsDataLoss(r.status())) << "byte " << i << ": " << r.status();
    }
  }
}

TEST(SpoolRecordTest, ShortInputIsOutOfRange) {
  const std::vector<uint8_t> good = Encode(Meta());
  for (size_t n = 0; n < good.size(); ++n) {
    absl::StatusOr<SpoolRecord> r = DecodeSpoolRecordHeader(absl::MakeConstSpan(good).first(n), 0);
    ASSERT_FALSE(r.ok());
    EXPECT_TRUE(absl::IsOutOfRange(r.status())) << n << ": " << r.status();
  }
}

TEST(SpoolRecordTest, LongestCameraIdFits) {
  const std::string id(kMaxSpoolCameraIdBytes, 'c');
  SpoolRecordMeta meta = Meta();
  meta.camera_id = id;
  std::vector<uint8_t> bytes = Encode(meta);
  absl::StatusOr<SpoolRecord> r = DecodeSpoolRecordHeader(bytes, 0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->camera_id, id);
}

}  // namespace
}  // namespace ingest
