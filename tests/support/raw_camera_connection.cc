#include "tests/support/raw_camera_connection.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "proto/frame_encoder.h"
#include "proto/tls_client_context.h"

namespace ingest::testing {

std::string HelloFrame(const std::string& camera_id, uint16_t protocol_version, uint64_t last_durable_seq) {
  std::string out;
  camproto::AppendHello(camproto::Hello{.protocol_version = protocol_version,
                                        .camera_id = camera_id,
                                        .firmware_version = "raw-test-client",
                                        .last_durable_seq = last_durable_seq},
                        out);
  return out;
}

std::string SegmentFrame(uint64_t seq, uint32_t payload_bytes) {
  std::vector<uint8_t> payload(payload_bytes);
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<uint8_t>(seq * 31 + i);
  std::string out;
  camproto::AppendSegment(camproto::SegmentHeader{.seq = seq,
                                                  .capture_start_us = absl::ToUnixMicros(absl::Now()),
                                                  .duration_us = 250'000,
                                                  .flags = camproto::kSegmentFlagKeyframe},
                          payload, out);
  return out;
}

void RawCameraConnection::ShutdownWrite() { ::shutdown(fd_, SHUT_WR); }

camproto::SslSessionPtr RawCameraConnection::session() {
  return camproto::SslSessionPtr(SSL_SESSION_dup(SSL_get0_session(tls_->ssl())));
}

absl::StatusOr<std::unique_ptr<RawCameraConnection>> RawCameraConnection::Connect(const RawCameraOptions& options) {
  std::unique_ptr<RawCameraConnection> conn(new RawCameraConnection(options));
  absl::StatusOr<camproto::SslCtxPtr> ctx = camproto::CreateCameraClientContext(
      {.ca_file = options.server_ca_file, .cert_file = options.cert_file, .key_file = options.key_file});
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

RawCameraConnection::~RawCameraConnection() {
  if (fd_ >= 0) ::close(fd_);
}

absl::Status RawCameraConnection::Handshake() {
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

absl::StatusOr<std::string> RawCameraConnection::TakeClientHello() {
  absl::StatusOr<camproto::TlsChannel::HandshakeResult> hs = tls_->Handshake();
  if (!hs.ok()) return hs.status();
  std::string hello;
  tls_->TakeCiphertext(hello);
  return hello;
}

absl::Status RawCameraConnection::SendPlain(std::string_view plaintext) {
  absl::Status s = tls_->WritePlaintext({reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size()});
  if (!s.ok()) return s;
  return FlushCiphertext();
}

absl::StatusOr<camproto::ControlFrame> RawCameraConnection::ReadFrame(std::optional<absl::Duration> timeout) {
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

absl::Status RawCameraConnection::WaitForClose(absl::Duration timeout,
                                               std::vector<camproto::ControlFrame>* frames_seen) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    absl::StatusOr<camproto::ControlFrame> frame = ReadFrame(std::max(deadline - absl::Now(), absl::ZeroDuration()));
    if (frame.ok()) {
      if (frames_seen != nullptr) frames_seen->push_back(std::move(*frame));
      continue;
    }
    if (IsConnectionClosed(frame.status())) return absl::OkStatus();
    return frame.status();
  }
}

absl::StatusOr<std::string> RawCameraConnection::ReadRawUntilClose(absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  std::string received;
  while (true) {
    pollfd pfd{.fd = fd_, .events = POLLIN, .revents = 0};
    int64_t wait_ms = std::max<int64_t>(0, absl::ToInt64Milliseconds(deadline - absl::Now()));
    int ready = ::poll(&pfd, 1, static_cast<int>(wait_ms));
    if (ready < 0 && errno == EINTR) continue;
    if (ready < 0) return absl::ErrnoToStatus(errno, "poll");
    if (ready == 0) {
      return absl::DeadlineExceededError(
          absl::StrCat("still open after ", absl::FormatDuration(timeout), "; received ", received.size(), " bytes"));
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

absl::StatusOr<size_t> RawCameraConnection::SendPlainCutAt(std::string_view plaintext, size_t ciphertext_bytes) {
  absl::Status s = tls_->WritePlaintext({reinterpret_cast<const uint8_t*>(plaintext.data()), plaintext.size()});
  if (!s.ok()) return s;
  std::string out;
  tls_->TakeCiphertext(out);
  out.resize(std::min(out.size(), ciphertext_bytes));
  s = SendAll(out);
  if (!s.ok()) return s;
  return out.size();
}

void RawCameraConnection::Abort() {
  if (fd_ < 0) return;
  linger hard{.l_onoff = 1, .l_linger = 0};
  ::setsockopt(fd_, SOL_SOCKET, SO_LINGER, &hard, sizeof(hard));
  ::close(fd_);
  fd_ = -1;
  Closed(absl::CancelledError("closed by this side (reset)")).IgnoreError();
}

absl::Status RawCameraConnection::OpenSocket() {
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
      return absl::InvalidArgumentError(absl::StrCat("source address '", options_.source_address, "' is not IPv4"));
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

absl::Status RawCameraConnection::Closed(absl::Status reason) {
  if (close_reason_.ok()) close_reason_ = std::move(reason);
  return close_reason_;
}

absl::Status RawCameraConnection::SendAll(std::string_view bytes) {
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

absl::Status RawCameraConnection::FlushCiphertext() {
  if (tls_->pending_ciphertext() == 0) return absl::OkStatus();
  std::string out;
  tls_->TakeCiphertext(out);
  return SendAll(out);
}

absl::Status RawCameraConnection::ReceiveCiphertext(absl::Time deadline) {
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

void RawCameraConnection::DecryptAvailable() {
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

}  // namespace ingest::testing
