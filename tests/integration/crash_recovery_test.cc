// ingestd is killed with SIGKILL while cameras stream, then started again on
// the same state folder. The cameras reconnect and re-send what was not
// acknowledged; the recovered spool is sealed; in the end every camera's
// recording is in the store exactly once per sequence and byte-exact.
#include <thread>

#include "gtest/gtest.h"
#include "server/store/local_dir_store.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/ingestd_process.h"

namespace ingest::testing {
namespace {

TEST(CrashRecoveryTest, KillNineMidStreamLosesNothingAcknowledged) {
  TempDir dir;
  uint16_t port = PickFreePort();
  IngestdProcess server(dir.path(), port);
  ASSERT_TRUE(server.Start());

  FleetOptions fleet;
  fleet.port = port;
  fleet.certs_dir = dir.path() + "/dev-certs";
  fleet.cameras = 20;
  fleet.segment_bytes = 64 * 1024;
  fleet.segment_duration = absl::Milliseconds(100);
  fleet.record_for = absl::Seconds(5);
  fleet.report_interval = absl::ZeroDuration();
  fleet.drain_timeout = absl::Seconds(40);
  absl::StatusOr<FleetReport> report;
  std::thread cameras([&] { report = RunCameraFleet(fleet); });

  absl::SleepFor(absl::Seconds(2));
  server.Kill(SIGKILL);
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE(server.Start());
  cameras.join();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->all_acked);
  // SIGTERM flushes and seals everything before exiting 0.
  int status = server.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;

  LocalDirStore store(dir.path() + "/store");
  for (const CameraReport& camera : report->cameras) {
    EXPECT_GE(camera.connections, 2u) << camera.id;
    ExportStats exported;
    EXPECT_EQ(StoredSha256(store, "dev", camera.id, &exported), camera.sha256_hex) << camera.id;
    EXPECT_EQ(exported.segments, camera.segments) << camera.id;
    EXPECT_EQ(exported.duplicates_skipped, 0u) << camera.id;
  }
}

}  // namespace
}  // namespace ingest::testing
