// The admin endpoints of a running ingestd: liveness, readiness (and why it
// fails), Prometheus metrics that move with camera traffic, and /status.
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "common/build_info.h"
#include "gtest/gtest.h"
#include "server/shard/admin_view.h"
#include "tests/support/http_get.h"
#include "tests/support/ingest_test_env.h"

namespace ingest::testing {
namespace {

TEST(AdminEndpointsTest, HealthReadinessMetricsAndStatusOfAServingServer) {
  TempDir dir;
  auto server = StartTestServer(dir.path(), [](IngestConfig& config) { config.server.zone = "eu-test-1a"; });
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->admin_port(), 0);

  EXPECT_EQ(HttpGet(server->admin_port(), "/healthz").status, 200);
  HttpGetResult ready = HttpGet(server->admin_port(), "/readyz");
  EXPECT_EQ(ready.status, 200) << ready.body;
  EXPECT_NE(ready.body.find("\"ready\":true"), std::string::npos) << ready.body;

  FleetOptions fleet = TestFleet(*server, dir.path(), /*cameras=*/5);
  absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
  ASSERT_TRUE(report.ok()) << report.status();

  HttpGetResult metrics = HttpGet(server->admin_port(), "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("# TYPE ingest_segments_accepted_total counter"), std::string::npos);
  EXPECT_NE(metrics.body.find("ingest_segments_accepted_total{shard=\"0\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("ingest_connections_open{shard=\"1\"}"), std::string::npos);
  EXPECT_NE(metrics.body.find("ingest_ready 1"), std::string::npos);
  EXPECT_EQ(metrics.body.find("ingest_segments_accepted_total{shard=\"0\"} 0\n") != std::string::npos &&
                metrics.body.find("ingest_segments_accepted_total{shard=\"1\"} 0\n") != std::string::npos,
            false)
      << "segments were accepted on some shard";

  HttpGetResult status = HttpGet(server->admin_port(), "/status");
  ASSERT_EQ(status.status, 200);
  EXPECT_NE(status.body.find("\"zone\":\"eu-test-1a\""), std::string::npos) << status.body;
  EXPECT_NE(status.body.find(absl::StrCat("\"version\":\"", BuildVersion(), "\"")), std::string::npos) << status.body;
  EXPECT_NE(metrics.body.find("ingest_info{server_id="), std::string::npos);
  EXPECT_NE(status.body.find("\"draining\":false"), std::string::npos) << status.body;

  EXPECT_EQ(HttpGet(server->admin_port(), "/no-such-path").status, 404);
}

TEST(AdminEndpointsTest, ReadinessFailsAtOnceWhenStoppingAndNamesTheCheck) {
  TempDir dir;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  AdminSnapshot before = server->AdminView();
  for (const AdminCheck& check : before.readiness) EXPECT_TRUE(check.ok) << check.name << ": " << check.detail;
  ASSERT_TRUE(server->Stop().ok());
  AdminSnapshot after = server->AdminView();
  bool draining_reported = false;
  for (const AdminCheck& check : after.readiness) {
    if (check.name == "not_draining") draining_reported = !check.ok;
  }
  EXPECT_TRUE(draining_reported);
}

TEST(AdminEndpointsTest, WhileStartingOnlyTheStartedCheckIsReportedAndItFails) {
  IngestConfig config = TestConfig("unused-state-dir");
  AdminViewInput input;
  input.config = &config;
  input.started = absl::Now() - absl::Seconds(3);
  input.startup_step = "recovering the spool";
  AdminSnapshot snapshot = BuildAdminSnapshot(input, absl::Now());
  EXPECT_TRUE(snapshot.live);
  ASSERT_EQ(snapshot.readiness.size(), 1u);
  EXPECT_EQ(snapshot.readiness[0].name, "started");
  EXPECT_FALSE(snapshot.readiness[0].ok);
  EXPECT_EQ(snapshot.readiness[0].detail, "recovering the spool");
  EXPECT_NE(snapshot.metrics_text.find("ingest_starting 1"), std::string::npos) << snapshot.metrics_text;
  EXPECT_NE(snapshot.metrics_text.find("ingest_ready 0"), std::string::npos);
  EXPECT_NE(snapshot.status_json.find("\"starting\":\"recovering the spool\""), std::string::npos)
      << snapshot.status_json;
}

TEST(AdminEndpointsTest, MetricsCoverDrainLoopTurnsAndConnectionPhases) {
  TempDir dir;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  FleetOptions fleet = TestFleet(*server, dir.path(), /*cameras=*/3);
  absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
  ASSERT_TRUE(report.ok()) << report.status();
  const std::string metrics = HttpGet(server->admin_port(), "/metrics").body;
  for (const char* expected :
       {"ingest_draining 0\n", "ingest_drain_phase 0\n", "ingest_starting 0\n", "# TYPE ingest_loop_turn_seconds histogram",
        "ingest_loop_turn_seconds_bucket{shard=\"0\",le=\"+Inf\"}", "ingest_connections{shard=\"1\",state=\"streaming\"}",
        "ingest_sessions_streaming{shard=\"0\"}", "ingest_spool_max_bytes ", "ingest_goaways_sent_total{shard=\"0\"} 0",
        "ingest_connections_accepted_while_draining_total{shard=\"0\"} 0", "ingest_acks_spooled_total{shard=",
        "ingest_acks_persisted_total{shard="}) {
    EXPECT_NE(metrics.find(expected), std::string::npos) << expected;
  }
  const HttpGetResult status = HttpGet(server->admin_port(), "/status");
  EXPECT_NE(status.body.find("\"drain\":{\"state\":\"serving\""), std::string::npos)
      << status.status << " " << status.body;
  // Every acknowledged segment went through a group commit, so the shards'
  // commit counters together cannot be 0.
  double commits = 0;
  for (absl::string_view line : absl::StrSplit(metrics, '\n')) {
    if (!absl::StartsWith(line, "ingest_spool_commits_total{")) continue;
    double value = 0;
    ASSERT_TRUE(absl::SimpleAtod(line.substr(line.rfind(' ') + 1), &value)) << line;
    commits += value;
  }
  EXPECT_GT(commits, 0) << metrics;
}

}  // namespace
}  // namespace ingest::testing
