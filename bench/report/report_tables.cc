#include "bench/report/report_tables.h"

#include <algorithm>
#include <limits>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/strings/str_format.h"
#include "bench/report/html_escape.h"
#include "bench/report/report_format.h"
#include "bench/report/result_fields.h"

namespace ingest::bench {
namespace {

// A figure of the summary: its member, what a reader calls it, its unit.
struct SummaryRow {
  std::string_view key;
  std::string_view label;
  std::string_view unit;
};

constexpr SummaryRow kSummaryRows[] = {
    {"elapsed_s", "Elapsed", "s"},
    {"cameras", "Cameras", ""},
    {"setup_s", "Loading keys, before the first connect", "s"},
    {"ramp_s", "Ramp, first connect to every camera's WELCOME", "s"},
    {"connected_peak", "Connected, peak", ""},
    {"connected_end", "Connected at the end", ""},
    {"segments_recorded", "Segments recorded", ""},
    {"segments_acked", "Segments acknowledged", ""},
    {"all_acked", "All acknowledged", ""},
    {"mb_acked", "Data acknowledged", "MB"},
    {"mb_per_s", "Throughput", "MB/s"},
    {"segments_per_s", "Segment rate", "segments/s"},
    {"ack_spooled_ms", "Ack latency, spooled", "ms"},
    {"ack_persisted_ms", "Ack latency, persisted", "ms"},
    {"welcome_ms", "Connect to WELCOME", "ms"},
    {"gap_ms", "Reconnect gap", "ms"},
    {"handshakes_full", "Full handshakes", ""},
    {"handshakes_resumed", "Resumed handshakes", ""},
    {"peak_handshakes_per_s", "Handshakes, peak", "handshakes/s"},
    {"reconnects", "Reconnects", ""},
    {"open_gaps", "Gaps still open", ""},
    {"errors", "Errors", ""},
    {"connect_failures", "Connect failures", ""},
    {"protocol_errors", "Protocol errors", ""},
    {"goaways", "GOAWAYs", ""},
    {"storage_full_drops", "Storage-full drops", ""},
    {"server_cpu_s", "Server CPU", "s"},
    {"server_cpu_cores_mean", "Server CPU, mean", "cores"},
    {"server_rss_before_mib", "Server RSS before the run", "MiB"},
    {"server_rss_peak_mib", "Server RSS, peak", "MiB"},
    {"server_kb_per_camera", "Server memory per camera", "kB"},
    {"server_cpu_s_per_gb", "Server CPU per GB", "s/GB"},
    {"server_handshake_timeouts", "Server handshake timeouts", ""},
    {"server_accept_errors", "Server accept errors", ""},
    {"server_handshake_timeouts_in_storm", "Server handshake timeouts after the storm's cut", ""},
    {"generator_cpu_s", "Generator CPU", "s"},
    {"generator_cpu_cores_mean", "Generator CPU, mean", "cores"},
    {"generator_rss_peak_mib", "Generator RSS, peak", "MiB"},
    {"generator_rings", "Generator rings", ""},
    {"generator_peak_handshakes_in_flight", "Generator handshakes in flight, peak", ""},
    {"generator_bound_wait_s", "Generator wait on the handshake bound", "s"},
    {"storm_s", "Storm, first cut to last WELCOME", "s"},
};

// A latency summary {p50, p90, p99, max, count} on one line.
std::string LatencyCell(const JsonValue& value, std::string_view unit) {
  std::string out;
  for (std::string_view key : {"p50", "p90", "p99", "max"}) {
    if (!out.empty()) out += " · ";
    out += key;
    out.push_back(' ');
    out += FormatNumber(NumberMember(&value, key).value_or(std::numeric_limits<double>::quiet_NaN()));
  }
  out.push_back(' ');
  out += unit;
  if (std::optional<double> count = NumberMember(&value, "count")) {
    out += " (" + FormatNumber(*count) + " samples)";
  }
  return out;
}

std::string SummaryValue(const JsonValue& value, std::string_view unit) {
  if (value.is_object()) return LatencyCell(value, unit);
  if (value.is_number()) return FormatQuantity(value.number(), unit);
  if (value.is_bool()) return value.boolean() ? "yes" : "no";
  return FormatJsonScalar(value);
}

void AppendRow(std::string& out, std::string_view label, std::string_view value) {
  out += "<tr><th scope=\"row\">";
  AppendHtmlEscaped(out, label);
  out += "</th><td>";
  AppendHtmlEscaped(out, value);
  out += "</td></tr>";
}

void AppendCell(std::string& out, std::string_view text, bool numeric = true) {
  out += numeric ? "<td class=\"num\">" : "<td>";
  AppendHtmlEscaped(out, text);
  out += "</td>";
}

std::string NumberText(const JsonValue* object, std::string_view key, std::string_view unit = "") {
  return FormatQuantity(NumberMember(object, key), unit);
}

std::string StringText(const JsonValue* object, std::string_view key) {
  if (object == nullptr) return std::string(kNotMeasured);
  const JsonValue* value = object->Find(key);
  if (value == nullptr) return std::string(kNotMeasured);
  return FormatJsonScalar(*value);
}

}  // namespace

std::string RenderSummaryTable(const JsonValue* summary) {
  if (summary == nullptr || !summary->is_object()) return "";
  std::string out =
      "<section><h2>Summary</h2><table id=\"table-summary\" class=\"keyvalue\">"
      "<thead><tr><th scope=\"col\">Figure</th><th scope=\"col\">Value</th></tr></thead><tbody>";
  for (const SummaryRow& row : kSummaryRows) {
    const JsonValue* value = summary->Find(row.key);
    if (value != nullptr) AppendRow(out, row.label, SummaryValue(*value, row.unit));
  }
  // Members this renderer does not know yet still show, under their names.
  for (const auto& [key, value] : summary->members()) {
    const bool known = std::any_of(std::begin(kSummaryRows), std::end(kSummaryRows),
                                   [&key = key](const SummaryRow& row) { return row.key == key; });
    if (!known) AppendRow(out, key, SummaryValue(value, ""));
  }
  out += "</tbody></table></section>";
  return out;
}

std::string RenderVerdict(const JsonValue* verdict) {
  if (verdict == nullptr || !verdict->is_object()) return "";
  const JsonValue* ok = verdict->Find("ok");
  const bool passed = ok != nullptr && ok->is_bool() && ok->boolean();
  std::string out = passed ? "<p id=\"verdict\" class=\"verdict pass\"><strong>Verdict: pass</strong>"
                           : "<p id=\"verdict\" class=\"verdict fail\"><strong>Verdict: fail</strong>";
  if (const std::string* binding = verdict->FindString("binding_resource")) {
    out += " — binding resource: <code>";
    AppendHtmlEscaped(out, *binding);
    out += "</code>";
  }
  if (const std::string* why = verdict->FindString("why")) {
    out += " — ";
    AppendHtmlEscaped(out, *why);
  }
  out += "</p>";
  return out;
}

std::string RenderGroupsTable(const JsonValue* groups) {
  if (groups == nullptr || !groups->is_array() || groups->items().size() < 2) return "";
  std::string out =
      "<section><h2>Camera groups</h2><table id=\"table-groups\"><thead><tr><th scope=\"col\">Group</th>"
      "<th scope=\"col\">Cameras</th><th scope=\"col\">Segments acknowledged</th>"
      "<th scope=\"col\">ACK spooled p50 / p99 (ms)</th><th scope=\"col\">Errors</th>"
      "<th scope=\"col\">Reconnects</th><th scope=\"col\">Held to the latency target</th></tr></thead><tbody>";
  for (const JsonValue& group : groups->items()) {
    if (!group.is_object()) continue;
    out += "<tr>";
    AppendCell(out, StringText(&group, "name"), /*numeric=*/false);
    AppendCell(out, NumberText(&group, "cameras"));
    AppendCell(out, NumberText(&group, "segments_acked"));
    const JsonValue* latency = ObjectMember(&group, "ack_spooled_ms");
    AppendCell(out, NumberText(latency, "p50") + " / " + NumberText(latency, "p99"));
    AppendCell(out, NumberText(&group, "errors"));
    AppendCell(out, NumberText(&group, "reconnects"));
    AppendCell(out, StringText(&group, "latency_judged"), /*numeric=*/false);
    out += "</tr>";
  }
  out += "</tbody></table></section>";
  return out;
}

std::string RenderNotes(const JsonValue* notes) {
  if (notes == nullptr || !notes->is_array() || notes->items().empty()) return "";
  std::string out = "<section><h2>Notes</h2><ul id=\"notes\">";
  for (const JsonValue& note : notes->items()) {
    if (!note.is_string()) continue;
    out += "<li>";
    AppendHtmlEscaped(out, note.string());
    out += "</li>";
  }
  out += "</ul></section>";
  return out;
}

std::string RenderParametersTable(const JsonValue* parameters) {
  std::string out =
      "<section><h2>Parameters</h2><table id=\"table-parameters\" class=\"keyvalue\">"
      "<thead><tr><th scope=\"col\">Parameter</th><th scope=\"col\">Value</th></tr></thead><tbody>";
  if (parameters != nullptr) {
    for (const auto& [key, value] : parameters->members()) AppendRow(out, key, FormatJsonScalar(value));
  }
  out += "</tbody></table></section>";
  return out;
}

std::string RenderCapacitySection(const JsonValue* capacity) {
  if (capacity == nullptr || !capacity->is_object()) return "";
  std::string out = "<section><h2>Capacity</h2><p id=\"capacity-answer\" class=\"answer\"><strong>Answer: ";
  AppendHtmlEscaped(out, NumberText(capacity, "answer_cameras", "cameras"));
  out += "</strong> at ";
  AppendHtmlEscaped(out, NumberText(capacity, "bitrate_kbps", "kbit/s"));
  out += " with ack p99 within ";
  AppendHtmlEscaped(out, NumberText(capacity, "ack_p99_target_ms", "ms"));
  out += "; binding resource: <code>";
  AppendHtmlEscaped(out, StringText(capacity, "binding_resource"));
  out += "</code>";
  if (const std::string* why = capacity->FindString("why")) {
    out += " — ";
    AppendHtmlEscaped(out, *why);
  }
  out +=
      ".</p><table id=\"table-capacity\"><thead><tr><th scope=\"col\">Cameras</th><th scope=\"col\">OK</th>"
      "<th scope=\"col\">Ack p99 (ms)</th><th scope=\"col\">Handshake timeouts</th><th scope=\"col\">Errors</th>"
      "<th scope=\"col\">Server CPU (cores)</th><th scope=\"col\">Server RSS (MiB)</th>"
      "<th scope=\"col\">Generator CPU (cores)</th><th scope=\"col\">MB/s</th><th scope=\"col\">Reason</th>"
      "</tr></thead><tbody>";
  if (const JsonValue* steps = ArrayMember(capacity, "steps")) {
    for (const JsonValue& step : steps->items()) {
      if (!step.is_object()) continue;
      const JsonValue* ok = step.Find("ok");
      const bool passed = ok != nullptr && ok->is_bool() && ok->boolean();
      out += passed ? "<tr class=\"pass\">" : "<tr class=\"fail\">";
      AppendCell(out, NumberText(&step, "cameras"));
      AppendCell(out, ok == nullptr || !ok->is_bool() ? std::string(kNotMeasured) : passed ? "yes" : "no", false);
      for (std::string_view key : {"ack_spooled_p99_ms", "handshake_timeouts", "errors", "server_cpu_cores",
                                   "server_rss_mib", "generator_cpu_cores", "mb_per_s"}) {
        AppendCell(out, NumberText(&step, key));
      }
      const std::string* reason = step.FindString("reason");
      AppendCell(out, reason != nullptr ? *reason : "", false);
      out += "</tr>";
    }
  }
  out += "</tbody></table></section>";
  return out;
}

std::string RenderCompareSection(const JsonValue* compare) {
  if (compare == nullptr || !compare->is_object()) return "";
  std::vector<const JsonValue*> sides;
  if (const JsonValue* array = ArrayMember(compare, "sides")) {
    for (const JsonValue& side : array->items()) {
      if (side.is_object()) sides.push_back(&side);
    }
  }
  const JsonValue* ratios = ObjectMember(compare, "ratios");

  std::string out = "<section><h2>Comparison</h2>";
  if (const std::string* workload = compare->FindString("workload")) {
    out += "<p class=\"workload\">Workload: ";
    AppendHtmlEscaped(out, *workload);
    out += "</p>";
  }
  out += "<table id=\"table-compare\"><thead><tr><th scope=\"col\">Measure</th>";
  for (const JsonValue* side : sides) {
    out += "<th scope=\"col\">";
    AppendHtmlEscaped(out, StringText(side, "name"));
    out += "</th>";
  }
  out += "<th scope=\"col\">Ratio (first / second)</th></tr></thead><tbody><tr><th scope=\"row\">Guarantee</th>";
  for (const JsonValue* side : sides) AppendCell(out, StringText(side, "guarantee"), false);
  AppendCell(out, "", false);
  out += "</tr>";

  struct Measure {
    std::string_view key, label, unit;
  };
  constexpr Measure kMeasures[] = {
      {"segments_per_s", "Segment rate", "segments/s"},
      {"mb_per_s", "Throughput", "MB/s"},
      {"latency_p50_ms", "Latency p50", "ms"},
      {"latency_p99_ms", "Latency p99", "ms"},
      {"server_cpu_s_per_gb", "Server CPU per GB", "s/GB"},
      {"server_cores", "Server CPU", "cores"},
      {"idle_kb_per_connection", "Idle memory per connection", "kB"},
  };
  for (const Measure& measure : kMeasures) {
    out += "<tr><th scope=\"row\">";
    AppendHtmlEscaped(out, measure.label);
    out += "</th>";
    for (const JsonValue* side : sides) AppendCell(out, NumberText(side, measure.key, measure.unit));
    std::optional<double> ratio = NumberMember(ratios, measure.key);
    AppendCell(out, ratio.has_value() ? FormatNumber(*ratio) + "×" : std::string(kNotMeasured));
    out += "</tr>";
  }
  out += "<tr><th scope=\"row\">Notes</th>";
  for (const JsonValue* side : sides) AppendCell(out, StringText(side, "note"), false);
  AppendCell(out, "", false);
  out += "</tr></tbody></table></section>";
  return out;
}

}  // namespace ingest::bench
