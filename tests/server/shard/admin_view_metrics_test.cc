// /metrics as BuildAdminSnapshot writes it for a serving server: every family
// says what it means in its HELP line (the shard's counters included, from
// server/shard/shard_counters.h), counters and gauges are typed apart, and
// the S3 latency histogram carries its measured sum.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/monotonic_clock.h"
#include "gtest/gtest.h"
#include "server/config/ingest_config.h"
#include "server/shard/admin_view.h"

namespace ingest {
namespace {

struct Family {
  std::string help;
  std::string type;
  int help_lines = 0;
  int type_lines = 0;
};

// HELP and TYPE lines by family name.
std::map<std::string, Family> Families(const std::string& text) {
  std::map<std::string, Family> families;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    for (const char* prefix : {"# HELP ", "# TYPE "}) {
      if (!absl::StartsWith(line, prefix)) continue;
      line.remove_prefix(7);
      const size_t space = line.find(' ');
      Family& family = families[std::string(line.substr(0, space))];
      const std::string rest(space == absl::string_view::npos ? "" : line.substr(space + 1));
      if (prefix[2] == 'H') {
        family.help = rest;
        ++family.help_lines;
      } else {
        family.type = rest;
        ++family.type_lines;
      }
      break;
    }
  }
  return families;
}

void ExpectFamily(const std::map<std::string, Family>& families, const std::string& name, std::string_view type,
                  std::string_view help) {
  auto it = families.find(name);
  ASSERT_NE(it, families.end()) << name;
  EXPECT_EQ(it->second.type, type) << name;
  EXPECT_EQ(it->second.help, help) << name;
}

class AdminViewMetricsTest : public ::testing::Test {
 protected:
  AdminViewMetricsTest() {
    for (ShardCounters& c : counters_) {
      c.segments_accepted.store(7);
      c.connections_open.store(3);
      c.loop_turn.Record(absl::Microseconds(2500));
      c.ack_spooled.Record(absl::Microseconds(8000));
      c.spool_commit.Record(absl::Microseconds(4000));
    }
    ObjectStoreStats store;
    store.requests = 2;
    store.throttled = 1;
    store.latency.Record(absl::Milliseconds(12));
    store.latency.Record(absl::Milliseconds(700));
    input_.config = &config_;
    for (const ShardCounters& c : counters_) {
      input_.shards.push_back({.counters = &c, .serving = true, .last_turn = MonotonicNow()});
    }
    input_.store_requests = store;
    input_.started = absl::Now() - absl::Minutes(1);
    input_.started_up = true;
    input_.tls.loaded = true;
  }

  IngestConfig config_;
  ShardCounters counters_[2];
  AdminViewInput input_;
};

TEST_F(AdminViewMetricsTest, EveryFamilyHasOneHelpLineSayingWhatItMeans) {
  const std::string text = BuildAdminSnapshot(input_, absl::Now()).metrics_text;
  const std::map<std::string, Family> families = Families(text);
  ASSERT_GT(families.size(), 80u) << text;
  std::set<std::string> helps;
  for (const auto& [name, family] : families) {
    EXPECT_EQ(family.help_lines, 1) << name;
    EXPECT_EQ(family.type_lines, 1) << name;
    EXPECT_GE(family.help.size(), 10u) << name << ": " << family.help;
    EXPECT_EQ(family.help.find("Shard counter"), std::string::npos) << name << ": " << family.help;
    EXPECT_TRUE(helps.insert(family.help).second) << name << " repeats another family's HELP: " << family.help;
    if (family.type == "counter") {
      EXPECT_TRUE(absl::EndsWith(name, "_total")) << name;
    }
  }
  EXPECT_EQ(families.at("ingest_segments_accepted_total").help, "Segments written to the spool (first copy).");
  EXPECT_EQ(families.at("ingest_segments_accepted_total").type, "counter");
  EXPECT_EQ(families.at("ingest_connections_open").type, "gauge");
  EXPECT_EQ(families.at("ingest_spool_write_stalled").type, "gauge");
  EXPECT_EQ(families.count("ingest_connections_open_total"), 0u);
  EXPECT_NE(text.find("ingest_segments_accepted_total{shard=\"1\"} 7\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ingest_connections_open{shard=\"0\"} 3\n"), std::string::npos) << text;

  // promtool, when installed, must accept it, lint included, but for one
  // known name: ingest_ack_latency_us_sum_total ("abbreviated units") stays
  // for dashboards that read it; ingest_ack_spooled_seconds is the same
  // latency as a histogram.
  if (std::filesystem::exists("/usr/bin/promtool")) {
    const std::string path = ::testing::TempDir() + "/admin_view_metrics.txt";
    std::ofstream(path) << text;
    FILE* promtool = popen(("/usr/bin/promtool check metrics < " + path + " 2>&1").c_str(), "r");
    ASSERT_NE(promtool, nullptr);
    std::string report;
    char buffer[512];
    while (std::fgets(buffer, sizeof(buffer), promtool) != nullptr) report += buffer;
    pclose(promtool);
    for (absl::string_view line : absl::StrSplit(report, '\n', absl::SkipEmpty())) {
      EXPECT_TRUE(absl::StartsWith(line, "ingest_ack_latency_us_sum_total ")) << line;
    }
  }
}

TEST_F(AdminViewMetricsTest, EveryShardCounterAndGaugeIsExported) {
  const std::map<std::string, Family> families = Families(BuildAdminSnapshot(input_, absl::Now()).metrics_text);
#define INGEST_EXPECT_COUNTER(counter, text) ExpectFamily(families, "ingest_" #counter "_total", "counter", text);
  INGEST_SHARD_COUNTER_TABLE(INGEST_SHARD_NAME_AND_HELP, INGEST_EXPECT_COUNTER)
#undef INGEST_EXPECT_COUNTER
#define INGEST_EXPECT_GAUGE(gauge, text) ExpectFamily(families, "ingest_" #gauge, "gauge", text);
  INGEST_SHARD_GAUGE_TABLE(INGEST_SHARD_NAME_AND_HELP, INGEST_EXPECT_GAUGE)
#undef INGEST_EXPECT_GAUGE
}

TEST_F(AdminViewMetricsTest, HistogramsCarryTheirMeasuredSums) {
  const std::string text = BuildAdminSnapshot(input_, absl::Now()).metrics_text;
  EXPECT_NE(text.find("ingest_s3_request_seconds_sum 0.712\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ingest_s3_request_seconds_count 2\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ingest_s3_request_seconds_bucket{le=\"0.025\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ingest_loop_turn_seconds_sum{shard=\"1\"} 0.0025\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ingest_ack_spooled_seconds_bucket{shard=\"1\",le=\"0.0075\"} 0\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ingest_ack_spooled_seconds_bucket{shard=\"1\",le=\"0.01\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ingest_spool_commit_seconds_sum{shard=\"1\"} 0.004\n"), std::string::npos) << text;
  EXPECT_NE(text.find("ingest_s3_errors_total{kind=\"throttled\"} 1\n"), std::string::npos) << text;
}

// The standard process metrics, under their usual names, so camera-bench
// (or any scraper) follows a remote server's CPU and memory from /metrics.
TEST_F(AdminViewMetricsTest, ProcessCpuAndMemoryUnderTheirStandardNames) {
  input_.process = {.cpu_seconds = 12.5, .resident_bytes = 64 << 20};
  const std::string text = BuildAdminSnapshot(input_, absl::Now()).metrics_text;
  const std::map<std::string, Family> families = Families(text);
  EXPECT_EQ(families.at("process_cpu_seconds_total").type, "counter");
  EXPECT_EQ(families.at("process_resident_memory_bytes").type, "gauge");
  EXPECT_NE(text.find("process_cpu_seconds_total 12.5\n"), std::string::npos) << text;
  EXPECT_NE(text.find("process_resident_memory_bytes 67108864\n"), std::string::npos) << text;
  // While starting, too.
  input_.started_up = false;
  EXPECT_NE(BuildAdminSnapshot(input_, absl::Now()).metrics_text.find("process_cpu_seconds_total 12.5\n"),
            std::string::npos);
}

}  // namespace
}  // namespace ingest
