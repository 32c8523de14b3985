#include "server/store/segment_pack.h"

#include <string>
#include <vector>

#include "common/crc32c.h"
#include "gtest/gtest.h"

namespace ingest {
namespace {

struct Fixture {
  std::vector<std::vector<uint8_t>> payloads;
  std::vector<PackSegment> segments;
};

Fixture MakeSegments(int count) {
  Fixture f;
  f.payloads.resize(count);
  for (int i = 0; i < count; ++i) {
    f.payloads[i].assign(size_t(100 * i + 1), static_cast<uint8_t>(i + 1));
  }
  for (int i = 0; i < count; ++i) {
    f.segments.push_back({.seq = uint64_t(10 + i), .capture_start_us = 1000 * i, .duration_us = 1000,
                          .flags = uint8_t(i % 2), .crc32c = Crc32c(f.payloads[i]), .payload = f.payloads[i]});
  }
  return f;
}

TEST(SegmentPackTest, RoundTripsIndexAndPayloads) {
  Fixture f = MakeSegments(4);
  absl::StatusOr<std::vector<uint8_t>> pack = EncodePack("cam-7", f.segments);
  ASSERT_TRUE(pack.ok()) << pack.status();
  EXPECT_EQ(std::string(pack->begin(), pack->begin() + 4), "CPK1");

  absl::StatusOr<size_t> header = PackHeaderBytes(absl::MakeConstSpan(*pack).first(kPackFixedBytes));
  ASSERT_TRUE(header.ok());
  EXPECT_EQ(*header, kPackFixedBytes + 5 + 4 * kPackIndexEntryBytes + 4);

  absl::StatusOr<PackIndex> index = DecodePackIndex(absl::MakeConstSpan(*pack).first(*header), pack->size());
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->camera_id, "cam-7");
  EXPECT_EQ(index->header_bytes, *header);
  ASSERT_EQ(index->entries.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    const PackEntry& e = index->entries[i];
    EXPECT_EQ(e.seq, 10 + i);
    EXPECT_EQ(e.capture_start_us, int64_t(1000 * i));
    EXPECT_EQ(e.duration_us, 1000u);
    EXPECT_EQ(e.flags, i % 2);
    EXPECT_EQ(e.crc32c, Crc32c(f.payloads[i]));
    std::vector<uint8_t> payload(pack->begin() + e.offset, pack->begin() + e.offset + e.length);
    EXPECT_EQ(payload, f.payloads[i]);
  }
}

TEST(SegmentPackTest, DetectsCorruptOrShortHeaders) {
  Fixture f = MakeSegments(2);
  std::vector<uint8_t> pack = *EncodePack("cam-7", f.segments);
  const size_t header = *PackHeaderBytes(pack);
  EXPECT_TRUE(absl::IsOutOfRange(PackHeaderBytes(absl::MakeConstSpan(pack).first(10)).status()));
  EXPECT_TRUE(absl::IsOutOfRange(DecodePackIndex(absl::MakeConstSpan(pack).first(header - 1), pack.size()).status()));
  for (size_t i = 0; i < header; ++i) {
    std::vector<uint8_t> bad = pack;
    bad[i] ^= 0x10;
    absl::StatusOr<PackIndex> index = DecodePackIndex(bad, bad.size());
    EXPECT_FALSE(index.ok() && index->header_bytes == header && index->camera_id == "cam-7" &&
                 index->entries[0].seq == 10)
        << "flipped header byte " << i << " went unnoticed";
  }
  // An object cut short: payload ranges past its end.
  EXPECT_TRUE(absl::IsDataLoss(DecodePackIndex(pack, pack.size() - 1).status()));
}

TEST(SegmentPackTest, RejectsBadInput) {
  Fixture f = MakeSegments(1);
  EXPECT_FALSE(EncodePack("", f.segments).ok());
  EXPECT_FALSE(EncodePack(std::string(129, 'c'), f.segments).ok());
  EXPECT_FALSE(EncodePack("cam", {}).ok());
  std::vector<uint8_t> garbage(64, 0xAB);
  EXPECT_TRUE(absl::IsDataLoss(PackHeaderBytes(garbage).status()));
}

}  // namespace
}  // namespace ingest
