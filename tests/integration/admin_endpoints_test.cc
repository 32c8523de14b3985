// The admin endpoints of a running ingestd: liveness, readiness (and why it
// fails), Prometheus metrics that move with camera traffic, and /status.
#include "gtest/gtest.h"
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

}  // namespace
}  // namespace ingest::testing
