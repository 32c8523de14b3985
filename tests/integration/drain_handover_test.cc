// A graceful drain hands every camera to a peer without losing or doubling a
// segment: server B shares A's port (SO_REUSEPORT) and store; A drains while
// cameras stream. Readiness fails at once, A's listener closes after the
// announce delay, cameras leave in waves once their in-flight segments are
// acknowledged, reconnect to B, and the store holds each camera's recording
// exactly once, byte-exact. A's audit lines tell the story.
#include <fstream>
#include <thread>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/http_get.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/ingestd_process.h"

namespace ingest::testing {
namespace {

using ::testing::HasSubstr;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(DrainHandoverTest, CamerasMoveToThePeerAndEverySegmentIsStoredOnce) {
  TempDir dir;
  const std::string store_url = "dir:" + dir.path() + "/store";
  auto drain_settings = [&](IngestConfig& config) {
    config.store.url = store_url;
    config.drain.announce_delay_ms = 300;
    config.drain.goaway_per_second = 40;  // 20 cameras over about half a second
    config.drain.reconnect_after_min_ms = 50;
    config.drain.reconnect_after_max_ms = 400;
    config.drain.deadline_ms = 30000;
  };
  std::unique_ptr<IngestServer> a = StartTestServer(dir.path() + "/a", [&](IngestConfig& config) {
    drain_settings(config);
    config.server.id = "server-a";
  });
  ASSERT_NE(a, nullptr);

  FleetOptions fleet = TestFleet(*a, dir.path() + "/a", /*cameras=*/20);
  fleet.segment_duration = absl::Milliseconds(100);
  fleet.record_for = absl::Seconds(5);
  absl::StatusOr<FleetReport> report;
  std::thread cameras([&] { report = RunCameraFleet(fleet); });

  // Wait until every camera streams to A before B joins the port.
  for (int i = 0; i < 100 && a->Stats().sessions_welcomed < 20; ++i) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_GE(a->Stats().sessions_welcomed, 20u);
  std::unique_ptr<IngestServer> b = StartTestServer(dir.path() + "/b", [&](IngestConfig& config) {
    drain_settings(config);
    config.server.id = "server-b";
    config.server.listen = absl::StrCat("127.0.0.1:", a->port());
    // Both servers' camera certificates come from A's development CA.
    config.tls.dev_certs = false;
    config.tls.cert_file = dir.path() + "/a/dev-certs/server.crt";
    config.tls.key_file = dir.path() + "/a/dev-certs/server.key";
    config.tls.camera_ca_file = dir.path() + "/a/dev-certs/camera-ca.crt";
  });
  ASSERT_NE(b, nullptr);
  absl::SleepFor(absl::Seconds(1));

  a->Drain("test");
  // Readiness fails before Drain returns, while A still serves its cameras.
  HttpGetResult ready = HttpGet(a->admin_port(), "/readyz");
  EXPECT_EQ(ready.status, 503);
  EXPECT_THAT(ready.body, HasSubstr("\"failed\":[\"not_draining\"]"));
  EXPECT_EQ(HttpGet(b->admin_port(), "/readyz").status, 200);
  EXPECT_THAT(HttpGet(a->admin_port(), "/admin/drain").body, HasSubstr("\"state\":\"announced\""));

  for (int i = 0; i < 300 && !a->drain().done(); ++i) absl::SleepFor(absl::Milliseconds(100));
  ASSERT_TRUE(a->drain().done());
  const DrainProgress drained = a->drain().Progress();
  EXPECT_EQ(drained.outcome, "complete");
  EXPECT_EQ(drained.exit_code, 0);
  EXPECT_EQ(a->Stats().goaways_sent, 20u);
  EXPECT_EQ(a->Stats().protocol_errors, 0u);
  ASSERT_TRUE(a->Stop().ok());

  cameras.join();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->all_acked);
  ASSERT_TRUE(b->Stop().ok());
  EXPECT_GE(b->Stats().sessions_welcomed, 20u);

  for (const CameraReport& camera : report->cameras) {
    EXPECT_GE(camera.connections, 2u) << camera.id;
    ExportStats exported;
    EXPECT_EQ(StoredSha256(b->store(), "dev", camera.id, &exported), camera.sha256_hex) << camera.id;
    EXPECT_EQ(exported.segments, camera.segments) << camera.id;
    EXPECT_EQ(exported.duplicates_skipped, 0u) << camera.id << ": a segment was stored by both servers";
  }

  const std::string audit = ReadAll(dir.path() + "/a/audit.log");
  for (const char* event :
       {"drain_started", "drain_listeners_closed", "drain_cameras_moved", "drain_flushed", "drain_finished"}) {
    EXPECT_THAT(audit, HasSubstr(absl::StrCat("\"event\":\"", event, "\""))) << audit;
  }
  EXPECT_THAT(audit, HasSubstr("\"server_id\":\"server-a\""));
  EXPECT_THAT(audit, HasSubstr("\"cameras_moved\":20,\"goaways_sent\":20,\"cameras_left\":0"));
  EXPECT_THAT(audit, HasSubstr("\"outcome\":\"complete\""));
}

// The real binary: SIGTERM drains and exits 0; the audit file says so.
TEST(DrainHandoverTest, SigtermDrainsTheDaemonAndExitsZero) {
  TempDir dir;
  const uint16_t port = PickFreePort();
  IngestdProcess server(dir.path(), port, {"--drain_announce_delay_ms=200", "--drain_deadline_ms=20000"});
  ASSERT_TRUE(server.Start());
  FleetOptions fleet;
  fleet.port = port;
  fleet.certs_dir = dir.path() + "/dev-certs";
  fleet.cameras = 5;
  fleet.segment_bytes = 16 * 1024;
  fleet.segment_duration = absl::Milliseconds(100);
  fleet.record_for = absl::Seconds(1);
  fleet.report_interval = absl::ZeroDuration();
  absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
  ASSERT_TRUE(report.ok()) << report.status();
  const int status = server.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  const std::string audit = ReadAll(dir.path() + "/audit.log");
  EXPECT_THAT(audit, HasSubstr("\"trigger\":\"SIGTERM\""));
  EXPECT_THAT(audit, HasSubstr("\"outcome\":\"complete\",\"duration_ms\":"));
}

}  // namespace
}  // namespace ingest::testing
