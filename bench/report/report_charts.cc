#include "bench/report/report_charts.h"

#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/report/html_escape.h"
#include "bench/report/result_fields.h"
#include "bench/report/series_downsample.h"
#include "bench/report/svg_chart.h"

namespace ingest::bench {
namespace {

constexpr const char* kTimeLabel = "time since start (s)";

// The result's `series` with its time axis, and what could not be drawn.
class TimeSeries {
 public:
  explicit TimeSeries(const JsonValue* series) : series_(series), t_(NumberItems(ArrayMember(series, "t_s"))) {}

  // The line for the series `name`; no points (and a note) when it is
  // missing or does not line up with t_s.
  ChartLine Line(const char* name, std::string label, ChartColour colour, bool dashed = false) {
    ChartLine line{.label = std::move(label), .colour = colour, .dashed = dashed};
    const JsonValue* array = ArrayMember(series_, name);
    if (array == nullptr) {
      notes_.push_back(absl::StrCat(name, " is not in the result"));
      return line;
    }
    std::vector<std::optional<double>> values = NumberItems(array);
    if (ArrayMember(series_, "t_s") == nullptr) {
      notes_.push_back(absl::StrCat(name, " has no time axis (t_s is not in the result)"));
      return line;
    }
    if (values.size() != t_.size()) {
      // Which second a value belongs to is unknown, so none is drawn.
      notes_.push_back(
          absl::StrFormat("%s has %d values for %d seconds (t_s) and is not drawn", name, values.size(), t_.size()));
      return line;
    }
    line.runs = DownsampleMinMax(t_, values, kMaxPointsPerLine);
    if (line.runs.empty()) notes_.push_back(absl::StrCat(name, " has no measured value"));
    return line;
  }

  // How the lines were thinned, for a caption; empty when they were not.
  std::string DownsamplingNote() const {
    if (t_.size() <= kMaxPointsPerLine) return "";
    const size_t buckets = kMaxPointsPerLine / 2;
    const size_t per_bucket = (t_.size() + buckets - 1) / buckets;
    return absl::StrFormat(" %d seconds drawn as the minimum and maximum of each %d-second stretch, so spikes stay.",
                           t_.size(), per_bucket);
  }

  // The notes gathered since the last call, as one paragraph (or nothing).
  std::string TakeNotes() {
    if (notes_.empty()) return "";
    std::string out = "<p class=\"no-data\">Not drawn: ";
    for (size_t i = 0; i < notes_.size(); ++i) {
      if (i > 0) out += "; ";
      AppendHtmlEscaped(out, notes_[i]);
    }
    out += ".</p>";
    notes_.clear();
    return out;
  }

 private:
  const JsonValue* series_;
  std::vector<std::optional<double>> t_;
  std::vector<std::string> notes_;
};

// A histogram's [upper_bound, count] pairs; malformed items are skipped.
HistogramBars Histogram(const JsonValue* histograms, const char* name, std::string label, ChartColour colour) {
  HistogramBars bars{.label = std::move(label), .colour = colour};
  const JsonValue* array = ArrayMember(histograms, name);
  if (array == nullptr) return bars;
  for (const JsonValue& item : array->items()) {
    if (!item.is_array() || item.items().size() != 2) continue;
    const JsonValue& bound = item.items()[0];
    const JsonValue& count = item.items()[1];
    if (bound.is_number() && count.is_number()) bars.buckets.emplace_back(bound.number(), count.number());
  }
  return bars;
}

void OpenFigure(std::string& out, const char* id, const char* title, const std::string& caption) {
  absl::StrAppendFormat(&out, "<figure id=\"%s\" class=\"chart\"><figcaption><strong>%s</strong> ", id, title);
  AppendHtmlEscaped(out, caption);
  out += "</figcaption>";
}

void AppendPanel(std::string& out, const LineChart& chart, TimeSeries& series) {
  out += RenderLineChart(chart);
  if (!HasPoints(chart)) {
    out += "<p class=\"no-data\">No data for ";
    AppendHtmlEscaped(out, chart.title);
    out += ".</p>";
  }
  out += series.TakeNotes();
}

void AppendHistogramPanel(std::string& out, const HistogramChart& chart) {
  out += RenderHistogramChart(chart);
  if (!HasBuckets(chart)) {
    out += "<p class=\"no-data\">No data for ";
    AppendHtmlEscaped(out, chart.title);
    out += ".</p>";
  }
}

void AppendThroughput(std::string& out, TimeSeries& series) {
  OpenFigure(out, "chart-throughput", "Throughput.",
             "Acknowledged megabytes (10^6 bytes) and segments per second; two panels, one per unit." +
                 series.DownsamplingNote());
  AppendPanel(out,
              {.title = "Throughput in MB/s",
               .x_label = kTimeLabel,
               .y_label = "MB/s",
               .lines = {series.Line("mb_per_s", "MB/s acknowledged", ChartColour::kBlue)}},
              series);
  AppendPanel(out,
              {.title = "Throughput in segments/s",
               .x_label = kTimeLabel,
               .y_label = "segments/s",
               .lines = {series.Line("segments_per_s", "segments/s acknowledged", ChartColour::kVermillion)}},
              series);
  out += "</figure>";
}

void AppendLatency(std::string& out, TimeSeries& series) {
  OpenFigure(out, "chart-latency", "Acknowledgement latency.",
             "p50 (solid) and p99 (dashed) of each second's acks, spooled and persisted, in ms on a log y axis "
             "(a second without acks is a gap; a value of 0 sits on the bottom edge)." +
                 series.DownsamplingNote());
  AppendPanel(out,
              {.title = "Acknowledgement latency",
               .x_label = kTimeLabel,
               .y_label = "ack latency (ms, log)",
               .log_y = true,
               .lines = {series.Line("ack_spooled_p50_ms", "spooled p50", ChartColour::kBlue),
                         series.Line("ack_spooled_p99_ms", "spooled p99", ChartColour::kBlue, true),
                         series.Line("ack_persisted_p50_ms", "persisted p50", ChartColour::kVermillion),
                         series.Line("ack_persisted_p99_ms", "persisted p99", ChartColour::kVermillion, true)}},
              series);
  out += "</figure>";
}

void AppendConnections(std::string& out, TimeSeries& series) {
  OpenFigure(out, "chart-connections", "Connections.",
             "Cameras connected at each second, and TLS handshakes completed per second." + series.DownsamplingNote());
  AppendPanel(out,
              {.title = "Connected cameras",
               .x_label = kTimeLabel,
               .y_label = "cameras",
               .lines = {series.Line("connected", "connected", ChartColour::kBlue)}},
              series);
  AppendPanel(out,
              {.title = "Handshakes per second",
               .x_label = kTimeLabel,
               .y_label = "handshakes/s",
               .lines = {series.Line("handshakes_per_s", "handshakes/s", ChartColour::kGreen)}},
              series);
  out += "</figure>";
}

void AppendServer(std::string& out, TimeSeries& series) {
  OpenFigure(out, "chart-server", "Resources.",
             "CPU of the server and of the load generator in cores (1 = one core busy), and the server's resident "
             "memory in MiB (2^20 bytes); gaps where not sampled." +
                 series.DownsamplingNote());
  AppendPanel(out,
              {.title = "CPU in cores",
               .x_label = kTimeLabel,
               .y_label = "CPU (cores)",
               .lines = {series.Line("server_cpu_cores", "server CPU", ChartColour::kBlue),
                         series.Line("generator_cpu_cores", "generator CPU", ChartColour::kOrange, true)}},
              series);
  AppendPanel(out,
              {.title = "Server resident memory",
               .x_label = kTimeLabel,
               .y_label = "server RSS (MiB)",
               .lines = {series.Line("server_rss_mib", "server RSS", ChartColour::kPurple)}},
              series);
  out += "</figure>";
}

void AppendReconnects(std::string& out, TimeSeries& series, const JsonValue* histograms) {
  OpenFigure(out, "chart-reconnects", "Reconnects and errors.",
             "Reconnects and errors per second; below, if measured, how long connections stayed lost (connection "
             "lost to the next WELCOME) as shares of all gaps over a log ms axis." +
                 series.DownsamplingNote());
  AppendPanel(out,
              {.title = "Reconnects and errors per second",
               .x_label = kTimeLabel,
               .y_label = "events/s",
               .lines = {series.Line("reconnects_per_s", "reconnects/s", ChartColour::kBlue),
                         series.Line("errors_per_s", "errors/s", ChartColour::kVermillion, true)}},
              series);
  HistogramChart gaps{.title = "Reconnect gaps",
                      .x_label = "gap (ms, log scale)",
                      .histograms = {Histogram(histograms, "gap_ms", "gap", ChartColour::kGreen)}};
  if (HasBuckets(gaps)) AppendHistogramPanel(out, gaps);
  out += "</figure>";
}

void AppendLatencyHistogram(std::string& out, const JsonValue* histograms) {
  OpenFigure(out, "chart-latency-histogram", "Latency distribution.",
             "Every ack of the run by latency bucket, spooled and persisted, each as shares of its own total; "
             "x is ms on a log scale.");
  AppendHistogramPanel(
      out, {.title = "Acknowledgement latency distribution",
            .x_label = "ack latency (ms, log scale)",
            .histograms = {Histogram(histograms, "ack_spooled_ms", "spooled", ChartColour::kBlue),
                           Histogram(histograms, "ack_persisted_ms", "persisted", ChartColour::kVermillion)}});
  out += "</figure>";
}

}  // namespace

std::string RenderCharts(const JsonValue& doc) {
  std::string out;
  const JsonValue* series_object = ObjectMember(&doc, "series");
  const JsonValue* histograms = ObjectMember(&doc, "histograms");
  if (series_object != nullptr) {
    TimeSeries series(series_object);
    AppendThroughput(out, series);
    AppendLatency(out, series);
    AppendConnections(out, series);
    AppendServer(out, series);
    AppendReconnects(out, series, histograms);
  }
  if (series_object != nullptr || histograms != nullptr) AppendLatencyHistogram(out, histograms);
  return out;
}

}  // namespace ingest::bench
