// The server's mutual-TLS context against real camera certificates, good and
// bad: who gets in, who is refused, and what the refusal says.
#include "server/tls/tls_server_context.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"
#include "proto/tls_channel.h"
#include "proto/tls_client_context.h"
#include "server/tls/camera_identity.h"
#include "server/tls/dev_certs.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

using camproto::SslCtxPtr;
using camproto::TlsChannel;

void Move(TlsChannel& from, TlsChannel& to) {
  std::string bytes;
  from.TakeCiphertext(bytes);
  if (bytes.empty()) return;
  to.FeedCiphertext({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

struct Outcome {
  absl::Status client;
  absl::Status server;
  bool alert_sent_by_server = false;
};

// Runs the handshake until both sides finish or fail, then lets the client
// read once so an alert sent after its own handshake finished (TLS 1.3 client
// certificates are checked after that) reaches it.
Outcome RunHandshake(TlsChannel& client, TlsChannel& server) {
  Outcome out;
  for (int round = 0; round < 10; ++round) {
    if (out.client.ok() && !client.handshake_done()) {
      auto r = client.Handshake();
      if (!r.ok()) out.client = r.status();
    }
    Move(client, server);
    if (out.server.ok() && !server.handshake_done()) {
      auto r = server.Handshake();
      if (!r.ok()) {
        out.server = r.status();
        out.alert_sent_by_server = server.pending_ciphertext() > 0;
      }
    }
    Move(server, client);
    bool client_settled = !out.client.ok() || client.handshake_done();
    bool server_settled = !out.server.ok() || server.handshake_done();
    if (client_settled && server_settled) break;
  }
  if (out.client.ok()) {
    uint8_t buf[256];
    auto n = client.ReadPlaintext(absl::MakeSpan(buf));
    if (!n.ok()) out.client = n.status();
  }
  return out;
}

class TlsServerContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeDevCertificates({.out_dir = dir_.path(), .camera_count = 2}).ok());
    paths_ = DevCertPathsIn(dir_.path());
  }

  SslCtxPtr ServerContext(bool allow_tls12 = false) {
    auto ctx = CreateServerContext({.cert_file = paths_.server_cert,
                                    .key_file = paths_.server_key,
                                    .camera_ca_file = paths_.camera_ca_cert,
                                    .allow_tls12 = allow_tls12});
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return ctx.ok() ? std::move(*ctx) : nullptr;
  }

  SslCtxPtr ClientContext(const std::string& pem, bool allow_tls12 = false) {
    auto ctx = camproto::CreateCameraClientContext(
        {.ca_file = paths_.server_ca_cert, .cert_file = pem, .allow_tls12 = allow_tls12});
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return ctx.ok() ? std::move(*ctx) : nullptr;
  }

  // Writes a camera certificate described by `spec`, signed by the camera CA
  // (or by `issuer`/`issuer_key`), and returns its PEM path.
  std::string WriteCamera(const std::string& name, const CertificateSpec& spec,
                          X509* issuer = nullptr, EVP_PKEY* issuer_key = nullptr) {
    auto ca_cert = ReadCertificatePem(paths_.camera_ca_cert);
    auto ca_key = ReadPrivateKeyPem(paths_.camera_ca_key);
    EXPECT_TRUE(ca_cert.ok() && ca_key.ok());
    auto key = GenerateP256Key();
    EXPECT_TRUE(key.ok());
    auto cert = IssueCertificate(spec, key->get(), issuer ? issuer : ca_cert->get(),
                                 issuer_key ? issuer_key : ca_key->get());
    EXPECT_TRUE(cert.ok()) << cert.status();
    std::string path = dir_.path() + "/" + name + ".pem";
    EXPECT_TRUE(WritePem(path, cert->get(), key->get()).ok());
    return path;
  }

  Outcome Connect(SSL_CTX* client_ctx, SSL_CTX* server_ctx,
                  std::unique_ptr<TlsChannel>* server_out = nullptr) {
    auto server = TlsChannel::CreateServer(server_ctx);
    auto client = TlsChannel::CreateClient(client_ctx, "localhost", nullptr);
    EXPECT_TRUE(server.ok() && client.ok());
    Outcome out = RunHandshake(**client, **server);
    if (server_out != nullptr) *server_out = std::move(*server);
    return out;
  }

  TempDir dir_;
  DevCertPaths paths_;
};

TEST_F(TlsServerContextTest, MutualTlsSucceedsAndNamesTheCamera) {
  SslCtxPtr server_ctx = ServerContext();
  SslCtxPtr client_ctx = ClientContext(paths_.CameraPem("cam-000002"));
  std::unique_ptr<TlsChannel> server;
  Outcome out = Connect(client_ctx.get(), server_ctx.get(), &server);
  ASSERT_TRUE(out.server.ok()) << out.server;
  ASSERT_TRUE(out.client.ok()) << out.client;
  ASSERT_TRUE(server->handshake_done());
  auto id = CameraIdFromCertificate(server->peer_certificate());
  ASSERT_TRUE(id.ok()) << id.status();
  EXPECT_EQ(*id, "cam-000002");
}

TEST_F(TlsServerContextTest, NoClientCertificateIsRefusedWithAnAlert) {
  SslCtxPtr server_ctx = ServerContext();
  SslCtxPtr client_ctx = ClientContext("");  // no certificate at all
  Outcome out = Connect(client_ctx.get(), server_ctx.get());
  ASSERT_FALSE(out.server.ok());
  EXPECT_EQ(out.server.code(), absl::StatusCode::kUnauthenticated) << out.server;
  EXPECT_NE(std::string(out.server.message()).find("did not return a certificate"),
            std::string::npos)
      << out.server;
  EXPECT_TRUE(out.alert_sent_by_server);
  ASSERT_FALSE(out.client.ok());
  EXPECT_NE(std::string(out.client.message()).find("certificate required"), std::string::npos)
      << out.client;
}

TEST_F(TlsServerContextTest, CertificateFromAnotherCaIsRefused) {
  auto other_key = GenerateP256Key();
  ASSERT_TRUE(other_key.ok());
  auto other_ca = IssueCertificate({.role = CertificateRole::kCa, .common_name = "rogue CA"},
                                   other_key->get(), nullptr, nullptr);
  ASSERT_TRUE(other_ca.ok());
  std::string pem = WriteCamera(
      "rogue", {.common_name = "cam-000001", .uris = {"camera:cam-000001"}}, other_ca->get(),
      other_key->get());
  SslCtxPtr server_ctx = ServerContext();
  SslCtxPtr client_ctx = ClientContext(pem);
  Outcome out = Connect(client_ctx.get(), server_ctx.get());
  ASSERT_FALSE(out.server.ok());
  EXPECT_EQ(out.server.code(), absl::StatusCode::kUnauthenticated) << out.server;
  EXPECT_NE(std::string(out.server.message()).find("unable to get local issuer certificate"),
            std::string::npos)
      << out.server;
  EXPECT_TRUE(out.alert_sent_by_server);
  EXPECT_FALSE(out.client.ok());
}

TEST_F(TlsServerContextTest, SelfSignedCameraCertificateIsRefused) {
  auto key = GenerateP256Key();
  ASSERT_TRUE(key.ok());
  auto cert = IssueCertificate({.common_name = "cam-000001", .uris = {"camera:cam-000001"}},
                               key->get(), nullptr, nullptr);
  ASSERT_TRUE(cert.ok());
  std::string pem = dir_.path() + "/self.pem";
  ASSERT_TRUE(WritePem(pem, cert->get(), key->get()).ok());
  SslCtxPtr server_ctx = ServerContext();
  SslCtxPtr client_ctx = ClientContext(pem);
  Outcome out = Connect(client_ctx.get(), server_ctx.get());
  ASSERT_FALSE(out.server.ok());
  EXPECT_EQ(out.server.code(), absl::StatusCode::kUnauthenticated) << out.server;
}

TEST_F(TlsServerContextTest, ExpiredCameraCertificateIsRefusedNamingExpiry) {
  CertificateSpec spec{.common_name = "cam-old", .uris = {"camera:cam-old"}};
  spec.not_before = absl::Now() - absl::Hours(24 * 400);
  spec.not_after = absl::Now() - absl::Hours(24);
  std::string pem = WriteCamera("expired", spec);
  SslCtxPtr server_ctx = ServerContext();
  SslCtxPtr client_ctx = ClientContext(pem);
  Outcome out = Connect(client_ctx.get(), server_ctx.get());
  ASSERT_FALSE(out.server.ok());
  EXPECT_EQ(out.server.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_NE(std::string(out.server.message()).find("certificate has expired"), std::string::npos)
      << out.server;
  ASSERT_FALSE(out.client.ok());
  EXPECT_NE(std::string(out.client.message()).find("expired"), std::string::npos) << out.client;
}

TEST_F(TlsServerContextTest, NotYetValidCameraCertificateIsRefused) {
  CertificateSpec spec{.common_name = "cam-future", .uris = {"camera:cam-future"}};
  spec.not_before = absl::Now() + absl::Hours(24);
  spec.not_after = absl::Now() + absl::Hours(48);
  std::string pem = WriteCamera("future", spec);
  SslCtxPtr server_ctx = ServerContext();
  SslCtxPtr client_ctx = ClientContext(pem);
  Outcome out = Connect(client_ctx.get(), server_ctx.get());
  ASSERT_FALSE(out.server.ok());
  EXPECT_NE(std::string(out.server.message()).find("not yet valid"), std::string::npos)
      << out.server;
}

TEST_F(TlsServerContextTest, Tls12IsRefusedUnlessAllowed) {
  SslCtxPtr client_ctx = ClientContext(paths_.CameraPem("cam-000001"), /*allow_tls12=*/true);
  SSL_CTX_set_max_proto_version(client_ctx.get(), TLS1_2_VERSION);

  SslCtxPtr strict = ServerContext(/*allow_tls12=*/false);
  Outcome refused = Connect(client_ctx.get(), strict.get());
  ASSERT_FALSE(refused.server.ok());
  EXPECT_EQ(refused.server.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(refused.server.message()).find("unsupported protocol"), std::string::npos)
      << refused.server;

  SslCtxPtr lenient = ServerContext(/*allow_tls12=*/true);
  std::unique_ptr<TlsChannel> server;
  Outcome allowed = Connect(client_ctx.get(), lenient.get(), &server);
  ASSERT_TRUE(allowed.server.ok()) << allowed.server;
  ASSERT_TRUE(allowed.client.ok()) << allowed.client;
  EXPECT_EQ(SSL_version(server->ssl()), TLS1_2_VERSION);
  auto id = CameraIdFromCertificate(server->peer_certificate());
  ASSERT_TRUE(id.ok());
  EXPECT_EQ(*id, "cam-000001");
}

TEST_F(TlsServerContextTest, MissingFileIsNamed) {
  auto ctx = CreateServerContext({.cert_file = dir_.path() + "/nope.crt",
                                  .key_file = paths_.server_key,
                                  .camera_ca_file = paths_.camera_ca_cert});
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(std::string(ctx.status().message()).find("nope.crt"), std::string::npos)
      << ctx.status();
  EXPECT_NE(std::string(ctx.status().message()).find("No such file"), std::string::npos)
      << ctx.status();
}

TEST_F(TlsServerContextTest, MismatchedKeyIsNamed) {
  auto ctx = CreateServerContext({.cert_file = paths_.server_cert,
                                  .key_file = paths_.camera_ca_key,
                                  .camera_ca_file = paths_.camera_ca_cert});
  ASSERT_FALSE(ctx.ok());
  EXPECT_EQ(ctx.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(ctx.status().message()).find("does not match"), std::string::npos)
      << ctx.status();
}

TEST_F(TlsServerContextTest, NonPemCertificateIsRefused) {
  std::string junk = dir_.path() + "/junk.crt";
  std::ofstream(junk) << "not a certificate\n";
  auto ctx = CreateServerContext({.cert_file = junk,
                                  .key_file = paths_.server_key,
                                  .camera_ca_file = paths_.camera_ca_cert});
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(std::string(ctx.status().message()).find("junk.crt"), std::string::npos)
      << ctx.status();
}

TEST_F(TlsServerContextTest, BadTicketKeysFileIsRefused) {
  std::string keys = dir_.path() + "/bad.keys";
  std::ofstream(keys) << "00 11 22\n";
  auto ctx = CreateServerContext({.cert_file = paths_.server_cert,
                                  .key_file = paths_.server_key,
                                  .camera_ca_file = paths_.camera_ca_cert,
                                  .ticket_keys_file = keys});
  ASSERT_FALSE(ctx.ok());
  EXPECT_NE(std::string(ctx.status().message()).find("bad.keys:1"), std::string::npos)
      << ctx.status();
}

}  // namespace
}  // namespace ingest
