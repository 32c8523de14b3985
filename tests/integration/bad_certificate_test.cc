// Cameras without an acceptable certificate never get past TLS: no
// certificate, one from a CA the server does not trust, and an expired one
// signed by the real camera CA. Each sees a TLS alert and a closed
// connection, the server counts a certificate handshake failure, and keeps
// serving well-behaved cameras.
#include <memory>
#include <string>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/tls/dev_certs.h"
#include "tests/support/bad_input_checks.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/raw_camera_connection.h"

namespace ingest::testing {
namespace {

using ::testing::HasSubstr;

class BadCertificateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    server_ = StartTestServer(dir_.path());
    ASSERT_NE(server_, nullptr);
    paths_ = EnsureCameraCertificates(dir_.path());
  }

  // Writes a camera certificate for `camera_id` signed by `issuer_cert` /
  // `issuer_key` with the given validity, and returns its PEM path.
  std::string WriteCameraPem(const std::string& name, const std::string& camera_id,
                             X509* issuer_cert, EVP_PKEY* issuer_key, absl::Time not_before,
                             absl::Time not_after) {
    absl::StatusOr<camproto::EvpPkeyPtr> key = GenerateP256Key();
    EXPECT_TRUE(key.ok()) << key.status();
    if (!key.ok()) return "";
    absl::StatusOr<camproto::X509Ptr> cert =
        IssueCertificate(CertificateSpec{.role = CertificateRole::kCamera,
                                         .common_name = camera_id,
                                         .uris = {"camera:" + camera_id},
                                         .not_before = not_before,
                                         .not_after = not_after},
                         key->get(), issuer_cert, issuer_key);
    EXPECT_TRUE(cert.ok()) << cert.status();
    if (!cert.ok()) return "";
    std::string path = dir_.path() + "/" + name + ".pem";
    absl::Status s = WritePem(path, cert->get(), key->get());
    EXPECT_TRUE(s.ok()) << s;
    return path;
  }

  // Connects with `cert_file` and expects the TLS refusal: the handshake
  // fails, or (TLS 1.3, where the client finishes first) the first read
  // returns the server's alert. Returns the refusal message.
  std::string ExpectTlsRefusal(const std::string& cert_file) {
    absl::StatusOr<std::unique_ptr<RawCameraConnection>> conn =
        RawCameraConnection::Connect(RawOptions(*server_, dir_.path(), cert_file));
    EXPECT_TRUE(conn.ok()) << conn.status();
    if (!conn.ok()) return "";
    absl::Status refusal = (*conn)->Handshake();
    if (refusal.ok()) {
      absl::StatusOr<camproto::ControlFrame> frame = (*conn)->ReadFrame();
      EXPECT_FALSE(frame.ok()) << "the server sent a frame to an unauthenticated camera";
      refusal = frame.status();
    }
    EXPECT_TRUE(IsConnectionClosed(refusal)) << refusal;
    EXPECT_THAT(std::string(refusal.message()), HasSubstr("alert")) << refusal;
    return std::string(refusal.message());
  }

  void ExpectCountedAsCertificateFailure() {
    EXPECT_EQ(WaitForStat(*server_, &IngestStats::handshake_failures_cert, 1), 1u);
    IngestStats stats = server_->Stats();
    EXPECT_EQ(stats.handshake_failures_other, 0u);
    EXPECT_EQ(stats.handshakes_full + stats.handshakes_resumed, 0u);
    EXPECT_EQ(stats.sessions_welcomed, 0u);
  }

  TempDir dir_;
  std::unique_ptr<IngestServer> server_;
  DevCertPaths paths_;
};

TEST_F(BadCertificateTest, NoClientCertificateIsRefused) {
  std::string refusal = ExpectTlsRefusal(/*cert_file=*/"");
  EXPECT_THAT(refusal, HasSubstr("certificate required"));
  ExpectCountedAsCertificateFailure();
  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000010");
  ExpectFleetStreams(*server_, dir_.path());
}

TEST_F(BadCertificateTest, CertificateFromAnotherCaIsRefused) {
  absl::StatusOr<camproto::EvpPkeyPtr> ca_key = GenerateP256Key();
  ASSERT_TRUE(ca_key.ok()) << ca_key.status();
  absl::StatusOr<camproto::X509Ptr> ca = IssueCertificate(
      CertificateSpec{.role = CertificateRole::kCa, .common_name = "Rogue Camera CA"},
      ca_key->get(), nullptr, nullptr);
  ASSERT_TRUE(ca.ok()) << ca.status();
  // Same camera id as a genuine camera: only the issuer is wrong.
  std::string pem = WriteCameraPem("rogue-cam", "cam-000010", ca->get(), ca_key->get(),
                                   absl::Now() - absl::Hours(1), absl::Now() + absl::Hours(24));
  ASSERT_FALSE(pem.empty());
  std::string refusal = ExpectTlsRefusal(pem);
  EXPECT_THAT(refusal, HasSubstr("unknown ca"));
  ExpectCountedAsCertificateFailure();
  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000010");
  ExpectFleetStreams(*server_, dir_.path());
}

TEST_F(BadCertificateTest, ExpiredCertificateFromTheRealCaIsRefused) {
  absl::StatusOr<camproto::X509Ptr> ca_cert = ReadCertificatePem(paths_.camera_ca_cert);
  ASSERT_TRUE(ca_cert.ok()) << ca_cert.status();
  absl::StatusOr<camproto::EvpPkeyPtr> ca_key = ReadPrivateKeyPem(paths_.camera_ca_key);
  ASSERT_TRUE(ca_key.ok()) << ca_key.status();
  std::string pem = WriteCameraPem("expired-cam", "cam-000010", ca_cert->get(), ca_key->get(),
                                   absl::Now() - absl::Hours(48), absl::Now() - absl::Hours(24));
  ASSERT_FALSE(pem.empty());
  std::string refusal = ExpectTlsRefusal(pem);
  EXPECT_THAT(refusal, HasSubstr("expired"));
  ExpectCountedAsCertificateFailure();
  ExpectRawCameraStreams(*server_, dir_.path(), "cam-000010");
  ExpectFleetStreams(*server_, dir_.path());
}

}  // namespace
}  // namespace ingest::testing
