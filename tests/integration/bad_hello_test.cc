// HELLOs the server must refuse after a good TLS handshake: a camera id other
// than the certificate's, and a protocol version the server does not speak.
// The camera gets REJECT with the matching code and a close, the server counts
// the rejection, and goes on welcoming well-behaved cameras.
#include <memory>
#include <optional>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/bad_input_checks.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/raw_camera_connection.h"

namespace ingest::testing {
namespace {

class BadHelloTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartTestServer(dir_.path());
    ASSERT_NE(server_, nullptr);
  }

  // Handshakes as `certified_id`, sends `hello`, and expects REJECT `code`
  // followed by the server closing.
  void ExpectRejected(const std::string& certified_id, const std::string& hello,
                      camproto::RejectCode code) {
    std::unique_ptr<RawCameraConnection> conn = ConnectCamera(*server_, dir_.path(), certified_id);
    ASSERT_NE(conn, nullptr);
    absl::Status s = conn->Handshake();
    ASSERT_TRUE(s.ok()) << s;
    ASSERT_TRUE(conn->SendPlain(hello).ok());
    std::optional<camproto::Reject> reject = ExpectFrame<camproto::Reject>(*conn, "REJECT");
    ASSERT_TRUE(reject.has_value());
    EXPECT_EQ(reject->code, code) << reject->reason;
    EXPECT_FALSE(reject->reason.empty());
    EXPECT_TRUE(conn->WaitForClose(absl::Seconds(5)).ok()) << "still open after REJECT";
  }

  TempDir dir_;
  std::unique_ptr<IngestServer> server_;
};

TEST_F(BadHelloTest, CameraIdOtherThanTheCertificatesIsRejected) {
  ExpectRejected("cam-000010", HelloFrame("cam-000011"), camproto::RejectCode::kCameraIdMismatch);
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::rejected_id_mismatch, 1), 1u);
  EXPECT_EQ(server_->Stats().sessions_welcomed, 0u);
  // Neither the certificate's camera nor the claimed one is locked out.
  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000010");
  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000011");
  ExpectFleetStreams(*server_, dir_.path());
}

TEST_F(BadHelloTest, UnsupportedProtocolVersionIsRejected) {
  ExpectRejected("cam-000010", HelloFrame("cam-000010", camproto::kProtocolVersion + 1),
                 camproto::RejectCode::kUnsupportedVersion);
  EXPECT_EQ(WaitForStat(*server_, &IngestStats::rejected_version, 1), 1u);
  EXPECT_EQ(server_->Stats().sessions_welcomed, 0u);
  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000010");
  ExpectFleetStreams(*server_, dir_.path());
}

}  // namespace
}  // namespace ingest::testing
