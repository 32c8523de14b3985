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

// `n` bytes from a xorshift generator started at `seed`.
std::vector<uint8_t> PseudoRandomBytes(size_t n, uint32_t seed) {
  std::vector<uint8_t> data(n);
  uint32_t x = seed;
  for (uint8_t& byte : data) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    byte = static_cast<uint8_t>(x);
  }
  return data;
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
  const std::vector<uint8_t> data = PseudoRandomBytes(9 << 20, 2463534242u);
  uint32_t combined = 0;
  size_t at = 0;
  for (size_t piece = 1; at < data.size(); piece = piece * 7 + 13) {
    const size_t n = std::min(piece % (3 << 20), data.size() - at);
    combined = Crc32cCombine(combined, Crc32c({data.data() + at, n}), n);
    at += n;
  }
  EXPECT_EQ(combined, Crc32c(data));
}

// The three-chain path (blocks of 3 x 8192 and 3 x 256 bytes, then single
// words and bytes) against a bit-at-a-time reference, at lengths around every
// boundary and from unaligned addresses; Crc32cCopy gives the same CRC and an
// exact copy, touching nothing past its end.
uint32_t ReferenceCrc32c(const uint8_t* p, size_t n) {
  uint32_t crc = 0xffffffffu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= p[i];
    for (int bit = 0; bit < 8; ++bit) crc = (crc >> 1) ^ (0x82F63B78u & (0u - (crc & 1)));
  }
  return ~crc;
}

TEST(Crc32cTest, EveryPathMatchesABitwiseReferenceAndCopyCopiesExactly) {
  const std::vector<uint8_t> data = PseudoRandomBytes((3 * 8192 + 3 * 256) * 2 + 64, 88172645u);
  std::vector<size_t> lengths;
  for (size_t base : {size_t{0}, size_t{3 * 256}, size_t{3 * 8192}, size_t{3 * 8192 + 3 * 256},
                      size_t{2 * 3 * 8192}, size_t{2 * (3 * 8192 + 3 * 256)}}) {
    for (size_t delta = 0; delta <= 17; ++delta) {
      if (base + delta + 3 <= data.size()) lengths.push_back(base + delta);
      if (base >= delta && base - delta > 0) lengths.push_back(base - delta);
    }
  }
  for (size_t offset : {size_t{0}, size_t{1}, size_t{3}}) {
    for (size_t n : lengths) {
      const uint8_t* src = data.data() + offset;
      const uint32_t expected = ReferenceCrc32c(src, n);
      ASSERT_EQ(Crc32c({src, n}), expected) << "length " << n << " offset " << offset;
      std::vector<uint8_t> copy(n + 16, 0xee);
      ASSERT_EQ(Crc32cCopy(0, {src, n}, copy.data() + 1), expected) << "length " << n;
      ASSERT_TRUE(std::equal(src, src + n, copy.begin() + 1)) << "length " << n;
      ASSERT_EQ(copy[0], 0xee);
      ASSERT_TRUE(std::all_of(copy.begin() + 1 + static_cast<ptrdiff_t>(n), copy.end(),
                              [](uint8_t b) { return b == 0xee; }))
          << "length " << n;
      // Extending from a CRC so far, as segments are checked piece by piece.
      const size_t half = n / 2;
      ASSERT_EQ(Crc32cExtend(Crc32c({src, half}), {src + half, n - half}), expected) << "length " << n;
    }
  }
}

}  // namespace
}  // namespace ingest
