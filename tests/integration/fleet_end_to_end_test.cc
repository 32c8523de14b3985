// 200 simulated cameras stream over mutual TLS into an in-process ingestd;
// afterwards every acknowledged segment is read back from the store and each
// camera's bytes match what it recorded (SHA-256), with nothing stored twice.
#include "gtest/gtest.h"
#include "tests/support/ingest_test_env.h"

namespace ingest::testing {
namespace {

TEST(FleetEndToEndTest, TwoHundredCamerasReadBackByteExact) {
  TempDir dir;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  FleetOptions fleet = TestFleet(*server, dir.path(), 200);
  fleet.wait_for = camproto::DurabilityLevel::kPersisted;
  absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->all_acked);
  EXPECT_EQ(report->protocol_errors, 0u);
  EXPECT_EQ(report->handshakes_full + report->handshakes_resumed, 200u);
  ASSERT_TRUE(server->Stop().ok());

  IngestStats stats = server->Stats();
  EXPECT_EQ(stats.segments_accepted, report->segments_recorded);
  EXPECT_EQ(stats.sessions_welcomed, 200u);
  for (const CameraReport& camera : report->cameras) {
    ASSERT_GT(camera.segments, 0u) << camera.id;
    EXPECT_EQ(camera.acked_persisted, camera.segments) << camera.id;
    ExportStats exported;
    EXPECT_EQ(StoredSha256(*server, camera.id, &exported), camera.sha256_hex) << camera.id;
    EXPECT_EQ(exported.segments, camera.segments) << camera.id;
    EXPECT_EQ(exported.duplicates_skipped, 0u) << camera.id;
  }
}

}  // namespace
}  // namespace ingest::testing
