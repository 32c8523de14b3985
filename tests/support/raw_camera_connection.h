// Test support: one camera connection driven by hand, byte by byte, so tests
// can misbehave on purpose (no certificate, a wrong HELLO, oversized or
// unknown frames, garbage instead of TLS, a half-finished handshake) and see
// exactly what the server answers. Blocking and single-threaded: a TCP socket
// to 127.0.0.1 with SO_RCVTIMEO/SO_SNDTIMEO, and a client TlsChannel pumped
// over it. Every wait is bounded, so a silent server fails a test instead of
// hanging it. Header-only so every test program can include it.
//
//   auto conn = RawCameraConnection::Connect({.port = server->port(),
//                                             .server_ca_file = paths.server_ca_cert,
//                                             .cert_file = paths.CameraPem("cam-000001")});
//   ASSERT_TRUE(conn.ok()) << conn.status();
//   ASSERT_TRUE((*conn)->Handshake().ok());
//   ASSERT_TRUE((*conn)->SendPlain(HelloFrame("cam-000001")).ok());
//   absl::StatusOr<camproto::ControlFrame> welcome = (*conn)->ReadFrame();
//
// ReadFrame reports how the connection ended as a status: kDeadlineExceeded
// while the server stays silent, kUnavailable for a TCP close or reset,
// kCancelled for a TLS close_notify, and the TlsChannel's error (message
// starting "TLS ", e.g. "... tlsv13 alert certificate required ...") for an
// alert. IsConnectionClosed() tells the closing kinds from the timeout.
#ifndef TESTS_SUPPORT_RAW_CAMERA_CONNECTION_H_
#define TESTS_SUPPORT_RAW_CAMERA_CONNECTION_H_

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "proto/frame.h"
#include "proto/frame_decoder.h"
#include "proto/frame_encoder.h"
#include "proto/ssl_ptr.h"
#include "proto/tls_channel.h"
#include "proto/tls_client_context.h"

namespace ingest::testing {

struct RawCameraOptions {
  uint16_t port = 0;
  // CA that signed the server's certificate (<state_dir>/dev-certs/server-ca.crt).
  std::string server_ca_file{};
  // The camera's PEM certificate chain, with the key unless key_file is set.
  // Empty: the client presents no certificate at all.
  std::string cert_file{};
  std::string key_file{};
  std::string server_name = "localhost";
  // IPv4 address the client side binds to before connecting (any 127.x.y.z
  // reaches the loopback listener), so tests can appear as another source.
  // Empty: the kernel picks 127.0.0.1.
  std::string source_address{};
  // Socket send/receive timeout, and the default wait of every call.
  absl::Duration io_timeout = absl::Seconds(5);
  // A session (ticket) from an earlier connection to offer for resumption
  // (see session()); null: a full handshake.
  SSL_SESSION* resume_session = nullptr;
};

// True for the statuses ReadFrame/Handshake return once the connection is
// over (TCP close or reset, close_notify, TLS alert), false for "nothing yet".
inline bool IsConnectionClosed(const absl::Status& status) {
  return !status.ok() && status.code() != absl::StatusCode::kDeadlineExceeded;
}

// A HELLO frame as a camera sends it, with the fields tests vary.
inline std::string HelloFrame(const std::string& camera_id,
                              uint16_t protocol_version = camproto::kProtocolVersion,
                              uint64_t last_durable_seq = 0) {
  std::string out;
  camproto::AppendHello(camproto::Hello{.protocol_version = protocol_version,
                                        .camera_id = camera_id,
                                        .firmware_version = "raw-test-client",
                                        .last_durable_seq = last_durable_seq},
                        out);
  return out;
}

// A SEGMENT frame with `payload_bytes` of a pattern derived from `seq`.
inline std::string SegmentFrame(uint64_t seq, uint32_t payload_bytes) {
  std::vector<uint8_t> payload(payload_bytes);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(seq * 31 + i);
  std::string out;
  camproto::AppendSegment(
      camproto::SegmentHeader{.seq = seq,
                              .capture_start_us = absl::ToUnixMicros(absl::Now()),
                              .duration_us = 250'000,
                              .flags = camproto::kSegmentFlagKeyframe},
      payload, out);
  return out;
}

class RawCameraConnection final : public camproto::FrameHandler {
 public:
  // Opens the TCP connection and prepares (does not start) the TLS client.
  // Errors name what failed: the certificate files or the connect.
  static absl::StatusOr<std::unique_ptr<RawCameraConnection>> Connect(
      const RawCameraOptions& options) {
    std::unique_ptr<RawCameraConnection> conn(new RawCameraConnection(options));
    absl::StatusOr<camproto::SslCtxPtr> ctx =
        camproto::CreateCameraClientContext({.ca_file = options.server_ca_file,
                                             .cert_file = options.cert_file,
                                             .key_file = options.key_file});
    if (!ctx.ok()) return ctx.status();
    conn->ctx_ = std::move(*ctx);
    absl::StatusOr<std::unique_ptr<camproto::TlsChannel>> tls =
        camproto::TlsChannel::CreateClient(conn->ctx_.get(), options.server_name, options.resume_session);
    if (!tls.ok()) return tls.status();
    conn->tls_ = std::move(*tls);
    absl::Status s = conn->OpenSocket();
    if (!s.ok()) return s;
    return conn;
  }

  ~RawCameraConnection() override {
    if (fd_ >= 0) ::close(fd_);
  }
  RawCameraConnection(const RawCameraConnection&) = delete;
  RawCameraConnection& operator=(const RawCameraConnection&) = delete;

  // Runs the TLS handshake to completion (within io_timeout). OK once this
  // side considers it done; in TLS 1.3 the server checks the client
  // certificate after that, so a refused certificate shows up as an alert on
  // the next ReadFrame. An error is the TLS failure or how the connection
  // ended (see IsConnectionClosed).
  absl::Status Handshake() {
    const absl::Time deadline = absl::Now() + options_.io_timeout;
    while (true) {
      if (!close_reason_.ok()) return close_reason_;
      absl::StatusOr<camproto::TlsChannel::HandshakeResult> hs = tls_->Handshake();
      absl::Status sent = FlushCiphertext();
      if (!hs.ok()) return Closed(hs.status());
      if (!sent.ok()) return Closed(sent);
      if (*hs == camproto::TlsChannel::HandshakeResult::kDone) return absl::OkStatus();
      absl::Status received = ReceiveCiphertext(deadline);
      if (!received.ok()) return received;
    }
  }

  // The client's first handshake flight (the ClientHello), produced but not
  // sent, for tests that send only part of it with SendRawTcp.
  absl::StatusOr<std::string> TakeClientHello() {
    absl::StatusOr<camproto::TlsChannel::HandshakeResult> hs = tls_->Handshake();
    if (!hs.ok()) return hs.status();
    std::string hello;
    tls_->TakeCiphertext(hello);
    return hello;
  }

  // Encrypts `plaintext` (protocol frames, whole or cut anywhere) and sends
  // it. Requires a finished handshake.
  absl::Status SendPlain(std::string_view plaintext) {
    absl::Status s = tls_->WritePlaintext(
        {reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size()});
    if (!s.ok()) return s;
    return FlushCiphertext();
  }

  // Sends `bytes` on the socket as they are, bypassing TLS (garbage, a
  // partial ClientHello).
  absl::Status SendRawTcp(std::string_view bytes) { return SendAll(bytes); }

  // The next frame from the server, or how the connection ended, or
  // kDeadlineExceeded if nothing complete arrived within `timeout`
  // (io_timeout when not given). A frame the decoder cannot parse is returned
  // as its decoder error.
  absl::StatusOr<camproto::ControlFrame> ReadFrame(std::optional<absl::Duration> timeout = {}) {
    const absl::Time deadline = absl::Now() + timeout.value_or(options_.io_timeout);
    while (true) {
      if (!frames_.empty()) {
        camproto::ControlFrame frame = std::move(frames_.front());
        frames_.pop_front();
        return frame;
      }
      if (!close_reason_.ok()) return close_reason_;
      // Frames decoded before an alert or close_notify are still returned
      // first: an ERROR frame is usually followed at once by the close.
      DecryptAvailable();
      if (!frames_.empty() || !close_reason_.ok()) continue;
      absl::Status received = ReceiveCiphertext(deadline);
      if (!received.ok() && !IsConnectionClosed(received)) return received;
    }
  }

  // Reads (and drops into `frames_seen`, if given) whatever the server still
  // sends until it closes the connection. OK once closed (the reason is then
  // in close_reason()); kDeadlineExceeded if it is still open at `timeout`.
  absl::Status WaitForClose(absl::Duration timeout,
                            std::vector<camproto::ControlFrame>* frames_seen = nullptr) {
    const absl::Time deadline = absl::Now() + timeout;
    while (true) {
      absl::StatusOr<camproto::ControlFrame> frame =
          ReadFrame(std::max(deadline - absl::Now(), absl::ZeroDuration()));
      if (frame.ok()) {
        if (frames_seen != nullptr) frames_seen->push_back(std::move(*frame));
        continue;
      }
      if (IsConnectionClosed(frame.status())) return absl::OkStatus();
      return frame.status();
    }
  }

  // Reads raw socket bytes, without TLS, until the server closes the
  // connection; for clients that never spoke TLS properly (garbage, a stalled
  // handshake). Returns what the server sent before closing (a TLS alert
  // record, or nothing), or kDeadlineExceeded if it is still open at `timeout`.
  absl::StatusOr<std::string> ReadRawUntilClose(absl::Duration timeout) {
    const absl::Time deadline = absl::Now() + timeout;
    std::string received;
    while (true) {
      pollfd pfd{.fd = fd_, .events = POLLIN, .revents = 0};
      int64_t wait_ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
      int ready = ::poll(&pfd, 1, static_cast<int>(wait_ms));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return absl::ErrnoToStatus(errno, "poll");
      if (ready == 0) {
        return absl::DeadlineExceededError(absl::StrCat("still open after ",
                                                        absl::FormatDuration(timeout),
                                                        "; received ", received.size(), " bytes"));
      }
      char buf[4096];
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        received.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) continue;
      Closed(absl::UnavailableError(n == 0 ? std::string("the server closed the TCP connection")
                                           : absl::StrCat("recv: ", std::strerror(errno))))
          .IgnoreError();
      return received;
    }
  }

  // Half-closes: the server sees end of stream, this side can still read.
  void ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

  // Encrypts `plaintext` but sends only the first `ciphertext_bytes` of the
  // resulting TLS records (all of them if there are fewer), as a camera that
  // loses power mid-write would: the server sees a frame, or even a TLS
  // record, cut off. The connection is unusable for TLS afterwards; close or
  // Abort it. Returns how many ciphertext bytes were sent.
  absl::StatusOr<size_t> SendPlainCutAt(std::string_view plaintext, size_t ciphertext_bytes) {
    absl::Status s = tls_->WritePlaintext(
        {reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size()});
    if (!s.ok()) return s;
    std::string out;
    tls_->TakeCiphertext(out);
    out.resize(std::min(out.size(), ciphertext_bytes));
    s = SendAll(out);
    if (!s.ok()) return s;
    return out.size();
  }

  // Closes the socket with a TCP reset (SO_LINGER 0) instead of a FIN, as a
  // camera whose network vanished; later calls see the connection closed.
  void Abort() {
    if (fd_ < 0) return;
    linger hard{.l_onoff = 1, .l_linger = 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
    ::close(fd_);
    fd_ = -1;
    Closed(absl::CancelledError("closed by this side (reset)")).IgnoreError();
  }

  // How the connection ended; OK while it has not.
  const absl::Status& close_reason() const { return close_reason_; }
  bool handshake_done() const { return tls_->handshake_done(); }
  // The certificate the server presented (null before the handshake), e.g.
  // to see which one it serves after a rotation. Owned by the connection.
  X509* server_certificate() const { return tls_->peer_certificate(); }
  // The TLS session to resume on a later connection; the server's ticket
  // comes after the handshake, so read a frame (WELCOME) first. A copy:
  // OpenSSL marks a connection's own session unresumable when the
  // connection ends without close_notify, as this one usually does.
  camproto::SslSessionPtr session() { return camproto::SslSessionPtr(SSL_SESSION_dup(SSL_get0_session(tls_->ssl()))); }
  bool session_resumed() const { return tls_->session_resumed(); }

  // camproto::FrameHandler: the server sends control frames only.
  absl::Status OnControlFrame(camproto::ControlFrame frame) override {
    frames_.push_back(std::move(frame));
    return absl::OkStatus();
  }
  std::optional<absl::Span<uint8_t>> OnSegmentBegin(const camproto::SegmentHeader&) override {
    return std::nullopt;  // unreachable: the decoder refuses SEGMENT frames
  }
  absl::Status OnSegmentEnd() override { return absl::OkStatus(); }

 private:
  explicit RawCameraConnection(const RawCameraOptions& options)
      : options_(options),
        decoder_(camproto::DecoderLimits{.max_control_frame = camproto::kMaxControlFrameBytes,
                                         .max_segment_payload = 0}) {}

  absl::Status OpenSocket() {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return absl::ErrnoToStatus(errno, "socket");
    timeval tv = absl::ToTimeval(options_.io_timeout);
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int one = 1;
    ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    if (!options_.source_address.empty()) {
      sockaddr_in local{};
      local.sin_family = AF_INET;
      if (::inet_pton(AF_INET, options_.source_address.c_str(), &local.sin_addr) != 1) {
        return absl::InvalidArgumentError(
            absl::StrCat("source address '", options_.source_address, "' is not IPv4"));
      }
      if (::bind(fd_, reinterpret_cast<sockaddr*>(&local), sizeof(local)) != 0) {
        return absl::ErrnoToStatus(errno, absl::StrCat("bind ", options_.source_address));
      }
    }
    sockaddr_in server{};
    server.sin_family = AF_INET;
    server.sin_port = htons(options_.port);
    server.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd_, reinterpret_cast<sockaddr*>(&server), sizeof(server)) != 0) {
      return absl::ErrnoToStatus(errno, absl::StrCat("connect 127.0.0.1:", options_.port));
    }
    return absl::OkStatus();
  }

  // Records the first reason the connection ended and returns it.
  absl::Status Closed(absl::Status reason) {
    if (close_reason_.ok()) close_reason_ = std::move(reason);
    return close_reason_;
  }

  absl::Status SendAll(std::string_view bytes) {
    size_t sent = 0;
    while (sent < bytes.size()) {
      // MSG_NOSIGNAL: a server that already closed must fail the send, not
      // kill the test with SIGPIPE.
      ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          return absl::DeadlineExceededError("send blocked for the whole io_timeout");
        }
        return absl::UnavailableError(absl::StrCat("send: ", std::strerror(errno)));
      }
      sent += static_cast<size_t>(n);
    }
    return absl::OkStatus();
  }

  absl::Status FlushCiphertext() {
    if (tls_->pending_ciphertext() == 0) return absl::OkStatus();
    std::string out;
    tls_->TakeCiphertext(out);
    return SendAll(out);
  }

  // Waits (until `deadline`) for ciphertext and feeds it to TLS. A close or
  // reset is recorded as the close reason and returned.
  absl::Status ReceiveCiphertext(absl::Time deadline) {
    pollfd pfd{.fd = fd_, .events = POLLIN, .revents = 0};
    while (true) {
      int64_t wait_ms = absl::ToInt64Milliseconds(deadline - absl::Now());
      if (wait_ms < 0) wait_ms = 0;
      int ready = ::poll(&pfd, 1, static_cast<int>(wait_ms));
      if (ready < 0 && errno == EINTR) continue;
      if (ready < 0) return absl::ErrnoToStatus(errno, "poll");
      if (ready == 0) return absl::DeadlineExceededError("the server sent nothing in time");
      break;
    }
    uint8_t buf[16384];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n > 0) {
      tls_->FeedCiphertext({buf, static_cast<size_t>(n)});
      return absl::OkStatus();
    }
    if (n == 0) return Closed(absl::UnavailableError("the server closed the TCP connection"));
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return absl::OkStatus();
    return Closed(absl::UnavailableError(absl::StrCat("recv: ", std::strerror(errno))));
  }

  // Decrypts everything TLS can and decodes it into frames_. A TLS failure
  // (alert), close_notify or an undecodable frame ends the connection and is
  // recorded as the close reason.
  void DecryptAvailable() {
    uint8_t plain[16384];
    while (close_reason_.ok()) {
      absl::StatusOr<size_t> n = tls_->ReadPlaintext(absl::MakeSpan(plain));
      // Replies TLS owes the server (KeyUpdate); a failed send shows up as
      // the close on the next receive.
      (void)FlushCiphertext();
      if (!n.ok()) {
        Closed(n.status()).IgnoreError();
        return;
      }
      if (*n == 0) return;
      absl::StatusOr<size_t> fed = decoder_.Feed({plain, *n}, *this);
      if (!fed.ok()) Closed(fed.status()).IgnoreError();
    }
  }

  const RawCameraOptions options_;
  camproto::SslCtxPtr ctx_;
  std::unique_ptr<camproto::TlsChannel> tls_;
  camproto::FrameDecoder decoder_;
  std::deque<camproto::ControlFrame> frames_;
  absl::Status close_reason_;
  int fd_ = -1;
};

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_RAW_CAMERA_CONNECTION_H_
