// The CBT1 decoders on bytes no sealer writes, with valid CRCs so the parser
// itself must refuse them: trailers whose index offset would wrap around,
// absurd segment counts, entries outside the payloads, every truncation.
// Each is DataLoss (or InvalidArgument for a caller's size mismatch), never
// a crash, an overflow or an allocation sized by a claimed count.
#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "common/byte_codec.h"
#include "common/crc32c.h"
#include "common/little_endian.h"
#include "gtest/gtest.h"
#include "server/batch/batch_object.h"

namespace ingest {
namespace {

constexpr uint64_t kU64Max = std::numeric_limits<uint64_t>::max();

// Decodes `object` as a reader does: the trailer, then the index it names.
absl::Status Decode(const std::vector<uint8_t>& object, std::vector<SegmentLocation>* entries = nullptr) {
  if (object.size() < kBatchTrailerBytes) return absl::DataLossError("short");
  absl::Span<const uint8_t> all(object);
  absl::StatusOr<BatchTrailer> trailer = DecodeBatchTrailer(all.last(kBatchTrailerBytes), object.size());
  if (!trailer.ok()) return trailer.status();
  EXPECT_GE(trailer->index_offset, kBatchHeaderBytes);
  EXPECT_EQ(trailer->index_offset + trailer->index_bytes + kBatchTrailerBytes, object.size());
  absl::StatusOr<std::vector<SegmentLocation>> index =
      DecodeBatchIndex(all.subspan(trailer->index_offset, trailer->index_bytes), *trailer);
  if (!index.ok()) return index.status();
  if (entries != nullptr) *entries = *index;
  return absl::OkStatus();
}

struct RawEntry {
  std::string camera = "cam-1";
  uint64_t offset = kBatchHeaderBytes;
  uint32_t length = 4;
};

// (Not designated initializers: GCC 12 warns about every field they leave out.)
RawEntry Entry(std::string camera, uint64_t offset, uint32_t length) { return {std::move(camera), offset, length}; }

// `payload_bytes` of payload after the header, then an index of `entries`
// claiming `count` segments, with a correct CRC, then a trailer naming
// `index_offset` (the real one unless given).
std::vector<uint8_t> Object(uint32_t count, const std::vector<RawEntry>& entries, size_t payload_bytes = 8,
                            std::optional<uint64_t> index_offset = std::nullopt, const std::string& trailing = "") {
  std::vector<uint8_t> object(kBatchHeaderBytes + payload_bytes, 'p');
  const uint64_t real_offset = object.size();
  ByteWriter w(&object);
  w.U32(count);
  uint64_t seq = 1;
  for (const RawEntry& e : entries) {
    w.String8(e.camera);
    w.U64(seq++);
    w.I64(1795870800000000);
    w.U32(2000000);
    w.U8(0);
    w.U64(e.offset);
    w.U32(e.length);
    w.U32(0);
  }
  w.Bytes(trailing);
  const uint32_t crc = Crc32c({object.data() + real_offset, object.size() - real_offset});
  w.U64(index_offset.value_or(real_offset));
  w.U32(crc);
  w.Bytes("CBT1");
  return object;
}

struct BadObject {
  std::string name;
  std::vector<uint8_t> bytes;
};

std::vector<BadObject> BadObjects() {
  const std::vector<RawEntry> one = {RawEntry{}};
  return {
      {"IndexOffsetWrapsAroundOnPlusFour", Object(1, one, 8, kU64Max - 1)},
      {"IndexOffsetIsUint64Max", Object(1, one, 8, kU64Max)},
      {"IndexOffsetPastTheTrailer", Object(1, one, 8, 1000)},
      {"IndexOffsetInsideTheHeader", Object(1, one, 8, 3)},
      {"IndexOffsetLeavesNoRoomForACount", Object(1, one, 8, 24 + 47 - 2)},  // index ends at 24 + 47
      {"ZeroSegments", Object(0, {})},
      {"CountFarAboveTheBytes", Object(0xffffffffu, one)},
      {"CountOneAboveTheEntries", Object(2, one, 8, std::nullopt, std::string(39, '\0'))},
      {"CountBelowTheEntries", Object(1, {RawEntry{}, RawEntry{}})},
      {"EmptyCameraId", Object(1, {Entry("", 16, 4)})},
      {"OffsetInsideTheHeader", Object(1, {Entry("cam-1", 15, 4)})},
      {"OffsetAtTheIndex", Object(1, {Entry("cam-1", 24, 1)})},
      {"LengthPastTheIndex", Object(1, {Entry("cam-1", 16, 9)})},
      {"OffsetNearUint64Max", Object(1, {Entry("cam-1", kU64Max - 2, 0xffffffffu)})},
      {"TrailingBytesAfterTheEntries", Object(1, one, 8, std::nullopt, "x")},
      {"OnlyATrailer", std::vector<uint8_t>{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 'C', 'B', 'T', '1'}},
      {"Empty", {}},
  };
}

TEST(BatchObjectHostileBytesTest, EveryBadObjectIsRefused) {
  for (const BadObject& bad : BadObjects()) {
    const absl::Status status = Decode(bad.bytes);
    EXPECT_TRUE(absl::IsDataLoss(status) || absl::IsInvalidArgument(status)) << bad.name << ": " << status;
  }
}

TEST(BatchObjectHostileBytesTest, TheWellFormedTwinOfTheBadObjectsDecodes) {
  // The same builder with sane values: the cases above fail for their one
  // bad field, not for the builder.
  std::vector<SegmentLocation> entries;
  ASSERT_TRUE(Decode(Object(1, {RawEntry{}}), &entries).ok());
  ASSERT_EQ(entries.size(), 1u);
  EXPECT_EQ(entries[0].offset, kBatchHeaderBytes);
  ASSERT_TRUE(Decode(Object(2, {RawEntry{}, Entry("cam-1", 20, 4)})).ok());
}

TEST(BatchObjectHostileBytesTest, EveryTruncationIsRefused) {
  const std::vector<uint8_t> good = Object(2, {RawEntry{}, Entry("cam-2", 20, 4)});
  ASSERT_TRUE(Decode(good).ok());
  for (size_t size = 0; size < good.size(); ++size) {
    const std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<ptrdiff_t>(size));
    EXPECT_FALSE(Decode(cut).ok()) << size;
  }
}

TEST(BatchObjectHostileBytesTest, RandomIndexBytesWithAMatchingCrcNeverCrash) {
  // Random index bytes, a correct CRC and a trailer pointing at them: the
  // parser alone stands between them and the reader. Fixed seed.
  std::mt19937_64 random(20261128);
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> object(kBatchHeaderBytes + 64, 'p');
    const size_t index_offset = object.size();
    const size_t index_bytes = 4 + random() % 200;
    for (size_t i = 0; i < index_bytes; ++i) object.push_back(static_cast<uint8_t>(random()));
    // Small counts and camera lengths now and then, so some entries parse.
    if (round % 2 == 0) StoreLittleEndian<uint32_t>(object.data() + index_offset, 1 + random() % 3);
    if (round % 4 == 0) object[index_offset + 4] = static_cast<uint8_t>(random() % 8);
    ByteWriter w(&object);
    w.U64(index_offset);
    w.U32(Crc32c({object.data() + index_offset, index_bytes}));
    w.Bytes("CBT1");
    std::vector<SegmentLocation> entries;
    const absl::Status status = Decode(object, &entries);
    if (!status.ok()) {
      EXPECT_TRUE(absl::IsDataLoss(status)) << status;
      continue;
    }
    for (const SegmentLocation& e : entries) {
      EXPECT_GE(e.offset, kBatchHeaderBytes);
      EXPECT_LE(e.offset + e.length, index_offset);
    }
  }
}

}  // namespace
}  // namespace ingest
