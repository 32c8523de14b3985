// The blocking camera client against a real in-process ingestd: it streams
// and flushes, rides out a server restart on the same port (GOAWAY, refused
// connects, backoff, TLS resumption, resend), follows a REDIRECT, and reports
// the failures retrying cannot fix. Recordings are read back byte-exact.
#include "proto/blocking_camera_client.h"

#include <netinet/in.h>
#include <openssl/evp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "bench/sim/segment_payload.h"
#include "common/status_macros.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/frame_encoder.h"
#include "server/tls/dev_certs.h"
#include "server/tls/tls_server_context.h"
#include "tests/support/ingest_test_env.h"

namespace ingest::testing {
namespace {

using camproto::BlockingCameraClient;
using camproto::BlockingCameraClientOptions;
using camproto::DurabilityLevel;

constexpr size_t kSegmentBytes = 16 * 1024;
constexpr uint32_t kSegmentDurationUs = 250'000;
// Capture times near the server's clock: it refuses any outside its capture window.
const int64_t kCaptureBaseUs = absl::ToUnixMicros(absl::Now());

DevCertPaths CameraCertificates(const std::string& state_dir) {
  absl::Status s =
      MakeDevCertificates(DevCertOptions{.out_dir = state_dir + "/dev-certs", .camera_count = 2});
  EXPECT_TRUE(s.ok()) << s;
  return DevCertPathsIn(state_dir + "/dev-certs");
}

BlockingCameraClientOptions ClientOptions(uint16_t port, const DevCertPaths& paths,
                                          const std::string& camera_id,
                                          const std::string& cert_camera_id) {
  return BlockingCameraClientOptions{
      .host = "127.0.0.1",
      .port = port,
      .tls = {.ca_file = paths.server_ca_cert, .cert_file = paths.CameraPem(cert_camera_id)},
      .client = {.camera_id = camera_id},
      .connect_timeout = absl::Seconds(5),
      .io_timeout = absl::Seconds(10),
      .reconnect_backoff_min = absl::Milliseconds(50),
      .reconnect_backoff_max = absl::Milliseconds(500)};
}

// Segments 1, 2, ... of camera 1, hashed as they are added.
class Recorder {
 public:
  Recorder() : sha_(EVP_MD_CTX_new(), &EVP_MD_CTX_free) {
    EVP_DigestInit_ex(sha_.get(), EVP_sha256(), nullptr);
  }
  void Add(BlockingCameraClient& client, int count) {
    for (int i = 0; i < count; ++i) {
      const uint64_t seq = ++last_seq_;
      std::string payload = MakeSegmentPayload(1, seq, kSegmentBytes);
      EVP_DigestUpdate(sha_.get(), payload.data(), payload.size());
      absl::StatusOr<uint64_t> added =
          client.AddSegment(kCaptureBaseUs + static_cast<int64_t>(seq) * kSegmentDurationUs, kSegmentDurationUs,
                            seq % 8 == 1, std::move(payload));
      ASSERT_TRUE(added.ok()) << added.status();
      EXPECT_EQ(*added, seq);
    }
  }
  std::string Sha256Hex() {
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(sha_.get(), digest, &len);
    return absl::BytesToHexString(absl::string_view(reinterpret_cast<const char*>(digest), len));
  }
  uint64_t last_seq() const { return last_seq_; }

 private:
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha_;
  uint64_t last_seq_ = 0;
};

void ExpectStoredExactly(IngestServer& server, const std::string& camera, Recorder& recorder) {
  ExportStats exported;
  EXPECT_EQ(StoredSha256(server, camera, &exported), recorder.Sha256Hex());
  EXPECT_EQ(exported.segments, recorder.last_seq());
  EXPECT_EQ(exported.first_seq, 1u);
  EXPECT_EQ(exported.last_seq, recorder.last_seq());
  EXPECT_EQ(exported.duplicates_skipped, 0u);
}

TEST(BlockingCameraClientTest, ResumesAcrossServerRestartOnSamePort) {
  TempDir dir;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();
  const DevCertPaths paths = CameraCertificates(dir.path());
  auto client =
      BlockingCameraClient::Create(ClientOptions(port, paths, "cam-000001", "cam-000001"));
  ASSERT_TRUE(client.ok()) << client.status();
  BlockingCameraClient& camera = **client;
  Recorder recorder;

  recorder.Add(camera, 20);
  ASSERT_TRUE(camera.Flush(absl::Seconds(30)).ok()) << camera.last_disconnect_reason();
  EXPECT_EQ(camera.protocol().acked_seq(DurabilityLevel::kSpooled), 20u);
  EXPECT_EQ(camera.connections(), 1);
  EXPECT_FALSE(camera.resumed_last_handshake());

  // Stop() says GOAWAY and waits for cameras to leave, so it runs beside the
  // camera, which keeps polling here and must leave on its own.
  std::atomic<bool> stopped{false};
  std::thread stopper([&] {
    EXPECT_TRUE(server->Stop().ok());
    stopped = true;
  });
  while (!stopped) ASSERT_TRUE(camera.Poll(absl::Milliseconds(20)).ok());
  stopper.join();
  server.reset();
  EXPECT_EQ(camera.protocol().state(), camproto::CameraClient::State::kDisconnected);
  EXPECT_TRUE(camera.protocol().goaway().has_value()) << camera.last_disconnect_reason();

  // Recorded while no server listens: buffered, and attempts are refused.
  recorder.Add(camera, 10);
  ASSERT_TRUE(camera.Poll(absl::Milliseconds(300)).ok());

  server = StartTestServer(dir.path(), [port](IngestConfig& config) {
    config.server.listen = absl::StrCat("127.0.0.1:", port);
  });
  ASSERT_NE(server, nullptr);
  ASSERT_TRUE(camera.Flush(absl::Seconds(60)).ok()) << camera.last_disconnect_reason();
  EXPECT_EQ(camera.connections(), 2);
  EXPECT_TRUE(camera.resumed_last_handshake());
  EXPECT_EQ(camera.protocol().acked_seq(DurabilityLevel::kSpooled), 30u);
  // The first 20 were acknowledged before the restart: none is sent twice.
  EXPECT_EQ(camera.protocol().counters().segments_sent, 30u);
  EXPECT_EQ(camera.protocol().counters().segments_resent, 0u);

  client->reset();  // leaves before Stop(), so Stop does not wait for it
  ASSERT_TRUE(server->Stop().ok());
  ExpectStoredExactly(*server, "cam-000001", recorder);
}

TEST(BlockingCameraClientTest, IdleCameraKeepsItsConnectionWithPings) {
  TempDir dir;
  // The server drops a camera silent for 1 s; the camera must ping every 200 ms.
  auto server = StartTestServer(dir.path(), [](IngestConfig& config) {
    config.protocol.keepalive_interval_ms = 200;
    config.protocol.idle_timeout_ms = 1000;
  });
  ASSERT_NE(server, nullptr);
  const DevCertPaths paths = CameraCertificates(dir.path());
  auto client = BlockingCameraClient::Create(
      ClientOptions(server->port(), paths, "cam-000001", "cam-000001"));
  ASSERT_TRUE(client.ok()) << client.status();

  ASSERT_TRUE((*client)->Poll(absl::Seconds(3)).ok());
  EXPECT_EQ((*client)->connections(), 1) << (*client)->last_disconnect_reason();
  EXPECT_EQ((*client)->protocol().state(), camproto::CameraClient::State::kStreaming);
  EXPECT_GT((*client)->protocol().last_pong_nonce(), 0u);

  client->reset();
  ASSERT_TRUE(server->Stop().ok());
}

// A one-connection ingest server that answers the HELLO with a REDIRECT.
class RedirectingServer {
 public:
  RedirectingServer(const DevCertPaths& paths, std::string target) : target_(std::move(target)) {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), len), 0);
    EXPECT_EQ(listen(listener_, 4), 0);
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    absl::StatusOr<camproto::SslCtxPtr> ctx =
        CreateServerContext(TlsServerOptions{.cert_file = paths.server_cert,
                                             .key_file = paths.server_key,
                                             .camera_ca_file = paths.camera_ca_cert});
    EXPECT_TRUE(ctx.ok()) << ctx.status();
    if (ctx.ok()) ctx_ = std::move(*ctx);
    thread_ = std::thread([this] { result_ = Serve(); });
  }
  ~RedirectingServer() {
    if (thread_.joinable()) thread_.join();
    close(listener_);
  }
  uint16_t port() const { return port_; }
  // Waits for the one connection to end; how serving it went.
  absl::Status Join() {
    thread_.join();
    return result_;
  }

 private:
  absl::Status Serve() {
    pollfd p{.fd = listener_, .events = POLLIN, .revents = 0};
    if (poll(&p, 1, 20'000) != 1) return absl::DeadlineExceededError("no connection");
    const int fd = accept(listener_, nullptr, nullptr);
    if (fd < 0) return absl::InternalError("accept failed");
    timeval timeout{.tv_sec = 10, .tv_usec = 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    absl::Status status = Redirect(fd);
    close(fd);
    return status;
  }

  absl::Status Redirect(int fd) {
    ASSIGN_OR_RETURN(auto tls, camproto::TlsChannel::CreateServer(ctx_.get()));
    uint8_t buffer[16 * 1024];
    while (true) {
      const ssize_t n = recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) return absl::UnavailableError("camera went away before its HELLO");
      tls->FeedCiphertext(absl::MakeConstSpan(buffer, static_cast<size_t>(n)));
      ASSIGN_OR_RETURN(auto handshake, tls->Handshake());
      RETURN_IF_ERROR(SendAll(fd, *tls));
      if (handshake != camproto::TlsChannel::HandshakeResult::kDone) continue;
      ASSIGN_OR_RETURN(size_t got, tls->ReadPlaintext(absl::MakeSpan(buffer)));
      if (got == 0) continue;
      // Any plaintext is the HELLO: the client sends nothing else first.
      std::string out;
      camproto::AppendRedirect({.endpoint = target_, .zone_id = "zone-b"}, out);
      RETURN_IF_ERROR(tls->WritePlaintext(
          absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(out.data()), out.size())));
      tls->SendCloseNotify();
      return SendAll(fd, *tls);
    }
  }

  static absl::Status SendAll(int fd, camproto::TlsChannel& tls) {
    std::string out;
    tls.TakeCiphertext(out);
    for (size_t sent = 0; sent < out.size();) {
      const ssize_t n = send(fd, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return absl::UnavailableError("send failed");
      sent += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  std::string target_;
  int listener_ = -1;
  uint16_t port_ = 0;
  camproto::SslCtxPtr ctx_;
  std::thread thread_;
  absl::Status result_;
};

TEST(BlockingCameraClientTest, FollowsRedirectToTheNamedEndpoint) {
  TempDir dir;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  const DevCertPaths paths = CameraCertificates(dir.path());
  const std::string target = absl::StrCat("127.0.0.1:", server->port());
  RedirectingServer redirector(paths, target);
  auto client = BlockingCameraClient::Create(
      ClientOptions(redirector.port(), paths, "cam-000001", "cam-000001"));
  ASSERT_TRUE(client.ok()) << client.status();
  Recorder recorder;

  recorder.Add(**client, 5);
  ASSERT_TRUE((*client)->Flush(absl::Seconds(30)).ok()) << (*client)->last_disconnect_reason();
  EXPECT_TRUE(redirector.Join().ok());
  EXPECT_EQ((*client)->current_endpoint(), target);
  EXPECT_EQ((*client)->connections(), 2);                    // the redirector, then the server
  EXPECT_EQ((*client)->protocol().redirects_followed(), 0);  // reset by the WELCOME

  client->reset();
  ASSERT_TRUE(server->Stop().ok());
  ExpectStoredExactly(*server, "cam-000001", recorder);
}

TEST(BlockingCameraClientTest, RejectedHelloIsReturnedByPoll) {
  TempDir dir;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  const DevCertPaths paths = CameraCertificates(dir.path());
  // The HELLO names another camera than the certificate does.
  auto client = BlockingCameraClient::Create(
      ClientOptions(server->port(), paths, "cam-000002", "cam-000001"));
  ASSERT_TRUE(client.ok()) << client.status();
  absl::Status status = (*client)->Poll(absl::Seconds(10));
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
  EXPECT_NE(status.message().find("cam-000002"), absl::string_view::npos) << status;
  EXPECT_TRUE((*client)->protocol().reject().has_value());
  ASSERT_TRUE(server->Stop().ok());
}

TEST(BlockingCameraClientTest, ServerCertificateForAnotherNameIsUnauthenticated) {
  TempDir dir;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  const DevCertPaths paths = CameraCertificates(dir.path());
  BlockingCameraClientOptions options =
      ClientOptions(server->port(), paths, "cam-000001", "cam-000001");
  options.server_name = "ingest.elsewhere.example";
  auto client = BlockingCameraClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  absl::Status status = (*client)->Poll(absl::Seconds(10));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
  EXPECT_EQ((*client)->connections(), 0);
  ASSERT_TRUE(server->Stop().ok());
}

TEST(BlockingCameraClientTest, CameraCertificateFromAnotherCaIsUnauthenticated) {
  TempDir dir;
  TempDir other_pki;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  const DevCertPaths paths = CameraCertificates(dir.path());
  // Same camera id, but signed by a camera CA this server does not trust.
  const DevCertPaths foreign = CameraCertificates(other_pki.path());
  BlockingCameraClientOptions options =
      ClientOptions(server->port(), paths, "cam-000001", "cam-000001");
  options.tls.cert_file = foreign.CameraPem("cam-000001");
  auto client = BlockingCameraClient::Create(options);
  ASSERT_TRUE(client.ok()) << client.status();
  // TLS 1.3: our side finishes the handshake, the refusal comes as an alert.
  absl::Status status = (*client)->Poll(absl::Seconds(10));
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << status;
  EXPECT_EQ((*client)->protocol().welcome(), nullptr);
  ASSERT_TRUE(server->Stop().ok());
}

TEST(BlockingCameraClientTest, CreateRefusesIncompleteOptions) {
  TempDir dir;
  const DevCertPaths paths = CameraCertificates(dir.path());
  BlockingCameraClientOptions no_port = ClientOptions(0, paths, "cam-000001", "cam-000001");
  EXPECT_EQ(BlockingCameraClient::Create(no_port).status().code(),
            absl::StatusCode::kInvalidArgument);
  BlockingCameraClientOptions no_cert = ClientOptions(7443, paths, "cam-000001", "cam-000001");
  no_cert.tls.cert_file.clear();
  EXPECT_EQ(BlockingCameraClient::Create(no_cert).status().code(),
            absl::StatusCode::kInvalidArgument);
  BlockingCameraClientOptions bad_id = ClientOptions(7443, paths, "", "cam-000001");
  EXPECT_EQ(BlockingCameraClient::Create(bad_id).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ingest::testing
