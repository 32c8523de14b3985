// The charts of a camera-bench result (RESULT_SCHEMA.md), each a <figure>
// with a stable id, a caption saying what is drawn and how, and one or more
// inline SVG panels:
//   chart-throughput         mb_per_s and segments_per_s over t_s
//   chart-latency            ack spooled/persisted p50 and p99 (log y)
//   chart-connections        connected and handshakes_per_s
//   chart-server             server and generator CPU (cores), server RSS (MiB)
//   chart-reconnects         reconnects_per_s and errors_per_s, gap_ms histogram
//   chart-latency-histogram  ack_spooled_ms and ack_persisted_ms histograms
// The time charts appear when the result has `series`, the histogram when it
// has `histograms`. A series that is missing, all null, or not as long as
// t_s is not drawn, and the figure says so instead of failing.
//
//   std::string html = RenderCharts(doc);
#ifndef BENCH_REPORT_REPORT_CHARTS_H_
#define BENCH_REPORT_REPORT_CHARTS_H_

#include <string>

#include "common/json_value.h"

namespace ingest::bench {

// Points per line at most: a chart is ~870 units wide, so more would not
// show and would only make a long run's report large.
inline constexpr size_t kMaxPointsPerLine = 600;

// The figures for `doc` (the whole result), in the order listed above;
// empty when it has neither series nor histograms.
std::string RenderCharts(const JsonValue& doc);

}  // namespace ingest::bench

#endif  // BENCH_REPORT_REPORT_CHARTS_H_
