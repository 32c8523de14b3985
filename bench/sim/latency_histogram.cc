#include "bench/sim/latency_histogram.h"

#include <array>

namespace ingest {
namespace {

constexpr int kSubBuckets = 16;
constexpr int kPowers = 32;

// Inclusive upper bounds: 0..15 us one per microsecond, then for each power
// of two 2^p (p >= 4) sixteen buckets of width 2^(p-4).
constexpr std::array<int64_t, kSubBuckets * kPowers - 1> MakeBounds() {
  std::array<int64_t, kSubBuckets * kPowers - 1> bounds{};
  for (int i = 0; i < kSubBuckets; ++i) bounds[i] = i;
  for (size_t i = kSubBuckets; i < bounds.size(); ++i) {
    const int power = static_cast<int>(i) / kSubBuckets + 3;
    const int sub = static_cast<int>(i) % kSubBuckets;
    bounds[i] = (static_cast<int64_t>(kSubBuckets + sub + 1) << (power - 4)) - 1;
  }
  return bounds;
}

constexpr std::array<int64_t, kSubBuckets * kPowers - 1> kBoundsUs = MakeBounds();

}  // namespace

std::span<const int64_t> LogLinearLatencyBoundsUs() { return kBoundsUs; }

}  // namespace ingest
