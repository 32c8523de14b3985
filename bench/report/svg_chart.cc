#include "bench/report/svg_chart.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>

#include "absl/strings/str_format.h"
#include "bench/report/chart_scale.h"
#include "bench/report/html_escape.h"

namespace ingest::bench {
namespace {

// The drawing's size in SVG units; CSS scales it to the page's width.
constexpr double kWidth = 960;
constexpr double kHeight = 270;
// Room for the y tick labels (left), the legend (top) and the x tick labels
// and axis title (bottom).
constexpr double kLeft = 76;
constexpr double kRight = 16;
constexpr double kTop = 34;
constexpr double kBottom = 46;
constexpr double kPlotWidth = kWidth - kLeft - kRight;
constexpr double kPlotHeight = kHeight - kTop - kBottom;

const char* ColourHex(ChartColour colour) {
  switch (colour) {
    case ChartColour::kBlue:
      return "#0072B2";
    case ChartColour::kVermillion:
      return "#D55E00";
    case ChartColour::kGreen:
      return "#009E73";
    case ChartColour::kPurple:
      return "#CC79A7";
    case ChartColour::kOrange:
      return "#E69F00";
    case ChartColour::kSkyBlue:
      return "#56B4E9";
    case ChartColour::kBlack:
      return "#000000";
  }
  return "#000000";
}

double PlotX(const AxisScale& x, double value) { return kLeft + x.Fraction(value) * kPlotWidth; }
double PlotY(const AxisScale& y, double value) { return kTop + (1 - y.Fraction(value)) * kPlotHeight; }

void OpenSvg(std::string& out, const std::string& title) {
  absl::StrAppendFormat(&out,
                        "<svg class=\"chart\" viewBox=\"0 0 %.0f %.0f\" "
                        "width=\"%.0f\" height=\"%.0f\" role=\"img\"><title>",
                        kWidth, kHeight, kWidth, kHeight);
  AppendHtmlEscaped(out, title);
  out += "</title>";
}

// The plot's frame and the two axis titles, drawn with or without data.
void AppendFrame(std::string& out, const std::string& x_label, const std::string& y_label) {
  absl::StrAppendFormat(&out, "<rect class=\"frame\" x=\"%.0f\" y=\"%.0f\" width=\"%.0f\" height=\"%.0f\"/>", kLeft,
                        kTop, kPlotWidth, kPlotHeight);
  absl::StrAppendFormat(&out, "<text class=\"axis-title\" x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">",
                        kLeft + kPlotWidth / 2, kHeight - 8);
  AppendHtmlEscaped(out, x_label);
  absl::StrAppendFormat(&out,
                        "</text><text class=\"axis-title\" x=\"14\" y=\"%.1f\" text-anchor=\"middle\" "
                        "transform=\"rotate(-90 14 %.1f)\">",
                        kTop + kPlotHeight / 2, kTop + kPlotHeight / 2);
  AppendHtmlEscaped(out, y_label);
  out += "</text>";
}

void AppendNoData(std::string& out) {
  absl::StrAppendFormat(&out, "<text class=\"no-data\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">no data</text>",
                        kLeft + kPlotWidth / 2, kTop + kPlotHeight / 2);
}

void AppendXTicks(std::string& out, const AxisScale& x) {
  for (double tick : x.ticks) {
    const double px = PlotX(x, tick);
    absl::StrAppendFormat(&out, "<line class=\"grid\" x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\"/>", px, kTop, px,
                          kTop + kPlotHeight + 4);
    absl::StrAppendFormat(&out, "<text class=\"tick\" x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s</text>", px,
                          kTop + kPlotHeight + 17, x.TickLabel(tick));
  }
}

void AppendYTicks(std::string& out, const AxisScale& y) {
  for (double tick : y.ticks) {
    const double py = PlotY(y, tick);
    absl::StrAppendFormat(&out, "<line class=\"grid\" x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\"/>", kLeft - 4, py,
                          kLeft + kPlotWidth, py);
    absl::StrAppendFormat(&out, "<text class=\"tick\" x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%s</text>", kLeft - 7,
                          py + 4, y.TickLabel(tick));
  }
}

// One legend entry per line or histogram, left to right above the plot.
struct LegendEntry {
  const std::string* label;
  ChartColour colour;
  bool dashed;
  bool bar;
};

void AppendLegend(std::string& out, const std::vector<LegendEntry>& entries) {
  double x = kLeft;
  for (const LegendEntry& entry : entries) {
    const char* colour = ColourHex(entry.colour);
    if (entry.bar) {
      absl::StrAppendFormat(&out,
                            "<rect class=\"legend-mark\" x=\"%.1f\" y=\"12\" width=\"22\" height=\"10\" fill=\"%s\" "
                            "fill-opacity=\"0.6\" stroke=\"%s\"/>",
                            x, colour, colour);
    } else {
      absl::StrAppendFormat(&out,
                            "<line class=\"legend-mark\" x1=\"%.1f\" y1=\"17\" x2=\"%.1f\" y2=\"17\" stroke=\"%s\" "
                            "stroke-width=\"2.5\"%s/>",
                            x, x + 22, colour, entry.dashed ? " stroke-dasharray=\"6 3\"" : "");
    }
    absl::StrAppendFormat(&out, "<text class=\"legend\" x=\"%.1f\" y=\"21\">", x + 28);
    AppendHtmlEscaped(out, *entry.label);
    out += "</text>";
    // System fonts differ; 7 units per character is a generous average at
    // the legend's 12px.
    x += 28 + 7.0 * static_cast<double>(entry.label->size()) + 22;
  }
}

}  // namespace

bool HasPoints(const LineChart& chart) {
  for (const ChartLine& line : chart.lines) {
    for (const LineRun& run : line.runs) {
      if (!run.empty()) return true;
    }
  }
  return false;
}

bool HasBuckets(const HistogramChart& chart) {
  for (const HistogramBars& bars : chart.histograms) {
    for (const auto& [bound, count] : bars.buckets) {
      if (bound > 0 && count > 0) return true;
    }
  }
  return false;
}

std::string RenderLineChart(const LineChart& chart) {
  std::string out;
  OpenSvg(out, chart.title);
  AppendFrame(out, chart.x_label, chart.y_label);
  if (!HasPoints(chart)) {
    AppendNoData(out);
    out += "</svg>";
    return out;
  }

  double x_low = std::numeric_limits<double>::infinity();
  double x_high = -x_low;
  double y_low = x_low;
  double y_high = -x_low;
  double smallest_positive = x_low;
  for (const ChartLine& line : chart.lines) {
    for (const LineRun& run : line.runs) {
      for (const ChartPoint& p : run) {
        x_low = std::min(x_low, p.x);
        x_high = std::max(x_high, p.x);
        y_low = std::min(y_low, p.y);
        y_high = std::max(y_high, p.y);
        if (p.y > 0) smallest_positive = std::min(smallest_positive, p.y);
      }
    }
  }
  const AxisScale x = LinearScale(x_low, x_high, /*include_zero=*/false);
  const AxisScale y = chart.log_y && std::isfinite(smallest_positive) ? LogScale(smallest_positive, y_high)
                                                                      : LinearScale(y_low, y_high, true);
  AppendXTicks(out, x);
  AppendYTicks(out, y);

  std::vector<LegendEntry> legend;
  for (const ChartLine& line : chart.lines) {
    legend.push_back({&line.label, line.colour, line.dashed, false});
    std::string path;
    for (const LineRun& run : line.runs) {
      for (size_t i = 0; i < run.size(); ++i) {
        absl::StrAppendFormat(&path, "%c%.1f %.1f", i == 0 ? 'M' : 'L', PlotX(x, run[i].x), PlotY(y, run[i].y));
      }
      // A point with no neighbour: a zero-length segment, which round caps
      // draw as a dot.
      if (run.size() == 1) path += "h0";
    }
    if (path.empty()) continue;
    absl::StrAppendFormat(&out,
                          "<path class=\"data\" fill=\"none\" stroke=\"%s\" stroke-width=\"1.8\" "
                          "stroke-linejoin=\"round\" stroke-linecap=\"round\"%s d=\"%s\"/>",
                          ColourHex(line.colour), line.dashed ? " stroke-dasharray=\"6 3\"" : "", path);
  }
  AppendLegend(out, legend);
  out += "</svg>";
  return out;
}

std::string RenderHistogramChart(const HistogramChart& chart) {
  std::string out;
  OpenSvg(out, chart.title);
  AppendFrame(out, chart.x_label, "share of samples (%)");
  if (!HasBuckets(chart)) {
    AppendNoData(out);
    out += "</svg>";
    return out;
  }

  // Each bar spans from the bucket below's bound to its own. The first
  // bucket's lower end is not in the file: the next bucket's ratio of
  // bounds stands in for it.
  struct Bar {
    double low, high, percent;
  };
  std::vector<std::vector<Bar>> bars_per_set;
  double x_low = std::numeric_limits<double>::infinity();
  double x_high = 0;
  double y_high = 0;
  for (const HistogramBars& set : chart.histograms) {
    std::vector<Bar>& bars = bars_per_set.emplace_back();
    double total = 0;
    for (const auto& [bound, count] : set.buckets) {
      if (bound > 0 && count > 0) total += count;
    }
    std::optional<double> previous;
    for (size_t i = 0; i < set.buckets.size(); ++i) {
      const auto [bound, count] = set.buckets[i];
      if (!(bound > 0) || !(count > 0)) continue;
      double low = bound / 1.5;
      if (previous.has_value() && *previous < bound) {
        low = *previous;
      } else if (i + 1 < set.buckets.size() && set.buckets[i + 1].first > bound) {
        low = bound * bound / set.buckets[i + 1].first;
      }
      previous = bound;
      if (!(low > 0)) low = bound / 1.5;
      const double percent = 100 * count / total;
      bars.push_back({low, bound, percent});
      x_low = std::min(x_low, low);
      x_high = std::max(x_high, bound);
      y_high = std::max(y_high, percent);
    }
  }
  const AxisScale x = LogScale(x_low, x_high);
  const AxisScale y = LinearScale(0, y_high, true);
  AppendXTicks(out, x);
  AppendYTicks(out, y);

  std::vector<LegendEntry> legend;
  for (size_t s = 0; s < chart.histograms.size(); ++s) {
    const HistogramBars& set = chart.histograms[s];
    legend.push_back({&set.label, set.colour, false, true});
    const char* colour = ColourHex(set.colour);
    for (const Bar& bar : bars_per_set[s]) {
      const double left = PlotX(x, bar.low);
      const double width = std::max(1.0, PlotX(x, bar.high) - left);
      const double top = PlotY(y, bar.percent);
      absl::StrAppendFormat(&out,
                            "<rect class=\"data\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"%s\" "
                            "fill-opacity=\"0.55\"/>",
                            left, top, width, kTop + kPlotHeight - top, colour);
    }
  }
  AppendLegend(out, legend);
  out += "</svg>";
  return out;
}

}  // namespace ingest::bench
