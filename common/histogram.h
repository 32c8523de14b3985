// Latency histograms over fixed bucket bounds, with an exact count, sum and
// maximum: the one bucketing for S3 request latency, the shard loop's turn
// time and camera-sim's ACK latencies. Bounds are inclusive upper bounds in
// microseconds, strictly increasing, in an array that outlives the
// histogram (a constexpr table); one more bucket takes everything above the
// last bound.
//
//   inline constexpr std::array<int64_t, 3> kBoundsUs = {1000, 10000, 100000};
//   AtomicHistogram latency(kBoundsUs);           // any thread records
//   latency.Record(absl::Milliseconds(3));        // lands in the <= 10 ms bucket
//   Histogram now = latency.Snapshot();           // now.sum() is 3 ms exactly
//   absl::Duration p99 = now.Quantile(0.99);
#ifndef COMMON_HISTOGRAM_H_
#define COMMON_HISTOGRAM_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "absl/time/time.h"

namespace ingest {

// The bucket of `us` among `upper_bounds_us`: the first bound >= us, or
// upper_bounds_us.size() (the open bucket) when above them all.
size_t HistogramBucketOf(std::span<const int64_t> upper_bounds_us, int64_t us);

// A histogram's counts as plain numbers: what a snapshot holds, what a single
// thread records into, what Merge adds up. Copyable.
class Histogram {
 public:
  explicit Histogram(std::span<const int64_t> upper_bounds_us);

  // Negative latencies count as zero.
  void Record(absl::Duration latency) { RecordMicros(absl::ToInt64Microseconds(latency)); }
  void RecordMicros(int64_t us);
  // Adds `other`'s samples; both must have the same bounds.
  void Merge(const Histogram& other);
  void Reset();

  uint64_t count() const { return count_; }
  absl::Duration sum() const { return absl::Microseconds(static_cast<int64_t>(sum_us_)); }
  uint64_t sum_us() const { return sum_us_; }
  absl::Duration max() const { return absl::Microseconds(static_cast<int64_t>(max_us_)); }
  absl::Duration mean() const;
  // The upper bound of the bucket holding the sample of rank ceil(q * count)
  // (at most max()): within a bucket's width of the true quantile. Zero if
  // empty.
  absl::Duration Quantile(double q) const;

  std::span<const int64_t> upper_bounds_us() const { return bounds_; }
  // Samples per bucket, upper_bounds_us().size() + 1 of them (the last one open).
  const std::vector<uint64_t>& bucket_counts() const { return buckets_; }
  // Samples <= upper_bounds_us()[i], for each i (the Prometheus "le" buckets).
  std::vector<uint64_t> CumulativeCounts() const;

 private:
  friend class AtomicHistogram;
  std::span<const int64_t> bounds_;
  std::vector<uint64_t> buckets_;
  uint64_t count_ = 0;
  uint64_t sum_us_ = 0;
  uint64_t max_us_ = 0;
};

// The same, recorded into from any number of threads at once (relaxed
// atomics: each number is exact, a snapshot across them is not).
class AtomicHistogram {
 public:
  explicit AtomicHistogram(std::span<const int64_t> upper_bounds_us);

  void Record(absl::Duration latency) { RecordMicros(absl::ToInt64Microseconds(latency)); }
  void RecordMicros(int64_t us);
  Histogram Snapshot() const;

 private:
  std::span<const int64_t> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> buckets_;
  std::atomic<uint64_t> sum_us_{0};
  std::atomic<uint64_t> max_us_{0};
};

}  // namespace ingest

#endif  // COMMON_HISTOGRAM_H_
