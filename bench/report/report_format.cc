#include "bench/report/report_format.h"

#include <cmath>

#include "absl/strings/str_format.h"

namespace ingest::bench {

std::string FormatNumber(double value) {
  if (!std::isfinite(value)) return std::string(kNotMeasured);
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e12) return absl::StrFormat("%.3g", value);
  if (value == std::floor(value)) return absl::StrFormat("%.0f", value);
  if (magnitude >= 100) return absl::StrFormat("%.1f", value);
  if (magnitude >= 1) return absl::StrFormat("%.3g", value);
  if (magnitude >= 0.001) return absl::StrFormat("%.2g", value);
  return absl::StrFormat("%.2e", value);
}

std::string FormatQuantity(std::optional<double> value, std::string_view unit) {
  if (!value.has_value()) return std::string(kNotMeasured);
  std::string out = FormatNumber(*value);
  if (!unit.empty()) {
    out.push_back(' ');
    out += unit;
  }
  return out;
}

std::string FormatJsonScalar(const JsonValue& value) {
  switch (value.type()) {
    case JsonValue::Type::kNull:
      return std::string(kNotMeasured);
    case JsonValue::Type::kBool:
      return value.boolean() ? "true" : "false";
    case JsonValue::Type::kNumber:
      return FormatNumber(value.number());
    case JsonValue::Type::kString:
      return value.string();
    case JsonValue::Type::kArray:
    case JsonValue::Type::kObject:
      break;
  }
  std::string out;
  AppendJson(out, value);
  return out;
}

}  // namespace ingest::bench
