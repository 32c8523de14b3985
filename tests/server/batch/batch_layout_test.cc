// Object keys of the batch layout: batch keys spread over 256 two-hex-digit
// prefixes, index keys in UTC hour folders, clamping of capture times a
// broken camera clock can send, and parsing the hour folders back.
#include "server/batch/batch_layout.h"

#include <cstdint>
#include <limits>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "server/store/object_store.h"

namespace ingest {
namespace {

constexpr int64_t kT0 = 1795870800000000;  // 2026-11-28T13:00:00Z
constexpr int64_t kSecond = 1000000;
constexpr int64_t kLastHour = 253402297200000000;  // 9999-12-31T23:00:00Z

bool IsLowerHex(std::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

TEST(BatchLayoutTest, InstanceIdsAreSixteenHexDigits) {
  const std::string a = NewInstanceId();
  const std::string b = NewInstanceId();
  EXPECT_EQ(a.size(), 16u);
  EXPECT_TRUE(IsLowerHex(a)) << a;
  EXPECT_NE(a, b);
}

TEST(BatchLayoutTest, BatchKeysSpreadOverTwoHexDigitPrefixes) {
  const std::string key = BatchKey("eu1", "00000000000000aa", 7, absl::FromUnixMicros(kT0 + 59 * 60 * kSecond));
  // eu1/batches/xx/2026-11-28/13/00000000000000aa-000000000007.cbt
  ASSERT_EQ(key.size(), std::string("eu1/batches/xx/2026-11-28/13/00000000000000aa-000000000007.cbt").size()) << key;
  EXPECT_EQ(key.substr(0, 12), "eu1/batches/");
  EXPECT_TRUE(IsLowerHex(key.substr(12, 2))) << key;
  EXPECT_EQ(key.substr(14), "/2026-11-28/13/00000000000000aa-000000000007.cbt");
  EXPECT_TRUE(ValidateObjectKey(key).ok());
  EXPECT_EQ(key, BatchKey("eu1", "00000000000000aa", 7, absl::FromUnixMicros(kT0)));  // same hour: same key

  std::set<std::string> spreads;
  for (uint64_t seq = 0; seq < 2000; ++seq) {
    spreads.insert(BatchKey("eu1", "00000000000000aa", seq, absl::FromUnixMicros(kT0)).substr(12, 2));
  }
  EXPECT_GT(spreads.size(), 200u);  // 256 prefixes, nearly all in use
}

TEST(BatchLayoutTest, IndexKeysLiveInUtcHourFolders) {
  EXPECT_EQ(IndexRootPrefix("eu1"), "eu1/index/");
  EXPECT_EQ(CameraIndexPrefix("eu1", "cam-1"), "eu1/index/cam-1/");
  EXPECT_EQ(CameraIndexHourPrefix("eu1", "cam-1", kT0), "eu1/index/cam-1/2026-11-28/13/");
  const std::string key = CameraIndexKey("eu1", "cam-1", kT0, 7, 19, "00000000000000aa");
  EXPECT_EQ(key, "eu1/index/cam-1/2026-11-28/13/00000000000000000007-00000000000000000019-00000000000000aa.cix");
  EXPECT_TRUE(ValidateObjectKey(key).ok());
  EXPECT_EQ(IndexHourStartUs(kT0), kT0);
  EXPECT_EQ(IndexHourStartUs(kT0 + 3600 * kSecond - 1), kT0);
  EXPECT_EQ(IndexHourStartUs(kT0 + 3600 * kSecond), kT0 + 3600 * kSecond);
  EXPECT_EQ(IndexHourStartUs(kT0 - 1), kT0 - 3600 * kSecond);
}

TEST(BatchLayoutTest, IndexObjectsAreNamedByTheirContents) {
  const std::vector<uint8_t> a = {1, 2, 3};
  const std::vector<uint8_t> b = {1, 2, 4};
  const std::string tag = IndexContentTag(a);
  EXPECT_EQ(tag.size(), 16u);
  EXPECT_EQ(tag.find_first_not_of("0123456789abcdef"), std::string::npos) << tag;
  EXPECT_EQ(IndexContentTag(a), tag);  // the same bytes again: the same name
  EXPECT_NE(IndexContentTag(b), tag);
  // SHA-256("") starts e3b0c44298fc1c14: the tag is its first eight bytes.
  EXPECT_EQ(IndexContentTag({}), "e3b0c44298fc1c14");
}

TEST(BatchLayoutTest, ClampsCaptureTimesABrokenClockSends) {
  EXPECT_EQ(IndexKeyTimeUs(-1), 0);
  EXPECT_EQ(IndexKeyTimeUs(std::numeric_limits<int64_t>::min()), 0);
  EXPECT_EQ(IndexHourStartUs(-5), 0);
  EXPECT_EQ(IndexHourStartUs(std::numeric_limits<int64_t>::max()), kLastHour);
  EXPECT_EQ(IndexHourStartUs(kLastHour + 3600 * kSecond), kLastHour);
  EXPECT_EQ(CameraIndexHourPrefix("z", "c", -5), "z/index/c/1970-01-01/00/");
  EXPECT_EQ(CameraIndexHourPrefix("z", "c", std::numeric_limits<int64_t>::max()), "z/index/c/9999-12-31/23/");
  EXPECT_TRUE(ValidateObjectKey(CameraIndexKey("z", "c", std::numeric_limits<int64_t>::max(), 1, 2, "i")).ok());
  const std::string early = BatchKey("z", "i", 1, absl::FromUnixMicros(-5));
  EXPECT_NE(early.find("/1970-01-01/00/"), std::string::npos) << early;
  const std::string late = BatchKey("z", "i", 1, absl::InfiniteFuture());
  EXPECT_NE(late.find("/9999-12-31/23/"), std::string::npos) << late;
}

TEST(BatchLayoutTest, ParsesHourFolders) {
  EXPECT_EQ(*ParseIndexHourFolders("2026-11-28", "13"), kT0);
  EXPECT_EQ(*ParseIndexHourFolders("1970-01-01", "00"), 0);
  EXPECT_EQ(*ParseIndexHourFolders("9999-12-31", "23"), kLastHour);
  for (int64_t t : {int64_t{0}, kT0, kT0 + 7 * 3600 * kSecond, kLastHour}) {
    const std::string folder = CameraIndexHourPrefix("z", "c", t).substr(10);  // "YYYY-MM-DD/HH/"
    EXPECT_EQ(*ParseIndexHourFolders(folder.substr(0, 10), folder.substr(11, 2)), t) << folder;
  }
  for (auto [day, hour] : std::initializer_list<std::pair<std::string_view, std::string_view>>{
           {"2026-11-2", "13"},
           {"2026-11-280", "13"},
           {"2026/11/28", "13"},
           {"2026-11-28", "1"},
           {"2026-11-28", "130"},
           {"2026-11-28", "xx"},
           {"", ""},
           {"2026-13-01", "00"},
           {"2026-11-28", "24"},
       }) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseIndexHourFolders(day, hour).status())) << day << " " << hour;
  }
}

}  // namespace
}  // namespace ingest
