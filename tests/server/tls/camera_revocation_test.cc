// The deny list and CRL loaders: what a good file gives, and that every bad
// file is refused naming the file (and, for the deny list, the line).
#include "server/tls/camera_revocation.h"

#include <fstream>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/tls/dev_certs.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;
using ::testing::HasSubstr;

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

TEST(CameraDenyListTest, ParsesIdsCommentsAndBlankLines) {
  absl::StatusOr<CameraDenyList> denied = ParseCameraDenyList(
      "# stolen, ticket OPS-1\n"
      "cam-000042\n"
      "\n"
      "   cam-000077   # decommissioned\r\n"
      "\tcam.v2_x-1\n"
      "cam-000042\n",  // a repeat is harmless
      "denied.txt");
  ASSERT_TRUE(denied.ok()) << denied.status();
  EXPECT_EQ(denied->size(), 3u);
  EXPECT_TRUE(denied->contains("cam-000042"));
  EXPECT_TRUE(denied->contains("cam-000077"));
  EXPECT_TRUE(denied->contains("cam.v2_x-1"));
}

TEST(CameraDenyListTest, OnlyCommentsIsAnEmptyList) {
  absl::StatusOr<CameraDenyList> denied = ParseCameraDenyList("# nobody yet\n\n", "denied.txt");
  ASSERT_TRUE(denied.ok()) << denied.status();
  EXPECT_TRUE(denied->empty());
  EXPECT_TRUE(ParseCameraDenyList("", "denied.txt").ok());
}

TEST(CameraDenyListTest, InvalidIdIsRefusedWithFileAndLine) {
  absl::StatusOr<CameraDenyList> denied = ParseCameraDenyList("cam-1\n# fine\ncam/../etc\n", "denied.txt");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(denied.status().message()), HasSubstr("denied.txt:3:"));
  EXPECT_THAT(std::string(denied.status().message()), HasSubstr("not a valid camera id"));

  denied = ParseCameraDenyList("cam-1\n.hidden\n", "d");
  ASSERT_FALSE(denied.ok());
  EXPECT_THAT(std::string(denied.status().message()), HasSubstr("d:2:"));
}

TEST(CameraDenyListTest, TwoIdsOnOneLineAreRefused) {
  absl::StatusOr<CameraDenyList> denied = ParseCameraDenyList("\n\ncam-1 cam-2\n", "denied.txt");
  ASSERT_FALSE(denied.ok());
  EXPECT_THAT(std::string(denied.status().message()), HasSubstr("denied.txt:3: one camera id per line"));
}

TEST(CameraDenyListTest, MissingFileIsNotFoundNamingIt) {
  TempDir dir;
  absl::StatusOr<CameraDenyList> denied = ReadCameraDenyListFile(dir.path() + "/nope.txt");
  ASSERT_FALSE(denied.ok());
  EXPECT_EQ(denied.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(denied.status().message()), HasSubstr("nope.txt"));
}

class CrlTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeDevCertificates({.out_dir = dir_.path() + "/certs", .camera_count = 3}).ok());
    paths_ = DevCertPathsIn(dir_.path() + "/certs");
    auto ca = ReadCertificatePem(paths_.camera_ca_cert);
    ASSERT_TRUE(ca.ok()) << ca.status();
    ca_ = std::move(*ca);
    auto key = ReadPrivateKeyPem(paths_.camera_ca_key);
    ASSERT_TRUE(key.ok()) << key.status();
    ca_key_ = std::move(*key);
    for (int i = 1; i <= 3; ++i) {
      auto cam = ReadCertificatePem(paths_.CameraPem("cam-00000" + std::to_string(i)));
      ASSERT_TRUE(cam.ok()) << cam.status();
      cameras_.push_back(std::move(*cam));
    }
  }

  TempDir dir_;
  DevCertPaths paths_;
  camproto::X509Ptr ca_;
  camproto::EvpPkeyPtr ca_key_;
  std::vector<camproto::X509Ptr> cameras_;
};

TEST_F(CrlTest, ReadsEveryCrlInTheFileAndChecksSerials) {
  auto first = IssueCrl(ca_.get(), ca_key_.get(), {cameras_[0].get()});
  auto second = IssueCrl(ca_.get(), ca_key_.get(), {cameras_[1].get()});
  ASSERT_TRUE(first.ok() && second.ok());
  const std::string path = dir_.path() + "/cameras.crl";
  ASSERT_TRUE(WriteCrlPem(path, {first->get(), second->get()}).ok());

  absl::StatusOr<std::vector<X509CrlPtr>> crls = ReadCrlFile(path);
  ASSERT_TRUE(crls.ok()) << crls.status();
  ASSERT_EQ(crls->size(), 2u);
  CameraRevocation revocation(CameraDenyList{"cam-000009"}, std::move(*crls));
  EXPECT_EQ(revocation.revoked_serials(), 2u);
  std::optional<std::string> why = revocation.Check("cam-000001", cameras_[0].get());
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr(SerialHex(cameras_[0].get())));
  EXPECT_THAT(*why, HasSubstr("CRL"));
  EXPECT_TRUE(revocation.Check("cam-000002", cameras_[1].get()).has_value());
  EXPECT_FALSE(revocation.Check("cam-000003", cameras_[2].get()).has_value());
  // The deny list goes by camera id, whatever the certificate.
  why = revocation.Check("cam-000009", cameras_[2].get());
  ASSERT_TRUE(why.has_value());
  EXPECT_THAT(*why, HasSubstr("deny list"));
  EXPECT_TRUE(revocation.Check("cam-000009", nullptr).has_value());
}

TEST_F(CrlTest, SameSerialFromAnotherIssuerIsNotRevoked) {
  auto other_key = GenerateP256Key();
  ASSERT_TRUE(other_key.ok());
  auto other_ca = IssueCertificate(CertificateSpec{.role = CertificateRole::kCa, .common_name = "Other CA"},
                                   other_key->get(), nullptr, nullptr);
  ASSERT_TRUE(other_ca.ok());
  // Lists camera 1's serial, but as another CA's certificate.
  auto crl = IssueCrl(other_ca->get(), other_key->get(), {cameras_[0].get()});
  ASSERT_TRUE(crl.ok());
  std::vector<X509CrlPtr> crls;
  crls.push_back(std::move(*crl));
  CameraRevocation revocation({}, std::move(crls));
  EXPECT_FALSE(revocation.Check("cam-000001", cameras_[0].get()).has_value());
}

TEST_F(CrlTest, FileWithoutCrlIsRefused) {
  const std::string path = dir_.path() + "/empty.crl";
  WriteText(path, "# nothing here\n");
  absl::StatusOr<std::vector<X509CrlPtr>> crls = ReadCrlFile(path);
  ASSERT_FALSE(crls.ok());
  EXPECT_EQ(crls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(crls.status().message()), HasSubstr("no CRL"));
  EXPECT_THAT(std::string(crls.status().message()), HasSubstr(path));

  // A certificate is not a CRL.
  absl::StatusOr<std::vector<X509CrlPtr>> not_crl = ReadCrlFile(paths_.camera_ca_cert);
  ASSERT_FALSE(not_crl.ok());
  EXPECT_THAT(std::string(not_crl.status().message()), HasSubstr(paths_.camera_ca_cert));
}

TEST_F(CrlTest, CorruptCrlIsRefusedNamingTheFile) {
  auto crl = IssueCrl(ca_.get(), ca_key_.get(), {cameras_[0].get()});
  ASSERT_TRUE(crl.ok());
  const std::string path = dir_.path() + "/corrupt.crl";
  ASSERT_TRUE(WriteCrlPem(path, {crl->get()}).ok());
  std::ifstream in(path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  // Damage the base64 body of the second (and only) CRL after a good one.
  std::string good = text;
  const size_t body = text.find('\n') + 5;
  text[body] = text[body] == 'A' ? 'B' : 'A';
  text.insert(text.find('\n') + 1, "!!!!");
  WriteText(path, good + text);
  absl::StatusOr<std::vector<X509CrlPtr>> crls = ReadCrlFile(path);
  ASSERT_FALSE(crls.ok());
  EXPECT_EQ(crls.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(crls.status().message()), HasSubstr("CRL 2 in " + path));
}

TEST_F(CrlTest, MissingFileIsNotFound) {
  absl::StatusOr<std::vector<X509CrlPtr>> crls = ReadCrlFile(dir_.path() + "/nope.crl");
  ASSERT_FALSE(crls.ok());
  EXPECT_EQ(crls.status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ingest
