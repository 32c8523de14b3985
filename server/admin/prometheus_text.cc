#include "server/admin/prometheus_text.h"

#include <charconv>
#include <cmath>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/std_string_view.h"

namespace ingest {
namespace {

bool IsNameStart(char c, bool colon_ok) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon_ok && c == ':');
}

bool IsValidName(std::string_view name, bool colon_ok) {
  if (name.empty() || !IsNameStart(name[0], colon_ok)) return false;
  for (char c : name) {
    if (!IsNameStart(c, colon_ok) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

// The text format takes Go's float syntax: shortest round-trip digits, and
// "+Inf", "-Inf", "NaN" spelled exactly so.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  // Integral values (counters, byte gauges) print as plain integers, as a
  // reader expects, rather than to_chars' shortest form "1.5e+09".
  if (std::fabs(v) < 9007199254740992.0 && v == std::trunc(v)) return std::to_string(static_cast<int64_t>(v));
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  if (ec != std::errc()) return "NaN";  // cannot happen with 64 bytes
  return std::string(buf, end);
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",b="y"}` (with `extra` appended, e.g. le="0.5"), or "" with no labels.
std::string LabelSet(const PrometheusLabels& labels, std::string_view extra = {}) {
  if (labels.empty() && extra.empty()) return "";
  std::string out = "{";
  for (const auto& [name, value] : labels) {
    if (out.size() > 1) out += ',';
    absl::StrAppend(&out, name, "=\"", EscapeLabelValue(value), "\"");
  }
  if (!extra.empty()) {
    if (out.size() > 1) out += ',';
    out.append(extra);
  }
  out += '}';
  return out;
}

}  // namespace

bool IsValidMetricName(std::string_view name) { return IsValidName(name, /*colon_ok=*/true); }

bool IsValidLabelName(std::string_view name) {
  return IsValidName(name, /*colon_ok=*/false) && !name.starts_with("__");
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
  return out;
}

void PrometheusText::Fail(std::string message) {
  if (status_.ok()) status_ = absl::InvalidArgumentError(message);
}

PrometheusText::Family* PrometheusText::FamilyFor(std::string_view name, std::string_view type, std::string_view help) {
  if (!IsValidMetricName(name)) {
    Fail(absl::StrCat("invalid metric name \"", EscapeLabelValue(name), "\""));
    return nullptr;
  }
  auto it = index_.find(name);
  if (it != index_.end()) {
    Family& family = families_[it->second];
    if (family.type != type) {
      Fail(absl::StrCat("metric ", std::string(name), " is a ", family.type, ", not a ", std::string(type)));
      return nullptr;
    }
    return &family;
  }
  index_.emplace(std::string(name), families_.size());
  families_.push_back(Family{std::string(name), std::string(type), EscapeHelp(help), {}});
  return &families_.back();
}

bool PrometheusText::CheckLabels(std::string_view metric, const PrometheusLabels& labels) {
  for (size_t i = 0; i < labels.size(); ++i) {
    if (!IsValidLabelName(labels[i].first)) {
      Fail(absl::StrCat("metric ", std::string(metric), ": invalid label name \"", EscapeLabelValue(labels[i].first),
                        "\""));
      return false;
    }
    for (size_t j = 0; j < i; ++j) {
      if (labels[j].first == labels[i].first) {
        Fail(absl::StrCat("metric ", std::string(metric), ": label ", labels[i].first, " given twice"));
        return false;
      }
    }
  }
  return true;
}

void PrometheusText::Counter(std::string_view name, std::string_view help, double value,
                             const PrometheusLabels& labels) {
  if (!CheckLabels(name, labels)) return;
  if (std::isnan(value) || value < 0) {
    Fail(absl::StrCat("counter ", std::string(name), " has value ", FormatValue(value)));
    return;
  }
  Family* family = FamilyFor(name, "counter", help);
  if (family == nullptr) return;
  absl::StrAppend(&family->samples, ToAbsl(name), LabelSet(labels), " ", FormatValue(value), "\n");
}

void PrometheusText::Gauge(std::string_view name, std::string_view help, double value, const PrometheusLabels& labels) {
  if (!CheckLabels(name, labels)) return;
  Family* family = FamilyFor(name, "gauge", help);
  if (family == nullptr) return;
  absl::StrAppend(&family->samples, ToAbsl(name), LabelSet(labels), " ", FormatValue(value), "\n");
}

void PrometheusText::Histogram(std::string_view name, std::string_view help, std::span<const double> upper_bounds,
                               std::span<const uint64_t> cumulative_counts, double sum, uint64_t count,
                               const PrometheusLabels& labels) {
  if (!CheckLabels(name, labels)) return;
  const std::string n(name);
  for (const auto& label : labels) {
    if (label.first == "le") {
      Fail(absl::StrCat("histogram ", n, " uses the reserved label le"));
      return;
    }
  }
  if (upper_bounds.size() != cumulative_counts.size()) {
    Fail(absl::StrCat("histogram ", n, ": ", upper_bounds.size(), " bounds but ", cumulative_counts.size(), " counts"));
    return;
  }
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    if (!std::isfinite(upper_bounds[i]) || (i > 0 && upper_bounds[i] <= upper_bounds[i - 1])) {
      Fail(absl::StrCat("histogram ", n, ": bucket bounds must be finite and strictly increasing"));
      return;
    }
    if (cumulative_counts[i] > count || (i > 0 && cumulative_counts[i] < cumulative_counts[i - 1])) {
      Fail(absl::StrCat("histogram ", n, ": bucket counts must be cumulative and at most count"));
      return;
    }
  }
  Family* family = FamilyFor(name, "histogram", help);
  if (family == nullptr) return;
  for (size_t i = 0; i < upper_bounds.size(); ++i) {
    absl::StrAppend(&family->samples, n, "_bucket", LabelSet(labels, "le=\"" + FormatValue(upper_bounds[i]) + "\""),
                    " ", cumulative_counts[i], "\n");
  }
  absl::StrAppend(&family->samples, n, "_bucket", LabelSet(labels, "le=\"+Inf\""), " ", count, "\n");
  absl::StrAppend(&family->samples, n, "_sum", LabelSet(labels), " ", FormatValue(sum), "\n");
  absl::StrAppend(&family->samples, n, "_count", LabelSet(labels), " ", count, "\n");
}

void PrometheusText::Histogram(std::string_view name, std::string_view help, const ingest::Histogram& histogram,
                               const PrometheusLabels& labels) {
  std::vector<double> bounds_seconds;
  bounds_seconds.reserve(histogram.upper_bounds_us().size());
  for (int64_t us : histogram.upper_bounds_us()) bounds_seconds.push_back(static_cast<double>(us) / 1e6);
  Histogram(name, help, bounds_seconds, histogram.CumulativeCounts(), static_cast<double>(histogram.sum_us()) / 1e6,
            histogram.count(), labels);
}

bool PrometheusText::CheckDeclaration(std::string_view name, std::string_view help) {
  if (help.empty()) {
    Fail(absl::StrCat("metric ", ToAbsl(name), " is declared without HELP text"));
    return false;
  }
  auto it = index_.find(name);
  if (it != index_.end() && families_[it->second].help != EscapeHelp(help)) {
    Fail(absl::StrCat("metric ", ToAbsl(name), " is declared twice with different HELP text"));
    return false;
  }
  return true;
}

void PrometheusText::Add(const CounterFamily& family, double value, const PrometheusLabels& labels) {
  if (!family.name.ends_with("_total")) {
    Fail(absl::StrCat("counter ", ToAbsl(family.name), " does not end in _total"));
    return;
  }
  if (CheckDeclaration(family.name, family.help)) Counter(family.name, family.help, value, labels);
}

void PrometheusText::Add(const GaugeFamily& family, double value, const PrometheusLabels& labels) {
  if (CheckDeclaration(family.name, family.help)) Gauge(family.name, family.help, value, labels);
}

void PrometheusText::Add(const HistogramFamily& family, const ingest::Histogram& histogram,
                         const PrometheusLabels& labels) {
  if (CheckDeclaration(family.name, family.help)) Histogram(family.name, family.help, histogram, labels);
}

std::string PrometheusText::Take() {
  std::string out;
  for (const Family& family : families_) {
    absl::StrAppend(&out, "# HELP ", family.name, " ", family.help, "\n");
    absl::StrAppend(&out, "# TYPE ", family.name, " ", family.type, "\n");
    out += family.samples;
  }
  families_.clear();
  index_.clear();
  status_ = absl::OkStatus();
  return out;
}

}  // namespace ingest
