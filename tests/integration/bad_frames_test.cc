// Frames the server must refuse from a camera that passed TLS: a SEGMENT over
// the announced maximum, an unknown frame type, a SEGMENT before HELLO, and
// frames cut off by the camera closing. The camera sees ERROR with the
// matching code and a close (or, for a cut-off frame, a close and no ACK); the
// server counts a protocol error, stores nothing of the refused frame, and
// goes on serving well-behaved cameras.
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "proto/frame_encoder.h"
#include "tests/support/bad_input_checks.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/raw_camera_connection.h"

namespace ingest::testing {
namespace {

constexpr uint32_t kMaxSegmentBytes = 64 * 1024;

class BadFramesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartTestServer(dir_.path(), [](IngestConfig& config) {
      config.protocol.max_segment_bytes = kMaxSegmentBytes;
      config.protocol.ack_window_bytes = 4 * kMaxSegmentBytes;
    });
    ASSERT_NE(server_, nullptr);
  }

  // A connection of `camera_id` past HELLO -> WELCOME; null after a failure.
  std::unique_ptr<RawCameraConnection> Welcomed(const std::string& camera_id,
                                                camproto::Welcome* welcome = nullptr) {
    std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server_, dir_.path(), camera_id);
    if (conn == nullptr) return nullptr;
    absl::Status s = conn->Handshake();
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok()) return nullptr;
    s = conn->SendPlain(HelloFrame(camera_id));
    EXPECT_TRUE(s.ok()) << s;
    if (!s.ok()) return nullptr;
    std::optional<camproto::Welcome> w = ExpectFrame<camproto::Welcome>(*conn, "WELCOME");
    if (!w.has_value()) return nullptr;
    if (welcome != nullptr) *welcome = *w;
    return conn;
  }

  TempDir dir_;
  std::unique_ptr<IngestServer> server_;
};

TEST_F(BadFramesTest, SegmentOverTheAnnouncedMaximumIsRefused) {
  camproto::Welcome welcome;
  std::unique_ptr<RawCameraConnection> conn = Welcomed("cam-000010", &welcome);
  ASSERT_NE(conn, nullptr);
  EXPECT_EQ(welcome.max_segment_bytes, kMaxSegmentBytes);
  // The header alone must be refused: the server checks the length before it
  // finds memory for the payload.
  std::string header;
  camproto::AppendSegmentHeader(
      camproto::SegmentHeader{
          .seq = 1, .duration_us = 250'000, .payload_bytes = kMaxSegmentBytes + 1},
      header);
  ASSERT_TRUE(conn->SendPlain(header).ok());
  ExpectErrorThenClose(*conn, camproto::ErrorCode::kFrameTooLarge);
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::protocol_errors, 1), 1u);
  EXPECT_EQ(server_->Stats().segments_accepted, 0u);

  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000010");
  ExpectFleetStreams(*server_, dir_.path());
}

TEST_F(BadFramesTest, UnknownFrameTypeIsRefused) {
  std::unique_ptr<RawCameraConnection> conn = Welcomed("cam-000010");
  ASSERT_NE(conn, nullptr);
  // Length 1 (just the type byte), type 0x7F: no such frame in protocol v1.
  ASSERT_TRUE(conn->SendPlain(std::string("\x00\x00\x00\x01\x7F", 5)).ok());
  ExpectErrorThenClose(*conn, camproto::ErrorCode::kUnknownFrameType);
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::protocol_errors, 1), 1u);

  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000010");
  ExpectFleetStreams(*server_, dir_.path());
}

TEST_F(BadFramesTest, SegmentBeforeHelloIsRefused) {
  std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server_, dir_.path(), "cam-000010");
  ASSERT_NE(conn, nullptr);
  absl::Status s = conn->Handshake();
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(conn->SendPlain(SegmentFrame(1, 1024)).ok());
  ExpectErrorThenClose(*conn, camproto::ErrorCode::kUnexpectedFrame);
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::protocol_errors, 1), 1u);
  EXPECT_EQ(server_->Stats().segments_accepted, 0u);
  EXPECT_EQ(server_->Stats().sessions_welcomed, 0u);

  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000010");
  ExpectFleetStreams(*server_, dir_.path());
}

TEST_F(BadFramesTest, FrameCutOffByCloseIsDroppedUnacknowledged) {
  // cam-000010: one good segment, then half of the next and end of stream.
  std::unique_ptr<RawCameraConnection> conn = Welcomed("cam-000010");
  ASSERT_NE(conn, nullptr);
  ASSERT_TRUE(conn->SendPlain(SegmentFrame(1, 4096)).ok());
  ASSERT_NO_FATAL_FAILURE(ExpectSpooledAck(*conn, 1));
  std::string second = SegmentFrame(2, 4096);
  ASSERT_TRUE(conn->SendPlain(std::string_view(second).substr(0, second.size() / 2)).ok());
  conn->ShutdownWrite();
  std::vector<camproto::ControlFrame> frames;
  ASSERT_TRUE(conn->WaitForClose(absl::Seconds(5), &frames).ok()) << "still open after EOF";
  for (const camproto::ControlFrame& frame : frames) {
    // An ACK persisted for seq 1 may still come; nothing may cover seq 2.
    if (const auto* late = std::get_if<camproto::Ack>(&frame)) {
      EXPECT_LT(late->seq, 2u);
    }
    EXPECT_FALSE(std::holds_alternative<camproto::Error>(frame));
  }

  // cam-000011: three bytes of a frame header, then a full close.
  std::unique_ptr<RawCameraConnection> stub = Welcomed("cam-000011");
  ASSERT_NE(stub, nullptr);
  ASSERT_TRUE(stub->SendPlain(std::string("\x00\x00\x10", 3)).ok());
  stub.reset();

  EXPECT_EQ(WaitForStat(*server_, &IngestStats::connections_closed, 2), 2u);
  EXPECT_EQ(server_->Stats().segments_accepted, 1u);

  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000012");
  ExpectFleetStreams(*server_, dir_.path());
  ASSERT_TRUE(server_->Stop().ok());
  ExportStats exported;
  StoredSha256(*server_, "cam-000010", &exported);
  EXPECT_EQ(exported.segments, 1u);
  EXPECT_EQ(exported.last_seq, 1u);
  ExportStats nothing;
  StoredSha256(*server_, "cam-000011", &nothing);
  EXPECT_EQ(nothing.segments, 0u);
}

}  // namespace
}  // namespace ingest::testing
