// The tables of a camera-bench result (RESULT_SCHEMA.md), as HTML with
// stable ids:
//   table-summary     the run's key figures with units, "—" where not measured
//   table-parameters  the command's parameters, name -> value
//   table-capacity    each step of a capacity search, then the answer
//   table-compare     each side of a comparison, its guarantee, and the ratios
//   table-groups      a run's camera groups (a mix, slow cameras), when there are several
//   notes             what the run noticed (a drain's answer, a storm that timed out)
// Every string from the result is HTML-escaped. Each takes the member it
// renders (null when absent) and returns "" when there is nothing to show.
//
//   html += RenderSummaryTable(ObjectMember(&doc, "summary"));
#ifndef BENCH_REPORT_REPORT_TABLES_H_
#define BENCH_REPORT_REPORT_TABLES_H_

#include <string>

#include "common/json_value.h"

namespace ingest::bench {

std::string RenderSummaryTable(const JsonValue* summary);
// One line: passed or failed, the binding resource and why.
std::string RenderVerdict(const JsonValue* verdict);
std::string RenderParametersTable(const JsonValue* parameters);
std::string RenderGroupsTable(const JsonValue* groups);
std::string RenderNotes(const JsonValue* notes);
std::string RenderCapacitySection(const JsonValue* capacity);
std::string RenderCompareSection(const JsonValue* compare);

}  // namespace ingest::bench

#endif  // BENCH_REPORT_REPORT_TABLES_H_
