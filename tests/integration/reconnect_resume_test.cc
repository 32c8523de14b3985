// Every camera loses its connection mid-stream and reconnects (resuming its
// TLS session); segments in flight are re-sent. The store ends up with every
// segment exactly once: no gap, no duplicate.
#include "gtest/gtest.h"
#include "tests/support/ingest_test_env.h"

namespace ingest::testing {
namespace {

TEST(ReconnectResumeTest, NoGapNoDuplicateAfterEveryCameraReconnects) {
  TempDir dir;
  // A slow group commit keeps segments unacknowledged when the connections
  // drop: the new connection is welcomed only once the old one's segments
  // are durable, and WELCOME tells the camera not to re-send them.
  auto server = StartTestServer(dir.path(), [](IngestConfig& config) {
    config.spool.commit_interval_ms = 300;
    config.spool.commit_bytes = 64 << 20;
  });
  ASSERT_NE(server, nullptr);
  FleetOptions fleet = TestFleet(*server, dir.path(), 30);
  fleet.segment_bytes = 64 * 1024;
  fleet.segment_duration = absl::Milliseconds(100);
  fleet.record_for = absl::Seconds(3);
  fleet.disconnect_all_after = absl::Milliseconds(1500);
  absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->all_acked);
  EXPECT_EQ(report->protocol_errors, 0u);
  // Each camera connected twice; the second handshake resumed with a ticket.
  EXPECT_EQ(report->handshakes_full, 30u);
  EXPECT_EQ(report->handshakes_resumed, 30u);
  ASSERT_TRUE(server->Stop().ok());

  for (const CameraReport& camera : report->cameras) {
    EXPECT_EQ(camera.connections, 2u) << camera.id;
    ExportStats exported;
    EXPECT_EQ(StoredSha256(*server, camera.id, &exported), camera.sha256_hex) << camera.id;
    EXPECT_EQ(exported.segments, camera.segments) << camera.id;
    EXPECT_EQ(exported.first_seq, 1u) << camera.id;
    EXPECT_EQ(exported.last_seq, camera.segments) << camera.id;
    EXPECT_EQ(exported.duplicates_skipped, 0u) << camera.id;
  }
}

}  // namespace
}  // namespace ingest::testing
