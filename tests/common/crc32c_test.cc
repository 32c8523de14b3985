#include "common/crc32c.h"

#include <algorithm>
#include <string_view>
#include <vector>

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

TEST(Crc32cTest, CombineEqualsOneShotAtEverySplit) {
  std::string_view text = "The quick brown fox jumps over the lazy dog, twice over.";
  for (size_t split = 0; split <= text.size(); ++split) {
    const std::string_view a = text.substr(0, split);
    const std::string_view b = text.substr(split);
    EXPECT_EQ(Crc32cCombine(Crc32c(Bytes(a)), Crc32c(Bytes(b)), b.size()), Crc32c(Bytes(text)))
        << "split at " << split;
  }
  EXPECT_EQ(Crc32cCombine(Crc32c(Bytes("12345")), Crc32c(Bytes("6789")), 4), 0xE3069283u);
}

TEST(Crc32cTest, CombineOverLargeAndManyPieces) {
  // Pieces of awkward sizes up to 3 MiB, chained as a batch object's segments are.
  std::vector<uint8_t> data(9 << 20);
  uint32_t x = 2463534242u;
  for (uint8_t& byte : data) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    byte = static_cast<uint8_t>(x);
  }
  uint32_t combined = 0;
  size_t at = 0;
  for (size_t piece = 1; at < data.size(); piece = piece * 7 + 13) {
    const size_t n = std::min(piece % (3 << 20), data.size() - at);
    combined = Crc32cCombine(combined, Crc32c({data.data() + at, n}), n);
    at += n;
  }
  EXPECT_EQ(combined, Crc32c(data));
}

}  // namespace
}  // namespace ingest
