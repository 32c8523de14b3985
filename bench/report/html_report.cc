#include "bench/report/html_report.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "bench/report/html_escape.h"
#include "bench/report/report_charts.h"
#include "bench/report/report_format.h"
#include "bench/report/report_stylesheet.h"
#include "bench/report/report_tables.h"
#include "bench/report/result_fields.h"
#include "common/json_value.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"

namespace ingest::bench {
namespace {

absl::Status Invalid(std::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("camera-bench result: ", ToAbsl(what)));
}

// The members every result has, with the type the schema gives them.
absl::Status CheckRequiredMembers(const JsonValue& doc) {
  if (!doc.is_object()) {
    return Invalid(absl::StrCat("the document is ", JsonTypeName(doc.type()), ", not an object"));
  }
  const std::string* tool = doc.FindString("tool");
  if (tool == nullptr) return Invalid("no \"tool\" string: not a camera-bench result");
  if (*tool != "camera-bench") {
    return Invalid(absl::StrCat("\"tool\" is \"", *tool, "\", not \"camera-bench\""));
  }
  const JsonValue* version = doc.Find("schema_version");
  if (version == nullptr || !version->is_number()) return Invalid("no \"schema_version\" number");
  if (version->number() != kResultSchemaVersion) {
    return Invalid(absl::StrCat("schema_version ", FormatNumber(version->number()), " is not supported (this ",
                                "renderer reads version ", kResultSchemaVersion, ")"));
  }
  const std::string* kind = doc.FindString("kind");
  if (kind == nullptr) return Invalid("no \"kind\" string");
  if (*kind != "run" && *kind != "capacity" && *kind != "compare") {
    return Invalid(absl::StrCat("kind \"", *kind, "\" is not one of run, capacity, compare"));
  }
  for (const char* key : {"title", "started_at", "command"}) {
    const JsonValue* value = doc.Find(key);
    if (value == nullptr) return Invalid(absl::StrCat("no \"", key, "\" member"));
    if (!value->is_string()) {
      return Invalid(absl::StrCat("\"", key, "\" is ", JsonTypeName(value->type()), ", not a string"));
    }
  }
  for (const char* key : {"parameters", "machine"}) {
    const JsonValue* value = doc.Find(key);
    if (value == nullptr) return Invalid(absl::StrCat("no \"", key, "\" member"));
    if (!value->is_object()) {
      return Invalid(absl::StrCat("\"", key, "\" is ", JsonTypeName(value->type()), ", not an object"));
    }
  }
  return absl::OkStatus();
}

// "<dt>label</dt><dd>value</dd>" for a member that is there.
void AppendTerm(std::string& out, std::string_view label, const JsonValue* object, std::string_view key) {
  if (object == nullptr) return;
  const JsonValue* value = object->Find(key);
  if (value == nullptr) return;
  out += "<dt>";
  AppendHtmlEscaped(out, label);
  out += "</dt><dd>";
  AppendHtmlEscaped(out, FormatJsonScalar(*value));
  out += "</dd>";
}

void AppendHeader(std::string& out, const JsonValue& doc) {
  out += "<header><h1>";
  AppendHtmlEscaped(out, *doc.FindString("title"));
  out += "</h1><dl class=\"run\">";
  AppendTerm(out, "Started", &doc, "started_at");
  AppendTerm(out, "Kind", &doc, "kind");
  AppendTerm(out, "Scenario", &doc, "scenario");
  out += "</dl><pre class=\"command\"><code>";
  AppendHtmlEscaped(out, *doc.FindString("command"));
  out += "</code></pre><div class=\"hosts\"><section><h2>Machine</h2><dl>";
  const JsonValue* machine = ObjectMember(&doc, "machine");
  AppendTerm(out, "Cores", machine, "cores");
  AppendTerm(out, "Kernel", machine, "kernel");
  AppendTerm(out, "OpenSSL", machine, "openssl");
  AppendTerm(out, "Host", machine, "hostname");
  out += "</dl></section>";
  if (const JsonValue* server = ObjectMember(&doc, "server")) {
    out += "<section><h2>Server</h2><dl>";
    AppendTerm(out, "Address", server, "address");
    AppendTerm(out, "Admin", server, "admin");
    AppendTerm(out, "Version", server, "version");
    AppendTerm(out, "Commit", server, "commit");
    AppendTerm(out, "Server id", server, "server_id");
    AppendTerm(out, "PID", server, "pid");
    out += "</dl></section>";
  }
  out += "</div></header>";
}

}  // namespace

absl::StatusOr<std::string> RenderHtmlReport(std::string_view result_json) {
  absl::StatusOr<JsonValue> parsed = ParseJson(result_json);
  if (!parsed.ok()) {
    return Invalid(absl::StrCat("not JSON: ", parsed.status().message()));
  }
  const JsonValue& doc = *parsed;
  RETURN_IF_ERROR(CheckRequiredMembers(doc));

  std::string out =
      "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>";
  AppendHtmlEscaped(out, *doc.FindString("title"));
  out += "</title><style>";
  out += kReportStylesheet;
  out += "</style></head><body>";
  AppendHeader(out, doc);
  out += "<main>";
  // A search's answer and a comparison's ratios first: they are what the
  // reader came for; the run behind them follows.
  out += RenderCapacitySection(ObjectMember(&doc, "capacity"));
  out += RenderCompareSection(ObjectMember(&doc, "compare"));
  out += RenderVerdict(ObjectMember(&doc, "verdict"));
  out += RenderNotes(ArrayMember(&doc, "notes"));
  out += RenderSummaryTable(ObjectMember(&doc, "summary"));
  out += RenderGroupsTable(ArrayMember(&doc, "groups"));
  std::string charts = RenderCharts(doc);
  if (!charts.empty()) {
    out += "<section class=\"charts\"><h2>Charts</h2>";
    out += charts;
    out += "</section>";
  }
  out += RenderParametersTable(ObjectMember(&doc, "parameters"));
  out += "</main><footer>Rendered by camera-bench from its result file (schema version ";
  out += std::to_string(kResultSchemaVersion);
  out += ").</footer></body></html>\n";
  return out;
}

}  // namespace ingest::bench
