#include "bench/report/series_downsample.h"

#include <algorithm>

namespace ingest::bench {

std::vector<LineRun> DownsampleMinMax(const std::vector<std::optional<double>>& x,
                                      const std::vector<std::optional<double>>& y, size_t max_points) {
  const size_t n = std::min(x.size(), y.size());
  const size_t buckets = std::max<size_t>(1, max_points / 2);
  // Below the limit every point is its own bucket, so every null is a gap.
  const size_t bucket_size = n <= std::max<size_t>(2, max_points) ? 1 : (n + buckets - 1) / buckets;

  std::vector<LineRun> runs;
  LineRun current;
  for (size_t start = 0; start < n; start += bucket_size) {
    const size_t end = std::min(n, start + bucket_size);
    std::optional<size_t> lowest;
    std::optional<size_t> highest;
    for (size_t i = start; i < end; ++i) {
      if (!x[i].has_value() || !y[i].has_value()) continue;
      if (!lowest.has_value() || *y[i] < *y[*lowest]) lowest = i;
      if (!highest.has_value() || *y[i] > *y[*highest]) highest = i;
    }
    if (!lowest.has_value()) {
      if (!current.empty()) runs.push_back(std::move(current));
      current.clear();
      continue;
    }
    const size_t first = std::min(*lowest, *highest);
    const size_t second = std::max(*lowest, *highest);
    current.push_back({*x[first], *y[first]});
    if (second != first) current.push_back({*x[second], *y[second]});
  }
  if (!current.empty()) runs.push_back(std::move(current));
  return runs;
}

}  // namespace ingest::bench
