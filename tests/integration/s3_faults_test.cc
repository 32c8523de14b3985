// Faults between ingestd and S3, against the real radosgw:
//  - the gateway stops mid-stream and comes back: the spool absorbs the
//    outage, nothing acknowledged is lost, ACK(persisted) resumes;
//  - ingestd is killed with SIGKILL mid-stream and restarted: everything
//    acknowledged ends up in S3 exactly once per (camera, seq);
//  - started while S3 is down, an idle server is not ready until S3 is back;
//  - a drain while S3 is down cannot flush: it exits 1 at its deadline, says
//    so in the audit, and the next start uploads everything.
#include <atomic>
#include <fstream>
#include <thread>

#include "gtest/gtest.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/ingestd_process.h"
#include "tests/support/s3_ingest_env.h"

namespace ingest::testing {
namespace {

constexpr char kPrefix[] = "zone-f";

bool CheckPasses(const IngestServer& server, const std::string& name) {
  for (const AdminCheck& check : server.AdminView().readiness) {
    if (check.name == name) return check.ok;
  }
  ADD_FAILURE() << "no readiness check " << name;
  return false;
}

class S3FaultsTest : public S3IngestTest {
 protected:
  void ExpectEveryCameraStoredOnce(const FleetReport& report) {
    std::unique_ptr<ObjectStore> bucket = OpenS3TestStore(*s3_, kBucket, kPrefix);
    ASSERT_NE(bucket, nullptr);
    for (const CameraReport& camera : report.cameras) {
      ExportStats exported;
      EXPECT_EQ(StoredSha256(*bucket, "dev", camera.id, &exported), camera.sha256_hex) << camera.id;
      EXPECT_EQ(exported.segments, camera.segments) << camera.id;
      EXPECT_EQ(exported.duplicates_skipped, 0u) << camera.id;
    }
    uint64_t batched = 0;
    for (const auto& [segment, count] : CountBatchedSegments(*bucket, "dev")) {
      EXPECT_EQ(count, 1) << segment.first << " seq " << segment.second;
      ++batched;
    }
    uint64_t recorded = 0;
    for (const CameraReport& camera : report.cameras) recorded += camera.segments;
    EXPECT_EQ(batched, recorded);
  }
};

TEST_F(S3FaultsTest, GatewayOutageMidStreamLosesNothingAndPersistedAcksResume) {
  TempDir dir;
  auto server = StartTestServer(dir.path(), S3StoreSettings(*s3_, kBucket, kPrefix, [](IngestConfig& config) {
    config.store.seal_bytes = 128 << 10;
  }));
  ASSERT_NE(server, nullptr);
  FleetOptions fleet = TestFleet(*server, dir.path(), /*cameras=*/16);
  fleet.record_for = absl::Seconds(6);
  fleet.wait_for = camproto::DurabilityLevel::kPersisted;
  fleet.drain_timeout = absl::Seconds(90);
  absl::StatusOr<FleetReport> report;
  std::thread cameras([&] { report = RunCameraFleet(fleet); });

  absl::SleepFor(absl::Seconds(1.5));
  ASSERT_TRUE(s3_->StopGateway().ok());
  absl::SleepFor(absl::Seconds(3));
  // During the outage cameras keep getting ACK(spooled); uploads fail.
  const IngestStats during = server->Stats();
  EXPECT_FALSE(during.sealer.store_ok);
  EXPECT_FALSE(CheckPasses(*server, "store_writable")) << "readiness must fail while S3 is down";
  EXPECT_GT(during.sealer.store_errors + during.store.network_errors, 0u);
  const uint64_t persisted_during = during.sealer.segments_persisted;
  absl::SleepFor(absl::Seconds(1));
  EXPECT_EQ(server->Stats().sealer.segments_persisted, persisted_during) << "nothing persists while S3 is down";
  EXPECT_GT(server->Stats().segments_accepted, persisted_during) << "cameras are still served from the spool";

  ASSERT_TRUE(s3_->StartGateway().ok());
  cameras.join();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->all_acked) << "ACK(persisted) must resume once S3 is back";
  EXPECT_TRUE(server->Stats().sealer.store_ok);
  EXPECT_TRUE(CheckPasses(*server, "store_writable"));
  ASSERT_TRUE(server->Stop().ok());
  ExpectEveryCameraStoredOnce(*report);
}

TEST_F(S3FaultsTest, KillNineMidStreamThenRestartStoresEverythingOnce) {
  TempDir dir;
  const uint16_t port = PickFreePort();
  std::vector<std::string> flags = S3StoreFlags(*s3_, kBucket, kPrefix);
  flags.push_back("--seal_bytes=256KiB");
  IngestdProcess server(dir.path(), port, flags);
  ASSERT_TRUE(server.Start());

  FleetOptions fleet;
  fleet.port = port;
  fleet.certs_dir = dir.path() + "/dev-certs";
  fleet.cameras = 16;
  fleet.segment_bytes = 48 * 1024;
  fleet.segment_duration = absl::Milliseconds(100);
  fleet.record_for = absl::Seconds(5);
  fleet.report_interval = absl::ZeroDuration();
  fleet.drain_timeout = absl::Seconds(60);
  fleet.wait_for = camproto::DurabilityLevel::kPersisted;
  absl::StatusOr<FleetReport> report;
  std::thread cameras([&] { report = RunCameraFleet(fleet); });

  absl::SleepFor(absl::Seconds(2));
  server.Kill(SIGKILL);
  absl::SleepFor(absl::Milliseconds(300));
  ASSERT_TRUE(server.Start());
  cameras.join();
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->all_acked);
  const int status = server.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << status;
  for (const CameraReport& camera : report->cameras) EXPECT_GE(camera.connections, 2u) << camera.id;
  ExpectEveryCameraStoredOnce(*report);
}

TEST_F(S3FaultsTest, StartedDuringAnOutageAnIdleServerBecomesReadyWhenTheStoreReturns) {
  TempDir dir;
  ASSERT_TRUE(s3_->StopGateway().ok());
  auto server = StartTestServer(dir.path(), S3StoreSettings(*s3_, kBucket, kPrefix));
  ASSERT_NE(server, nullptr) << "an unreachable store must not stop the start";
  EXPECT_FALSE(CheckPasses(*server, "store_writable"));
  ASSERT_TRUE(s3_->StartGateway().ok());
  // No camera sends anything: the sealer's probe brings readiness back.
  bool writable = false;
  for (int i = 0; i < 150 && !writable; ++i) {
    absl::SleepFor(absl::Milliseconds(100));
    writable = CheckPasses(*server, "store_writable");
  }
  EXPECT_TRUE(writable);
  ASSERT_TRUE(server->Stop().ok());
}

TEST_F(S3FaultsTest, DrainDuringAnOutageExitsOneAtTheDeadlineAndTheNextStartUploadsEverything) {
  TempDir dir;
  const uint16_t port = PickFreePort();
  std::vector<std::string> flags = S3StoreFlags(*s3_, kBucket, kPrefix);
  flags.push_back("--seal_bytes=256KiB");
  flags.push_back("--seal_age_ms=60000");  // nothing is uploaded before the drain
  flags.push_back("--drain_deadline_ms=4000");
  IngestdProcess server(dir.path(), port, flags);
  ASSERT_TRUE(server.Start());

  FleetOptions fleet;
  fleet.port = port;
  fleet.certs_dir = dir.path() + "/dev-certs";
  fleet.cameras = 8;
  fleet.segment_bytes = 8 * 1024;
  fleet.segment_duration = absl::Milliseconds(100);
  fleet.record_for = absl::Seconds(1);
  fleet.report_interval = absl::ZeroDuration();
  absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
  ASSERT_TRUE(report.ok()) << report.status();
  ASSERT_TRUE(report->all_acked);

  ASSERT_TRUE(s3_->StopGateway().ok());
  const absl::Time drain_started = absl::Now();
  const int status = server.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1) << status;
  EXPECT_LT(absl::Now() - drain_started, absl::Seconds(20));
  std::ifstream audit_file(dir.path() + "/audit.log");
  const std::string audit(std::istreambuf_iterator<char>(audit_file), {});
  EXPECT_NE(audit.find("\"outcome\":\"deadline_exceeded\""), std::string::npos) << audit;

  ASSERT_TRUE(s3_->StartGateway().ok());
  ASSERT_TRUE(server.Start());
  const int second = server.Kill(SIGTERM);
  EXPECT_TRUE(WIFEXITED(second) && WEXITSTATUS(second) == 0) << second;
  ExpectEveryCameraStoredOnce(*report);
}

}  // namespace
}  // namespace ingest::testing
