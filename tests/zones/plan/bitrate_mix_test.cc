// --bitrate_mix: the mean it plans on, and a clear error for every bad mix.
#include "zones/plan/bitrate_mix.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ingest::zones {
namespace {

using ::testing::HasSubstr;

TEST(BitrateMixTest, MeanOfTheMix) {
  absl::StatusOr<BitrateMix> mix = ParseBitrateMix("1000:0.7,2000:0.25,4000:0.05");
  ASSERT_TRUE(mix.ok()) << mix.status();
  ASSERT_EQ(mix->entries.size(), 3u);
  EXPECT_DOUBLE_EQ(mix->MeanKbps(), 700 + 500 + 200);
  EXPECT_DOUBLE_EQ(mix->MeanBytesPerSecond(), 1400.0 * 1000 / 8);
  EXPECT_EQ(mix->ToString(), "1000:0.7,2000:0.25,4000:0.05");
}

TEST(BitrateMixTest, SpacesAndExponentsAreFine) {
  absl::StatusOr<BitrateMix> mix = ParseBitrateMix(" 1e3 : 0.5 , 2000 : 0.5 ");
  ASSERT_TRUE(mix.ok()) << mix.status();
  EXPECT_DOUBLE_EQ(mix->MeanKbps(), 1500);
}

TEST(BitrateMixTest, SharesMaySumToOneWithinOneMillionth) {
  EXPECT_TRUE(ParseBitrateMix("1000:0.3333333,2000:0.3333333,4000:0.3333334").ok());
  EXPECT_TRUE(ParseBitrateMix("1000:0.5000005,2000:0.5").ok());
  EXPECT_FALSE(ParseBitrateMix("1000:0.500002,2000:0.5").ok());
}

TEST(BitrateMixTest, EveryBadMixIsRefusedWithTheReason) {
  struct Case {
    const char* text;
    const char* reason;
  };
  const Case cases[] = {
      {"", "empty"},
      {"   ", "empty"},
      {"1000", "is not <kbps>:<share>"},
      {"1000:0.5:1", "is not <kbps>:<share>"},
      {"1000:0.5,", "is not <kbps>:<share>"},
      {"fast:1", "bitrate is not a number"},
      {"1000:most", "share is not a number"},
      {"1000:nan", "share is not a number"},
      {"inf:1", "bitrate is not a number"},
      {"+1000:1", "bitrate is not a number"},
      {"1k:1", "bitrate is not a number"},
      {"0:1", "bitrate must be in (0, 1000000]"},
      {"-1000:1", "bitrate must be in (0, 1000000]"},
      {"2000000:1", "bitrate must be in (0, 1000000]"},
      {"1000:0,2000:1", "share must be in (0, 1]"},
      {"1000:-0.5,2000:1.5", "share must be in (0, 1]"},
      {"1000:1.5", "share must be in (0, 1]"},
      {"1000:0.5,1000:0.5", "given twice"},
      {"1000:0.7,2000:0.2", "shares sum to 0.9"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<BitrateMix> mix = ParseBitrateMix(c.text);
    ASSERT_FALSE(mix.ok()) << c.text;
    EXPECT_THAT(std::string(mix.status().message()), HasSubstr(c.reason)) << c.text;
    EXPECT_THAT(std::string(mix.status().message()), HasSubstr("--bitrate_mix")) << c.text;
  }
}

TEST(BitrateMixTest, AtMostSixtyFourEntries) {
  std::string text;
  for (int i = 1; i <= 65; ++i) text += std::to_string(i * 100) + ":" + (i == 65 ? "0.0000001" : "0.015625") + ",";
  text.pop_back();
  absl::StatusOr<BitrateMix> mix = ParseBitrateMix(text);
  ASSERT_FALSE(mix.ok());
  EXPECT_THAT(std::string(mix.status().message()), HasSubstr("more than 64 entries"));
}

}  // namespace
}  // namespace ingest::zones
