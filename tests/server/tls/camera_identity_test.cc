// Which camera a certificate names: SAN URI camera:<id> first, then the CN,
// and only ids of [A-Za-z0-9._-] (no leading dot), 1..128 characters.
#include "server/tls/camera_identity.h"

#include <string>

#include "gtest/gtest.h"
#include "server/tls/dev_certs.h"

namespace ingest {
namespace {

camproto::X509Ptr MakeCert(const CertificateSpec& spec) {
  auto key = GenerateP256Key();
  EXPECT_TRUE(key.ok());
  auto cert = IssueCertificate(spec, key->get(), nullptr, nullptr);
  EXPECT_TRUE(cert.ok()) << cert.status();
  return cert.ok() ? std::move(*cert) : nullptr;
}

absl::StatusOr<std::string> IdOf(const CertificateSpec& spec) {
  camproto::X509Ptr cert = MakeCert(spec);
  return CameraIdFromCertificate(cert.get());
}

TEST(CameraIdentityTest, SanUriWinsOverCommonName) {
  auto id = IdOf({.common_name = "cn-name", .uris = {"camera:uri-name"}});
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "uri-name");
}

TEST(CameraIdentityTest, CommonNameWhenNoCameraUri) {
  auto id = IdOf({.common_name = "cam-42", .dns_names = {"cam42.example"},
                  .uris = {"https://example.com/x"}});
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "cam-42");
}

TEST(CameraIdentityTest, AllAllowedCharacters) {
  auto id = IdOf({.uris = {"camera:Zone_A.cam-01-east"}});
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "Zone_A.cam-01-east");
}

TEST(CameraIdentityTest, BadCharactersInUriAreRefusedWithoutFallingBackToCn) {
  auto id = IdOf({.common_name = "good-cn", .uris = {"camera:bad/slash"}});
  ASSERT_FALSE(id.ok());
  EXPECT_EQ(id.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_NE(std::string(id.status().message()).find("camera:bad/slash"), std::string::npos);
}

TEST(CameraIdentityTest, BadCharactersInCommonNameAreRefused) {
  for (const char* cn : {"cam 1", "cam/1", "../etc", "cam\xc3\xa9", "cam*"}) {
    auto id = IdOf({.common_name = cn});
    EXPECT_FALSE(id.ok()) << cn;
  }
}

TEST(CameraIdentityTest, EmptyUriIdIsRefused) {
  EXPECT_FALSE(IdOf({.common_name = "cam-1", .uris = {"camera:"}}).ok());
}

TEST(CameraIdentityTest, LengthLimit) {
  EXPECT_TRUE(IdOf({.uris = {"camera:" + std::string(128, 'a')}}).ok());
  EXPECT_FALSE(IdOf({.uris = {"camera:" + std::string(129, 'a')}}).ok());
}

TEST(CameraIdentityTest, TwoDifferentCameraUrisAreRefused) {
  EXPECT_FALSE(IdOf({.uris = {"camera:one", "camera:two"}}).ok());
  auto same = IdOf({.uris = {"camera:one", "camera:one"}});
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(*same, "one");
}

TEST(CameraIdentityTest, NoNameAtAllIsRefused) {
  EXPECT_FALSE(IdOf({.dns_names = {"only-dns.example"}}).ok());
}

TEST(CameraIdentityTest, NullCertificateIsRefused) {
  EXPECT_EQ(CameraIdFromCertificate(nullptr).status().code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(CameraIdentityTest, IsValidCameraId) {
  EXPECT_TRUE(IsValidCameraId("cam-000001"));
  EXPECT_FALSE(IsValidCameraId(""));
  EXPECT_FALSE(IsValidCameraId("a b"));
  // The id names a folder in the store: no separators, no leading dot.
  EXPECT_FALSE(IsValidCameraId("zone:cam"));
  EXPECT_FALSE(IsValidCameraId("a/b"));
  EXPECT_FALSE(IsValidCameraId(".."));
  EXPECT_FALSE(IsValidCameraId(".hidden"));
  EXPECT_TRUE(IsValidCameraId("cam.01"));
  EXPECT_FALSE(IsValidCameraId(std::string_view("a\0b", 3)));
}

}  // namespace
}  // namespace ingest
