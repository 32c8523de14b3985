#include "common/crc32c.h"

#include <nmmintrin.h>

#include <array>
#include <cstring>

namespace ingest {
namespace {

// The reflected Castagnoli polynomial.
constexpr uint32_t kPolynomial = 0x82F63B78u;

// a * b modulo the polynomial, both in the reflected bit order CRC-32C uses
// (bit 31 is x^0). Shift-and-add, as zlib's crc32_combine does it.
constexpr uint32_t MultiplyModP(uint32_t a, uint32_t b) {
  uint32_t product = 0;
  for (uint32_t m = 1u << 31; m != 0; m >>= 1) {
    if ((a & m) != 0) {
      product ^= b;
      if ((a & (m - 1)) == 0) break;
    }
    b = (b & 1) != 0 ? (b >> 1) ^ kPolynomial : b >> 1;
  }
  return product;
}

// kPowers[k] = x^(2^k) modulo the polynomial; a byte count's bit i stands
// for x^(2^(i + 3)), so 3 + 64 entries cover every uint64_t length.
constexpr std::array<uint32_t, 67> MakePowers() {
  std::array<uint32_t, 67> powers{};
  uint32_t p = 1u << 30;  // x^1
  for (uint32_t& power : powers) {
    power = p;
    p = MultiplyModP(p, p);
  }
  return powers;
}
constexpr std::array<uint32_t, 67> kPowers = MakePowers();

// x^(8 * bytes) modulo the polynomial: what appending `bytes` zero bytes
// multiplies a CRC register by.
constexpr uint32_t ZeroBytesOperator(uint64_t bytes) {
  uint32_t p = 1u << 31;  // x^0
  for (size_t k = 3; bytes != 0; bytes >>= 1, ++k) {
    if ((bytes & 1) != 0) p = MultiplyModP(kPowers[k], p);
  }
  return p;
}

// Appending `bytes` zero bytes to a CRC register as four table lookups, one
// per register byte: the operator is linear, so it distributes over them.
using ShiftTable = std::array<std::array<uint32_t, 256>, 4>;
constexpr ShiftTable MakeShiftTable(uint64_t bytes) {
  const uint32_t op = ZeroBytesOperator(bytes);
  ShiftTable table{};
  for (uint32_t k = 0; k < 4; ++k) {
    for (uint32_t b = 0; b < 256; ++b) table[k][b] = MultiplyModP(op, b << (8 * k));
  }
  return table;
}

// The crc32 instruction takes three cycles but the core starts one every
// cycle: one dependency chain (7.6 GB/s here, bench/README.md) leaves two
// thirds of it idle. So a buffer is cut into three blocks whose CRCs run
// side by side, then shifted together. Long blocks for most of the bytes,
// short ones for what is left, one chain for the rest.
constexpr size_t kLongBlock = 8192;
constexpr size_t kShortBlock = 256;
constexpr ShiftTable kShiftLong = MakeShiftTable(kLongBlock);
constexpr ShiftTable kShiftShort = MakeShiftTable(kShortBlock);

inline uint32_t Shift(const ShiftTable& table, uint32_t crc) {
  return table[0][crc & 0xff] ^ table[1][(crc >> 8) & 0xff] ^ table[2][(crc >> 16) & 0xff] ^ table[3][crc >> 24];
}

inline uint64_t Load64(const uint8_t* p) {
  uint64_t word;
  std::memcpy(&word, p, 8);
  return word;
}

// One 8-byte step of a chain: the word at src + at goes into the CRC and,
// when copying, to dst + at (dst is null otherwise, and never offset).
template <bool kCopy>
inline uint64_t Step(uint64_t state, const uint8_t* src, uint8_t* dst, size_t at) {
  const uint64_t word = Load64(src + at);
  if constexpr (kCopy) std::memcpy(dst + at, &word, 8);
  return _mm_crc32_u64(state, word);
}

// Consumes whole groups of three `block`-byte blocks from src (and dst).
template <bool kCopy>
uint64_t ThreeWay(uint64_t state, size_t block, const ShiftTable& shift, const uint8_t*& src, uint8_t*& dst,
                  size_t& n) {
  while (n >= 3 * block) {
    uint64_t c0 = state, c1 = 0, c2 = 0;
    for (size_t i = 0; i < block; i += 8) {
      c0 = Step<kCopy>(c0, src, dst, i);
      c1 = Step<kCopy>(c1, src, dst, block + i);
      c2 = Step<kCopy>(c2, src, dst, 2 * block + i);
    }
    // The register after block 0 then block 1 is block 0's moved past
    // block 1's length, plus block 1's from zero; the same again for block 2.
    uint32_t r = Shift(shift, static_cast<uint32_t>(c0)) ^ static_cast<uint32_t>(c1);
    r = Shift(shift, r) ^ static_cast<uint32_t>(c2);
    state = r;
    src += 3 * block;
    if constexpr (kCopy) dst += 3 * block;
    n -= 3 * block;
  }
  return state;
}

template <bool kCopy>
uint32_t Extend(uint32_t crc, const uint8_t* src, size_t n, uint8_t* dst) {
  uint64_t state = ~crc;
  state = ThreeWay<kCopy>(state, kLongBlock, kShiftLong, src, dst, n);
  state = ThreeWay<kCopy>(state, kShortBlock, kShiftShort, src, dst, n);
  for (; n >= 8; n -= 8, src += 8) {
    state = Step<kCopy>(state, src, dst, 0);
    if constexpr (kCopy) dst += 8;
  }
  uint32_t state32 = static_cast<uint32_t>(state);
  for (; n > 0; --n) {
    if constexpr (kCopy) *dst++ = *src;
    state32 = _mm_crc32_u8(state32, *src++);
  }
  return ~state32;
}

}  // namespace

uint32_t Crc32cExtend(uint32_t crc, std::span<const uint8_t> data) {
  return Extend<false>(crc, data.data(), data.size(), nullptr);
}

uint32_t Crc32cCopy(uint32_t crc, std::span<const uint8_t> src, uint8_t* dst) {
  return Extend<true>(crc, src.data(), src.size(), dst);
}

uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b) {
  return MultiplyModP(ZeroBytesOperator(length_b), crc_a) ^ crc_b;
}

}  // namespace ingest
