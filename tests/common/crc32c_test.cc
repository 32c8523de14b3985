#include "common/crc32c.h"

#include <string_view>

#include "gtest/gtest.h"

namespace ingest {
namespace {

std::span<const uint8_t> Bytes(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

TEST(Crc32cTest, MatchesPublishedCheckValue) {
  // The standard check value for CRC-32C over "123456789" (RFC 3720 appendix B.4 family).
  EXPECT_EQ(Crc32c(Bytes("123456789")), 0xE3069283u);
}

TEST(Crc32cTest, IncrementalEqualsOneShot) {
  std::string_view text = "The quick brown fox jumps over the lazy dog, twice over.";
  for (size_t split = 0; split <= text.size(); ++split) {
    uint32_t crc = Crc32cExtend(0, Bytes(text.substr(0, split)));
    crc = Crc32cExtend(crc, Bytes(text.substr(split)));
    EXPECT_EQ(crc, Crc32c(Bytes(text))) << "split at " << split;
  }
}

TEST(Crc32cTest, EmptyIsZero) { EXPECT_EQ(Crc32c({}), 0u); }

}  // namespace
}  // namespace ingest
