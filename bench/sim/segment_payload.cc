#include "bench/sim/segment_payload.h"

#include <cstring>

namespace ingest {

std::string MakeSegmentPayload(uint32_t camera_number, uint64_t seq, size_t bytes) {
  std::string out(bytes, '\0');
  // splitmix64: fast and well mixed; the seed ties the stream to (camera, seq).
  uint64_t state = (uint64_t{camera_number} << 40) ^ seq ^ 0x9E3779B97F4A7C15ull;
  size_t i = 0;
  while (i < bytes) {
    state += 0x9E3779B97F4A7C15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    size_t n = std::min<size_t>(8, bytes - i);
    std::memcpy(out.data() + i, &z, n);
    i += n;
  }
  return out;
}

}  // namespace ingest
