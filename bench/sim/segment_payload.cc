#include "bench/sim/segment_payload.h"

#include <algorithm>
#include <cstring>

namespace ingest {
namespace {

constexpr uint64_t kGolden = 0x9E3779B97F4A7C15ull;

uint64_t SplitMix(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

std::string MakeSegmentPayload(uint32_t camera_number, uint64_t seq, size_t bytes) {
  std::string out(bytes, '\0');
  // splitmix64 over a counter: fast and well mixed; the seed ties the stream
  // to (camera, seq). Four words per step, independent of each other, so the
  // multiplies overlap (this ran at a seventh of a saturating simulator's CPU
  // one word at a time).
  const uint64_t seed = (uint64_t{camera_number} << 40) ^ seq ^ kGolden;
  char* p = out.data();
  uint64_t counter = 0;
  size_t i = 0;
  for (; i + 32 <= bytes; i += 32, counter += 4) {
    const uint64_t words[4] = {SplitMix(seed + (counter + 1) * kGolden), SplitMix(seed + (counter + 2) * kGolden),
                               SplitMix(seed + (counter + 3) * kGolden), SplitMix(seed + (counter + 4) * kGolden)};
    std::memcpy(p + i, words, sizeof(words));
  }
  for (; i < bytes; i += 8) {
    const uint64_t word = SplitMix(seed + (++counter) * kGolden);
    std::memcpy(p + i, &word, std::min<size_t>(8, bytes - i));
  }
  return out;
}

}  // namespace ingest
