// The one fixed-bucket histogram (common/histogram.h): which bucket a sample
// lands in, an exact sum and maximum, quantiles, merging, the concurrent
// recorder, and camera-sim's log-linear buckets built on it.
#include "common/histogram.h"

#include <array>
#include <cstdint>
#include <initializer_list>
#include <thread>
#include <vector>

#include "bench/sim/latency_histogram.h"
#include "gtest/gtest.h"

namespace ingest {
namespace {

constexpr std::array<int64_t, 3> kBoundsUs = {1000, 10000, 100000};  // 1 ms, 10 ms, 100 ms

TEST(HistogramTest, BoundsAreInclusiveAndTheLastBucketIsOpen) {
  EXPECT_EQ(HistogramBucketOf(kBoundsUs, 0), 0u);
  EXPECT_EQ(HistogramBucketOf(kBoundsUs, 1000), 0u);
  EXPECT_EQ(HistogramBucketOf(kBoundsUs, 1001), 1u);
  EXPECT_EQ(HistogramBucketOf(kBoundsUs, 10000), 1u);
  EXPECT_EQ(HistogramBucketOf(kBoundsUs, 100000), 2u);
  EXPECT_EQ(HistogramBucketOf(kBoundsUs, 100001), 3u);
  EXPECT_EQ(HistogramBucketOf(kBoundsUs, INT64_MAX), 3u);
}

TEST(HistogramTest, KeepsAnExactSumCountAndMaximum) {
  Histogram h(kBoundsUs);
  h.Record(absl::Microseconds(1500));
  h.Record(absl::Microseconds(9999));
  h.Record(absl::Seconds(3));
  h.Record(absl::Microseconds(-5));  // a clock step: counted as zero
  EXPECT_EQ(h.count(), 4u);
  EXPECT_EQ(h.sum(), absl::Microseconds(1500 + 9999 + 3000000));
  EXPECT_EQ(h.sum_us(), 1500u + 9999u + 3000000u);
  EXPECT_EQ(h.max(), absl::Seconds(3));
  EXPECT_EQ(h.mean(), absl::Microseconds((1500 + 9999 + 3000000) / 4));
  EXPECT_EQ(h.bucket_counts(), (std::vector<uint64_t>{1, 2, 0, 1}));
  EXPECT_EQ(h.CumulativeCounts(), (std::vector<uint64_t>{1, 3, 3}));
}

TEST(HistogramTest, QuantilesAreBucketBoundsCappedByTheMaximum) {
  Histogram h(kBoundsUs);
  EXPECT_EQ(h.Quantile(0.5), absl::ZeroDuration());
  for (int i = 0; i < 98; ++i) h.Record(absl::Microseconds(500));
  h.Record(absl::Milliseconds(50));
  h.Record(absl::Seconds(2));
  EXPECT_EQ(h.Quantile(0.5), absl::Milliseconds(1));
  EXPECT_EQ(h.Quantile(0.98), absl::Milliseconds(1));
  EXPECT_EQ(h.Quantile(0.99), absl::Milliseconds(100));  // rank 99: the 50 ms sample's bucket
  EXPECT_EQ(h.Quantile(1.0), absl::Seconds(2));          // the open bucket: the maximum
  Histogram small(kBoundsUs);
  small.Record(absl::Microseconds(1200));
  EXPECT_EQ(small.Quantile(0.5), absl::Microseconds(1200));  // not above what was seen
}

TEST(HistogramTest, MergeAddsAndResetEmpties) {
  Histogram a(kBoundsUs);
  Histogram b(kBoundsUs);
  a.Record(absl::Milliseconds(2));
  b.Record(absl::Milliseconds(20));
  b.Record(absl::Milliseconds(200));
  a.Merge(b);
  EXPECT_EQ(a.count(), 3u);
  EXPECT_EQ(a.sum(), absl::Milliseconds(222));
  EXPECT_EQ(a.max(), absl::Milliseconds(200));
  EXPECT_EQ(a.bucket_counts(), (std::vector<uint64_t>{0, 1, 1, 1}));
  a.Reset();
  EXPECT_EQ(a.count(), 0u);
  EXPECT_EQ(a.sum(), absl::ZeroDuration());
  EXPECT_EQ(a.bucket_counts(), (std::vector<uint64_t>{0, 0, 0, 0}));
}

TEST(HistogramTest, AtomicHistogramCountsEverySampleFromManyThreads) {
  AtomicHistogram h(kBoundsUs);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&h, t] {
      for (int i = 0; i < 10000; ++i) h.RecordMicros(t * 1000 + i % 7);
    });
  }
  for (std::thread& thread : threads) thread.join();
  const Histogram snapshot = h.Snapshot();
  EXPECT_EQ(snapshot.count(), 40000u);
  uint64_t expected_sum = 0;
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < 10000; ++i) expected_sum += static_cast<uint64_t>(t * 1000 + i % 7);
  }
  EXPECT_EQ(snapshot.sum_us(), expected_sum);
  EXPECT_EQ(snapshot.max(), absl::Microseconds(3006));
  // 0..6 and 1000: bucket 0; 1001..1006, 2000..2006, 3000..3006: bucket 1.
  EXPECT_EQ(snapshot.bucket_counts()[0] + snapshot.bucket_counts()[1], 40000u);
}

TEST(HistogramTest, CameraSimLatencyBucketsAreWithinASixteenthOfTheValue) {
  LatencyHistogram h;
  const std::span<const int64_t> bounds = h.upper_bounds_us();
  for (size_t i = 1; i < bounds.size(); ++i) ASSERT_LT(bounds[i - 1], bounds[i]);
  for (int64_t us : std::initializer_list<int64_t>{0, 1, 15, 16, 17, 31, 32, 33, 1000, 123456, 3600LL * 1000000}) {
    const size_t bucket = HistogramBucketOf(bounds, us);
    ASSERT_LT(bucket, bounds.size()) << us;
    EXPECT_GE(bounds[bucket], us);
    EXPECT_LE(bounds[bucket] - us, us / 16) << us;  // the bucket is at most 1/16 as wide as its values
  }
  h.Record(absl::Microseconds(12345));
  const absl::Duration p50 = h.Quantile(0.5);
  EXPECT_EQ(p50, absl::Microseconds(12345));  // capped by the maximum, one sample
  h.Record(absl::Microseconds(20000));
  h.Record(absl::Microseconds(20000));
  EXPECT_GE(h.Quantile(0.5), absl::Microseconds(20000));
  EXPECT_LE(h.Quantile(0.5), absl::Microseconds(20000 + 20000 / 16));
}

}  // namespace
}  // namespace ingest
