// TlsChannel over memory: a client and a server channel in one process,
// bytes moved between them by hand, with real certificates and real OpenSSL.
#include "proto/tls_channel.h"

#include <stdlib.h>

#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/tls_client_context.h"
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

class TlsChannelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(ingest::MakeDevCertificates({.out_dir = dir_.path(), .camera_count = 1}).ok());
    ingest::DevCertPaths paths = ingest::DevCertPathsIn(dir_.path());
    auto server_ctx = ingest::CreateServerContext({.cert_file = paths.server_cert,
                                                   .key_file = paths.server_key,
                                                   .camera_ca_file = paths.camera_ca_cert});
    ASSERT_TRUE(server_ctx.ok()) << server_ctx.status();
    server_ctx_ = std::move(*server_ctx);
    auto client_ctx = CreateCameraClientContext(
        {.ca_file = paths.server_ca_cert, .cert_file = paths.CameraPem("cam-000001")});
    ASSERT_TRUE(client_ctx.ok()) << client_ctx.status();
    client_ctx_ = std::move(*client_ctx);
  }

  // Creates both channels and runs the handshake to completion.
  void Connect() {
    auto server = TlsChannel::CreateServer(server_ctx_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    auto client = TlsChannel::CreateClient(client_ctx_.get(), "localhost", nullptr);
    ASSERT_TRUE(client.ok()) << client.status();
    client_ = std::move(*client);
    absl::Status handshake = ingest::testing::HandshakeInMemory(*client_, *server_);
    ASSERT_TRUE(handshake.ok()) << handshake;
  }

  // Reads everything `channel` can decrypt now.
  static std::string ReadAll(TlsChannel& channel) {
    std::string out;
    uint8_t buf[4096];
    while (true) {
      auto n = channel.ReadPlaintext(absl::MakeSpan(buf));
      EXPECT_TRUE(n.ok()) << n.status();
      if (!n.ok() || *n == 0) return out;
      out.append(reinterpret_cast<char*>(buf), *n);
    }
  }

  TempDir dir_;
  SslCtxPtr server_ctx_;
  SslCtxPtr client_ctx_;
  std::unique_ptr<TlsChannel> server_;
  std::unique_ptr<TlsChannel> client_;
};

TEST_F(TlsChannelTest, HandshakeCompletesBothWays) {
  Connect();
  EXPECT_FALSE(server_->session_resumed());
  ASSERT_NE(server_->peer_certificate(), nullptr);
  ASSERT_NE(client_->peer_certificate(), nullptr);
  EXPECT_EQ(server_->protocol_version(), TLS1_3_VERSION);
  EXPECT_NE(server_->record_layer(), nullptr) << "the server left OpenSSL after its handshake";
  EXPECT_EQ(server_->ssl(), nullptr);
}

TEST_F(TlsChannelTest, ApplicationDataBothDirections) {
  Connect();
  ASSERT_TRUE(client_->WritePlaintext(Bytes("hello server")).ok());
  Move(*client_, *server_);
  EXPECT_EQ(ReadAll(*server_), "hello server");
  ASSERT_TRUE(server_->WritePlaintext(Bytes("hello camera")).ok());
  Move(*server_, *client_);
  EXPECT_EQ(ReadAll(*client_), "hello camera");
}

TEST_F(TlsChannelTest, OneMebibyteInRandomPiecesArrivesIntact) {
  Connect();
  std::mt19937 rng(12345);
  std::string sent(1 << 20, '\0');
  for (char& c : sent) c = static_cast<char>(rng());

  std::string received;
  std::string wire;  // ciphertext in flight, client -> server
  size_t written = 0;
  bool lend = false;
  while (received.size() < sent.size()) {
    if (written < sent.size()) {
      size_t piece = std::min<size_t>(sent.size() - written, 1 + rng() % 40000);
      ASSERT_TRUE(client_->WritePlaintext(Bytes(sent.substr(written, piece))).ok());
      written += piece;
    }
    client_->TakeCiphertext(wire);
    // Deliver a random prefix, half the time lent (zero-copy), half copied.
    size_t deliver = wire.empty() ? 0 : std::min<size_t>(wire.size(), 1 + rng() % 30000);
    if (written == sent.size()) deliver = wire.size();
    std::string chunk = wire.substr(0, deliver);
    wire.erase(0, deliver);
    lend = !lend;
    if (lend) {
      server_->LendCiphertext(Bytes(chunk));
    } else {
      server_->FeedCiphertext(Bytes(chunk));
    }
    std::vector<uint8_t> buf(1 + rng() % 20000);
    while (true) {
      auto n = server_->ReadPlaintext(absl::MakeSpan(buf));
      ASSERT_TRUE(n.ok()) << n.status();
      if (*n == 0) break;
      received.append(reinterpret_cast<char*>(buf.data()), *n);
    }
    server_->ReleaseLentCiphertext();  // before `chunk` goes away
  }
  EXPECT_EQ(received.size(), sent.size());
  EXPECT_TRUE(received == sent);
}

TEST_F(TlsChannelTest, UnreadLentBytesSurviveRelease) {
  Connect();
  ASSERT_TRUE(client_->WritePlaintext(Bytes("first")).ok());
  ASSERT_TRUE(client_->WritePlaintext(Bytes("second")).ok());
  std::string wire;
  client_->TakeCiphertext(wire);
  server_->LendCiphertext(Bytes(wire));
  uint8_t buf[5];
  auto n = server_->ReadPlaintext(absl::MakeSpan(buf));  // one record, not both
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(std::string(reinterpret_cast<char*>(buf), *n), "first");
  server_->ReleaseLentCiphertext();
  std::fill(wire.begin(), wire.end(), '\0');  // the receive buffer is reused
  EXPECT_EQ(ReadAll(*server_), "second");
}

TEST_F(TlsChannelTest, PendingPlaintextReportsBufferedBytes) {
  Connect();
  ASSERT_TRUE(client_->WritePlaintext(Bytes("0123456789")).ok());
  Move(*client_, *server_);
  uint8_t buf[4];
  auto n = server_->ReadPlaintext(absl::MakeSpan(buf));
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 4u);
  EXPECT_EQ(server_->pending_plaintext(), 6u);
}

TEST_F(TlsChannelTest, TakeCiphertextIntoSpanAndPeekConsume) {
  Connect();
  ASSERT_TRUE(client_->WritePlaintext(Bytes("split me")).ok());
  size_t total = client_->pending_ciphertext();
  ASSERT_GT(total, 10u);
  std::vector<uint8_t> first(10);
  EXPECT_EQ(client_->TakeCiphertext(absl::MakeSpan(first)), 10u);
  EXPECT_EQ(client_->pending_ciphertext(), total - 10);
  absl::Span<const uint8_t> rest = client_->PeekCiphertext();
  std::vector<uint8_t> copy(rest.begin(), rest.end());
  client_->ConsumeCiphertext(copy.size());
  EXPECT_EQ(client_->pending_ciphertext(), 0u);
  server_->FeedCiphertext(first);
  server_->FeedCiphertext(copy);
  EXPECT_EQ(ReadAll(*server_), "split me");
}

TEST_F(TlsChannelTest, CloseNotifyIsReportedAsCancelled) {
  Connect();
  client_->SendCloseNotify();
  EXPECT_GT(client_->pending_ciphertext(), 0u);
  Move(*client_, *server_);
  uint8_t buf[16];
  auto n = server_->ReadPlaintext(absl::MakeSpan(buf));
  ASSERT_FALSE(n.ok());
  EXPECT_EQ(n.status().code(), absl::StatusCode::kCancelled);
  EXPECT_TRUE(IsPeerClosedCleanly(n.status()));
}

TEST_F(TlsChannelTest, GarbageInsteadOfClientHelloFailsCleanly) {
  auto server = TlsChannel::CreateServer(server_ctx_.get());
  ASSERT_TRUE(server.ok());
  std::mt19937 rng(7);
  std::vector<uint8_t> garbage(4096);
  for (uint8_t& b : garbage) b = static_cast<uint8_t>(rng());
  (*server)->FeedCiphertext(garbage);
  auto result = (*server)->Handshake();
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << result.status();
  // The failure sticks.
  EXPECT_FALSE((*server)->Handshake().ok());
  EXPECT_FALSE((*server)->WritePlaintext(Bytes("x")).ok());
}

TEST_F(TlsChannelTest, HttpRequestInsteadOfClientHelloFails) {
  auto server = TlsChannel::CreateServer(server_ctx_.get());
  ASSERT_TRUE(server.ok());
  (*server)->FeedCiphertext(Bytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto result = (*server)->Handshake();
  ASSERT_FALSE(result.ok());
  EXPECT_NE(std::string(result.status().message()).find("http request"), std::string::npos)
      << result.status();
}

TEST_F(TlsChannelTest, WriteBeforeHandshakeIsRefused) {
  auto client = TlsChannel::CreateClient(client_ctx_.get(), "localhost", nullptr);
  ASSERT_TRUE(client.ok());
  EXPECT_EQ((*client)->WritePlaintext(Bytes("early")).code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(TlsChannelTest, WrongServerNameFailsOnTheClient) {
  auto server = TlsChannel::CreateServer(server_ctx_.get());
  auto client = TlsChannel::CreateClient(client_ctx_.get(), "ingest.example.net", nullptr);
  ASSERT_TRUE(server.ok() && client.ok());
  absl::Status client_status;
  for (int round = 0; round < 5 && client_status.ok(); ++round) {
    auto c = (*client)->Handshake();
    if (!c.ok()) client_status = c.status();
    Move(**client, **server);
    (void)(*server)->Handshake();
    Move(**server, **client);
  }
  ASSERT_FALSE(client_status.ok());
  EXPECT_EQ(client_status.code(), absl::StatusCode::kUnauthenticated) << client_status;
  EXPECT_NE(std::string(client_status.message()).find("hostname mismatch"), std::string::npos)
      << client_status;
}

TEST_F(TlsChannelTest, IpAddressServerNameIsMatchedAgainstIpSan) {
  auto server = TlsChannel::CreateServer(server_ctx_.get());
  auto client = TlsChannel::CreateClient(client_ctx_.get(), "127.0.0.1", nullptr);
  ASSERT_TRUE(server.ok() && client.ok());
  for (int round = 0; round < 5; ++round) {
    auto c = (*client)->Handshake();
    ASSERT_TRUE(c.ok()) << c.status();
    Move(**client, **server);
    auto s = (*server)->Handshake();
    ASSERT_TRUE(s.ok()) << s.status();
    Move(**server, **client);
  }
  EXPECT_TRUE((*server)->handshake_done());
}

TEST_F(TlsChannelTest, EmptyServerNameIsRefused) {
  EXPECT_EQ(TlsChannel::CreateClient(client_ctx_.get(), "", nullptr).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TlsChannelTest, IdleChannelKeepsWorkingAfterReleasingMemory) {
  Connect();
  ASSERT_TRUE(client_->WritePlaintext(Bytes("before")).ok());
  Move(*client_, *server_);
  EXPECT_EQ(ReadAll(*server_), "before");
  EXPECT_EQ(ReadAll(*client_), "");  // consumes the session ticket
  server_->ReleaseIdleMemory();
  client_->ReleaseIdleMemory();
  ASSERT_TRUE(client_->WritePlaintext(Bytes("after")).ok());
  Move(*client_, *server_);
  EXPECT_EQ(ReadAll(*server_), "after");
  ASSERT_TRUE(server_->WritePlaintext(Bytes("reply")).ok());
  Move(*server_, *client_);
  EXPECT_EQ(ReadAll(*client_), "reply");
}

}  // namespace
}  // namespace camproto
