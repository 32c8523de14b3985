// A small writer for the Prometheus text exposition format (version 0.0.4),
// for the admin server's GET /metrics. Samples of one metric family may be
// added in any order and interleaved with other families: each family is
// printed once, with its HELP and TYPE lines, in the order families first
// appeared. Names are validated and label values escaped, so a camera id or an
// error string in a label can never break the scrape.
//
//   PrometheusText w;
//   w.Counter("ingest_segments_accepted_total", "Segments spooled.", 42, {{"shard", "0"}});
//   w.Gauge("ingest_spool_bytes", "Live spool bytes.", 1e6);
//   w.Histogram("ingest_s3_request_seconds", "S3 attempt latency.", {0.005, 0.01}, {3, 7}, 0.05, 9);
//   if (!w.status().ok()) ...;  // a bad name or histogram; that metric was left out
//   std::string body = w.Take();
#ifndef SERVER_ADMIN_PROMETHEUS_TEXT_H_
#define SERVER_ADMIN_PROMETHEUS_TEXT_H_

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "common/histogram.h"

namespace ingest {

// Label name/value pairs of one sample, in the order they are printed.
using PrometheusLabels = std::vector<std::pair<std::string, std::string>>;

// True if `name` is a valid metric name: [a-zA-Z_:][a-zA-Z0-9_:]*.
bool IsValidMetricName(std::string_view name);
// True if `name` is a valid, non-reserved label name: [a-zA-Z_][a-zA-Z0-9_]*,
// not starting with "__".
bool IsValidLabelName(std::string_view name);
// Escapes a label value for the text format: backslash, double quote and
// newline become \\, \" and \n.
std::string EscapeLabelValue(std::string_view value);

// A metric family declared once, with what it means: the HELP line every
// scrape shows. Declare each as a constant where its value is produced or
// exported, and add samples with PrometheusText::Add; the type says whether
// it is a counter (only goes up; the name ends in _total), a gauge (goes up
// and down) or a histogram.
//
//   constexpr CounterFamily kSegmentsAccepted{"ingest_segments_accepted_total",
//                                             "Segments written to the spool (first copy)."};
//   w.Add(kSegmentsAccepted, 42, {{"shard", "0"}});
struct CounterFamily {
  std::string_view name;
  std::string_view help;
};
struct GaugeFamily {
  std::string_view name;
  std::string_view help;
};
struct HistogramFamily {
  std::string_view name;
  std::string_view help;
};

class PrometheusText {
 public:
  // One sample of a declared family. Beyond what Counter, Gauge and
  // Histogram below check, a family must have HELP text, a counter's name
  // must end in "_total", and every sample of a family must be declared with
  // the same HELP (two declarations of one name that disagree are an error).
  void Add(const CounterFamily& family, double value, const PrometheusLabels& labels = {});
  void Add(const GaugeFamily& family, double value, const PrometheusLabels& labels = {});
  void Add(const HistogramFamily& family, const ingest::Histogram& histogram, const PrometheusLabels& labels = {});

  // Adds one sample of counter family `name`. `help` is used by the first
  // sample of the family and ignored afterwards. Values are doubles (exact for
  // integers up to 2^53). An invalid metric or label name, a negative or NaN
  // counter value, or a family reused with another type leaves the sample out
  // and records the first such error in status().
  void Counter(std::string_view name, std::string_view help, double value, const PrometheusLabels& labels = {});

  // As Counter, for a gauge: any value, including negative, NaN and +-Inf.
  void Gauge(std::string_view name, std::string_view help, double value, const PrometheusLabels& labels = {});

  // Adds one histogram (name_bucket{le=...}, name_sum, name_count).
  // `upper_bounds` are the finite bucket bounds (seconds, strictly
  // increasing); `cumulative_counts[i]` counts observations <= upper_bounds[i]
  // (non-decreasing, none above `count`); the +Inf bucket is `count`. Any
  // violation, or a label named "le", leaves the histogram out and records
  // the error in status().
  void Histogram(std::string_view name, std::string_view help, std::span<const double> upper_bounds,
                 std::span<const uint64_t> cumulative_counts, double sum, uint64_t count,
                 const PrometheusLabels& labels = {});

  // As above, from a latency histogram (common/histogram.h): its
  // microsecond bounds and exact sum in seconds.
  void Histogram(std::string_view name, std::string_view help, const ingest::Histogram& histogram,
                 const PrometheusLabels& labels = {});

  // OK, or the first rejected sample's error (InvalidArgument naming it).
  const absl::Status& status() const { return status_; }

  // Returns the exposition text of everything added so far and resets the
  // writer (status included) for reuse.
  std::string Take();

 private:
  struct Family {
    std::string name;
    std::string type;  // "counter", "gauge", "histogram"
    std::string help;
    std::string samples;
  };

  // The family for `name`, created on first use; nullptr (and status_ set)
  // if the name is invalid or the family already has another type.
  Family* FamilyFor(std::string_view name, std::string_view type, std::string_view help);
  // False (and status_ set) unless `help` is non-empty and agrees with what
  // the family `name`, if already present, was declared with.
  bool CheckDeclaration(std::string_view name, std::string_view help);
  bool CheckLabels(std::string_view metric, const PrometheusLabels& labels);
  void Fail(std::string message);

  std::vector<Family> families_;
  std::map<std::string, size_t, std::less<>> index_;
  absl::Status status_;
};

}  // namespace ingest

#endif  // SERVER_ADMIN_PROMETHEUS_TEXT_H_
