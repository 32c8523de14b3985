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

namespace ingest {
namespace {

TEST(SpoolPaddedRecordTest, PaddingRewritesTheHeaderAsSpr2AndZeroesUpToTheAlignment) {
  const SpoolRecordMeta meta = Meta();  // 48 header bytes + 1234 payload bytes
  std::vector<uint8_t> buffer(2 * kSpoolRecordAlignment, 0xee);
  EncodeSpoolRecordHeader(meta, absl::MakeSpan(buffer));
  const size_t record_bytes = 48 + 1234;
  ASSERT_EQ(PadSpoolRecord(absl::MakeSpan(buffer), record_bytes), kSpoolRecordAlignment);
  EXPECT_EQ(std::string(buffer.begin(), buffer.begin() + 4), "SPR2");
  for (size_t i = record_bytes; i < kSpoolRecordAlignment; ++i) ASSERT_EQ(buffer[i], 0) << i;
  EXPECT_EQ(buffer[kSpoolRecordAlignment], 0xee) << "nothing past the padding is touched";
  absl::StatusOr<SpoolRecord> r = DecodeSpoolRecordHeader(buffer, 8192);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->camera_id, "cam-0001");
  EXPECT_EQ(r->seq, 42u);
  EXPECT_EQ(r->payload_bytes, 1234u);
  EXPECT_EQ(r->pad_bytes, kSpoolRecordAlignment - record_bytes);
  EXPECT_EQ(r->payload_offset, 8192u + 48);
  EXPECT_EQ(r->end_offset(), 8192u + kSpoolRecordAlignment);
}

TEST(SpoolPaddedRecordTest, AnAlignedRecordGetsNoPadding) {
  SpoolRecordMeta meta = Meta();
  meta.payload_bytes = static_cast<uint32_t>(kSpoolRecordAlignment - 48);
  std::vector<uint8_t> buffer(kSpoolRecordAlignment);
  EncodeSpoolRecordHeader(meta, absl::MakeSpan(buffer));
  ASSERT_EQ(PadSpoolRecord(absl::MakeSpan(buffer), kSpoolRecordAlignment), kSpoolRecordAlignment);
  absl::StatusOr<SpoolRecord> r = DecodeSpoolRecordHeader(buffer, 0);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->pad_bytes, 0u);
  EXPECT_EQ(r->end_offset(), kSpoolRecordAlignment);
}

// The u16 at offset 30 is SPR1's reserved field and SPR2's padding: SPR1 still
// demands 0, SPR2 refuses a padding of a whole alignment unit or more; both
// under a valid header CRC, so only the field itself is judged.
TEST(SpoolPaddedRecordTest, ReservedFieldAndPaddingAreChecked) {
  for (auto [magic, field, ok] : {std::tuple{kSpoolRecordMagic, 0, true}, {kSpoolRecordMagic, 1, false},
                                  {kSpoolPaddedRecordMagic, 0, true},
                                  {kSpoolPaddedRecordMagic, int(kSpoolRecordAlignment) - 1, true},
                                  {kSpoolPaddedRecordMagic, int(kSpoolRecordAlignment), false}}) {
    std::vector<uint8_t> bytes = Encode(Meta());
    for (int i = 0; i < 4; ++i) bytes[i] = static_cast<uint8_t>(magic >> (8 * i));
    bytes[30] = static_cast<uint8_t>(field);
    bytes[31] = static_cast<uint8_t>(field >> 8);
    uint32_t crc = Crc32cExtend(Crc32cExtend(0, {bytes.data(), 36}), {bytes.data() + 40, 8});
    for (int i = 0; i < 4; ++i) bytes[36 + i] = static_cast<uint8_t>(crc >> (8 * i));
    absl::StatusOr<SpoolRecord> r = DecodeSpoolRecordHeader(bytes, 0);
    EXPECT_EQ(r.ok(), ok) << std::hex << magic << " field " << std::dec << field << ": " << r.status();
    if (!ok) {
      EXPECT_TRUE(absl::IsDataLoss(r.status()));
    }
  }
}

}  // namespace
}  // namespace ingest
