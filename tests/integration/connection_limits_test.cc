// Admission limits: connections over server.max_connections, or over
// server.max_connections_per_source from one address, complete the handshake
// and get REJECT SERVER_FULL for their HELLO, then a TLS close_notify, and are
// counted; the limit is per source address, not per server; once an admitted
// connection closes, a new one is admitted again; and with more refusals in
// progress than a shard allows, the rest are closed at accept.
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "proto/frame.h"
#include "tests/support/bad_input_checks.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/raw_camera_connection.h"

namespace ingest::testing {
namespace {

class ConnectionLimitsTest : public ::testing::Test {
 protected:
  void Start(uint32_t max_connections, uint32_t max_per_source) {
    server_ = StartTestServer(dir_.path(), [&](IngestConfig& config) {
      config.server.max_connections = max_connections;
      config.server.max_connections_per_source = max_per_source;
    });
    ASSERT_NE(server_, nullptr);
    paths_ = EnsureCameraCertificates(dir_.path());
  }

  // A connection as camera number `n` from `source` (empty: 127.0.0.1).
  std::unique_ptr<RawCameraConnection> Open(int n, const std::string& source = "") {
    std::string camera = "cam-0000" + std::to_string(n);
    RawCameraOptions options = RawOptions(*server_, dir_.path(), paths_.CameraPem(camera));
    options.source_address = source;
    absl::StatusOr<std::unique_ptr<RawCameraConnection>> conn =
        RawCameraConnection::Connect(options);
    EXPECT_TRUE(conn.ok()) << conn.status();
    return conn.ok() ? std::move(*conn) : nullptr;
  }

  // A connection the server admitted: its TLS handshake completes.
  std::unique_ptr<RawCameraConnection> OpenAdmitted(int n, const std::string& source = "") {
    std::unique_ptr<RawCameraConnection> conn = Open(n, source);
    if (conn == nullptr) return nullptr;
    absl::Status s = conn->Handshake();
    EXPECT_TRUE(s.ok()) << "connection " << n << " from '" << source << "' not admitted: " << s;
    return s.ok() ? std::move(conn) : nullptr;
  }

  // A connection the server refuses: REJECT SERVER_FULL, then close_notify.
  void ExpectRefused(int n, const std::string& source = "") {
    std::unique_ptr<RawCameraConnection> conn = Open(n, source);
    ASSERT_NE(conn, nullptr);
    ASSERT_TRUE(conn->Handshake().ok()) << "connection " << n << " over the limit: no handshake";
    ASSERT_TRUE(conn->SendPlain(HelloFrame("cam-0000" + std::to_string(n))).ok());
    absl::StatusOr<camproto::ControlFrame> frame = conn->ReadFrame();
    ASSERT_TRUE(frame.ok()) << frame.status();
    ASSERT_TRUE(std::holds_alternative<camproto::Reject>(*frame));
    EXPECT_EQ(std::get<camproto::Reject>(*frame).code, camproto::RejectCode::kServerFull);
    absl::StatusOr<camproto::ControlFrame> after = conn->ReadFrame();
    EXPECT_TRUE(absl::IsCancelled(after.status())) << "expected a TLS close_notify, got " << after.status();
  }

  TempDir dir_;
  std::unique_ptr<IngestServer> server_;
  DevCertPaths paths_;
};

TEST_F(ConnectionLimitsTest, ConnectionsOverTheTotalLimitAreRefusedUntilOneCloses) {
  constexpr uint32_t kMax = 5;
  ASSERT_NO_FATAL_FAILURE(Start(kMax, kMax));
  std::vector<std::unique_ptr<RawCameraConnection>> admitted;
  for (uint32_t i = 0; i < kMax; ++i) {
    admitted.push_back(OpenAdmitted(10 + static_cast<int>(i)));
    ASSERT_NE(admitted.back(), nullptr);
  }
  ASSERT_NO_FATAL_FAILURE(ExpectRefused(20));
  ASSERT_NO_FATAL_FAILURE(ExpectRefused(21));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::refused_total_limit, 2), 2u);
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::server_full_rejects, 2), 2u);
  EXPECT_EQ(server_->Stats().refused_source_limit, 0u);
  // The refused connections are gone on the server side too.
  EXPECT_EQ(WaitForStatAtMost(*server_, &IngestStats::connections_open, kMax), kMax);

  admitted.erase(admitted.begin());
  EXPECT_EQ(WaitForStatAtMost(*server_, &IngestStats::connections_open, kMax - 1), kMax - 1);
  admitted.push_back(OpenAdmitted(22));
  ASSERT_NE(admitted.back(), nullptr);
  ASSERT_NO_FATAL_FAILURE(ExpectRefused(23));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::refused_total_limit, 3), 3u);

  admitted.clear();
  EXPECT_EQ(WaitForStatAtMost(*server_, &IngestStats::connections_open, 0), 0u);
  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000030");
  ExpectFleetStreams(*server_, dir_.path());
}

TEST_F(ConnectionLimitsTest, ConnectionsOverThePerSourceLimitAreRefusedForThatSourceOnly) {
  constexpr uint32_t kPerSource = 3;
  ASSERT_NO_FATAL_FAILURE(Start(/*max_connections=*/20, kPerSource));
  std::vector<std::unique_ptr<RawCameraConnection>> admitted;
  for (uint32_t i = 0; i < kPerSource; ++i) {
    admitted.push_back(OpenAdmitted(10 + static_cast<int>(i)));
    ASSERT_NE(admitted.back(), nullptr);
  }
  ASSERT_NO_FATAL_FAILURE(ExpectRefused(20));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::refused_source_limit, 1), 1u);
  EXPECT_EQ(server_->Stats().refused_total_limit, 0u);

  // Another address on the loopback network is a different source.
  std::unique_ptr<RawCameraConnection> other = OpenAdmitted(21, "127.0.0.2");
  ASSERT_NE(other, nullptr);

  admitted.erase(admitted.begin());
  // The remaining admitted ones from 127.0.0.1 and the one from 127.0.0.2.
  const uint64_t open_now = admitted.size() + 1;
  EXPECT_EQ(WaitForStatAtMost(*server_, &IngestStats::connections_open, open_now), open_now);
  admitted.push_back(OpenAdmitted(22));
  ASSERT_NE(admitted.back(), nullptr);
  ASSERT_NO_FATAL_FAILURE(ExpectRefused(23));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::refused_source_limit, 2), 2u);

  admitted.clear();
  other.reset();
  EXPECT_EQ(WaitForStatAtMost(*server_, &IngestStats::connections_open, 0), 0u);
  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000030");
  ExpectFleetStreams(*server_, dir_.path());
}

}  // namespace
}  // namespace ingest::testing
