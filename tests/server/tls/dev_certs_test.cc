// Development certificates: the layout, what each certificate says, private
// key modes, and idempotence (a second run changes nothing; more cameras are
// added; broken files are replaced).
#include "server/tls/dev_certs.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include <openssl/x509v3.h>

#include "gtest/gtest.h"
#include "server/tls/camera_identity.h"
#include "server/tls/ticket_keys.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

std::string Contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

// Every regular file under `dir`, by path, with its contents.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (entry.is_regular_file()) files[entry.path().string()] = Contents(entry.path().string());
  }
  return files;
}

unsigned Mode(const std::string& path) {
  struct stat st;
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 0777;
}

bool IssuedBy(X509* cert, X509* ca) {
  X509_STORE* store = X509_STORE_new();
  X509_STORE_CTX* ctx = X509_STORE_CTX_new();
  X509_STORE_add_cert(store, ca);
  X509_STORE_CTX_init(ctx, store, cert, nullptr);
  bool ok = X509_verify_cert(ctx) == 1;
  X509_STORE_CTX_free(ctx);
  X509_STORE_free(store);
  return ok;
}

TEST(DevCertsTest, WritesTheDocumentedLayout) {
  TempDir dir;
  ASSERT_TRUE(MakeDevCertificates({.out_dir = dir.path(), .camera_count = 3}).ok());
  DevCertPaths paths = DevCertPathsIn(dir.path());
  for (const std::string& key : {paths.camera_ca_key, paths.server_ca_key, paths.server_key,
                                 paths.ticket_keys, paths.CameraPem("cam-000001")}) {
    EXPECT_EQ(Mode(key), 0600u) << key;
  }
  EXPECT_EQ(Mode(paths.server_cert), 0644u);
  EXPECT_FALSE(std::filesystem::exists(paths.CameraPem("cam-000000")));
  EXPECT_TRUE(std::filesystem::exists(paths.CameraPem("cam-000003")));
  EXPECT_FALSE(std::filesystem::exists(paths.CameraPem("cam-000004")));
  EXPECT_TRUE(ReadTicketKeysFile(paths.ticket_keys).ok());

  auto camera_ca = ReadCertificatePem(paths.camera_ca_cert);
  auto server_ca = ReadCertificatePem(paths.server_ca_cert);
  auto server = ReadCertificatePem(paths.server_cert);
  auto camera = ReadCertificatePem(paths.CameraPem("cam-000002"));
  auto camera_key = ReadPrivateKeyPem(paths.CameraPem("cam-000002"));
  ASSERT_TRUE(camera_ca.ok() && server_ca.ok() && server.ok() && camera.ok() && camera_key.ok());

  EXPECT_TRUE(IssuedBy(server->get(), server_ca->get()));
  EXPECT_FALSE(IssuedBy(server->get(), camera_ca->get()));
  EXPECT_EQ(X509_check_host(server->get(), "localhost", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server->get(), "127.0.0.1", 0), 1);

  EXPECT_TRUE(IssuedBy(camera->get(), camera_ca->get()));
  EXPECT_EQ(X509_check_private_key(camera->get(), camera_key->get()), 1);
  auto id = CameraIdFromCertificate(camera->get());
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "cam-000002");
  EXPECT_EQ(X509_get_extended_key_usage(camera->get()) & XKU_SSL_CLIENT, XKU_SSL_CLIENT);
  EXPECT_EQ(X509_get_extended_key_usage(server->get()) & XKU_SSL_SERVER, XKU_SSL_SERVER);
  EXPECT_EQ(EVP_PKEY_get_bits(camera_key->get()), 256);
}

TEST(DevCertsTest, SecondRunChangesNothing) {
  TempDir dir;
  DevCertOptions options{.out_dir = dir.path(), .camera_count = 4};
  ASSERT_TRUE(MakeDevCertificates(options).ok());
  auto before = Snapshot(dir.path());
  ASSERT_TRUE(MakeDevCertificates(options).ok());
  EXPECT_TRUE(Snapshot(dir.path()) == before);
}

TEST(DevCertsTest, MoreCamerasAreAddedAndOldOnesKept) {
  TempDir dir;
  ASSERT_TRUE(MakeDevCertificates({.out_dir = dir.path(), .camera_count = 2}).ok());
  auto before = Snapshot(dir.path());
  ASSERT_TRUE(MakeDevCertificates({.out_dir = dir.path(), .camera_count = 5}).ok());
  auto after = Snapshot(dir.path());
  EXPECT_EQ(after.size(), before.size() + 3);
  for (const auto& [path, contents] : before) EXPECT_EQ(after[path], contents) << path;
}

TEST(DevCertsTest, BrokenCameraFileIsReplaced) {
  TempDir dir;
  ASSERT_TRUE(MakeDevCertificates({.out_dir = dir.path(), .camera_count = 2}).ok());
  DevCertPaths paths = DevCertPathsIn(dir.path());
  std::string good = Contents(paths.CameraPem("cam-000002"));
  std::ofstream(paths.CameraPem("cam-000001")) << "garbage";
  ASSERT_TRUE(MakeDevCertificates({.out_dir = dir.path(), .camera_count = 2}).ok());
  EXPECT_TRUE(ReadCertificatePem(paths.CameraPem("cam-000001")).ok());
  EXPECT_EQ(Contents(paths.CameraPem("cam-000002")), good);
}

TEST(DevCertsTest, NewCameraCaReissuesCameraCertificates) {
  TempDir dir;
  ASSERT_TRUE(MakeDevCertificates({.out_dir = dir.path(), .camera_count = 2}).ok());
  DevCertPaths paths = DevCertPathsIn(dir.path());
  std::string server_cert = Contents(paths.server_cert);
  std::filesystem::remove(paths.camera_ca_key);
  ASSERT_TRUE(MakeDevCertificates({.out_dir = dir.path(), .camera_count = 2}).ok());
  auto ca = ReadCertificatePem(paths.camera_ca_cert);
  auto camera = ReadCertificatePem(paths.CameraPem("cam-000002"));
  ASSERT_TRUE(ca.ok() && camera.ok());
  EXPECT_TRUE(IssuedBy(camera->get(), ca->get()));
  EXPECT_EQ(Contents(paths.server_cert), server_cert);  // other CA untouched
}

TEST(DevCertsTest, ChangedServerNamesReissueTheServerCertificate) {
  TempDir dir;
  ASSERT_TRUE(MakeDevCertificates({.out_dir = dir.path()}).ok());
  ASSERT_TRUE(MakeDevCertificates({.out_dir = dir.path(),
                                   .server_names = {"ingest.test", "::1"}})
                  .ok());
  auto server = ReadCertificatePem(DevCertPathsIn(dir.path()).server_cert);
  ASSERT_TRUE(server.ok());
  EXPECT_EQ(X509_check_host(server->get(), "ingest.test", 0, 0, nullptr), 1);
  EXPECT_EQ(X509_check_ip_asc(server->get(), "::1", 0), 1);
  EXPECT_NE(X509_check_host(server->get(), "localhost", 0, 0, nullptr), 1);
}

TEST(DevCertsTest, CameraIdFormat) {
  auto id = DevCameraId("cam-%06d", 7);
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "cam-000007");
  EXPECT_EQ(*DevCameraId("zone-a.%d", 12), "zone-a.12");
  for (const char* bad : {"cam", "cam-%s", "cam-%d-%d", "cam %d", "%n", "cam:%d", ".cam%d"}) {
    EXPECT_FALSE(DevCameraId(bad, 1).ok()) << bad;
  }
  TempDir dir;
  EXPECT_FALSE(MakeDevCertificates({.out_dir = dir.path(), .camera_count = 1,
                                    .camera_id_format = "cam-%s"})
                   .ok());
}

TEST(DevCertsTest, IssueCertificateMakesOddCertificates) {
  auto ca_key = GenerateP256Key();
  ASSERT_TRUE(ca_key.ok());
  auto ca = IssueCertificate({.role = CertificateRole::kCa, .common_name = "test CA"},
                             ca_key->get(), nullptr, nullptr);
  ASSERT_TRUE(ca.ok());
  auto key = GenerateP256Key();
  ASSERT_TRUE(key.ok());

  CertificateSpec expired{.common_name = "cam-x"};
  expired.not_before = absl::Now() - absl::Hours(48);
  expired.not_after = absl::Now() - absl::Hours(24);
  auto cert = IssueCertificate(expired, key->get(), ca->get(), ca_key->get());
  ASSERT_TRUE(cert.ok());
  EXPECT_LT(X509_cmp_current_time(X509_get0_notAfter(cert->get())), 0);

  auto mixed = IssueCertificate({.common_name = "cn-id", .uris = {"camera:san-id"}}, key->get(),
                                ca->get(), ca_key->get());
  ASSERT_TRUE(mixed.ok());
  EXPECT_EQ(*CameraIdFromCertificate(mixed->get()), "san-id");

  EXPECT_FALSE(IssueCertificate({.uris = {"camera:a,b"}}, key->get(), nullptr, nullptr).ok());
  EXPECT_FALSE(IssueCertificate({}, key->get(), ca->get(), nullptr).ok());
}

TEST(DevCertsTest, UnwritableDirectoryIsNamed) {
  auto status = MakeDevCertificates({.out_dir = "/proc/not-here/dev-certs"});
  ASSERT_FALSE(status.ok());
  EXPECT_NE(std::string(status.message()).find("/proc/not-here/dev-certs"), std::string::npos)
      << status;
}

}  // namespace
}  // namespace ingest
