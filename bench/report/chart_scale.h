// Axis scales for the report's charts: a data range becomes a domain with
// round ends and 4-8 round ticks (1, 2 or 5 times a power of ten), or, on a
// log axis, whole decades. Degenerate ranges still give a drawable axis: all
// values equal (a flat line, a single point, all zeros) widen to a unit
// range, and values near the limits of a double never overflow.
//
//   AxisScale y = LinearScale(0, 24.8, /*include_zero=*/true);   // 0..25 by 5
//   double from_bottom = y.Fraction(12.4);                        // 0.496
#ifndef BENCH_REPORT_CHART_SCALE_H_
#define BENCH_REPORT_CHART_SCALE_H_

#include <string>
#include <vector>

namespace ingest::bench {

struct AxisScale {
  bool log = false;
  // The domain's ends, in data units (positive on a log axis).
  double low = 0;
  double high = 1;
  std::vector<double> ticks;
  // The spacing of the ticks on a linear axis, for their labels' precision.
  double step = 1;

  // Where `value` sits between low (0) and high (1), clamped to [0, 1]; on a
  // log axis, values <= 0 sit at the bottom.
  double Fraction(double value) const;
  // A tick's label: as many decimals as the tick spacing needs.
  std::string TickLabel(double value) const;
};

// `data_low`..`data_high` must be finite with low <= high. Rates and sizes
// read from zero, so `include_zero` stretches the domain to it.
AxisScale LinearScale(double data_low, double data_high, bool include_zero);

// `smallest_positive`..`data_high`, both > 0.
AxisScale LogScale(double smallest_positive, double data_high);

}  // namespace ingest::bench

#endif  // BENCH_REPORT_CHART_SCALE_H_
