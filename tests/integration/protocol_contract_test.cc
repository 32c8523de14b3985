// The wire contract of proto/README.md held against a real server by a
// client that follows the document, not our client library: each case is one
// of the ways a firmware team found the promise broken, replayed over mTLS.
#include <limits>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "proto/frame.h"
#include "proto/frame_encoder.h"
#include "tests/support/bad_input_checks.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/raw_camera_connection.h"

namespace ingest::testing {
namespace {

class ProtocolContractTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartTestServer(dir_.path());
    ASSERT_NE(server_, nullptr);
    EnsureCameraCertificates(dir_.path());
  }

  // Handshake and HELLO; returns the connection and its WELCOME.
  std::unique_ptr<RawCameraConnection> Welcomed(const std::string& camera, uint64_t last_durable_seq,
                                                camproto::Welcome* welcome_out = nullptr) {
    std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server_, dir_.path(), camera);
    if (conn == nullptr) return nullptr;
    absl::Status s = conn->Handshake();
    EXPECT_TRUE(s.ok()) << s;
    EXPECT_TRUE(conn->SendPlain(HelloFrame(camera, camproto::kProtocolVersion, last_durable_seq)).ok());
    std::optional<camproto::Welcome> welcome = ExpectFrame<camproto::Welcome>(*conn, "WELCOME");
    if (!welcome.has_value()) return nullptr;
    if (welcome_out != nullptr) *welcome_out = *welcome;
    return conn;
  }

  // Expects an ERROR with `code`, then a TLS close_notify (not a bare close).
  static void ExpectErrorThenCloseNotify(RawCameraConnection& conn, camproto::ErrorCode code) {
    std::optional<camproto::Error> error = ExpectError(conn);
    ASSERT_TRUE(error.has_value());
    EXPECT_EQ(error->code, code) << camproto::ErrorCodeName(error->code) << ": " << error->message;
    absl::StatusOr<camproto::ControlFrame> after = conn.ReadFrame(absl::Seconds(5));
    EXPECT_TRUE(absl::IsCancelled(after.status())) << "expected close_notify, got " << after.status();
  }

  TempDir dir_;
  std::unique_ptr<IngestServer> server_;
};

TEST_F(ProtocolContractTest, OutOfOrderSegmentIsRefusedAndNeverCovered) {
  // 1, 2, 3, 5, 4, 6: 5 is refused, so no ACK can cover 4.
  std::unique_ptr<RawCameraConnection> conn = Welcomed("cam-000010", 0);
  ASSERT_NE(conn, nullptr);
  for (uint64_t seq = 1; seq <= 3; ++seq) {
    ASSERT_TRUE(conn->SendPlain(SegmentFrame(seq, 1024)).ok());
    ASSERT_NO_FATAL_FAILURE(ExpectSpooledAck(*conn, seq));
  }
  ASSERT_TRUE(conn->SendPlain(SegmentFrame(5, 1024)).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectErrorThenCloseNotify(*conn, camproto::ErrorCode::kBadSequence));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::segments_refused_bad_sequence, 1), 1u);

  // The camera resumes where the server says, in order.
  camproto::Welcome welcome;
  conn = Welcomed("cam-000010", 0, &welcome);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(welcome.durable_seq, 3u);
  for (uint64_t seq = 4; seq <= 6; ++seq) {
    ASSERT_TRUE(conn->SendPlain(SegmentFrame(seq, 1024)).ok());
    ASSERT_NO_FATAL_FAILURE(ExpectSpooledAck(*conn, seq));
  }
}

TEST_F(ProtocolContractTest, ReSentSegmentIsAcknowledgedAgainAndCounted) {
  std::string segment_2 = SegmentFrame(2, 2048);
  std::unique_ptr<RawCameraConnection> conn = Welcomed("cam-000011", 0);
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->SendPlain(SegmentFrame(1, 2048)).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectSpooledAck(*conn, 1));
  ASSERT_TRUE(conn->SendPlain(segment_2).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectSpooledAck(*conn, 2));
  conn.reset();  // the ACK "was lost" with the connection

  camproto::Welcome welcome;
  conn = Welcomed("cam-000011", 0, &welcome);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(welcome.durable_seq, 2u);
  ASSERT_TRUE(conn->SendPlain(segment_2).ok());  // the very same bytes
  ASSERT_NO_FATAL_FAILURE(ExpectSpooledAck(*conn, 2));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::segments_duplicate, 1), 1u);
  EXPECT_EQ(server_->Stats().segments_accepted, 2u);

  // Same seq, other bytes: refused, the stored one stays.
  std::string other;
  camproto::AppendSegment(camproto::SegmentHeader{.seq = 2,
                                                  .capture_start_us = absl::ToUnixMicros(absl::Now()),
                                                  .duration_us = 250'000,
                                                  .flags = camproto::kSegmentFlagKeyframe},
                          std::vector<uint8_t>(2048, 'z'), other);
  ASSERT_TRUE(conn->SendPlain(other).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectErrorThenCloseNotify(*conn, camproto::ErrorCode::kSegmentMismatch));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::segments_refused_mismatch, 1), 1u);
}

TEST_F(ProtocolContractTest, CaptureTimeOutsideTheWindowIsRefused) {
  for (int64_t capture : {std::numeric_limits<int64_t>::max(), std::numeric_limits<int64_t>::max() - 1000,
                          std::numeric_limits<int64_t>::min(), int64_t{0}}) {
    SCOPED_TRACE(capture);
    std::unique_ptr<RawCameraConnection> conn = Welcomed("cam-000012", 0);
    ASSERT_NE(conn, nullptr);
    std::string frame;
    camproto::AppendSegment(
        camproto::SegmentHeader{.seq = 1, .capture_start_us = capture, .duration_us = 2'000'000, .flags = 1},
        std::vector<uint8_t>(100, 'p'), frame);
    ASSERT_TRUE(conn->SendPlain(frame).ok());
    ASSERT_NO_FATAL_FAILURE(ExpectErrorThenCloseNotify(*conn, camproto::ErrorCode::kInvalidField));
  }
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::segments_refused_invalid_field, 4), 4u);
  EXPECT_EQ(server_->Stats().segments_accepted, 0u);
}

TEST_F(ProtocolContractTest, PingBeforeHelloIsUnexpected) {
  std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server_, dir_.path(), "cam-000013");
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->Handshake().ok());
  std::string ping;
  camproto::AppendFrame(camproto::Ping{.nonce = 42}, ping);
  ASSERT_TRUE(conn->SendPlain(ping).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectErrorThenCloseNotify(*conn, camproto::ErrorCode::kUnexpectedFrame));
}

TEST_F(ProtocolContractTest, RejectEndsWithCloseNotify) {
  std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server_, dir_.path(), "cam-000014");
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->Handshake().ok());
  ASSERT_TRUE(conn->SendPlain(HelloFrame("cam-000014", /*protocol_version=*/99)).ok());
  std::optional<camproto::Reject> reject = ExpectFrame<camproto::Reject>(*conn, "REJECT");
  ASSERT_TRUE(reject.has_value());
  EXPECT_EQ(reject->code, camproto::RejectCode::kUnsupportedVersion);
  absl::StatusOr<camproto::ControlFrame> after = conn->ReadFrame(absl::Seconds(5));
  EXPECT_TRUE(absl::IsCancelled(after.status())) << after.status();
}

TEST_F(ProtocolContractTest, WelcomeIsCountedWhenABadFrameFollowsInTheSameRead) {
  const uint64_t before = server_->Stats().sessions_welcomed;
  std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server_, dir_.path(), "cam-000015");
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->Handshake().ok());
  ASSERT_TRUE(conn->SendPlain(HelloFrame("cam-000015") + HelloFrame("cam-000015")).ok());
  ASSERT_TRUE(ExpectFrame<camproto::Welcome>(*conn, "WELCOME").has_value());
  ASSERT_NO_FATAL_FAILURE(ExpectErrorThenCloseNotify(*conn, camproto::ErrorCode::kUnexpectedFrame));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::sessions_welcomed, before + 1), before + 1);
}

TEST_F(ProtocolContractTest, OlderConnectionOfACameraLeavesWithoutSendingAgain) {
  std::unique_ptr<RawCameraConnection> old_connection = Welcomed("cam-000016", 0);
  ASSERT_NE(old_connection, nullptr);
  ASSERT_TRUE(old_connection->SendPlain(SegmentFrame(1, 512)).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectSpooledAck(*old_connection, 1));

  std::unique_ptr<RawCameraConnection> new_connection = Welcomed("cam-000016", 1);
  ASSERT_NE(new_connection, nullptr);
  // The old one says nothing more, yet is told within a second or two.
  std::optional<camproto::Error> error = ExpectError(*old_connection);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, camproto::ErrorCode::kSuperseded);
  EXPECT_TRUE(old_connection->WaitForClose(absl::Seconds(5)).ok());
  ASSERT_TRUE(new_connection->SendPlain(SegmentFrame(2, 512)).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectSpooledAck(*new_connection, 2));
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::superseded, 1), 1u);
}

}  // namespace
}  // namespace ingest::testing
