// Clients that hold a connection without speaking properly: one that never
// starts the TLS handshake, one that stops halfway through its ClientHello,
// one that finishes TLS but never sends HELLO, and one that sends garbage
// instead of TLS. The server closes each within a bounded wait (after its
// handshake / HELLO deadline, or at once for garbage), counts it, and keeps
// serving well-behaved cameras.
#include <memory>
#include <optional>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/bad_input_checks.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/raw_camera_connection.h"

namespace ingest::testing {
namespace {

constexpr uint32_t kHandshakeTimeoutMs = 500;
constexpr uint32_t kHelloTimeoutMs = 500;
// The server scans deadlines every 250 ms; anything under this bound is fine.
constexpr absl::Duration kCloseBound = absl::Seconds(5);

class SlowAndGarbageClientsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartTestServer(dir_.path(), [](IngestConfig& config) {
      config.tls.handshake_timeout_ms = kHandshakeTimeoutMs;
      config.protocol.hello_timeout_ms = kHelloTimeoutMs;
    });
    ASSERT_NE(server_, nullptr);
  }

  // Waits for the server to close `conn` at the TCP level and checks it did
  // not close before `not_before` had passed since `start`.
  void ExpectClosedAfter(RawCameraConnection& conn, absl::Time start, absl::Duration not_before) {
    absl::StatusOr<std::string> received = conn.ReadRawUntilClose(kCloseBound);
    ASSERT_TRUE(received.ok()) << received.status();
    EXPECT_GE(absl::Now() - start, not_before) << "closed before its deadline";
  }

  TempDir dir_;
  std::unique_ptr<IngestServer> server_;
};

TEST_F(SlowAndGarbageClientsTest, ClientThatNeverStartsTlsIsClosedAtTheHandshakeDeadline) {
  absl::Time start = absl::Now();
  std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server_, dir_.path(), "cam-000010");
  ASSERT_NE(conn, nullptr);
  ExpectClosedAfter(*conn, start,
                    absl::Milliseconds(kHandshakeTimeoutMs) - absl::Milliseconds(100));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::handshake_timeouts, 1), 1u);
  EXPECT_EQ(server_->Stats().handshake_failures_other, 0u);

  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000010");
  ExpectFleetStreams(*server_, dir_.path());
}

TEST_F(SlowAndGarbageClientsTest, ClientStuckHalfwayThroughClientHelloIsClosedAtTheDeadline) {
  absl::Time start = absl::Now();
  std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server_, dir_.path(), "cam-000010");
  ASSERT_NE(conn, nullptr);
  absl::StatusOr<std::string> client_hello = conn->TakeClientHello();
  ASSERT_TRUE(client_hello.ok()) << client_hello.status();
  ASSERT_GT(client_hello->size(), 10u);
  ASSERT_TRUE(conn->SendRawTcp(client_hello->substr(0, client_hello->size() / 2)).ok());
  ExpectClosedAfter(*conn, start,
                    absl::Milliseconds(kHandshakeTimeoutMs) - absl::Milliseconds(100));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::handshake_timeouts, 1), 1u);
  EXPECT_EQ(server_->Stats().handshake_failures_other, 0u);

  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000010");
  ExpectFleetStreams(*server_, dir_.path());
}

TEST_F(SlowAndGarbageClientsTest, CameraThatNeverSendsHelloGetsTimeoutError) {
  std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server_, dir_.path(), "cam-000010");
  ASSERT_NE(conn, nullptr);
  absl::Status s = conn->Handshake();
  ASSERT_TRUE(s.ok()) << s;
  absl::Time handshake_done = absl::Now();
  std::optional<camproto::Error> error = ExpectFrame<camproto::Error>(*conn, "ERROR");
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, camproto::ErrorCode::kTimeout) << error->message;
  EXPECT_GE(absl::Now() - handshake_done,
            absl::Milliseconds(kHelloTimeoutMs) - absl::Milliseconds(100));
  EXPECT_TRUE(conn->WaitForClose(kCloseBound).ok()) << "still open after the timeout ERROR";
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::hello_timeouts, 1), 1u);
  EXPECT_EQ(server_->Stats().handshake_timeouts, 0u);
  EXPECT_EQ(server_->Stats().sessions_welcomed, 0u);

  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000010");
  ExpectFleetStreams(*server_, dir_.path());
}

TEST_F(SlowAndGarbageClientsTest, GarbageInsteadOfTlsIsClosedAtOnce) {
  absl::Time start = absl::Now();
  std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server_, dir_.path(), "cam-000010");
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->SendRawTcp("GET / HTTP/1.1\r\nHost: ingest\r\n\r\n").ok());
  ExpectClosedAfter(*conn, start, absl::ZeroDuration());
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::handshake_failures_other, 1), 1u);
  IngestStats stats = server_->Stats();
  EXPECT_EQ(stats.handshake_failures_cert, 0u);
  EXPECT_EQ(stats.handshake_timeouts, 0u) << "closed by the deadline, not for the garbage";

  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000010");
  ExpectFleetStreams(*server_, dir_.path());
}

}  // namespace
}  // namespace ingest::testing
