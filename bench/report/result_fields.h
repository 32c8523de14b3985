// Tolerant reads of a parsed camera-bench result (RESULT_SCHEMA.md): the
// renderer must draw whatever a result file holds, so a member that is
// absent, null or of the wrong type reads as "not there" instead of failing.
// Only the members the schema promises are checked strictly, by
// RenderHtmlReport itself.
//
//   const JsonValue* summary = ObjectMember(doc, "summary");
//   std::optional<double> mb = NumberMember(summary, "mb_per_s");
//   std::vector<std::optional<double>> t = NumberItems(ArrayMember(series, "t_s"));
#ifndef BENCH_REPORT_RESULT_FIELDS_H_
#define BENCH_REPORT_RESULT_FIELDS_H_

#include <optional>
#include <string_view>
#include <vector>

#include "common/json_value.h"

namespace ingest::bench {

// The member `key` of `object` if it is an object / array; null otherwise
// (also when `object` itself is null or not an object).
const JsonValue* ObjectMember(const JsonValue* object, std::string_view key);
const JsonValue* ArrayMember(const JsonValue* object, std::string_view key);

// The member `key` as a number, or nullopt when absent, null or not a number.
std::optional<double> NumberMember(const JsonValue* object, std::string_view key);

// The items of `array` as numbers, nullopt for every item that is not one;
// empty when `array` is null or not an array.
std::vector<std::optional<double>> NumberItems(const JsonValue* array);

}  // namespace ingest::bench

#endif  // BENCH_REPORT_RESULT_FIELDS_H_
