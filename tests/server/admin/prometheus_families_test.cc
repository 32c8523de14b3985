// Metric families declared once with their HELP text (CounterFamily,
// GaugeFamily, HistogramFamily in server/admin/prometheus_text.h): what the
// writer prints for them and what it refuses.
#include <array>
#include <string>

#include "common/histogram.h"
#include "gtest/gtest.h"
#include "server/admin/prometheus_text.h"

namespace ingest {
namespace {

constexpr CounterFamily kAccepted{"ingest_segments_accepted_total", "Segments written to the spool (first copy)."};
constexpr GaugeFamily kOpen{"ingest_connections_open", "Camera connections open now."};
constexpr std::array<int64_t, 2> kBoundsUs = {5000, 250000};
constexpr HistogramFamily kLatency{"ingest_s3_request_seconds", "S3 attempt latency."};

TEST(PrometheusFamilyTest, DeclaredFamiliesPrintTheirHelpAndType) {
  PrometheusText w;
  w.Add(kAccepted, 3, {{"shard", "0"}});
  w.Add(kOpen, 2, {{"shard", "0"}});
  w.Add(kAccepted, 4, {{"shard", "1"}});
  Histogram latency(kBoundsUs);
  latency.Record(absl::Milliseconds(2));
  latency.Record(absl::Milliseconds(30));
  latency.Record(absl::Seconds(1));
  w.Add(kLatency, latency);
  ASSERT_TRUE(w.status().ok()) << w.status();
  EXPECT_EQ(w.Take(),
            "# HELP ingest_segments_accepted_total Segments written to the spool (first copy).\n"
            "# TYPE ingest_segments_accepted_total counter\n"
            "ingest_segments_accepted_total{shard=\"0\"} 3\n"
            "ingest_segments_accepted_total{shard=\"1\"} 4\n"
            "# HELP ingest_connections_open Camera connections open now.\n"
            "# TYPE ingest_connections_open gauge\n"
            "ingest_connections_open{shard=\"0\"} 2\n"
            "# HELP ingest_s3_request_seconds S3 attempt latency.\n"
            "# TYPE ingest_s3_request_seconds histogram\n"
            "ingest_s3_request_seconds_bucket{le=\"0.005\"} 1\n"
            "ingest_s3_request_seconds_bucket{le=\"0.25\"} 2\n"
            "ingest_s3_request_seconds_bucket{le=\"+Inf\"} 3\n"
            "ingest_s3_request_seconds_sum 1.032\n"  // the real sum, not one from the bounds
            "ingest_s3_request_seconds_count 3\n");
}

TEST(PrometheusFamilyTest, AFamilyWithoutHelpOrWithTwoHelpsIsRefused) {
  PrometheusText w;
  w.Add(CounterFamily{"ingest_x_total", ""}, 1);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(w.status().message().find("without HELP"), absl::string_view::npos) << w.status();
  EXPECT_EQ(w.Take(), "");

  w.Add(GaugeFamily{"ingest_y", "One meaning."}, 1, {{"shard", "0"}});
  w.Add(GaugeFamily{"ingest_y", "Another meaning."}, 2, {{"shard", "1"}});
  EXPECT_NE(w.status().message().find("different HELP"), absl::string_view::npos) << w.status();
  EXPECT_EQ(w.Take(), "# HELP ingest_y One meaning.\n# TYPE ingest_y gauge\ningest_y{shard=\"0\"} 1\n");
}

TEST(PrometheusFamilyTest, CountersEndInTotalAndStayCounters) {
  PrometheusText w;
  w.Add(CounterFamily{"ingest_segments", "Segments."}, 1);
  EXPECT_NE(w.status().message().find("does not end in _total"), absl::string_view::npos) << w.status();
  EXPECT_EQ(w.Take(), "");
  w.Add(CounterFamily{"ingest_z_total", "Z."}, 1);
  w.Add(GaugeFamily{"ingest_z_total", "Z."}, 1);  // same family, other type
  EXPECT_FALSE(w.status().ok());
  w.Add(CounterFamily{"ingest_n_total", "N."}, -1);  // counters do not go down
  EXPECT_FALSE(w.status().ok());
}

}  // namespace
}  // namespace ingest
