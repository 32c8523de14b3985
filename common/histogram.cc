#include "common/histogram.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace ingest {
namespace {

uint64_t NonNegative(int64_t us) { return us < 0 ? 0 : static_cast<uint64_t>(us); }

// Bounds are a program's constants; wrong ones are a bug, caught at start-up.
void CheckBounds(std::span<const int64_t> bounds) {
  for (size_t i = 1; i < bounds.size(); ++i) {
    if (bounds[i] <= bounds[i - 1]) std::abort();
  }
}

}  // namespace

size_t HistogramBucketOf(std::span<const int64_t> upper_bounds_us, int64_t us) {
  return static_cast<size_t>(std::lower_bound(upper_bounds_us.begin(), upper_bounds_us.end(), us) -
                             upper_bounds_us.begin());
}

Histogram::Histogram(std::span<const int64_t> upper_bounds_us)
    : bounds_(upper_bounds_us), buckets_(upper_bounds_us.size() + 1, 0) {
  CheckBounds(bounds_);
}

void Histogram::RecordMicros(int64_t us) {
  const uint64_t value = NonNegative(us);
  ++buckets_[HistogramBucketOf(bounds_, static_cast<int64_t>(value))];
  ++count_;
  sum_us_ += value;
  max_us_ = std::max(max_us_, value);
}

void Histogram::Merge(const Histogram& other) {
  if (!std::equal(bounds_.begin(), bounds_.end(), other.bounds_.begin(), other.bounds_.end())) std::abort();
  for (size_t i = 0; i < buckets_.size(); ++i) buckets_[i] += other.buckets_[i];
  count_ += other.count_;
  sum_us_ += other.sum_us_;
  max_us_ = std::max(max_us_, other.max_us_);
}

void Histogram::Reset() {
  std::fill(buckets_.begin(), buckets_.end(), 0);
  count_ = 0;
  sum_us_ = 0;
  max_us_ = 0;
}

absl::Duration Histogram::mean() const {
  if (count_ == 0) return absl::ZeroDuration();
  return absl::Microseconds(static_cast<int64_t>(sum_us_ / count_));
}

absl::Duration Histogram::Quantile(double q) const {
  if (count_ == 0) return absl::ZeroDuration();
  auto rank = static_cast<uint64_t>(std::ceil(std::clamp(q, 0.0, 1.0) * static_cast<double>(count_)));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= rank) return absl::Microseconds(static_cast<int64_t>(std::min(NonNegative(bounds_[i]), max_us_)));
  }
  return max();
}

std::vector<uint64_t> Histogram::CumulativeCounts() const {
  std::vector<uint64_t> cumulative(bounds_.size());
  uint64_t running = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    running += buckets_[i];
    cumulative[i] = running;
  }
  return cumulative;
}

AtomicHistogram::AtomicHistogram(std::span<const int64_t> upper_bounds_us)
    : bounds_(upper_bounds_us), buckets_(new std::atomic<uint64_t>[upper_bounds_us.size() + 1]) {
  CheckBounds(bounds_);
  for (size_t i = 0; i <= bounds_.size(); ++i) buckets_[i].store(0, std::memory_order_relaxed);
}

void AtomicHistogram::RecordMicros(int64_t us) {
  const uint64_t value = NonNegative(us);
  buckets_[HistogramBucketOf(bounds_, static_cast<int64_t>(value))].fetch_add(1, std::memory_order_relaxed);
  sum_us_.fetch_add(value, std::memory_order_relaxed);
  uint64_t max = max_us_.load(std::memory_order_relaxed);
  while (value > max && !max_us_.compare_exchange_weak(max, value, std::memory_order_relaxed)) {
  }
}

Histogram AtomicHistogram::Snapshot() const {
  Histogram out(bounds_);
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    out.buckets_[i] = buckets_[i].load(std::memory_order_relaxed);
    out.count_ += out.buckets_[i];
  }
  out.sum_us_ = sum_us_.load(std::memory_order_relaxed);
  out.max_us_ = max_us_.load(std::memory_order_relaxed);
  return out;
}

}  // namespace ingest
