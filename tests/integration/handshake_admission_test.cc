// Handshake admission: a shard with tls.max_handshakes_in_progress
// connections accepted and not yet through their handshake stops accepting;
// the connections behind them wait in the kernel's backlog, not on a
// handshake deadline, and are accepted as the earlier ones finish, so a
// reconnect storm is taken in at the rate the shard completes handshakes. A
// connection that has sent nothing for a second gives up its place (keeping
// its own handshake deadline), so silent sockets cannot shut cameras out.
#include <memory>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/bad_input_checks.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/raw_camera_connection.h"

namespace ingest::testing {
namespace {

TEST(HandshakeAdmissionTest, AtTheLimitTheShardStopsAcceptingUntilHandshakesFinish) {
  TempDir dir;
  auto server = StartTestServer(dir.path(), [](IngestConfig& config) {
    config.server.shards = 1;
    config.tls.max_handshakes_in_progress = 2;
    // No silent connection times out during the test: only giving up its
    // place lets the camera in.
    config.tls.handshake_timeout_ms = 60000;
  });
  ASSERT_NE(server, nullptr);
  const DevCertPaths certs = EnsureCameraCertificates(dir.path());

  // Two connections that never start TLS fill the shard's handshakes.
  std::vector<std::unique_ptr<RawCameraConnection>> silent;
  for (uint64_t n = 1; n <= 2; ++n) {
    silent.push_back(ConnectCamera(*server, dir.path(), "cam-000001"));
    EXPECT_EQ(WaitForStat(*server, &IngestStats::connections_accepted, n), n);
  }
  EXPECT_GE(WaitForStat(*server, &IngestStats::accept_pauses, 1), 1u);
  EXPECT_LE(server->Stats().handshakes_in_progress, 2u);

  // Two more silent ones and then a camera: all wait in the backlog.
  for (int n = 0; n < 2; ++n) silent.push_back(ConnectCamera(*server, dir.path(), "cam-000001"));
  RawCameraOptions options = RawOptions(*server, dir.path(), certs.CameraPem("cam-000002"));
  options.io_timeout = absl::Seconds(60);
  absl::StatusOr<std::unique_ptr<RawCameraConnection>> camera = RawCameraConnection::Connect(options);
  ASSERT_TRUE(camera.ok()) << camera.status();
  // However the silent ones' places come and go, the shard never has more
  // than two handshakes under way.
  for (int look = 0; look < 20; ++look) {
    EXPECT_LE(server->Stats().handshakes_in_progress, 2u);
    absl::SleepFor(absl::Milliseconds(10));
  }

  // A second after their accept the first two give up their places, the next
  // two are accepted and do the same, then the camera is accepted and
  // completes its handshake. None of them timed out.
  absl::Status handshake = (*camera)->Handshake();
  ASSERT_TRUE(handshake.ok()) << handshake;
  const IngestStats stats = server->Stats();
  EXPECT_EQ(stats.connections_accepted, 5u);
  EXPECT_EQ(stats.handshake_timeouts, 0u);
  EXPECT_GE(stats.accept_pauses, 2u);
  EXPECT_EQ(stats.accept_errors, 0u);
}

}  // namespace
}  // namespace ingest::testing
