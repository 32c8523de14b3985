// A camera that sends past the acknowledgement window announced in WELCOME
// (more unacknowledged payload in flight than ack_window_bytes) gets ERROR
// WINDOW_EXCEEDED and a close; the server counts it, keeps what it accepted
// within the window, and goes on serving well-behaved cameras.
#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/bad_input_checks.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/raw_camera_connection.h"

namespace ingest::testing {
namespace {

constexpr uint32_t kSegmentBytes = 16 * 1024;
constexpr uint32_t kWindowBytes = 2 * kSegmentBytes;

TEST(AckWindowTest, SegmentsBeyondTheWindowAreRefused) {
  TempDir dir;
  // A slow group commit keeps the first segments unacknowledged while the
  // third arrives, so the window is exceeded deterministically.
  auto server = StartTestServer(dir.path(), [](IngestConfig& config) {
    config.protocol.max_segment_bytes = kSegmentBytes;
    config.protocol.ack_window_bytes = kWindowBytes;
    config.spool.commit_interval_ms = 1000;
    config.spool.commit_bytes = 64 << 20;
  });
  ASSERT_NE(server, nullptr);

  std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server, dir.path(), "cam-000010");
  ASSERT_NE(conn, nullptr);
  absl::Status s = conn->Handshake();
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(conn->SendPlain(HelloFrame("cam-000010")).ok());
  std::optional<camproto::Welcome> welcome = ExpectFrame<camproto::Welcome>(*conn, "WELCOME");
  ASSERT_TRUE(welcome.has_value());
  ASSERT_EQ(welcome->ack_window_bytes, kWindowBytes);
  ASSERT_EQ(welcome->max_segment_bytes, kSegmentBytes);

  // Three full segments without waiting for an ACK: the third is over.
  std::string burst = SegmentFrame(1, kSegmentBytes) + SegmentFrame(2, kSegmentBytes) +
                      SegmentFrame(3, kSegmentBytes);
  ASSERT_TRUE(conn->SendPlain(burst).ok());
  ExpectErrorThenClose(*conn, camproto::ErrorCode::kWindowExceeded);
  EXPECT_EQ(WaitForStat(*server, &IngestStats::window_exceeded, 1), 1u);
  IngestStats stats = server->Stats();
  EXPECT_EQ(stats.protocol_errors, 0u);
  EXPECT_EQ(stats.segments_accepted, 2u) << "the two segments within the window are kept";

  ExpectRawCameraStreams(*server, dir.path(), "cam-000011");
  ExpectFleetStreams(*server, dir.path());
}

}  // namespace
}  // namespace ingest::testing
