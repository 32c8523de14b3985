// A per-second series cut to what a chart can show: a one-hour run has 3,600
// points per line, a chart about 900 pixels. Consecutive points are grouped
// into buckets and each bucket keeps its minimum and its maximum (in time
// order), so a one-second latency spike or throughput dip stays visible
// however long the run. A bucket with no value at all (null in the result)
// breaks the line: an unmeasured stretch is a gap, not a slope.
//
//   std::vector<LineRun> runs = DownsampleMinMax(t_s, p99_ms, 600);
//   for (const LineRun& run : runs) { ...one <path> segment per run... }
#ifndef BENCH_REPORT_SERIES_DOWNSAMPLE_H_
#define BENCH_REPORT_SERIES_DOWNSAMPLE_H_

#include <cstddef>
#include <optional>
#include <vector>

namespace ingest::bench {

struct ChartPoint {
  double x = 0;
  double y = 0;
};

// Points to join with one unbroken line.
using LineRun = std::vector<ChartPoint>;

// `x` and `y` are read pairwise up to the shorter one's length; a pair with
// either side missing is a gap. At most `max_points` points come back (at
// least 2 are always allowed).
std::vector<LineRun> DownsampleMinMax(const std::vector<std::optional<double>>& x,
                                      const std::vector<std::optional<double>>& y, size_t max_points);

}  // namespace ingest::bench

#endif  // BENCH_REPORT_SERIES_DOWNSAMPLE_H_
