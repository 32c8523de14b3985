#include "bench/sim/latency_histogram.h"

#include <algorithm>
#include <bit>

namespace ingest {

int LatencyHistogram::BucketOf(uint64_t us) {
  if (us < kSubBuckets) return static_cast<int>(us);
  int power = std::bit_width(us) - 1;            // us in [2^power, 2^(power+1))
  int shift = power - 4;                          // 16 sub-buckets per power
  int sub = static_cast<int>((us >> shift) & (kSubBuckets - 1));
  int bucket = (power - 3) * kSubBuckets + sub;
  return std::min(bucket, kSubBuckets * kPowers - 1);
}

uint64_t LatencyHistogram::UpperBoundUs(int bucket) {
  if (bucket < kSubBuckets) return static_cast<uint64_t>(bucket) + 1;
  int power = bucket / kSubBuckets + 3;
  int sub = bucket % kSubBuckets;
  int shift = power - 4;
  return (static_cast<uint64_t>(kSubBuckets + sub + 1)) << shift;
}

void LatencyHistogram::Record(absl::Duration latency) {
  int64_t us = std::max<int64_t>(0, absl::ToInt64Microseconds(latency));
  ++buckets_[BucketOf(static_cast<uint64_t>(us))];
  ++count_;
  sum_us_ += static_cast<uint64_t>(us);
  max_us_ = std::max<uint64_t>(max_us_, static_cast<uint64_t>(us));
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_us_ += other.sum_us_;
  max_us_ = std::max(max_us_, other.max_us_);
}

absl::Duration LatencyHistogram::Quantile(double q) const {
  if (count_ == 0) return absl::ZeroDuration();
  auto rank = static_cast<uint64_t>(q * static_cast<double>(count_));
  if (rank == 0) rank = 1;
  uint64_t seen = 0;
  for (size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) {
      return absl::Microseconds(static_cast<int64_t>(std::min(UpperBoundUs(static_cast<int>(i)), max_us_)));
    }
  }
  return max();
}

absl::Duration LatencyHistogram::mean() const {
  if (count_ == 0) return absl::ZeroDuration();
  return absl::Microseconds(static_cast<int64_t>(sum_us_ / count_));
}

}  // namespace ingest
