// The CIX1 decoder on bytes no sealer writes, each with a valid CRC so the
// parser itself must refuse them: absurd batch and entry counts, keys longer
// than any object key, a table that would expand into gigabytes, every
// truncation. DataLoss every time, and nothing allocated from a claimed count.
#include <cstdint>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "common/byte_codec.h"
#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "server/batch/camera_index.h"
#include "server/store/object_store.h"

namespace ingest {
namespace {

const std::string kKey = "dev/batches/0a/2026-11-28/13/00000000000000aa-000000000001.cbt";

struct Layout {
  std::string camera = "cam-1";
  uint32_t batch_count = 1;
  std::vector<std::string> keys = {kKey};
  uint32_t entry_count = 1;
  uint32_t entries = 1;
  uint32_t entry_batch = 0;
  std::string trailing;
};

// The default layout with `edit` applied. (Not designated initializers:
// GCC 12 warns about every field they leave out.)
Layout With(const std::function<void(Layout&)>& edit) {
  Layout layout;
  edit(layout);
  return layout;
}

// A CIX1 object as `layout` says, with a CRC that matches.
std::vector<uint8_t> Build(const Layout& layout) {
  std::vector<uint8_t> out;
  ByteWriter w(&out);
  w.Bytes("CIX1");
  w.U16(1);
  w.U16(0);
  w.String8(layout.camera);
  w.U32(layout.batch_count);
  for (const std::string& key : layout.keys) w.String16(key);
  w.U32(layout.entry_count);
  for (uint32_t i = 0; i < layout.entries; ++i) {
    w.U32(layout.entry_batch);
    w.U64(i + 1);
    w.I64(std::numeric_limits<int64_t>::max());  // values are the reader's to judge, not the decoder's
    w.U32(0xffffffffu);
    w.U8(0xff);
    w.U64(std::numeric_limits<uint64_t>::max());
    w.U32(0xffffffffu);
    w.U32(0);
  }
  w.Bytes(layout.trailing);
  w.U32(Crc32c({out.data(), out.size()}));
  return out;
}

std::vector<uint8_t> WithFreshCrc(std::vector<uint8_t> bytes) {
  if (bytes.size() < 4) return bytes;
  const size_t body = bytes.size() - 4;
  StoreLittleEndian<uint32_t>(bytes.data() + body, Crc32c({bytes.data(), body}));
  return bytes;
}

struct BadIndex {
  std::string name;
  Layout layout;
};

std::vector<BadIndex> BadIndexes() {
  return {
      {"BatchCountUint32Max", With([](Layout& l) { l.batch_count = 0xffffffffu; })},
      {"BatchCountAboveTheBytes", With([](Layout& l) { l.batch_count = 40; })},
      {"BatchCountZero", With([](Layout& l) {
         l.batch_count = 0;
         l.keys = {};
       })},
      {"BatchKeyLongerThanAnyObjectKey", With([](Layout& l) { l.keys = {std::string(kMaxObjectKeyBytes + 1, 'k')}; })},
      {"EmptyBatchKey", With([](Layout& l) { l.keys = {""}; })},
      {"EntryCountUint32Max", With([](Layout& l) { l.entry_count = 0xffffffffu; })},
      {"EntryCountAboveTheLimit", With([](Layout& l) {
         l.entry_count = kMaxCameraIndexEntries + 1;
         l.entries = 1;
       })},
      {"EntryCountBelowTheEntries", With([](Layout& l) {
         l.entry_count = 1;
         l.entries = 2;
       })},
      {"EntryNamesNoBatch", With([](Layout& l) { l.entry_batch = 1; })},
      {"EntryNamesBatchUint32Max", With([](Layout& l) { l.entry_batch = 0xffffffffu; })},
      {"EmptyCamera", With([](Layout& l) { l.camera = ""; })},
      {"TrailingByte", With([](Layout& l) { l.trailing = "x"; })},
  };
}

TEST(CameraIndexHostileBytesTest, EveryBadIndexIsDataLoss) {
  for (const BadIndex& bad : BadIndexes()) {
    absl::StatusOr<CameraIndex> index = DecodeCameraIndex(Build(bad.layout));
    EXPECT_TRUE(absl::IsDataLoss(index.status())) << bad.name << ": " << index.status();
  }
  // The builder's own defaults decode, and keep even impossible values as stored.
  absl::StatusOr<CameraIndex> good = DecodeCameraIndex(Build({}));
  ASSERT_TRUE(good.ok()) << good.status();
  ASSERT_EQ(good->entries.size(), 1u);
  EXPECT_EQ(good->entries[0].capture_start_us, std::numeric_limits<int64_t>::max());
  EXPECT_EQ(good->entries[0].batch_key, kKey);
  EXPECT_TRUE(DecodeCameraIndex(Build(With([](Layout& l) { l.keys = {std::string(kMaxObjectKeyBytes, 'k')}; }))).ok());
}

TEST(CameraIndexHostileBytesTest, ATableThatWouldExpandPastTheLimitIsRefusedBeforeDecoding) {
  // 1 KiB keys named by ~210,000 entries: 8.6 MB of index that would copy
  // into over 256 MiB of strings.
  constexpr uint32_t entries = static_cast<uint32_t>(kMaxCameraIndexDecodedBytes / (kMaxObjectKeyBytes + 5)) + 1;
  absl::StatusOr<CameraIndex> index = DecodeCameraIndex(Build(With([](Layout& l) {
    l.keys = {std::string(kMaxObjectKeyBytes, 'k')};
    l.entry_count = entries;
    l.entries = entries;
  })));
  EXPECT_TRUE(absl::IsDataLoss(index.status())) << index.status();
  EXPECT_NE(index.status().message().find("expand"), absl::string_view::npos) << index.status();
}

TEST(CameraIndexHostileBytesTest, EveryTruncationWithARecomputedCrcIsDataLoss) {
  const std::vector<uint8_t> good = Build(With([](Layout& l) {
    l.batch_count = 2;
    l.keys = {kKey, "dev/batches/x.cbt"};
    l.entry_count = 3;
    l.entries = 3;
    l.entry_batch = 1;
  }));
  ASSERT_TRUE(DecodeCameraIndex(good).ok());
  for (size_t size = 0; size + 4 < good.size(); ++size) {
    std::vector<uint8_t> cut(good.begin(), good.begin() + static_cast<ptrdiff_t>(size));
    cut.resize(size + 4);
    EXPECT_TRUE(absl::IsDataLoss(DecodeCameraIndex(WithFreshCrc(cut)).status())) << size;
  }
}

TEST(CameraIndexHostileBytesTest, MutatedIndexesWithAFreshCrcNeverCrashAndRoundTripWhenAccepted) {
  const std::vector<uint8_t> good = Build(With([](Layout& l) {
    l.batch_count = 2;
    l.keys = {kKey, "dev/batches/x.cbt"};
    l.entry_count = 3;
    l.entries = 3;
    l.entry_batch = 1;
  }));
  std::mt19937_64 random(20261128);  // fixed seed: the same mutations every run
  for (int round = 0; round < 20000; ++round) {
    std::vector<uint8_t> bytes = good;
    for (int flips = 1 + static_cast<int>(random() % 4); flips > 0; --flips) {
      bytes[random() % (bytes.size() - 4)] = static_cast<uint8_t>(random());
    }
    absl::StatusOr<CameraIndex> index = DecodeCameraIndex(WithFreshCrc(bytes));
    if (!index.ok()) {
      EXPECT_TRUE(absl::IsDataLoss(index.status())) << index.status();
      continue;
    }
    absl::StatusOr<std::vector<uint8_t>> again = EncodeCameraIndex(index->camera, index->entries);
    ASSERT_TRUE(again.ok()) << again.status();
    absl::StatusOr<CameraIndex> decoded_again = DecodeCameraIndex(*again);
    ASSERT_TRUE(decoded_again.ok()) << decoded_again.status();
    ASSERT_EQ(decoded_again->entries.size(), index->entries.size());
    for (size_t i = 0; i < index->entries.size(); ++i) {
      EXPECT_EQ(decoded_again->entries[i].batch_key, index->entries[i].batch_key);
      EXPECT_EQ(decoded_again->entries[i].seq, index->entries[i].seq);
      EXPECT_EQ(decoded_again->entries[i].capture_start_us, index->entries[i].capture_start_us);
    }
  }
}

}  // namespace
}  // namespace ingest
