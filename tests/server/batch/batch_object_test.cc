// The CBT1 batch object: round trip, and that every truncation or flipped bit
// in its trailer and index is caught, and that no entry may point outside the
// payloads.
#include "server/batch/batch_object.h"

#include <string>
#include <vector>

#include "common/byte_codec.h"
#include "common/crc32c.h"
#include "gtest/gtest.h"

namespace ingest {
namespace {

struct Decoded {
  absl::Status status;
  std::vector<SegmentLocation> entries;
};

// Decodes `object` the way a reader does: trailer from the last 16 bytes,
// then the index it points at.
Decoded Decode(const std::vector<uint8_t>& object) {
  if (object.size() < kBatchTrailerBytes) return {absl::DataLossError("short"), {}};
  absl::Span<const uint8_t> all(object);
  absl::StatusOr<BatchTrailer> trailer =
      DecodeBatchTrailer(all.subspan(object.size() - kBatchTrailerBytes), object.size());
  if (!trailer.ok()) return {trailer.status(), {}};
  absl::StatusOr<std::vector<SegmentLocation>> index =
      DecodeBatchIndex(all.subspan(trailer->index_offset, trailer->index_bytes), *trailer);
  if (!index.ok()) return {index.status(), {}};
  return {absl::OkStatus(), *index};
}

// Three segments of two cameras, payloads filled with 'a'..'c' (never "CBT1").
std::vector<uint8_t> MakeObject(std::vector<SegmentLocation>* entries_out = nullptr) {
  std::vector<uint8_t> object(kBatchHeaderBytes);
  std::vector<SegmentLocation> entries;
  const char* cameras[] = {"cam-1", "cam-2", "cam-1"};
  for (int i = 0; i < 3; ++i) {
    std::vector<uint8_t> payload(40 + 10 * i, static_cast<uint8_t>('a' + i));
    SegmentLocation e;
    e.camera = cameras[i];
    e.seq = 7 + i;
    e.capture_start_us = 1795870800000000 + i * 2000000;
    e.duration_us = 2000000;
    e.flags = static_cast<uint8_t>(i);
    e.offset = object.size();
    e.length = static_cast<uint32_t>(payload.size());
    e.crc32c = Crc32c(payload);
    object.insert(object.end(), payload.begin(), payload.end());
    entries.push_back(e);
  }
  EXPECT_TRUE(FinishBatchObject(object, entries).ok());
  if (entries_out != nullptr) *entries_out = entries;
  return object;
}

TEST(BatchObjectTest, WholeObjectCrcFromThePayloadCrcs) {
  std::vector<SegmentLocation> entries;
  const std::vector<uint8_t> object = MakeObject(&entries);
  const uint64_t index_offset = entries.back().offset + entries.back().length;
  uint32_t payloads = 0;
  for (const SegmentLocation& e : entries) payloads = Crc32cCombine(payloads, e.crc32c, e.length);
  EXPECT_EQ(FinishedBatchObjectCrc32c(object, index_offset, payloads), Crc32c(object));
  EXPECT_NE(FinishedBatchObjectCrc32c(object, index_offset, payloads ^ 1), Crc32c(object));
}

// The sealer reserves FinishedBatchObjectBytes before reading payloads: the
// finished object is exactly that size, so finishing it never reallocates
// (a reallocation doubled a 16 MiB batch's memory while it uploaded).
TEST(BatchObjectTest, FinishedSizeIsKnownBeforehandSoFinishingNeverReallocates) {
  std::vector<SegmentLocation> entries;
  const std::vector<uint8_t> made = MakeObject(&entries);
  uint64_t payload_bytes = 0;
  uint64_t camera_id_bytes = 0;
  for (const SegmentLocation& e : entries) {
    payload_bytes += e.length;
    camera_id_bytes += e.camera.size();
  }
  const uint64_t finished = FinishedBatchObjectBytes(payload_bytes, entries.size(), camera_id_bytes);
  EXPECT_EQ(made.size(), finished);

  std::vector<uint8_t> object;
  object.reserve(finished);
  object.assign(made.begin(), made.begin() + static_cast<std::ptrdiff_t>(kBatchHeaderBytes + payload_bytes));
  const uint8_t* before = object.data();
  ASSERT_TRUE(FinishBatchObject(object, entries).ok());
  EXPECT_EQ(object.data(), before);
  EXPECT_EQ(object.size(), finished);
  EXPECT_EQ(object, made);
}

void ExpectSame(const SegmentLocation& a, const SegmentLocation& b) {
  EXPECT_EQ(a.camera, b.camera);
  EXPECT_EQ(a.seq, b.seq);
  EXPECT_EQ(a.capture_start_us, b.capture_start_us);
  EXPECT_EQ(a.duration_us, b.duration_us);
  EXPECT_EQ(a.flags, b.flags);
  EXPECT_EQ(a.offset, b.offset);
  EXPECT_EQ(a.length, b.length);
  EXPECT_EQ(a.crc32c, b.crc32c);
}

TEST(BatchObjectTest, RoundTrips) {
  std::vector<SegmentLocation> entries;
  const std::vector<uint8_t> object = MakeObject(&entries);
  EXPECT_EQ(std::string(object.begin(), object.begin() + 4), "CBT1");
  EXPECT_EQ(std::string(object.end() - 4, object.end()), "CBT1");
  Decoded decoded = Decode(object);
  ASSERT_TRUE(decoded.status.ok()) << decoded.status;
  ASSERT_EQ(decoded.entries.size(), entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    ExpectSame(decoded.entries[i], entries[i]);
    EXPECT_TRUE(decoded.entries[i].batch_key.empty());
    const SegmentLocation& e = decoded.entries[i];
    EXPECT_EQ(Crc32c({object.data() + e.offset, e.length}), e.crc32c);
  }
}

TEST(BatchObjectTest, EveryTruncationIsDetected) {
  const std::vector<uint8_t> object = MakeObject();
  for (size_t size = 0; size < object.size(); ++size) {
    const std::vector<uint8_t> cut(object.begin(), object.begin() + size);
    EXPECT_FALSE(Decode(cut).status.ok()) << "object cut to " << size << " bytes";
  }
  // An index span shorter or longer than the trailer says.
  absl::Span<const uint8_t> all(object);
  absl::StatusOr<BatchTrailer> trailer = DecodeBatchTrailer(all.subspan(object.size() - 16), object.size());
  ASSERT_TRUE(trailer.ok());
  for (size_t n = 0; n < trailer->index_bytes; ++n) {
    EXPECT_FALSE(DecodeBatchIndex(all.subspan(trailer->index_offset, n), *trailer).ok()) << n;
  }
  EXPECT_FALSE(DecodeBatchIndex(all.subspan(trailer->index_offset, trailer->index_bytes + 1), *trailer).ok());
}

TEST(BatchObjectTest, EveryFlippedBitInTrailerOrIndexIsDetected) {
  std::vector<SegmentLocation> entries;
  const std::vector<uint8_t> object = MakeObject(&entries);
  const size_t index_offset = entries.back().offset + entries.back().length;
  for (size_t byte = index_offset; byte < object.size(); ++byte) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<uint8_t> bad = object;
      bad[byte] ^= static_cast<uint8_t>(1u << bit);
      EXPECT_FALSE(Decode(bad).status.ok()) << "byte " << byte << " bit " << bit;
    }
  }
}

TEST(BatchObjectTest, FinishRejectsEntriesOutsideThePayloads) {
  std::vector<SegmentLocation> entries;
  const std::vector<uint8_t> good = MakeObject(&entries);
  const std::vector<uint8_t> payloads(good.begin(), good.begin() + entries.back().offset + entries.back().length);
  auto finish = [&](const std::vector<SegmentLocation>& list) {
    std::vector<uint8_t> object = payloads;
    return FinishBatchObject(object, list);
  };
  EXPECT_TRUE(finish(entries).ok());
  std::vector<SegmentLocation> bad = entries;
  bad[0].offset = kBatchHeaderBytes - 1;  // inside the header
  EXPECT_TRUE(absl::IsInvalidArgument(finish(bad)));
  bad = entries;
  bad[2].length += 1;  // one byte past the payloads
  EXPECT_TRUE(absl::IsInvalidArgument(finish(bad)));
  bad = entries;
  bad[1].offset = payloads.size() + 1;
  bad[1].length = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(finish(bad)));
  bad = entries;
  bad[1].offset = UINT64_MAX;
  bad[1].length = 2;  // offset + length wraps
  EXPECT_TRUE(absl::IsInvalidArgument(finish(bad)));
  bad = entries;
  bad[0].camera.clear();
  EXPECT_TRUE(absl::IsInvalidArgument(finish(bad)));
  bad = entries;
  bad[0].camera.assign(256, 'c');
  EXPECT_TRUE(absl::IsInvalidArgument(finish(bad)));
  EXPECT_TRUE(absl::IsInvalidArgument(finish({})));
  std::vector<uint8_t> no_header(kBatchHeaderBytes - 1);
  EXPECT_TRUE(absl::IsInvalidArgument(FinishBatchObject(no_header, entries)));
}

// An index with a valid CRC whose entry points outside the payloads: what a
// buggy writer could leave behind. The reader must refuse it, not read there.
TEST(BatchObjectTest, DecodeRejectsEntriesOutsideThePayloads) {
  auto object_with_entry = [](uint64_t offset, uint32_t length, uint32_t count = 1) {
    std::vector<uint8_t> object(kBatchHeaderBytes + 100, 'p');
    const uint64_t index_offset = object.size();
    ByteWriter w(&object);
    w.U32(count);
    w.String8("cam-1");
    w.U64(1);
    w.I64(0);
    w.U32(0);
    w.U8(0);
    w.U64(offset);
    w.U32(length);
    w.U32(0);
    const uint32_t crc = Crc32c({object.data() + index_offset, object.size() - index_offset});
    w.U64(index_offset);
    w.U32(crc);
    w.Bytes("CBT1");
    return object;
  };
  EXPECT_TRUE(Decode(object_with_entry(kBatchHeaderBytes, 100)).status.ok());
  EXPECT_TRUE(absl::IsDataLoss(Decode(object_with_entry(kBatchHeaderBytes, 101)).status));
  EXPECT_TRUE(absl::IsDataLoss(Decode(object_with_entry(kBatchHeaderBytes - 1, 1)).status));
  EXPECT_TRUE(absl::IsDataLoss(Decode(object_with_entry(UINT64_MAX - 1, 4)).status));
  EXPECT_TRUE(absl::IsDataLoss(Decode(object_with_entry(kBatchHeaderBytes + 200, 0)).status));
  // A count the bytes cannot hold, and one entry short of the count.
  EXPECT_TRUE(absl::IsDataLoss(Decode(object_with_entry(kBatchHeaderBytes, 1, 0xffffffff)).status));
  EXPECT_TRUE(absl::IsDataLoss(Decode(object_with_entry(kBatchHeaderBytes, 1, 2)).status));
  EXPECT_TRUE(absl::IsDataLoss(Decode(object_with_entry(kBatchHeaderBytes, 1, 0)).status));
}

}  // namespace
}  // namespace ingest
