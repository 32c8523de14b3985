// Our TLS 1.3 record layer after the handshake: a server channel that left
// OpenSSL, talking to a real OpenSSL client (tickets, resumption, KeyUpdate,
// close_notify, tampered and hostile records, records cut anywhere), and two
// record layers talking to each other to see keys move on at their limit.
#include "proto/tls13_record_layer.h"

#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/tls_channel.h"
#include "proto/tls_client_context.h"
#include "server/tls/camera_identity.h"
#include "server/tls/dev_certs.h"
#include "server/tls/tls_server_context.h"
#include "tests/support/temp_dir.h"
#include "tests/support/tls_in_memory.h"

namespace camproto {
namespace {

using ::ingest::testing::TempDir;

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

void Move(TlsChannel& from, TlsChannel& to) { ingest::testing::MoveCiphertext(from, to); }

std::string RandomBytes(size_t n, std::mt19937& rng) {
  std::string s(n, '\0');
  for (char& c : s) c = static_cast<char>(rng());
  return s;
}

class Tls13HandoffTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ingest::MakeDevCertificates({.out_dir = dir_.path(), .camera_count = 1}).ok());
    paths_ = ingest::DevCertPathsIn(dir_.path());
    server_ctx_ = ServerContext(/*own_record_layer=*/true);
    auto client_ctx = CreateCameraClientContext(
        {.ca_file = paths_.server_ca_cert, .cert_file = paths_.CameraPem("cam-000001")});
    ASSERT_TRUE(client_ctx.ok()) << client_ctx.status();
    client_ctx_ = std::move(*client_ctx);
  }

  SslCtxPtr ServerContext(bool own_record_layer) {
    auto ctx = ingest::CreateServerContext({.cert_file = paths_.server_cert,
                                            .key_file = paths_.server_key,
                                            .camera_ca_file = paths_.camera_ca_cert,
                                            .own_record_layer = own_record_layer});
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    return ctx.ok() ? std::move(*ctx) : nullptr;
  }

  void Connect(SSL_CTX* server_ctx = nullptr, SSL_SESSION* resume = nullptr) {
    auto server = TlsChannel::CreateServer(server_ctx != nullptr ? server_ctx : server_ctx_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto client = TlsChannel::CreateClient(client_ctx_.get(), "localhost", resume);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
    absl::Status handshake = ingest::testing::HandshakeInMemory(*client_, *server_);
    ASSERT_TRUE(handshake.ok()) << handshake;
  }

  static std::string ReadAll(TlsChannel& channel, size_t piece = 4096) {
    return ingest::testing::ReadAllPlaintext(channel, piece);
  }

  // Sends `text` from the client and returns what the server read of it.
  std::string ClientToServer(const std::string& text) {
    absl::Status written = client_->WritePlaintext(Bytes(text));
    EXPECT_TRUE(written.ok()) << written;
    Move(*client_, *server_);
    return ReadAll(*server_);
  }
  std::string ServerToClient(const std::string& text) {
    EXPECT_TRUE(server_->WritePlaintext(Bytes(text)).ok());
    Move(*server_, *client_);
    return ReadAll(*client_);
  }

  TempDir dir_;
  ingest::DevCertPaths paths_;
  SslCtxPtr server_ctx_;
  SslCtxPtr client_ctx_;
  std::unique_ptr<TlsChannel> server_;
  std::unique_ptr<TlsChannel> client_;
};

TEST_F(Tls13HandoffTest, ServerLeavesOpenSslAfterItsHandshakeAndTheClientStillGetsItsTicket) {
  Connect();
  ASSERT_NE(server_->record_layer(), nullptr);
  EXPECT_EQ(server_->ssl(), nullptr);
  EXPECT_EQ(server_->protocol_version(), TLS1_3_VERSION);
  EXPECT_FALSE(server_->session_resumed());
  auto camera = ingest::CameraIdFromCertificate(server_->peer_certificate());
  ASSERT_TRUE(camera.ok()) << camera.status();
  EXPECT_EQ(*camera, "cam-000001");

  EXPECT_EQ(ServerToClient("welcome"), "welcome");  // after OpenSSL's ticket, under the same key
  EXPECT_EQ(ClientToServer("hello"), "hello");
  EXPECT_EQ(SSL_SESSION_has_ticket(SSL_get0_session(client_->ssl())), 1);
}

TEST_F(Tls13HandoffTest, ResumedHandshakeHandsOffToo) {
  Connect();
  EXPECT_EQ(ServerToClient("first"), "first");
  SslSessionPtr session(SSL_get1_session(client_->ssl()));
  ASSERT_NE(session, nullptr);
  Connect(nullptr, session.get());
  EXPECT_TRUE(server_->session_resumed());
  ASSERT_NE(server_->record_layer(), nullptr);
  auto camera = ingest::CameraIdFromCertificate(server_->peer_certificate());
  ASSERT_TRUE(camera.ok()) << camera.status();
  EXPECT_EQ(*camera, "cam-000001");
  EXPECT_EQ(ClientToServer("resumed"), "resumed");
  EXPECT_EQ(ServerToClient("and answered"), "and answered");
}

TEST_F(Tls13HandoffTest, WithoutTheHandoffOpenSslKeepsTheConnection) {
  SslCtxPtr openssl_only = ServerContext(/*own_record_layer=*/false);
  Connect(openssl_only.get());
  EXPECT_EQ(server_->record_layer(), nullptr);
  EXPECT_NE(server_->ssl(), nullptr);
  EXPECT_EQ(ClientToServer("hello"), "hello");
}

TEST_F(Tls13HandoffTest, MegabytesCutAnywhereAndReadInAnySizeArriveByteExact) {
  Connect();
  std::mt19937 rng(7);
  const std::string upstream = RandomBytes(1 << 20, rng);
  ASSERT_TRUE(client_->WritePlaintext(Bytes(upstream)).ok());
  std::string ciphertext;
  client_->TakeCiphertext(ciphertext);

  // Lent in receive-sized chunks cut at random, as the ring hands them over,
  // and read into buffers of random sizes, some smaller than a record.
  std::string received;
  size_t at = 0;
  std::vector<uint8_t> buf(70000);
  while (at < ciphertext.size()) {
    const size_t chunk = std::min<size_t>(1 + rng() % 40000, ciphertext.size() - at);
    server_->LendCiphertext(Bytes(ciphertext).subspan(at, chunk));
    at += chunk;
    while (true) {
      const size_t want = 1 + rng() % buf.size();
      auto n = server_->ReadPlaintext(absl::MakeSpan(buf.data(), want));
      ASSERT_TRUE(n.ok()) << n.status();
      if (*n == 0) break;
      received.append(reinterpret_cast<char*>(buf.data()), *n);
    }
    server_->ReleaseLentCiphertext();
  }
  EXPECT_EQ(received.size(), upstream.size());
  EXPECT_TRUE(received == upstream);

  const std::string downstream = RandomBytes(300000, rng);
  EXPECT_TRUE(ServerToClient(downstream) == downstream);
}

TEST_F(Tls13HandoffTest, SmallReadsTakeARecordAPieceAtATime) {
  Connect();
  std::mt19937 rng(3);
  const std::string text = RandomBytes(10000, rng);
  ASSERT_TRUE(client_->WritePlaintext(Bytes(text)).ok());
  Move(*client_, *server_);
  uint8_t seven[7];
  auto first = server_->ReadPlaintext(absl::MakeSpan(seven));
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ(*first, 7u);
  EXPECT_EQ(server_->pending_plaintext(), text.size() - 7);
  std::string received(reinterpret_cast<char*>(seven), 7);
  received += ReadAll(*server_, 7);
  EXPECT_TRUE(received == text);
}

TEST_F(Tls13HandoffTest, ThePeersKeyUpdateIsFollowedAndAnsweredWhenAsked) {
  Connect();
  ASSERT_EQ(SSL_key_update(client_->ssl(), SSL_KEY_UPDATE_REQUESTED), 1);
  ASSERT_TRUE(client_->Handshake().ok());  // sends the KeyUpdate
  EXPECT_EQ(ClientToServer("after the update"), "after the update");
  EXPECT_EQ(server_->record_layer()->key_updates_received(), 1u);
  EXPECT_EQ(server_->record_layer()->key_updates_sent(), 1u);  // asked, so answered
  EXPECT_EQ(ServerToClient("under our new key"), "under our new key");

  ASSERT_EQ(SSL_key_update(client_->ssl(), SSL_KEY_UPDATE_NOT_REQUESTED), 1);
  ASSERT_TRUE(client_->Handshake().ok());
  EXPECT_EQ(ClientToServer("again"), "again");
  EXPECT_EQ(server_->record_layer()->key_updates_received(), 2u);
  EXPECT_EQ(server_->record_layer()->key_updates_sent(), 1u);
  EXPECT_EQ(ServerToClient("still fine"), "still fine");
}

TEST_F(Tls13HandoffTest, CloseNotifyBothWays) {
  Connect();
  client_->SendCloseNotify();
  Move(*client_, *server_);
  uint8_t buf[64];
  auto n = server_->ReadPlaintext(absl::MakeSpan(buf));
  EXPECT_TRUE(IsPeerClosedCleanly(n.status())) << n.status();
  n = server_->ReadPlaintext(absl::MakeSpan(buf));
  EXPECT_TRUE(IsPeerClosedCleanly(n.status())) << n.status();

  server_->SendCloseNotify();
  Move(*server_, *client_);
  n = client_->ReadPlaintext(absl::MakeSpan(buf));
  EXPECT_TRUE(IsPeerClosedCleanly(n.status())) << n.status();
}

TEST_F(Tls13HandoffTest, ATamperedRecordIsDataLossAndTheClientIsToldBadRecordMac) {
  Connect();
  ASSERT_TRUE(client_->WritePlaintext(Bytes("segment bytes")).ok());
  std::string ciphertext;
  client_->TakeCiphertext(ciphertext);
  ciphertext.back() ^= 0x01;  // the tag
  server_->FeedCiphertext(Bytes(ciphertext));
  uint8_t buf[64];
  auto n = server_->ReadPlaintext(absl::MakeSpan(buf));
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kDataLoss) << n.status();
  EXPECT_NE(n.status().message().find("bad_record_mac"), std::string::npos) << n.status();
  EXPECT_GT(server_->pending_ciphertext(), 0u);  // the alert
  EXPECT_FALSE(server_->WritePlaintext(Bytes("more")).ok());

  Move(*server_, *client_);
  auto c = client_->ReadPlaintext(absl::MakeSpan(buf));
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("bad record mac"), std::string::npos) << c.status();
}

TEST_F(Tls13HandoffTest, RecordsNoTls13PeerSendsAfterItsHandshakeAreRefused) {
  struct Case {
    std::string bytes;
    const char* reason;
  };
  const std::vector<Case> cases = {
      {std::string("\x16\x03\x03\x00\x01\x00", 6), "unexpected_message"},  // plaintext handshake
      {std::string("\x15\x03\x03\x00\x02\x02\x28", 7), "unexpected_message"},  // plaintext alert
      {std::string("\x14\x03\x03\x00\x01\x01", 6), "unexpected_message"},  // change_cipher_spec
      {std::string("\x17\x03\x03\x42\x01", 5), "record_overflow"},
      {std::string("\x17\x03\x03\x00\x05\x00\x00\x00\x00\x00", 10), "decode_error"},
  };
  for (const Case& c : cases) {
    Connect();
    server_->FeedCiphertext(Bytes(c.bytes));
    uint8_t buf[64];
    auto n = server_->ReadPlaintext(absl::MakeSpan(buf));
    ASSERT_FALSE(n.ok()) << c.reason;
    EXPECT_EQ(n.status().code(), absl::StatusCode::kDataLoss) << n.status();
    EXPECT_NE(n.status().message().find(c.reason), std::string::npos) << n.status();
    Move(*server_, *client_);
    EXPECT_FALSE(client_->ReadPlaintext(absl::MakeSpan(buf)).ok()) << "the client got the alert";
  }
}

// Two record layers facing each other, with a limit of four records per key.
class Tls13KeyLimitTest : public ::testing::TestWithParam<uint16_t> {
 protected:
  static Tls13TrafficSecret RandomSecret(const Tls13Suite& suite) {
    Tls13TrafficSecret secret;
    secret.size = suite.secret_bytes;
    EXPECT_EQ(RAND_bytes(secret.bytes.data(), static_cast<int>(secret.size)), 1);
    return secret;
  }

  // Opens every record in `wire` with `to`, returning the application data.
  static std::string Deliver(std::vector<uint8_t>& wire, Tls13RecordLayer& to,
                             std::vector<uint8_t>& to_out) {
    std::string data;
    size_t at = 0;
    std::vector<uint8_t> room(Tls13RecordLayer::kMaxBodyBytes);
    while (at < wire.size()) {
      auto size = to.RecordSize(absl::MakeConstSpan(wire).subspan(at), to_out);
      EXPECT_TRUE(size.ok()) << size.status();
      if (!size.ok()) break;
      auto got = to.Receive(absl::MakeConstSpan(wire).subspan(at, *size), absl::MakeSpan(room), to_out);
      EXPECT_TRUE(got.ok()) << got.status();
      if (!got.ok()) break;
      data.append(reinterpret_cast<char*>(room.data()), got->data_bytes);
      at += *size;
    }
    wire.clear();
    return data;
  }
};

TEST_P(Tls13KeyLimitTest, KeysMoveOnBeforeTheirLimitInBothDirections) {
  const Tls13Suite* suite = FindTls13Suite(GetParam());
  ASSERT_NE(suite, nullptr);
  const Tls13TrafficSecret client = RandomSecret(*suite);
  const Tls13TrafficSecret server = RandomSecret(*suite);
  auto ours = Tls13RecordLayer::Create(*suite, client, server, 0, /*records_per_key=*/4);
  auto peer = Tls13RecordLayer::Create(*suite, server, client, 0);
  ASSERT_TRUE(ours.ok() && peer.ok());
  std::vector<uint8_t> ours_out;
  std::vector<uint8_t> peer_out;

  // Ours sends ten records: it moves its key on after every four.
  std::string sent;
  for (int i = 0; i < 10; ++i) {
    const std::string piece = "record " + std::to_string(i) + ";";
    ASSERT_TRUE((*ours)->Send(Bytes(piece), ours_out).ok());
    sent += piece;
  }
  EXPECT_EQ(Deliver(ours_out, **peer, peer_out), sent);
  EXPECT_EQ((*ours)->key_updates_sent(), 2u);
  EXPECT_EQ((*peer)->key_updates_received(), 2u);

  // The peer sends six under one key: ours asks it to move on after four
  // (moving its own key too), and the peer answers with its KeyUpdate.
  sent.clear();
  for (int i = 0; i < 6; ++i) {
    const std::string piece = "back " + std::to_string(i) + ";";
    ASSERT_TRUE((*peer)->Send(Bytes(piece), peer_out).ok());
    sent += piece;
  }
  EXPECT_EQ(Deliver(peer_out, **ours, ours_out), sent);
  EXPECT_EQ((*ours)->key_updates_sent(), 3u);
  EXPECT_EQ(Deliver(ours_out, **peer, peer_out), "");
  EXPECT_EQ((*peer)->key_updates_received(), 3u);
  EXPECT_EQ((*peer)->key_updates_sent(), 1u);
  ASSERT_TRUE((*peer)->Send(Bytes("under the new key"), peer_out).ok());
  EXPECT_EQ(Deliver(peer_out, **ours, ours_out), "under the new key");
  EXPECT_EQ((*ours)->key_updates_received(), 1u);
  ASSERT_TRUE((*ours)->Send(Bytes("and ours"), ours_out).ok());
  EXPECT_EQ(Deliver(ours_out, **peer, peer_out), "and ours");
}

INSTANTIATE_TEST_SUITE_P(EverySuite, Tls13KeyLimitTest, ::testing::Values(0x1301, 0x1302, 0x1303));

}  // namespace
}  // namespace camproto
