#include "bench/report/chart_scale.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_format.h"

namespace ingest::bench {
namespace {

// 1, 2, 5 or 10 times a power of ten, at least `raw`.
double RoundStep(double raw) {
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  const double normalised = raw / magnitude;
  const double factor = normalised <= 1 ? 1 : normalised <= 2 ? 2 : normalised <= 5 ? 5 : 10;
  return factor * magnitude;
}

constexpr int kMaxTicks = 12;

}  // namespace

double AxisScale::Fraction(double value) const {
  double fraction = 0;
  if (log) {
    if (value <= 0) return 0;
    const double low_exp = std::log10(low);
    fraction = (std::log10(value) - low_exp) / (std::log10(high) - low_exp);
  } else {
    // Halved so that a domain spanning most of a double's range cannot
    // overflow to infinity.
    fraction = (value / 2 - low / 2) / (high / 2 - low / 2);
  }
  if (!std::isfinite(fraction)) return 0;
  return std::clamp(fraction, 0.0, 1.0);
}

std::string AxisScale::TickLabel(double value) const {
  const double spacing = log ? std::fabs(value) : step;
  if (std::fabs(value) >= 1e12 || !(spacing > 1e-12)) return absl::StrFormat("%.3g", value);
  if (!log && std::fabs(value) < step / 2) return "0";
  const int decimals = std::clamp(static_cast<int>(-std::floor(std::log10(spacing))), 0, 12);
  return absl::StrFormat("%.*f", decimals, value);
}

AxisScale LinearScale(double data_low, double data_high, bool include_zero) {
  AxisScale scale;
  double low = data_low;
  double high = data_high;
  if (include_zero) {
    low = std::min(low, 0.0);
    high = std::max(high, 0.0);
  }
  if (!(high > low)) {
    // A flat line: a unit range around it (or a range proportional to it,
    // for values so large that adding 1 changes nothing).
    const double pad = std::max(1.0, std::fabs(high) / 2);
    if (low >= 0 && include_zero) {
      high = low + pad;
    } else {
      low -= pad;
      high += pad;
    }
  }
  const double step = RoundStep(high / 5 - low / 5);
  const double bottom = std::floor(low / step) * step;
  const double top = std::ceil(high / step) * step;
  if (std::isfinite(step) && std::isfinite(bottom) && std::isfinite(top) && top > bottom &&
      (top - bottom) / step <= kMaxTicks) {
    scale.low = bottom;
    scale.high = top;
    scale.step = step;
    for (int i = 0; i <= kMaxTicks; ++i) {
      const double tick = bottom + i * step;
      if (tick > top + step / 2) break;
      scale.ticks.push_back(tick);
    }
    return scale;
  }
  // Near the limits of a double: the data's own ends and their midpoint.
  scale.low = low;
  scale.high = high;
  scale.step = high / 2 - low / 2;
  scale.ticks = {low, low + scale.step, high};
  return scale;
}

AxisScale LogScale(double smallest_positive, double data_high) {
  AxisScale scale;
  scale.log = true;
  int low_exp = static_cast<int>(std::floor(std::log10(smallest_positive)));
  int high_exp = static_cast<int>(std::ceil(std::log10(std::max(data_high, smallest_positive))));
  if (high_exp <= low_exp) high_exp = low_exp + 1;
  scale.low = std::pow(10.0, low_exp);
  scale.high = std::pow(10.0, high_exp);
  if (!(scale.low > 0) || !std::isfinite(scale.high)) {
    // Beyond what a double holds as a decade boundary: fall back to the data.
    scale.low = smallest_positive;
    scale.high = std::max(data_high, smallest_positive * 10);
    scale.ticks = {scale.low, scale.high};
    return scale;
  }
  const int decades = high_exp - low_exp;
  const int every = std::max(1, (decades + 7) / 8);
  for (int e = low_exp; e <= high_exp; e += every) {
    const double decade = std::pow(10.0, e);
    scale.ticks.push_back(decade);
    // Two decades or fewer leave room for 2 and 5 between them.
    if (decades <= 2 && e < high_exp) {
      scale.ticks.push_back(2 * decade);
      scale.ticks.push_back(5 * decade);
    }
  }
  return scale;
}

}  // namespace ingest::bench
