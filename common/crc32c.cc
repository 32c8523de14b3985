#include "common/crc32c.h"

#include <nmmintrin.h>

#include <cstring>

namespace ingest {

uint32_t Crc32cExtend(uint32_t crc, std::span<const uint8_t> data) {
  uint64_t state = ~crc;
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n >= 8) {
    uint64_t word;
    std::memcpy(&word, p, 8);
    state = _mm_crc32_u64(state, word);
    p += 8;
    n -= 8;
  }
  uint32_t state32 = static_cast<uint32_t>(state);
  while (n > 0) {
    state32 = _mm_crc32_u8(state32, *p++);
    --n;
  }
  return ~state32;
}

}  // namespace ingest
