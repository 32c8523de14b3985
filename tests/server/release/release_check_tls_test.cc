// `ingestd check` opens the TLS files as the server does: a good set passes,
// a key of another certificate, a camera CA bundle without a certificate
// and a certificate outside its validity period fail, naming key and file.
#include <cstdio>
#include <string>

#include "gtest/gtest.h"
#include "server/release/release_check.h"
#include "server/tls/dev_certs.h"
#include "tests/server/release/release_fixture.h"

namespace ingest {
namespace {

TEST(ReleaseCheckTlsTest, GoodReleasePassesAndListsEveryFileItChecked) {
  ReleaseFixture release;
  release.ShipEverything();
  ReleaseCheckReport report = release.Check();
  EXPECT_TRUE(report.ok()) << absl::StrJoin(report.problems, "\n");
  EXPECT_TRUE(report.warnings.empty()) << absl::StrJoin(report.warnings, "\n");
  for (const std::string key : {"server.zone_map", "tls.cert_file", "tls.key_file", "tls.camera_ca_file",
                                "tls.ticket_keys_file", "drain.token_file", "store.ca_file"}) {
    const CheckedFile* file = FileFor(report, key);
    ASSERT_NE(file, nullptr) << key;
    EXPECT_TRUE(file->status.ok()) << key << ": " << file->status;
    EXPECT_EQ(file->copy.origin, FileOrigin::kStaged) << key;
  }
}

TEST(ReleaseCheckTlsTest, KeyOfAnotherCertificateFailsNamingBothKeys) {
  ReleaseFixture release;
  release.ShipEverything();
  release.Ship("camera-ca.key", "tls/server.key");
  ReleaseCheckReport report = release.Check();
  ASSERT_FALSE(report.ok());
  EXPECT_TRUE(HasProblem(report, "tls.key_file",
                         {release.installed("tls/server.key"), "does not match the certificate in tls.cert_file",
                          release.installed("tls/server.crt")}));
  EXPECT_EQ(report.problems.size(), 1u);
  EXPECT_FALSE(FileFor(report, "tls.key_file")->status.ok());
  EXPECT_TRUE(FileFor(report, "tls.cert_file")->status.ok());
}

TEST(ReleaseCheckTlsTest, CorruptCameraCaFails) {
  ReleaseFixture release;
  release.ShipEverything();
  ReleaseFixture::Write(release.staged("tls/camera-ca.crt"),
                        "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n");
  EXPECT_TRUE(HasProblem(release.Check(), "tls.camera_ca_file", {release.installed("tls/camera-ca.crt")}));
}

TEST(ReleaseCheckTlsTest, CameraCaWithoutACertificateFails) {
  ReleaseFixture release;
  release.ShipEverything();
  ReleaseFixture::Write(release.staged("tls/camera-ca.crt"), "# the CA bundle goes here\n");
  EXPECT_TRUE(HasProblem(release.Check(), "tls.camera_ca_file", {release.installed("tls/camera-ca.crt")}));
}

TEST(ReleaseCheckTlsTest, CertificateThatIsNotPemFails) {
  ReleaseFixture release;
  release.ShipEverything();
  ReleaseFixture::Write(release.staged("tls/server.crt"), "not a certificate\n");
  ReleaseCheckReport report = release.Check();
  EXPECT_TRUE(HasProblem(report, "tls.cert_file", {release.installed("tls/server.crt")}));
  // Without a certificate there is nothing to match the key against.
  EXPECT_TRUE(FileFor(report, "tls.key_file")->status.ok());
}

// Ships a server certificate signed by the development server CA with the
// given validity period, and its key.
void ShipServerCertificate(const ReleaseFixture& release, absl::Time not_before, absl::Time not_after) {
  absl::StatusOr<camproto::X509Ptr> ca = ReadCertificatePem(release.Path("pki/server-ca.crt"));
  absl::StatusOr<camproto::EvpPkeyPtr> ca_key = ReadPrivateKeyPem(release.Path("pki/server-ca.key"));
  absl::StatusOr<camproto::EvpPkeyPtr> key = GenerateP256Key();
  ASSERT_TRUE(ca.ok() && ca_key.ok() && key.ok());
  CertificateSpec spec{.role = CertificateRole::kServer, .common_name = "localhost", .dns_names = {"localhost"}};
  spec.not_before = not_before;
  spec.not_after = not_after;
  absl::StatusOr<camproto::X509Ptr> cert = IssueCertificate(spec, key->get(), ca->get(), ca_key->get());
  ASSERT_TRUE(cert.ok()) << cert.status();
  ASSERT_TRUE(WritePem(release.staged("tls/server.crt"), cert->get(), nullptr).ok());
  ASSERT_TRUE(WritePem(release.staged("tls/server.key"), nullptr, key->get()).ok());
}

TEST(ReleaseCheckTlsTest, ExpiredCertificateFails) {
  ReleaseFixture release;
  release.ShipEverything();
  ShipServerCertificate(release, absl::Now() - absl::Hours(48), absl::Now() - absl::Hours(1));
  EXPECT_TRUE(HasProblem(release.Check(), "tls.cert_file", {"CN=localhost", "expired on"}));
}

TEST(ReleaseCheckTlsTest, NotYetValidCertificateFails) {
  ReleaseFixture release;
  release.ShipEverything();
  ShipServerCertificate(release, absl::Now() + absl::Hours(24), absl::Now() + absl::Hours(48));
  EXPECT_TRUE(HasProblem(release.Check(), "tls.cert_file", {"is not valid before"}));
}

TEST(ReleaseCheckTlsTest, CertificateExpiringWithinTwoWeeksOnlyWarns) {
  ReleaseFixture release;
  release.ShipEverything();
  ShipServerCertificate(release, absl::Now() - absl::Hours(1), absl::Now() + absl::Hours(24 * 5 + 1));
  ReleaseCheckReport report = release.Check();
  EXPECT_TRUE(report.ok()) << absl::StrJoin(report.problems, "\n");
  ASSERT_EQ(report.warnings.size(), 1u);
  EXPECT_TRUE(absl::StrContains(report.warnings[0], "tls.cert_file")) << report.warnings[0];
  EXPECT_TRUE(absl::StrContains(report.warnings[0], "in 5 days")) << report.warnings[0];
}

// The revocation files are opened as the server opens them on start and reload.
class ReleaseCheckRevocationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    release_.ShipEverything();
    release_.WriteConfig(absl::StrCat("crl_file = \"", release_.installed("tls/cameras.crl"), "\"\n",
                                      "camera_deny_list_file = \"", release_.installed("tls/denied.txt"), "\"\n"));
    ReleaseFixture::Write(release_.staged("tls/denied.txt"), "# stolen\ncam-000042\n");
  }

  // Ships a CRL issued by `issuer` (a pki/ certificate and key).
  void ShipCrl(const std::string& issuer_cert, const std::string& issuer_key) {
    auto cert = ReadCertificatePem(release_.Path("pki/" + issuer_cert));
    auto key = ReadPrivateKeyPem(release_.Path("pki/" + issuer_key));
    ASSERT_TRUE(cert.ok() && key.ok());
    auto crl = IssueCrl(cert->get(), key->get(), {});
    ASSERT_TRUE(crl.ok()) << crl.status();
    ASSERT_TRUE(WriteCrlPem(release_.staged("tls/cameras.crl"), {crl->get()}).ok());
  }

  ReleaseFixture release_;
};

TEST_F(ReleaseCheckRevocationTest, CameraCaCrlAndDenyListPass) {
  ASSERT_NO_FATAL_FAILURE(ShipCrl("camera-ca.crt", "camera-ca.key"));
  ReleaseCheckReport report = release_.Check();
  EXPECT_TRUE(report.ok()) << absl::StrJoin(report.problems, "\n");
  for (const std::string key : {"tls.crl_file", "tls.camera_deny_list_file"}) {
    const CheckedFile* file = FileFor(report, key);
    ASSERT_NE(file, nullptr) << key;
    EXPECT_TRUE(file->status.ok()) << key << ": " << file->status;
  }
}

TEST_F(ReleaseCheckRevocationTest, CrlOfAnotherCaFails) {
  ASSERT_NO_FATAL_FAILURE(ShipCrl("server-ca.crt", "server-ca.key"));
  EXPECT_TRUE(HasProblem(release_.Check(), "tls.crl_file", {"not signed by a CA of the camera CA file"}));
}

TEST_F(ReleaseCheckRevocationTest, BadDenyListLineFailsWithItsLine) {
  ASSERT_NO_FATAL_FAILURE(ShipCrl("camera-ca.crt", "camera-ca.key"));
  ReleaseFixture::Write(release_.staged("tls/denied.txt"), "cam-000042\ncam 43\n");
  EXPECT_TRUE(HasProblem(release_.Check(), "tls.camera_deny_list_file", {"denied.txt:2:", "one camera id per line"}));
}

}  // namespace
}  // namespace ingest
