// Latency percentiles without storing samples: log-linear buckets (16 per
// power of two, so any quantile is within ~4.5% of the true value), from 1 us
// to ~1 hour.
//
//   LatencyHistogram h;
//   h.Record(absl::Milliseconds(3));
//   absl::Duration p99 = h.Quantile(0.99);
#ifndef BENCH_SIM_LATENCY_HISTOGRAM_H_
#define BENCH_SIM_LATENCY_HISTOGRAM_H_

#include <array>
#include <cstdint>

#include "absl/time/time.h"

namespace ingest {

class LatencyHistogram {
 public:
  void Record(absl::Duration latency);
  void Merge(const LatencyHistogram& other);
  void Reset() { *this = LatencyHistogram(); }
  // The smallest bucket bound below which `q` (0..1] of samples fall; zero if empty.
  absl::Duration Quantile(double q) const;
  absl::Duration max() const { return absl::Microseconds(max_us_); }
  uint64_t count() const { return count_; }
  absl::Duration mean() const;

 private:
  static constexpr int kSubBuckets = 16;
  static constexpr int kPowers = 32;
  static int BucketOf(uint64_t us);
  static uint64_t UpperBoundUs(int bucket);

  std::array<uint64_t, kSubBuckets * kPowers> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_us_ = 0;
  uint64_t max_us_ = 0;
};

}  // namespace ingest

#endif  // BENCH_SIM_LATENCY_HISTOGRAM_H_
