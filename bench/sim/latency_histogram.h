// Latency percentiles without storing samples: common/histogram.h over
// log-linear buckets (16 per power of two, so any quantile is within ~6% of
// the true value), from 1 us to ~9 hours, with an exact sum and maximum.
//
//   LatencyHistogram h;
//   h.Record(absl::Milliseconds(3));
//   absl::Duration p99 = h.Quantile(0.99);
#ifndef BENCH_SIM_LATENCY_HISTOGRAM_H_
#define BENCH_SIM_LATENCY_HISTOGRAM_H_

#include <cstdint>
#include <span>

#include "common/histogram.h"

namespace ingest {

// The bucket bounds: 0..15 us one by one, then 16 buckets per power of two.
std::span<const int64_t> LogLinearLatencyBoundsUs();

class LatencyHistogram : public Histogram {
 public:
  LatencyHistogram() : Histogram(LogLinearLatencyBoundsUs()) {}
};

}  // namespace ingest

#endif  // BENCH_SIM_LATENCY_HISTOGRAM_H_
