// Numbers as the report shows them: whole numbers exactly, others to a
// precision a reader can compare at a glance (3 significant digits, never
// scientific notation below a trillion), and "—" for a value that was not
// measured (null in the result, which is never the same as 0).
//
//   FormatNumber(24.8312)          // "24.8"
//   FormatQuantity(std::nullopt, "MB/s")   // "—"
//   FormatQuantity(0.41, "cores")  // "0.41 cores"
#ifndef BENCH_REPORT_REPORT_FORMAT_H_
#define BENCH_REPORT_REPORT_FORMAT_H_

#include <optional>
#include <string>
#include <string_view>

#include "common/json_value.h"

namespace ingest::bench {

// The mark for "not measured".
inline constexpr std::string_view kNotMeasured = "\xE2\x80\x94";  // U+2014 EM DASH

std::string FormatNumber(double value);

// The value and its unit separated by a space ("24.8 MB/s"), or kNotMeasured.
// An empty unit gives the number alone.
std::string FormatQuantity(std::optional<double> value, std::string_view unit);

// A scalar JSON value as plain (unescaped) text: numbers by FormatNumber,
// booleans as true/false, null as kNotMeasured, strings as they are, arrays
// and objects as compact JSON.
std::string FormatJsonScalar(const JsonValue& value);

}  // namespace ingest::bench

#endif  // BENCH_REPORT_REPORT_FORMAT_H_
