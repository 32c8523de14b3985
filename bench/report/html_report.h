// The HTML report of a camera-bench result: one self-contained HTML5 page
// (inline CSS and SVG; no scripts, fonts, images or links to fetch) rendered
// from the result JSON alone (bench/camera_bench/RESULT_SCHEMA.md), so any
// result file can be rendered again, opened offline, attached to a ticket or
// printed.
//
//   ASSIGN_OR_RETURN(std::string html, RenderHtmlReport(result_json));
//   // write html beside the .json
//
// The page: the title as heading; when, the command, machine and server; for
// a capacity search or a comparison its own table first (table-capacity,
// table-compare); the verdict and notes; the summary (table-summary) and
// camera groups (table-groups); the charts (report_charts.h); the
// parameters (table-parameters).
#ifndef BENCH_REPORT_HTML_REPORT_H_
#define BENCH_REPORT_HTML_REPORT_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ingest::bench {

// The schema_version this renderer reads.
inline constexpr int kResultSchemaVersion = 1;

// InvalidArgument, saying what is wrong, when `result_json` is not JSON, not
// a camera-bench result (`tool`), of another schema_version, or lacks a
// member every result has (tool, schema_version, kind, title, started_at,
// command, parameters, machine) or has it with the wrong type. Anything else
// that is missing, null or malformed is left out of the page (or drawn as
// "no data"), never an error: a partial result is still worth reading.
absl::StatusOr<std::string> RenderHtmlReport(std::string_view result_json);

}  // namespace ingest::bench

#endif  // BENCH_REPORT_HTML_REPORT_H_
