#include "server/config/byte_size.h"

#include "gtest/gtest.h"

namespace ingest {
namespace {

TEST(ByteSizeTest, ParsesBareNumbersAndBinaryUnits) {
  EXPECT_EQ(ParseByteSize("0").value(), 0u);
  EXPECT_EQ(ParseByteSize("1000").value(), 1000u);
  EXPECT_EQ(ParseByteSize("17B").value(), 17u);
  EXPECT_EQ(ParseByteSize("512KiB").value(), 512u << 10);
  EXPECT_EQ(ParseByteSize("64MiB").value(), 64u << 20);
  EXPECT_EQ(ParseByteSize("64 MiB").value(), 64u << 20);
  EXPECT_EQ(ParseByteSize("8GiB").value(), 8ull << 30);
  EXPECT_EQ(ParseByteSize("2TiB").value(), 2ull << 40);
}

TEST(ByteSizeTest, RejectsDecimalUnitsSignsFractionsAndOverflow) {
  for (const char* bad : {"", "MiB", "64MB", "64mib", "64K", "-1", "+1", "1.5GiB", "64  MiB",
                          " 64MiB", "64MiB ", "99999999999999999999", "16777216TiB"}) {
    absl::StatusOr<uint64_t> size = ParseByteSize(bad);
    EXPECT_EQ(size.status().code(), absl::StatusCode::kInvalidArgument) << "input: \"" << bad << "\"";
  }
  EXPECT_NE(ParseByteSize("64MB").status().message().find("unknown unit \"MB\""),
            absl::string_view::npos);
}

TEST(ByteSizeTest, FormatsWithTheLargestExactUnit) {
  EXPECT_EQ(FormatByteSize(0), "0");
  EXPECT_EQ(FormatByteSize(1000), "1000");
  EXPECT_EQ(FormatByteSize(1024), "1KiB");
  EXPECT_EQ(FormatByteSize(1536), "1536");
  EXPECT_EQ(FormatByteSize(64u << 20), "64MiB");
  EXPECT_EQ(FormatByteSize((64u << 20) + (512u << 10)), "66048KiB");
  EXPECT_EQ(FormatByteSize(8ull << 30), "8GiB");
  EXPECT_EQ(FormatByteSize(3ull << 40), "3TiB");
}

TEST(ByteSizeTest, FormatParsesBack) {
  for (uint64_t bytes : {uint64_t{1}, uint64_t{4096}, uint64_t{12345}, uint64_t{1} << 63,
                         ~uint64_t{0}}) {
    EXPECT_EQ(ParseByteSize(FormatByteSize(bytes)).value(), bytes) << bytes;
  }
}

}  // namespace
}  // namespace ingest
