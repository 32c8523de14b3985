// Inline SVG charts for the HTML report, drawn without scripts or external
// resources: a line chart over time (one y axis, nulls as gaps) and a
// histogram of bucketed latencies over a log x axis. Each returns one
// complete <svg> element with its axes, tick labels, axis titles and legend;
// with nothing to draw it still returns the frame and axis titles, with
// "no data" written across it, so a report's layout never depends on what
// was measured. Every data mark (line or bar) carries class="data".
//
// Colours are the Okabe-Ito palette, which stays distinct for the common
// colour-vision deficiencies; lines also differ by dash pattern, so they
// survive a grey-scale print.
//
//   LineChart chart{.title = "Throughput", .x_label = "time (s)", .y_label = "MB/s"};
//   chart.lines.push_back({.label = "MB/s", .runs = DownsampleMinMax(t, mb, 600)});
//   html += RenderLineChart(chart);
#ifndef BENCH_REPORT_SVG_CHART_H_
#define BENCH_REPORT_SVG_CHART_H_

#include <string>
#include <utility>
#include <vector>

#include "bench/report/series_downsample.h"

namespace ingest::bench {

// Members without a default of their own get {} so that designated
// initializers may leave them out (GCC's -Wmissing-field-initializers).

// Indexes into the palette; the order is the order lines usually take.
enum class ChartColour { kBlue, kVermillion, kGreen, kPurple, kOrange, kSkyBlue, kBlack };

struct ChartLine {
  std::string label{};  // in the legend
  std::vector<LineRun> runs{};
  ChartColour colour = ChartColour::kBlue;
  bool dashed = false;
};

struct LineChart {
  std::string title{};  // the SVG's accessible name
  std::string x_label{};
  std::string y_label{};  // with its unit: "ack latency (ms)"
  // Log y when asked and some value is positive; values <= 0 then sit on
  // the bottom edge.
  bool log_y = false;
  std::vector<ChartLine> lines{};
};

// One histogram: [upper bound, count] pairs, ascending by bound, as the
// result file writes them.
struct HistogramBars {
  std::string label{};
  std::vector<std::pair<double, double>> buckets{};
  ChartColour colour = ChartColour::kBlue;
};

struct HistogramChart {
  std::string title{};
  std::string x_label{};  // the bounds' unit: "latency (ms, log scale)"
  // Each histogram is drawn as shares of its own total (y in %), so two of
  // different sizes compare by shape.
  std::vector<HistogramBars> histograms{};
};

bool HasPoints(const LineChart& chart);
bool HasBuckets(const HistogramChart& chart);

std::string RenderLineChart(const LineChart& chart);
std::string RenderHistogramChart(const HistogramChart& chart);

}  // namespace ingest::bench

#endif  // BENCH_REPORT_SVG_CHART_H_
