// Session resumption across servers of a zone: tickets issued by one server
// context resume on another that loaded the same ticket keys file, not on one
// with other keys, and survive a key rotation while their key is still listed.
#include <stdlib.h>

#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "proto/tls_channel.h"
#include "proto/tls_client_context.h"
#include "server/tls/camera_identity.h"
#include "server/tls/dev_certs.h"
#include "server/tls/ticket_keys.h"
#include "server/tls/tls_server_context.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

using camproto::ResumptionCache;
using camproto::SslCtxPtr;
using camproto::SslSessionPtr;
using camproto::TlsChannel;

constexpr char kCamera[] = "cam-000001";

void Move(TlsChannel& from, TlsChannel& to) {
  std::string bytes;
  from.TakeCiphertext(bytes);
  if (bytes.empty()) return;
  to.FeedCiphertext({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

class TlsResumptionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(MakeDevCertificates({.out_dir = dir_.path(), .camera_count = 1}).ok());
    paths_ = DevCertPathsIn(dir_.path());
    auto client_ctx = camproto::CreateCameraClientContext(
        {.ca_file = paths_.server_ca_cert, .cert_file = paths_.CameraPem(kCamera)});
    ASSERT_TRUE(client_ctx.ok()) << client_ctx.status();
    client_ctx_ = std::move(*client_ctx);
    cache_.Attach(client_ctx_.get());
  }

  std::string WriteKeys(const std::string& name, std::vector<TicketKey> keys) {
    std::string path = dir_.path() + "/" + name;
    EXPECT_TRUE(WriteTicketKeysFile(path, keys).ok());
    return path;
  }

  static TicketKey NewKey() {
    auto key = GenerateTicketKey();
    EXPECT_TRUE(key.ok());
    return *key;
  }

  SslCtxPtr ServerContext(const std::string& ticket_keys_file) {
    auto ctx = CreateServerContext({.cert_file = paths_.server_cert,
                                    .key_file = paths_.server_key,
                                    .camera_ca_file = paths_.camera_ca_cert,
                                    .ticket_keys_file = ticket_keys_file});
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return ctx.ok() ? std::move(*ctx) : nullptr;
  }

  // One connection of the camera to `server_ctx`, offering its cached session;
  // reads the post-handshake ticket so the cache is refreshed. Returns whether
  // the server resumed.
  bool ConnectOnce(SSL_CTX* server_ctx) {
    SslSessionPtr session = cache_.Find(kCamera);
    auto server = TlsChannel::CreateServer(server_ctx);
    auto client = TlsChannel::CreateClient(client_ctx_.get(), "localhost", session.get());
    EXPECT_TRUE(server.ok() && client.ok());
    EXPECT_TRUE(ResumptionCache::Track((*client)->ssl(), kCamera).ok());
    for (int round = 0; round < 10 && !(*server)->handshake_done(); ++round) {
      auto c = (*client)->Handshake();
      EXPECT_TRUE(c.ok()) << c.status();
      Move(**client, **server);
      auto s = (*server)->Handshake();
      EXPECT_TRUE(s.ok()) << s.status();
      Move(**server, **client);
    }
    EXPECT_TRUE((*server)->handshake_done());
    uint8_t buf[64];
    auto n = (*client)->ReadPlaintext(absl::MakeSpan(buf));  // takes in the new ticket
    EXPECT_TRUE(n.ok()) << n.status();
    auto id = CameraIdFromCertificate((*server)->peer_certificate());
    EXPECT_TRUE(id.ok()) << id.status();
    if (id.ok()) {
      EXPECT_EQ(*id, kCamera);  // a resumed session still carries the camera
    }
    EXPECT_EQ((*client)->session_resumed(), (*server)->session_resumed());
    return (*server)->session_resumed();
  }

  TempDir dir_;
  DevCertPaths paths_;
  SslCtxPtr client_ctx_;
  ResumptionCache cache_;
};

TEST_F(TlsResumptionTest, TicketArrivesAfterTheHandshake) {
  SslCtxPtr server = ServerContext("");
  EXPECT_EQ(cache_.size(), 0u);
  EXPECT_FALSE(ConnectOnce(server.get()));
  EXPECT_EQ(cache_.size(), 1u);
  EXPECT_NE(cache_.Find(kCamera), nullptr);
  EXPECT_TRUE(ConnectOnce(server.get()));
}

TEST_F(TlsResumptionTest, SecondServerWithSameKeysFileResumes) {
  std::string keys = WriteKeys("zone.keys", {NewKey()});
  SslCtxPtr first = ServerContext(keys);
  SslCtxPtr second = ServerContext(keys);
  EXPECT_FALSE(ConnectOnce(first.get()));
  EXPECT_TRUE(ConnectOnce(second.get()));
  EXPECT_TRUE(ConnectOnce(first.get()));
}

TEST_F(TlsResumptionTest, ServerWithOtherKeysDoesAFullHandshake) {
  SslCtxPtr first = ServerContext(WriteKeys("a.keys", {NewKey()}));
  SslCtxPtr other = ServerContext(WriteKeys("b.keys", {NewKey()}));
  EXPECT_FALSE(ConnectOnce(first.get()));
  EXPECT_FALSE(ConnectOnce(other.get()));
  // The full handshake refreshed the ticket; it now resumes on `other`.
  EXPECT_TRUE(ConnectOnce(other.get()));
}

TEST_F(TlsResumptionTest, RotationKeepsOldTicketsWhileTheOldKeyIsListed) {
  TicketKey old_key = NewKey();
  TicketKey new_key = NewKey();
  std::string path = WriteKeys("zone.keys", {old_key});
  SslCtxPtr server = ServerContext(path);
  SslCtxPtr peer = ServerContext(path);
  EXPECT_FALSE(ConnectOnce(server.get()));  // ticket under old_key
  SslSessionPtr old_ticket = cache_.Find(kCamera);

  // Rotate: prepend the new key, keep the old one.
  WriteKeys("zone.keys", {new_key, old_key});
  ASSERT_TRUE(ReloadTicketKeys(server.get(), path).ok());
  ASSERT_TRUE(ReloadTicketKeys(peer.get(), path).ok());
  EXPECT_TRUE(ConnectOnce(server.get()));  // old ticket accepted, new one issued

  // Drop the old key: the ticket re-issued under new_key still works...
  WriteKeys("zone.keys", {new_key});
  ASSERT_TRUE(ReloadTicketKeys(server.get(), path).ok());
  ASSERT_TRUE(ReloadTicketKeys(peer.get(), path).ok());
  EXPECT_TRUE(ConnectOnce(peer.get()));

  // ...but one still under old_key no longer resumes.
  cache_.Forget(kCamera);
  auto client = TlsChannel::CreateClient(client_ctx_.get(), "localhost", old_ticket.get());
  auto server_channel = TlsChannel::CreateServer(server.get());
  ASSERT_TRUE(client.ok() && server_channel.ok());
  for (int round = 0; round < 10 && !(*server_channel)->handshake_done(); ++round) {
    ASSERT_TRUE((*client)->Handshake().ok());
    Move(**client, **server_channel);
    ASSERT_TRUE((*server_channel)->Handshake().ok());
    Move(**server_channel, **client);
  }
  ASSERT_TRUE((*server_channel)->handshake_done());
  EXPECT_FALSE((*server_channel)->session_resumed());
}

TEST_F(TlsResumptionTest, ReloadWithBadFileKeepsTheOldKeys) {
  std::string path = WriteKeys("zone.keys", {NewKey()});
  SslCtxPtr server = ServerContext(path);
  EXPECT_FALSE(ConnectOnce(server.get()));
  EXPECT_FALSE(ReloadTicketKeys(server.get(), dir_.path() + "/missing.keys").ok());
  EXPECT_TRUE(ConnectOnce(server.get()));
}

}  // namespace
}  // namespace ingest
