// The capture times readers accept, and the time arithmetic around them at
// the int64 limits: saturating segment ends, overlaps, the index hour a time
// is filed under, and hour folders only as our layout spells them. Runs
// under UBSan too, where an overflow is a failure.
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>

#include "gtest/gtest.h"
#include "server/batch/batch_layout.h"
#include "server/batch/segment_location.h"

namespace ingest {
namespace {

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

TEST(CaptureTimeBoundsTest, AcceptsYears1970To2299) {
  EXPECT_TRUE(CaptureStartInBounds(0));
  EXPECT_TRUE(CaptureStartInBounds(1795870800000000));  // 2026-11-28
  EXPECT_TRUE(CaptureStartInBounds(kCaptureStartLimitUs - 1));
  EXPECT_FALSE(CaptureStartInBounds(kCaptureStartLimitUs));
  EXPECT_FALSE(CaptureStartInBounds(-1));
  EXPECT_FALSE(CaptureStartInBounds(kMin));
  EXPECT_FALSE(CaptureStartInBounds(kMax));
  // The limit is 2300-01-01T00:00:00Z, inside the index key clamp (year 9999).
  EXPECT_EQ(*ParseIndexHourFolders("2300-01-01", "00"), kCaptureStartLimitUs);
  EXPECT_EQ(IndexKeyTimeUs(kCaptureStartLimitUs), kCaptureStartLimitUs);
}

TEST(CaptureTimeBoundsTest, SaturatingAddHoldsAtTheLimits) {
  EXPECT_EQ(SaturatingAdd(1, 2), 3);
  EXPECT_EQ(SaturatingAdd(kMax, 1), kMax);
  EXPECT_EQ(SaturatingAdd(kMax - 1000, 2000000), kMax);
  EXPECT_EQ(SaturatingAdd(kMin, -1), kMin);
  EXPECT_EQ(SaturatingAdd(kMin, kMax), -1);
}

TEST(CaptureTimeBoundsTest, SegmentEndsAndOverlapsNeverOverflow) {
  SegmentLocation e;
  e.duration_us = 0xffffffffu;
  for (int64_t start : {kMax, kMax - 1000, kMax - int64_t{0xffffffff}, kMin, int64_t{-1}, int64_t{0}}) {
    e.capture_start_us = start;
    EXPECT_GE(e.capture_end_us(), start);
    EXPECT_TRUE(e.Overlaps(kMin, kMax) || start == kMax) << start;
  }
  e.capture_start_us = kMax - 1000;
  e.duration_us = 2000000;
  EXPECT_EQ(e.capture_end_us(), kMax);
  EXPECT_TRUE(e.Overlaps(kMax - 1, kMax));
  EXPECT_FALSE(e.Overlaps(kMin, kMax - 1000));
}

TEST(CaptureTimeBoundsTest, AnyTimeIsFiledUnderAValidHour) {
  for (int64_t t : {kMin, kMin + 1, int64_t{-1}, int64_t{0}, kCaptureStartLimitUs, kMax - 1000, kMax}) {
    const int64_t hour = IndexHourStartUs(t);
    EXPECT_GE(hour, 0) << t;
    EXPECT_EQ(hour % kMicrosPerHour, 0) << t;
    const std::string folder = CameraIndexHourPrefix("z", "c", hour).substr(10);  // "YYYY-MM-DD/HH/"
    EXPECT_EQ(*ParseIndexHourFolders(folder.substr(0, 10), folder.substr(11, 2)), hour) << folder;
  }
}

TEST(CaptureTimeBoundsTest, HourFoldersParseOnlyAsTheLayoutSpellsThem) {
  // Folders a hand or a broken tool made: parseable by a lax parser, but
  // outside the key clamp or not spelled the one way the layout spells them.
  for (auto [day, hour] : std::initializer_list<std::pair<std::string_view, std::string_view>>{{"0000-01-01", "00"},
                                                                                               {"1969-12-31", "23"},
                                                                                               {"+202-11-28", "13"},
                                                                                               {"2026-11-28", "+1"},
                                                                                               {"2026-11-28", " 1"},
                                                                                               {"2026-2-028", "13"}}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseIndexHourFolders(day, hour).status())) << day << " " << hour;
  }
}

}  // namespace
}  // namespace ingest
