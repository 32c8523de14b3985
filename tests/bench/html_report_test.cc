// The camera-bench HTML report (bench/report/html_report.h) over realistic
// results of each kind, and over broken ones: every chart and table is
// there, nothing is fetched from elsewhere, strings from the result cannot
// become markup, and bad input gives an error or a "no data" note, never a
// crash.
//
// INGEST_HTML_REPORT_SAMPLE=/tmp/sample.html makes SampleWrittenWhenAsked
// write the sample run's report there, for tests/bench/check_report_renders.py.
#include "bench/report/html_report.h"

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "bench/report/chart_scale.h"
#include "bench/report/series_downsample.h"
#include "gtest/gtest.h"

namespace ingest::bench {
namespace {

using Series = std::vector<std::optional<double>>;

const char* const kTimeChartIds[] = {"chart-throughput", "chart-connections", "chart-latency", "chart-server",
                                     "chart-reconnects"};

std::string JsonArray(const Series& values) {
  std::string out = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out += ",";
    out += values[i].has_value() ? absl::StrFormat("%.6g", *values[i]) : "null";
  }
  return out + "]";
}

// `seconds` of a steady run at 200 cameras: a latency spike at second 20,
// no persisted acks in seconds 10-12, one reconnect burst, RSS not sampled
// in the first two seconds.
std::string SampleSeries(int seconds) {
  Series t, connected, handshakes, mb, segments, sp50, sp99, pp50, pp99, reconnects, errors, cpu, rss, gen;
  for (int i = 1; i <= seconds; ++i) {
    t.push_back(i);
    connected.push_back(i < 3 ? 90.0 * i : 200.0);
    handshakes.push_back(i < 3 ? 90.0 : i == 21 ? 12.0 : 0.0);
    mb.push_back(24.5 + std::sin(i) * 0.8);
    segments.push_back(98 + (i % 5));
    sp50.push_back(3.0 + (i % 3) * 0.2);
    sp99.push_back(i == 20 ? 480.0 : 9.0 + (i % 4));
    const bool persisted = i < 10 || i > 12;
    pp50.push_back(persisted ? std::optional<double>(14.0 + (i % 2)) : std::nullopt);
    pp99.push_back(persisted ? std::optional<double>(40.0 + (i % 7)) : std::nullopt);
    reconnects.push_back(i == 21 ? 12.0 : 0.0);
    errors.push_back(i == 21 ? 1.0 : 0.0);
    cpu.push_back(0.35 + (i % 5) * 0.02);
    rss.push_back(i <= 2 ? std::nullopt : std::optional<double>(110.0 + i * 0.3));
    gen.push_back(0.2);
  }
  return absl::StrCat(R"({"t_s":)", JsonArray(t), R"(,"connected":)", JsonArray(connected), R"(,"handshakes_per_s":)",
                      JsonArray(handshakes), R"(,"mb_per_s":)", JsonArray(mb), R"(,"segments_per_s":)",
                      JsonArray(segments), R"(,"ack_spooled_p50_ms":)", JsonArray(sp50), R"(,"ack_spooled_p99_ms":)",
                      JsonArray(sp99), R"(,"ack_persisted_p50_ms":)", JsonArray(pp50), R"(,"ack_persisted_p99_ms":)",
                      JsonArray(pp99), R"(,"reconnects_per_s":)", JsonArray(reconnects), R"(,"errors_per_s":)",
                      JsonArray(errors), R"(,"server_cpu_cores":)", JsonArray(cpu), R"(,"server_rss_mib":)",
                      JsonArray(rss), R"(,"generator_cpu_cores":)", JsonArray(gen), "}");
}

constexpr const char* kSummary = R"({
  "elapsed_s": 30.2, "cameras": 200, "connected_peak": 200, "connected_end": 200,
  "segments_recorded": 3000, "segments_acked": 3000, "all_acked": true,
  "mb_acked": 750.0, "mb_per_s": 24.8, "segments_per_s": 99.3,
  "ack_spooled_ms": {"p50": 3.1, "p90": 5.0, "p99": 9.8, "max": 480.2, "count": 3000},
  "ack_persisted_ms": {"p50": 14.2, "p90": 30.0, "p99": 44.0, "max": 61.0, "count": 2400},
  "welcome_ms": {"p50": 22.0, "p90": 41.0, "p99": 80.0, "max": 95.0, "count": 212},
  "gap_ms": {"p50": 120.0, "p90": 300.0, "p99": 410.0, "max": 420.0, "count": 12},
  "handshakes_full": 200, "handshakes_resumed": 12, "peak_handshakes_per_s": 90,
  "reconnects": 12, "open_gaps": 0, "errors": 1, "connect_failures": 0, "protocol_errors": 0,
  "goaways": 0, "storage_full_drops": 0,
  "server_cpu_s": 12.3, "server_cpu_cores_mean": 0.41, "server_rss_peak_mib": 120.5,
  "server_kb_per_camera": null, "server_cpu_s_per_gb": 6.1, "server_handshake_timeouts": null,
  "generator_cpu_s": 5.0, "generator_cpu_cores_mean": 0.2, "generator_rings": 1,
  "generator_peak_handshakes_in_flight": 64, "generator_bound_wait_s": 0.0, "storm_s": null
})";

constexpr const char* kHistograms = R"({
  "ack_spooled_ms": [[1.0, 10], [2.0, 300], [3.0, 1200], [5.0, 1000], [10.0, 450], [20.0, 30], [500.0, 10]],
  "ack_persisted_ms": [[8.0, 100], [16.0, 1500], [32.0, 700], [64.0, 100]],
  "welcome_ms": [[16.0, 100], [32.0, 100], [128.0, 12]],
  "gap_ms": [[64.0, 2], [128.0, 5], [256.0, 3], [512.0, 2]]
})";

// The members every result has, then `rest` (which starts with a comma).
std::string Result(const std::string& kind, const std::string& rest, const std::string& title = "steady run") {
  return absl::StrCat(R"({"tool":"camera-bench","schema_version":1,"kind":")", kind, R"(","title":")", title,
                      R"(","started_at":"2026-12-03T06:40:00Z",)",
                      R"("command":"camera-bench run steady --cameras 200 --bitrate-kbps 1000",)",
                      R"("scenario":"steady",)",
                      R"("parameters":{"cameras":200,"bitrate_kbps":1000,"resume":true,"profile":"steady"},)",
                      R"("machine":{"cores":2,"kernel":"6.1.0-28-amd64","openssl":"OpenSSL 3.0.15","hostname":"b1"},)",
                      R"("server":{"address":"127.0.0.1:7443","admin":"127.0.0.1:9090","version":"0.9.0",)",
                      R"("commit":"abc1234","server_id":"s-1","pid":4242})", rest, "}");
}

std::string RunResult(int seconds = 30) {
  return Result("run",
                absl::StrCat(R"(,"summary":)", kSummary, R"(,"series":)", SampleSeries(seconds), R"(,"histograms":)",
                             kHistograms, R"(,"verdict":{"ok":true,"binding_resource":"none","why":"all acked"})"));
}

std::string CapacityResult() {
  return Result(
      "capacity",
      absl::StrCat(R"(,"summary":)", kSummary, R"(,"series":)", SampleSeries(30), R"(,"histograms":)", kHistograms,
                   R"(,"capacity":{"bitrate_kbps":1000,"ack_p99_target_ms":500,"answer_cameras":1200,)",
                   R"("binding_resource":"server_cpu","why":"server CPU 1.93 of 2 cores at 1400 cameras",)",
                   R"("steps":[)",
                   R"({"cameras":400,"ok":true,"ack_spooled_p99_ms":12.0,"handshake_timeouts":0,"errors":0,)",
                   R"("server_cpu_cores":0.6,"server_rss_mib":90.0,"generator_cpu_cores":0.3,"mb_per_s":50.0,)",
                   R"("reason":""},)",
                   R"({"cameras":1200,"ok":true,"ack_spooled_p99_ms":85.0,"handshake_timeouts":0,"errors":0,)",
                   R"("server_cpu_cores":1.6,"server_rss_mib":180.0,"generator_cpu_cores":0.8,"mb_per_s":150.0,)",
                   R"("reason":""},)",
                   R"({"cameras":1400,"ok":false,"ack_spooled_p99_ms":900.0,"handshake_timeouts":31,"errors":2,)",
                   R"("server_cpu_cores":1.93,"server_rss_mib":null,"generator_cpu_cores":0.9,"mb_per_s":160.0,)",
                   R"("reason":"ack p99 900 ms over 500 ms"}]})"),
      "capacity at 1000 kbit/s");
}

std::string CompareResult() {
  return Result("compare",
                R"(,"compare":{"workload":"200 cameras, 1 MB segments",)"
                R"("sides":[{"name":"ingestd","guarantee":"fdatasync'd, mutual TLS","segments_per_s":99.0,)"
                R"("mb_per_s":24.8,"latency_p50_ms":3.1,"latency_p99_ms":9.8,"server_cpu_s_per_gb":6.1,)"
                R"("idle_kb_per_connection":22.0},)"
                R"({"name":"nginx","guarantee":"page cache only, TLS","segments_per_s":90.0,"mb_per_s":22.5,)"
                R"("latency_p50_ms":3.4,"latency_p99_ms":12.0,"server_cpu_s_per_gb":7.5,)"
                R"("idle_kb_per_connection":null}],)"
                R"("ratios":{"segments_per_s":1.1,"mb_per_s":1.102,"latency_p50_ms":0.91,"latency_p99_ms":0.82}})",
                "ingestd vs nginx");
}

std::string Render(const std::string& json) {
  absl::StatusOr<std::string> html = RenderHtmlReport(json);
  EXPECT_TRUE(html.ok()) << html.status();
  return html.ok() ? *html : "";
}

// The <figure> with `id`, or "" when there is none.
std::string Figure(const std::string& html, const std::string& id) {
  const size_t start = html.find(absl::StrCat("<figure id=\"", id, "\""));
  if (start == std::string::npos) return "";
  const size_t end = html.find("</figure>", start);
  return end == std::string::npos ? "" : html.substr(start, end - start);
}

size_t Count(const std::string& text, const std::string& needle) {
  size_t count = 0;
  for (size_t at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) ++count;
  return count;
}

void ExpectSelfContained(const std::string& html) {
  for (const char* banned : {"http://", "https://", "<script src", "<link", "@import", "<img", "<iframe"}) {
    EXPECT_FALSE(absl::StrContains(html, banned)) << banned;
  }
  for (size_t at = html.find("url("); at != std::string::npos; at = html.find("url(", at + 1)) {
    const std::string target = html.substr(at + 4, 6);
    EXPECT_TRUE(absl::StartsWith(target, "#") || absl::StartsWith(target, "data:") || absl::StartsWith(target, "'#") ||
                absl::StartsWith(target, "\"#"))
        << html.substr(at, 40);
  }
}

TEST(HtmlReportTest, RunHasEveryChartAndTable) {
  const std::string html = Render(RunResult());
  ASSERT_FALSE(html.empty());
  EXPECT_TRUE(absl::StartsWith(html, "<!DOCTYPE html>"));
  EXPECT_TRUE(absl::StrContains(html, "<h1>steady run</h1>"));
  for (const char* id : kTimeChartIds) {
    const std::string figure = Figure(html, id);
    ASSERT_FALSE(figure.empty()) << id;
    EXPECT_TRUE(absl::StrContains(figure, "<figcaption>")) << id;
    EXPECT_TRUE(absl::StrContains(figure, "<svg")) << id;
    EXPECT_TRUE(absl::StrContains(figure, "<path class=\"data\"")) << id;
    EXPECT_TRUE(absl::StrContains(figure, "class=\"tick\"")) << id;
    EXPECT_FALSE(absl::StrContains(figure, "no-data")) << id << ": " << figure;
  }
  const std::string histogram = Figure(html, "chart-latency-histogram");
  EXPECT_TRUE(absl::StrContains(histogram, "<rect class=\"data\""));
  EXPECT_TRUE(absl::StrContains(histogram, "spooled"));
  EXPECT_TRUE(absl::StrContains(histogram, "persisted"));
  // The gap histogram joins the reconnects chart as a second panel.
  EXPECT_EQ(Count(Figure(html, "chart-reconnects"), "<svg"), 2u);
  EXPECT_TRUE(absl::StrContains(Figure(html, "chart-latency"), "log"));

  EXPECT_TRUE(absl::StrContains(html, "id=\"table-summary\""));
  EXPECT_TRUE(absl::StrContains(html, "id=\"table-parameters\""));
  EXPECT_TRUE(absl::StrContains(html, "<td>24.8 MB/s</td>"));
  EXPECT_TRUE(absl::StrContains(html, "<td>120.5 MiB</td>"));
  EXPECT_TRUE(absl::StrContains(html, "p50 3.1 · p90 5 · p99 9.8 · max 480.2 ms (3000 samples)"));
  EXPECT_TRUE(absl::StrContains(html, "Server memory per camera</th><td>\xE2\x80\x94</td>")) << "null is a dash";
  EXPECT_TRUE(absl::StrContains(html, "class=\"verdict pass\""));
  EXPECT_TRUE(absl::StrContains(html, "<pre class=\"command\"><code>camera-bench run steady"));
  EXPECT_TRUE(absl::StrContains(html, "OpenSSL 3.0.15"));
  EXPECT_TRUE(absl::StrContains(html, "<dd>4242</dd>"));
  EXPECT_FALSE(absl::StrContains(html, "table-capacity"));
  EXPECT_FALSE(absl::StrContains(html, "table-compare"));
  EXPECT_FALSE(absl::StrContains(html, "nan"));
  EXPECT_FALSE(absl::StrContains(html, "inf"));
  ExpectSelfContained(html);
}

TEST(HtmlReportTest, CapacityHasItsStepsAndAnswer) {
  const std::string html = Render(CapacityResult());
  ASSERT_TRUE(absl::StrContains(html, "id=\"table-capacity\""));
  EXPECT_EQ(Count(html, "<tr class=\"pass\">"), 2u);
  EXPECT_EQ(Count(html, "<tr class=\"fail\">"), 1u);
  EXPECT_TRUE(absl::StrContains(html, "Answer: 1200 cameras"));
  EXPECT_TRUE(absl::StrContains(html, "binding resource: <code>server_cpu</code>"));
  EXPECT_TRUE(absl::StrContains(html, "ack p99 900 ms over 500 ms"));
  EXPECT_TRUE(absl::StrContains(html, "<td class=\"num\">1.93</td>"));
  for (const char* id : kTimeChartIds) EXPECT_FALSE(Figure(html, id).empty()) << id;
  ExpectSelfContained(html);
}

TEST(HtmlReportTest, CompareHasItsTablesAndNoTimeCharts) {
  const std::string html = Render(CompareResult());
  ASSERT_TRUE(absl::StrContains(html, "id=\"table-compare\""));
  EXPECT_TRUE(absl::StrContains(html, "<th scope=\"col\">ingestd</th><th scope=\"col\">nginx</th>"));
  EXPECT_TRUE(absl::StrContains(html, "fdatasync&#39;d, mutual TLS"));
  EXPECT_TRUE(absl::StrContains(html, "page cache only, TLS"));
  EXPECT_TRUE(absl::StrContains(html, "1.1×"));
  EXPECT_TRUE(absl::StrContains(html, "0.82×"));
  EXPECT_TRUE(absl::StrContains(html, "200 cameras, 1 MB segments"));
  EXPECT_TRUE(absl::StrContains(html, "id=\"table-parameters\""));
  EXPECT_FALSE(absl::StrContains(html, "<figure"));
  EXPECT_FALSE(absl::StrContains(html, "<svg"));
  ExpectSelfContained(html);
}

TEST(HtmlReportTest, StringsFromTheResultAreEscaped) {
  std::string json = RunResult();
  absl::StrReplaceAll({{R"("profile":"steady")", R"("profile":"<script>alert(1)</script> & \"q\" 'a'")"},
                       {R"("title":"steady run")", R"("title":"</title><b>x</b>")"},
                       {R"("hostname":"b1")", R"("hostname":"<img src=x onerror=alert(2)>")"}},
                      &json);
  const std::string html = Render(json);
  EXPECT_TRUE(absl::StrContains(html, "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;q&quot; &#39;a&#39;"));
  EXPECT_TRUE(absl::StrContains(html, "<h1>&lt;/title&gt;&lt;b&gt;x&lt;/b&gt;</h1>"));
  EXPECT_TRUE(absl::StrContains(html, "&lt;img src=x onerror=alert(2)&gt;"));
  EXPECT_FALSE(absl::StrContains(html, "<script"));
  EXPECT_FALSE(absl::StrContains(html, "<b>x"));
  EXPECT_FALSE(absl::StrContains(html, "<img"));
}

TEST(HtmlReportTest, BadInputsAreErrorsNotCrashes) {
  const std::string good = RunResult();
  const std::vector<std::string> bad = {
      "",
      "not json",
      "[1,2,3]",
      "{\"tool\":\"camera-bench\"",
      R"({"tool":"something-else","schema_version":1})",
      absl::StrReplaceAll(good, {{R"("schema_version":1)", R"("schema_version":2)"}}),
      absl::StrReplaceAll(good, {{R"("schema_version":1)", R"("schema_version":"1")"}}),
      absl::StrReplaceAll(good, {{R"("kind":"run")", R"("kind":"soak")"}}),
      absl::StrReplaceAll(good, {{R"("title":"steady run",)", ""}}),
      absl::StrReplaceAll(good, {{R"("title":"steady run")", R"("title":null)"}}),
      absl::StrReplaceAll(good, {{R"("started_at":"2026-12-03T06:40:00Z")", R"("started_at":7)"}}),
      absl::StrReplaceAll(good, {{R"("parameters":{)", R"("parameters":[],"x":{)"}}),
      absl::StrReplaceAll(good, {{R"("machine":)", R"("machine_":)"}}),
      absl::StrReplaceAll(good, {{R"("tool":"camera-bench",)", ""}}),
  };
  for (const std::string& json : bad) {
    absl::StatusOr<std::string> html = RenderHtmlReport(json);
    ASSERT_FALSE(html.ok()) << json.substr(0, 80);
    EXPECT_EQ(html.status().code(), absl::StatusCode::kInvalidArgument) << html.status();
    EXPECT_TRUE(absl::StrContains(html.status().message(), "camera-bench result")) << html.status();
  }
  EXPECT_TRUE(absl::StrContains(RenderHtmlReport(bad[5]).status().message(), "schema_version 2"));
}

TEST(HtmlReportTest, UnequalLengthsAndAllNullSeriesDrawEmptyCharts) {
  std::string series = SampleSeries(30);
  // connected loses its last value; every latency is null.
  const std::string all_null = JsonArray(Series(30, std::nullopt));
  const size_t at = series.find(R"("connected":[)");
  ASSERT_NE(at, std::string::npos);
  const size_t end = series.find(']', at);
  series.replace(at, end - at + 1, R"("connected":[1,2,3])");
  for (const char* name :
       {"ack_spooled_p50_ms", "ack_spooled_p99_ms", "ack_persisted_p50_ms", "ack_persisted_p99_ms"}) {
    const size_t from = series.find(absl::StrCat("\"", name, "\":["));
    ASSERT_NE(from, std::string::npos) << name;
    series.replace(from, series.find(']', from) - from + 1, absl::StrCat("\"", name, "\":", all_null));
  }
  const std::string html = Render(Result("run", absl::StrCat(R"(,"summary":)", kSummary, R"(,"series":)", series)));
  const std::string latency = Figure(html, "chart-latency");
  EXPECT_TRUE(absl::StrContains(latency, "<svg"));
  EXPECT_TRUE(absl::StrContains(latency, ">no data</text>"));
  EXPECT_TRUE(absl::StrContains(latency, "<p class=\"no-data\">"));
  EXPECT_FALSE(absl::StrContains(latency, "class=\"data\""));
  const std::string connections = Figure(html, "chart-connections");
  EXPECT_TRUE(absl::StrContains(connections, "connected has 3 values for 30 seconds"));
  EXPECT_TRUE(absl::StrContains(connections, ">no data</text>"));
  // The handshakes panel beside it is still drawn.
  EXPECT_TRUE(absl::StrContains(connections, "<path class=\"data\""));
  // No histograms: the distribution chart says so.
  EXPECT_TRUE(absl::StrContains(Figure(html, "chart-latency-histogram"), ">no data</text>"));
}

TEST(HtmlReportTest, WrongTypesInOptionalMembersAreSkipped) {
  const std::vector<std::string> odd = {
      R"(,"series":5,"histograms":"x","summary":[],"verdict":null)",
      R"(,"series":{"t_s":"one","mb_per_s":[1,2]},"histograms":{"ack_spooled_ms":[1,[2],[3,"x"],[-1,5],[0,0]]})",
      R"(,"series":{"t_s":[1,2,3],"mb_per_s":[true,"2",{"a":1}],"connected":{}},"summary":{"ack_spooled_ms":7})",
      R"(,"series":{},"capacity":{"steps":[1,null,{"cameras":"many","ok":"yes"}]},"compare":{"sides":[3]})",
      R"(,"summary":{"mb_per_s":"fast","ack_spooled_ms":{"p50":null},"new_member":[1,2]},"verdict":{"ok":"x"})",
  };
  for (const std::string& rest : odd) {
    absl::StatusOr<std::string> html = RenderHtmlReport(Result("run", rest));
    ASSERT_TRUE(html.ok()) << rest << ": " << html.status();
    EXPECT_TRUE(absl::StrContains(*html, "id=\"table-parameters\"")) << rest;
    ExpectSelfContained(*html);
  }
}

TEST(HtmlReportTest, DegenerateValuesStillScale) {
  // All zero, a single second, and values near a double's limits.
  for (const std::string& series : {
           std::string(R"({"t_s":[1,2,3],"mb_per_s":[0,0,0],"ack_spooled_p99_ms":[0,0,0]})"),
           std::string(R"({"t_s":[7],"mb_per_s":[3.5],"ack_spooled_p99_ms":[12]})"),
           std::string(R"({"t_s":[1,2],"mb_per_s":[1e300,-1e300],"ack_spooled_p99_ms":[1e-300,1e300]})"),
           std::string(R"({"t_s":[1,2],"mb_per_s":[1.7e308,1.7e308],"ack_spooled_p99_ms":[-5,-5]})"),
       }) {
    const std::string html = Render(Result("run", absl::StrCat(R"(,"series":)", series)));
    const std::string throughput = Figure(html, "chart-throughput");
    EXPECT_TRUE(absl::StrContains(throughput, "<path class=\"data\"")) << series;
    EXPECT_TRUE(absl::StrContains(Figure(html, "chart-latency"), "<path class=\"data\"")) << series;
    EXPECT_FALSE(absl::StrContains(html, "nan")) << series;
    EXPECT_FALSE(absl::StrContains(html, "inf")) << series;
  }
}

TEST(HtmlReportTest, AnHourIsThinnedButKeepsItsSpikes) {
  const std::string html = Render(RunResult(3600));
  const std::string latency = Figure(html, "chart-latency");
  // Each line at most 600 points: one M and at most 599 L per unbroken path.
  size_t at = 0;
  int paths = 0;
  while ((at = latency.find(" d=\"", at)) != std::string::npos) {
    const size_t end = latency.find('"', at + 4);
    const std::string d = latency.substr(at + 4, end - at - 4);
    EXPECT_LE(Count(d, "M") + Count(d, "L"), 600u);
    at = end;
    ++paths;
  }
  EXPECT_EQ(paths, 4);
  // The 480 ms spike at second 20 survives: the log axis reaches 1000 ms.
  EXPECT_TRUE(absl::StrContains(latency, ">1000</text>"));
  EXPECT_TRUE(absl::StrContains(latency, "minimum and maximum of each 12-second stretch"));
  EXPECT_LT(html.size(), 400'000u);
}

TEST(HtmlReportScaleTest, RoundTicksAndDegenerateRanges) {
  const AxisScale y = LinearScale(0, 24.8, true);
  EXPECT_EQ(y.low, 0);
  EXPECT_EQ(y.high, 25);
  EXPECT_EQ(y.ticks.size(), 6u);
  EXPECT_EQ(y.TickLabel(y.ticks[1]), "5");
  const AxisScale zero = LinearScale(0, 0, true);
  EXPECT_LT(zero.low, zero.high);
  const AxisScale small = LinearScale(0.1, 0.35, false);
  EXPECT_EQ(small.TickLabel(0.30000000000000004), "0.30");
  const AxisScale log = LogScale(0.8, 480);
  EXPECT_EQ(log.low, 0.1);
  EXPECT_EQ(log.high, 1000);
  EXPECT_EQ(log.TickLabel(0.1), "0.1");
  EXPECT_DOUBLE_EQ(log.Fraction(1), 0.25);
  EXPECT_EQ(log.Fraction(-3), 0);
}

TEST(HtmlReportDownsampleTest, MinAndMaxOfEachBucketAndGapsForNulls) {
  Series t, y;
  for (int i = 0; i < 1000; ++i) {
    t.push_back(i);
    y.push_back(i == 500 ? std::optional<double>(99) : i >= 800 && i < 900 ? std::nullopt : std::optional(1.0));
  }
  const std::vector<LineRun> runs = DownsampleMinMax(t, y, 100);
  ASSERT_EQ(runs.size(), 2u);
  size_t points = 0;
  bool spike = false;
  for (const LineRun& run : runs) {
    points += run.size();
    for (const ChartPoint& p : run) spike |= p.y == 99 && p.x == 500;
  }
  EXPECT_LE(points, 100u);
  EXPECT_TRUE(spike);
  // Below the limit every null is a gap.
  EXPECT_EQ(DownsampleMinMax({1, 2, 3, 4}, {1, std::nullopt, 3, 4}, 600).size(), 2u);
  EXPECT_TRUE(DownsampleMinMax({1, 2}, {std::nullopt, std::nullopt}, 600).empty());
}

TEST(HtmlReportTest, SampleWrittenWhenAsked) {
  const char* path = std::getenv("INGEST_HTML_REPORT_SAMPLE");
  if (path == nullptr) GTEST_SKIP() << "set INGEST_HTML_REPORT_SAMPLE=FILE.html to write the sample report";
  const std::string kinds[] = {RunResult(), CapacityResult(), CompareResult()};
  const char* suffixes[] = {"", ".capacity.html", ".compare.html"};
  for (int i = 0; i < 3; ++i) {
    std::ofstream out(std::string(path) + suffixes[i], std::ios::binary);
    out << Render(kinds[i]);
    ASSERT_TRUE(out.good()) << path << suffixes[i];
  }
}

}  // namespace
}  // namespace ingest::bench
