// LoadServerTls builds the whole set-up or nothing: good files give a context
// with the certificate's dates, the CA bundle's earliest expiry, the CRLs and
// the deny list; each bad file is refused naming it; ticket keys carry over.
#include "server/tls/server_tls.h"

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/tls/certificate_validity.h"
#include "server/tls/dev_certs.h"
#include "server/tls/ticket_keys.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;
using ::testing::HasSubstr;

class ServerTlsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeDevCertificates({.out_dir = dir_.path() + "/certs", .camera_count = 2}).ok());
    paths_ = DevCertPathsIn(dir_.path() + "/certs");
  }

  ServerTlsFiles Files() const {
    return ServerTlsFiles{.context = {.cert_file = paths_.server_cert,
                                      .key_file = paths_.server_key,
                                      .camera_ca_file = paths_.camera_ca_cert}};
  }

  void WriteText(const std::string& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out << text;
  }

  TempDir dir_;
  DevCertPaths paths_;
};

TEST_F(ServerTlsTest, GoodFilesGiveTheCertificateDatesAndLists) {
  auto ca = ReadCertificatePem(paths_.camera_ca_cert);
  auto ca_key = ReadPrivateKeyPem(paths_.camera_ca_key);
  auto cam = ReadCertificatePem(paths_.CameraPem("cam-000001"));
  ASSERT_TRUE(ca.ok() && ca_key.ok() && cam.ok());
  auto crl = IssueCrl(ca->get(), ca_key->get(), {cam->get()});
  ASSERT_TRUE(crl.ok()) << crl.status();
  ServerTlsFiles files = Files();
  files.crl_file = dir_.path() + "/cameras.crl";
  files.camera_deny_list_file = dir_.path() + "/denied.txt";
  ASSERT_TRUE(WriteCrlPem(files.crl_file, {crl->get()}).ok());
  WriteText(files.camera_deny_list_file, "# test\ncam-000002\n");

  absl::StatusOr<std::shared_ptr<const ServerTls>> tls = LoadServerTls(files);
  ASSERT_TRUE(tls.ok()) << tls.status();
  auto server_cert = ReadCertificatePem(paths_.server_cert);
  ASSERT_TRUE(server_cert.ok());
  absl::StatusOr<CertificateValidity> validity = ValidityOf(server_cert->get());
  ASSERT_TRUE(validity.ok());
  EXPECT_EQ((*tls)->certificate_not_after, validity->not_after);
  EXPECT_EQ((*tls)->certificate_serial, SerialHex(server_cert->get()));
  EXPECT_THAT((*tls)->certificate_subject, HasSubstr("localhost"));
  absl::StatusOr<CertificateValidity> ca_validity = ValidityOf(ca->get());
  ASSERT_TRUE(ca_validity.ok());
  EXPECT_EQ((*tls)->camera_ca_count, 1u);
  EXPECT_EQ((*tls)->camera_ca_not_after, ca_validity->not_after);
  EXPECT_EQ((*tls)->revocation->denied_cameras(), 1u);
  EXPECT_EQ((*tls)->revocation->revoked_serials(), 1u);
  EXPECT_TRUE((*tls)->revocation->Check("cam-000001", cam->get()).has_value());
  EXPECT_TRUE((*tls)->revocation->Check("cam-000002", nullptr).has_value());
}

TEST_F(ServerTlsTest, MismatchedKeyIsRefusedNamingBothFiles) {
  ServerTlsFiles files = Files();
  files.context.key_file = paths_.camera_ca_key;  // a valid key, of another certificate
  absl::StatusOr<std::shared_ptr<const ServerTls>> tls = LoadServerTls(files);
  ASSERT_FALSE(tls.ok());
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(tls.status().message()), HasSubstr(paths_.camera_ca_key));
  EXPECT_THAT(std::string(tls.status().message()), HasSubstr("does not match certificate " + paths_.server_cert));
}

TEST_F(ServerTlsTest, BadCertificateFileIsRefusedNamingIt) {
  ServerTlsFiles files = Files();
  files.context.cert_file = dir_.path() + "/garbage.crt";
  WriteText(files.context.cert_file, "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n");
  absl::StatusOr<std::shared_ptr<const ServerTls>> tls = LoadServerTls(files);
  ASSERT_FALSE(tls.ok());
  EXPECT_THAT(std::string(tls.status().message()), HasSubstr(files.context.cert_file));

  files.context.cert_file = dir_.path() + "/missing.crt";
  tls = LoadServerTls(files);
  ASSERT_FALSE(tls.ok());
  EXPECT_EQ(tls.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(ServerTlsTest, CrlOfAnotherCaIsRefused) {
  auto key = GenerateP256Key();
  ASSERT_TRUE(key.ok());
  auto rogue = IssueCertificate(CertificateSpec{.role = CertificateRole::kCa, .common_name = "Rogue CA"}, key->get(),
                                nullptr, nullptr);
  ASSERT_TRUE(rogue.ok());
  auto crl = IssueCrl(rogue->get(), key->get(), {});
  ASSERT_TRUE(crl.ok());
  ServerTlsFiles files = Files();
  files.crl_file = dir_.path() + "/rogue.crl";
  ASSERT_TRUE(WriteCrlPem(files.crl_file, {crl->get()}).ok());
  absl::StatusOr<std::shared_ptr<const ServerTls>> tls = LoadServerTls(files);
  ASSERT_FALSE(tls.ok());
  EXPECT_THAT(std::string(tls.status().message()), HasSubstr("CRL 1 in " + files.crl_file));
  EXPECT_THAT(std::string(tls.status().message()), HasSubstr("not signed by a CA of the camera CA file"));
}

TEST_F(ServerTlsTest, CrlWithTheCaNameButAnotherKeyIsRefused) {
  // Same issuer name as the camera CA, signed by an impostor's key.
  auto ca = ReadCertificatePem(paths_.camera_ca_cert);
  auto impostor = GenerateP256Key();
  ASSERT_TRUE(ca.ok() && impostor.ok());
  auto crl = IssueCrl(ca->get(), impostor->get(), {});
  ASSERT_TRUE(crl.ok());
  ServerTlsFiles files = Files();
  files.crl_file = dir_.path() + "/forged.crl";
  ASSERT_TRUE(WriteCrlPem(files.crl_file, {crl->get()}).ok());
  EXPECT_FALSE(LoadServerTls(files).ok());
}

TEST_F(ServerTlsTest, BadDenyListIsRefusedWithItsLine) {
  ServerTlsFiles files = Files();
  files.camera_deny_list_file = dir_.path() + "/denied.txt";
  WriteText(files.camera_deny_list_file, "cam-1\ncam 2\n");
  absl::StatusOr<std::shared_ptr<const ServerTls>> tls = LoadServerTls(files);
  ASSERT_FALSE(tls.ok());
  EXPECT_THAT(std::string(tls.status().message()), HasSubstr(files.camera_deny_list_file + ":2:"));
}

TEST_F(ServerTlsTest, TicketKeysCarryOverWithoutAFileAndAreReReadWithOne) {
  absl::StatusOr<std::shared_ptr<const ServerTls>> first = LoadServerTls(Files());
  ASSERT_TRUE(first.ok()) << first.status();
  absl::StatusOr<std::shared_ptr<const ServerTls>> second = LoadServerTls(Files(), (*first)->ctx.get());
  ASSERT_TRUE(second.ok()) << second.status();
  auto a = InstalledTicketKeys((*first)->ctx.get());
  auto b = InstalledTicketKeys((*second)->ctx.get());
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), 1u);
  ASSERT_EQ(b->size(), 1u);
  EXPECT_EQ((*a)[0].name, (*b)[0].name);
  EXPECT_EQ((*a)[0].aes_key, (*b)[0].aes_key);

  ServerTlsFiles files = Files();
  files.context.ticket_keys_file = paths_.ticket_keys;
  absl::StatusOr<std::shared_ptr<const ServerTls>> third = LoadServerTls(files, (*first)->ctx.get());
  ASSERT_TRUE(third.ok()) << third.status();
  auto from_file = ReadTicketKeysFile(paths_.ticket_keys);
  auto c = InstalledTicketKeys((*third)->ctx.get());
  ASSERT_TRUE(from_file.ok() && c.ok());
  EXPECT_EQ((*c)[0].name, (*from_file)[0].name);
}

TEST(ServingTlsTest, ReplaceMovesTheGenerationAndKeepsTheOldAlive) {
  auto first = std::make_shared<ServerTls>();
  first->certificate_serial = "01";
  ServingTls serving(first);
  const uint64_t before = serving.generation();
  std::shared_ptr<const ServerTls> held = serving.Get().tls;
  auto second = std::make_shared<ServerTls>();
  second->certificate_serial = "02";
  serving.Replace(second);
  EXPECT_EQ(serving.generation(), before + 1);
  ServingTls::Current current = serving.Get();
  EXPECT_EQ(current.tls->certificate_serial, "02");
  EXPECT_EQ(current.generation, before + 1);
  EXPECT_EQ(held->certificate_serial, "01");
}

}  // namespace
}  // namespace ingest
