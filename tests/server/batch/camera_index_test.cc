// The CIX1 camera index object: round trip over several batches, every
// truncation and flipped bit is DataLoss, and the bounds on what it encodes.
#include "server/batch/camera_index.h"

#include <string>
#include <vector>

#include "common/byte_codec.h"
#include "common/crc32c.h"
#include "gtest/gtest.h"

namespace ingest {
namespace {

constexpr int64_t kT0 = 1795870800000000;  // 2026-11-28T13:00:00Z

std::vector<SegmentLocation> Entries() {
  const std::string batches[] = {"dev/batches/0a/2026-11-28/13/00000000000000aa-000000000001.cbt",
                                 "dev/batches/f3/2026-11-28/13/00000000000000aa-000000000002.cbt",
                                 "dev/batches/7c/2026-11-28/13/00000000000000bb-000000000001.cbt"};
  std::vector<SegmentLocation> entries;
  for (uint64_t seq = 1; seq <= 7; ++seq) {
    SegmentLocation e;
    e.camera = "ignored";
    e.batch_key = batches[seq % 3];
    e.seq = seq;
    e.capture_start_us = kT0 + static_cast<int64_t>(seq) * 2000000 - 5;
    e.duration_us = 2000000;
    e.flags = static_cast<uint8_t>(seq);
    e.offset = 16 + seq * 1000;
    e.length = static_cast<uint32_t>(900 + seq);
    e.crc32c = static_cast<uint32_t>(0x9e3779b9u * seq);
    entries.push_back(e);
  }
  return entries;
}

// A CIX1 object written by hand (valid CRC), for contents Encode refuses.
std::vector<uint8_t> HandMade(std::string_view camera, const std::vector<std::string>& batches, uint32_t entry_batch,
                              uint32_t claimed_entries, uint32_t real_entries) {
  std::vector<uint8_t> out;
  ByteWriter w(&out);
  w.Bytes("CIX1");
  w.U16(1);
  w.U16(0);
  w.String8(camera);
  w.U32(static_cast<uint32_t>(batches.size()));
  for (const std::string& b : batches) w.String16(b);
  w.U32(claimed_entries);
  for (uint32_t i = 0; i < real_entries; ++i) {
    w.U32(entry_batch);
    w.U64(i + 1);
    w.I64(kT0);
    w.U32(1);
    w.U8(0);
    w.U64(16);
    w.U32(1);
    w.U32(0);
  }
  w.U32(Crc32c({out.data(), out.size()}));
  return out;
}

TEST(CameraIndexTest, RoundTripsAcrossSeveralBatches) {
  const std::vector<SegmentLocation> entries = Entries();
  absl::StatusOr<std::vector<uint8_t>> bytes = EncodeCameraIndex("cam-0001", entries);
  ASSERT_TRUE(bytes.ok()) << bytes.status();
  absl::StatusOr<CameraIndex> index = DecodeCameraIndex(*bytes);
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_EQ(index->camera, "cam-0001");
  ASSERT_EQ(index->entries.size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const SegmentLocation& got = index->entries[i];
    const SegmentLocation& want = entries[i];
    EXPECT_EQ(got.camera, "cam-0001");  // the index's camera, not the input's
    EXPECT_EQ(got.batch_key, want.batch_key);
    EXPECT_EQ(got.seq, want.seq);
    EXPECT_EQ(got.capture_start_us, want.capture_start_us);
    EXPECT_EQ(got.duration_us, want.duration_us);
    EXPECT_EQ(got.flags, want.flags);
    EXPECT_EQ(got.offset, want.offset);
    EXPECT_EQ(got.length, want.length);
    EXPECT_EQ(got.crc32c, want.crc32c);
  }
}

TEST(CameraIndexTest, EveryTruncationIsDataLoss) {
  const std::vector<uint8_t> bytes = *EncodeCameraIndex("cam-0001", Entries());
  for (size_t size = 0; size < bytes.size(); ++size) {
    absl::StatusOr<CameraIndex> index = DecodeCameraIndex(absl::Span<const uint8_t>(bytes.data(), size));
    EXPECT_TRUE(absl::IsDataLoss(index.status())) << size << ": " << index.status();
  }
  std::vector<uint8_t> longer = bytes;
  longer.push_back(0);
  EXPECT_TRUE(absl::IsDataLoss(DecodeCameraIndex(longer).status()));
}

TEST(CameraIndexTest, EveryFlippedBitIsDataLoss) {
  const std::vector<uint8_t> bytes = *EncodeCameraIndex("cam-0001", Entries());
  for (size_t byte = 0; byte < bytes.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> bad = bytes;
      bad[byte] ^= static_cast<uint8_t>(1u << bit);
      absl::StatusOr<CameraIndex> index = DecodeCameraIndex(bad);
      EXPECT_TRUE(absl::IsDataLoss(index.status())) << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(CameraIndexTest, EncodeBounds) {
  const std::vector<SegmentLocation> entries = Entries();
  EXPECT_TRUE(absl::IsInvalidArgument(EncodeCameraIndex("", entries).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(EncodeCameraIndex(std::string(256, 'c'), entries).status()));
  EXPECT_TRUE(EncodeCameraIndex(std::string(255, 'c'), entries).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(EncodeCameraIndex("cam", {}).status()));
  std::vector<SegmentLocation> bad = entries;
  bad[3].batch_key.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(EncodeCameraIndex("cam", bad).status()));
  bad = entries;
  bad[3].batch_key.assign(0x10000, 'k');
  EXPECT_TRUE(absl::IsInvalidArgument(EncodeCameraIndex("cam", bad).status()));
}

TEST(CameraIndexTest, DecodeBounds) {
  const std::vector<std::string> one = {"dev/batches/00/2026-11-28/13/x.cbt"};
  EXPECT_TRUE(DecodeCameraIndex(HandMade("cam", one, 0, 2, 2)).ok());
  // Entry naming a batch that is not in the table.
  EXPECT_TRUE(absl::IsDataLoss(DecodeCameraIndex(HandMade("cam", one, 1, 2, 2)).status()));
  // Entry count disagreeing with the bytes, either way, and zero.
  EXPECT_TRUE(absl::IsDataLoss(DecodeCameraIndex(HandMade("cam", one, 0, 3, 2)).status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeCameraIndex(HandMade("cam", one, 0, 1, 2)).status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeCameraIndex(HandMade("cam", one, 0, 0, 0)).status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeCameraIndex(HandMade("cam", one, 0, 0xffffffff, 2)).status()));
  // Empty camera, no batches, an empty batch key.
  EXPECT_TRUE(absl::IsDataLoss(DecodeCameraIndex(HandMade("", one, 0, 1, 1)).status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeCameraIndex(HandMade("cam", {}, 0, 1, 1)).status()));
  EXPECT_TRUE(absl::IsDataLoss(DecodeCameraIndex(HandMade("cam", {""}, 0, 1, 1)).status()));
  // Larger than any index we write: refused before its CRC is computed.
  std::vector<uint8_t> huge(kMaxCameraIndexBytes + 1);
  EXPECT_TRUE(absl::IsDataLoss(DecodeCameraIndex(huge).status()));
}

}  // namespace
}  // namespace ingest
