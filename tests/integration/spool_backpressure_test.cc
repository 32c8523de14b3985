// The spool is made tiny, so cameras outrun it: shards stop reading from
// cameras while the spool is full (no unbounded queue anywhere), resume as
// the sealer drains it, and in the end every segment is acknowledged and
// stored byte-exact.
#include "gtest/gtest.h"
#include "tests/support/ingest_test_env.h"

namespace ingest::testing {
namespace {

TEST(SpoolBackpressureTest, FullSpoolPausesReadingAndLosesNothing) {
  TempDir dir;
  auto server = StartTestServer(dir.path(), [](IngestConfig& config) {
    config.protocol.max_segment_bytes = 64 << 10;
    config.protocol.ack_window_bytes = 256 << 10;
    config.spool.file_bytes = 1 << 20;
    config.spool.max_bytes = 4 << 20;  // the smallest allowed: 2 files per shard
    config.store.seal_age_ms = 100;
  });
  ASSERT_NE(server, nullptr);
  FleetOptions fleet = TestFleet(*server, dir.path(), 10);
  fleet.segment_bytes = 48 * 1024;
  fleet.segment_duration = absl::Milliseconds(10);  // ~48 MB/s offered: far above the spool
  fleet.record_for = absl::Milliseconds(1500);
  absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->all_acked);
  EXPECT_EQ(report->protocol_errors, 0u);
  IngestStats during = server->Stats();
  EXPECT_GT(during.backpressure_pauses, 0u);
  ASSERT_TRUE(server->Stop().ok());

  for (const CameraReport& camera : report->cameras) {
    ExportStats exported;
    EXPECT_EQ(StoredSha256(*server, camera.id, &exported), camera.sha256_hex) << camera.id;
    EXPECT_EQ(exported.segments, camera.segments) << camera.id;
  }
}

}  // namespace
}  // namespace ingest::testing
