#include "proto/blocking_camera_client.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/host_port.h"
#include "common/status_macros.h"

namespace camproto {
namespace {

constexpr size_t kReadChunk = 64 * 1024;
// Bytes read per Step before the loop gets a chance to send and re-check its
// deadlines, so a fast server cannot keep the client reading forever.
constexpr size_t kMaxReadPerStep = 1 << 20;
// The longest single poll(2) wait, so an infinite deadline still re-checks.
constexpr absl::Duration kMaxWait = absl::Seconds(1);

// Milliseconds for poll(2) until `deadline`, rounded up so a wait never ends
// just before its deadline and spins.
int PollTimeoutMs(absl::Time deadline) {
  absl::Duration left = std::min(deadline - absl::Now(), kMaxWait);
  if (left <= absl::ZeroDuration()) return 0;
  return static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))));
}

// Waits for `events` on `fd` until `deadline`: the revents, or 0 on timeout.
short WaitFor(int fd, short events, absl::Time deadline) {
  while (true) {
    pollfd p{.fd = fd, .events = events, .revents = 0};
    const int n = poll(&p, 1, PollTimeoutMs(deadline));
    if (n > 0) return p.revents;
    if (n < 0 && errno != EINTR) return POLLERR;
    if (n == 0 && absl::Now() >= deadline) return 0;
  }
}

std::string Errno(int err) { return std::strerror(err); }

}  // namespace

absl::StatusOr<std::unique_ptr<BlockingCameraClient>> BlockingCameraClient::Create(
    BlockingCameraClientOptions options) {
  if (absl::Status s = CameraClient::ValidateOptions(options.client); !s.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("camera client options: ", s.message()));
  }
  const std::string& id = options.client.camera_id;
  if (options.host.empty() || options.port == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("camera ", id, ": a server host and a non-zero port are required"));
  }
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.io_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        absl::StrCat("camera ", id, ": connect_timeout and io_timeout must be positive"));
  }
  if (options.reconnect_backoff_min <= absl::ZeroDuration() ||
      options.reconnect_backoff_max < options.reconnect_backoff_min) {
    return absl::InvalidArgumentError(
        absl::StrCat("camera ", id, ": want 0 < reconnect_backoff_min <= reconnect_backoff_max"));
  }
  if (options.tls.cert_file.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("camera ", id, ": a camera certificate (tls.cert_file) is required"));
  }
  if (options.server_name.empty()) options.server_name = options.host;
  absl::StatusOr<SslCtxPtr> ctx = CreateCameraClientContext(options.tls);
  if (!ctx.ok()) {
    return absl::Status(ctx.status().code(),
                        absl::StrCat("camera ", id, ": ", ctx.status().message()));
  }
  return std::unique_ptr<BlockingCameraClient>(
      new BlockingCameraClient(std::move(options), std::move(*ctx)));
}

BlockingCameraClient::BlockingCameraClient(BlockingCameraClientOptions options, SslCtxPtr ctx)
    : options_(std::move(options)),
      ctx_(std::move(ctx)),
      protocol_(options_.client),
      random_(std::random_device{}()),
      home_{.host = options_.host, .port = options_.port, .server_name = options_.server_name},
      endpoint_(home_),
      io_buffer_(kReadChunk) {
  sessions_.Attach(ctx_.get());
}

BlockingCameraClient::~BlockingCameraClient() {
  Disconnect(absl::OkStatus(), absl::InfiniteFuture());
}

absl::StatusOr<uint64_t> BlockingCameraClient::AddSegment(int64_t capture_start_us,
                                                          uint32_t duration_us, bool keyframe,
                                                          std::string payload) {
  return protocol_.AddSegment(capture_start_us, duration_us, keyframe, std::move(payload));
}

absl::Status BlockingCameraClient::Poll(absl::Duration budget) {
  return Run(absl::Now() + budget, nullptr);
}

absl::Status BlockingCameraClient::Flush(absl::Duration timeout) {
  auto all_released = [this] { return protocol_.buffered_segments() == 0; };
  RETURN_IF_ERROR(Run(absl::Now() + timeout, all_released));
  if (all_released()) return absl::OkStatus();
  const DurabilityLevel level = options_.client.release_at;
  return Error(
      absl::StatusCode::kDeadlineExceeded,
      absl::StrCat("flush timed out after ", absl::FormatDuration(timeout), ": ",
                   protocol_.buffered_segments(), " segments unacknowledged (acked to seq ",
                   protocol_.acked_seq(level), " of ", protocol_.next_seq() - 1,
                   "; last disconnect: ", last_disconnect_reason_.ToString(), ")"));
}

std::string BlockingCameraClient::current_endpoint() const {
  return ingest::HostPort{.host = endpoint_.host, .port = endpoint_.port}.ToString();
}

absl::Status BlockingCameraClient::Run(absl::Time deadline, const std::function<bool()>& done) {
  while (true) {
    if (done && done()) return absl::OkStatus();
    const absl::Time now = absl::Now();
    if (now >= deadline) return absl::OkStatus();
    if (fd_ >= 0) {
      RETURN_IF_ERROR(Step(deadline));
      continue;
    }
    if (now < next_connect_at_) {
      absl::SleepFor(std::min(deadline, next_connect_at_) - now);
      continue;
    }
    if (absl::Status s = Connect(); !s.ok()) {
      if (s.code() == absl::StatusCode::kUnauthenticated) {
        // A refused certificate stays refused until someone fixes the PKI.
        Disconnect(s, absl::Now() + options_.reconnect_backoff_max);
        return s;
      }
      DisconnectWithBackoff(s);
    }
  }
}

absl::Status BlockingCameraClient::Connect() {
  const absl::Time deadline = absl::Now() + options_.connect_timeout;
  RETURN_IF_ERROR(ConnectTcp(deadline));
  RETURN_IF_ERROR(Handshake(deadline));
  ++connections_;
  resumed_last_handshake_ = tls_->session_resumed();
  protocol_.OnConnected();
  welcomed_ = false;
  ping_nonce_ = 0;
  const absl::Time now = absl::Now();
  last_sent_ = now;
  last_received_ = now;
  send_stalled_since_ = absl::InfiniteFuture();
  return absl::OkStatus();
}

absl::Status BlockingCameraClient::ConnectTcp(absl::Time deadline) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  // getaddrinfo has no timeout of its own; the resolver's (resolv.conf) applies.
  const std::string port = absl::StrCat(endpoint_.port);
  if (int rc = getaddrinfo(endpoint_.host.c_str(), port.c_str(), &hints, &found); rc != 0) {
    return Error(absl::StatusCode::kUnavailable,
                 absl::StrCat("resolving ", endpoint_.host, ": ", gai_strerror(rc)));
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
  std::string failure = "no address";
  for (addrinfo* ai = addresses.get(); ai != nullptr; ai = ai->ai_next) {
    const int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      failure = absl::StrCat("socket: ", Errno(errno));
      continue;
    }
    // Segments and small control frames (ACK replies, PONGs) must not wait
    // for Nagle's timer.
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    int err = connect(fd, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS) {
      if (WaitFor(fd, POLLOUT, deadline) == 0) {
        err = ETIMEDOUT;
      } else {
        socklen_t len = sizeof(err);
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) err = errno;
      }
    }
    if (err == 0) {
      fd_ = fd;
      return absl::OkStatus();
    }
    close(fd);
    failure = Errno(err);
    if (absl::Now() >= deadline) break;
  }
  return Error(absl::StatusCode::kUnavailable, absl::StrCat("connecting: ", failure));
}

absl::Status BlockingCameraClient::Handshake(absl::Time deadline) {
  const std::string key = current_endpoint();
  SslSessionPtr session = sessions_.Find(key);
  absl::StatusOr<std::unique_ptr<TlsChannel>> tls =
      TlsChannel::CreateClient(ctx_.get(), endpoint_.server_name, session.get());
  if (!tls.ok()) return WithContext(tls.status());
  tls_ = std::move(*tls);
  RETURN_IF_ERROR(WithContext(ResumptionCache::Track(tls_->ssl(), key)));
  bool open = true;
  while (true) {
    absl::StatusOr<TlsChannel::HandshakeResult> result = tls_->Handshake();
    if (!result.ok()) {
      return WithContext(absl::Status(result.status().code(),
                                      absl::StrCat("TLS handshake: ", result.status().message())));
    }
    RETURN_IF_ERROR(SendCiphertext(deadline, /*wait=*/true));
    if (*result == TlsChannel::HandshakeResult::kDone) return absl::OkStatus();
    if (!open) return Error(absl::StatusCode::kUnavailable, "server closed during TLS handshake");
    if (WaitFor(fd_, POLLIN, deadline) == 0) {
      return Error(absl::StatusCode::kDeadlineExceeded,
                   absl::StrCat("TLS handshake not done after ",
                                absl::FormatDuration(options_.connect_timeout)));
    }
    RETURN_IF_ERROR(ReceiveCiphertext(&open));
  }
}

absl::Status BlockingCameraClient::Step(absl::Time wake) {
  absl::Time now = absl::Now();
  const Welcome* welcome = protocol_.welcome();
  const bool ping_outstanding = ping_nonce_ != 0 && protocol_.last_pong_nonce() != ping_nonce_;
  absl::Time keepalive_due = absl::InfiniteFuture();
  if (welcomed_ && welcome->keepalive_interval_ms > 0 && !ping_outstanding) {
    keepalive_due = last_sent_ + absl::Milliseconds(welcome->keepalive_interval_ms);
    if (now >= keepalive_due) {
      protocol_.QueuePing(++ping_nonce_);
      keepalive_due = absl::InfiniteFuture();
    }
  }

  protocol_.TakeOutput(plaintext_out_);
  if (!plaintext_out_.empty()) {
    absl::Status written = tls_->WritePlaintext(absl::MakeConstSpan(
        reinterpret_cast<const uint8_t*>(plaintext_out_.data()), plaintext_out_.size()));
    plaintext_out_.clear();
    if (!written.ok()) {
      DisconnectWithBackoff(WithContext(written));
      return absl::OkStatus();
    }
  }
  if (absl::Status s = SendCiphertext(now, /*wait=*/false); !s.ok()) {
    DisconnectWithBackoff(s);
    return absl::OkStatus();
  }
  now = absl::Now();
  const bool want_write = tls_->pending_ciphertext() > 0;
  if (!want_write) {
    send_stalled_since_ = absl::InfiniteFuture();
  } else if (send_stalled_since_ == absl::InfiniteFuture()) {
    send_stalled_since_ = now;
  }

  // The server owes an answer: silence past io_timeout means the path is dead
  // (a NAT dropped it, the server hung) even though TCP has not noticed.
  const bool awaiting_server = !welcomed_ || protocol_.in_flight_bytes() > 0 ||
                               protocol_.state() == CameraClient::State::kGoaway ||
                               (ping_nonce_ != 0 && protocol_.last_pong_nonce() != ping_nonce_);
  // Silence counts from the later of the last bytes received and the last
  // send, so a long idle stretch does not count against the next request.
  const absl::Time silent_since = std::max(last_received_, awaiting_server ? last_sent_ : now);
  absl::Time timeout_at = absl::InfiniteFuture();
  if (awaiting_server) timeout_at = silent_since + options_.io_timeout;
  if (want_write) timeout_at = std::min(timeout_at, send_stalled_since_ + options_.io_timeout);
  if (now >= timeout_at) {
    DisconnectWithBackoff(
        Error(absl::StatusCode::kDeadlineExceeded,
              absl::StrCat(want_write && now >= send_stalled_since_ + options_.io_timeout
                               ? "send stalled"
                               : "server silent",
                           " for ", absl::FormatDuration(options_.io_timeout))));
    return absl::OkStatus();
  }

  const absl::Time until = std::min({wake, keepalive_due, timeout_at});
  const short revents = WaitFor(fd_, POLLIN | (want_write ? POLLOUT : 0), until);
  if ((revents & (POLLIN | POLLHUP | POLLERR)) == 0) return absl::OkStatus();

  bool open = true;
  const absl::Status received = ReceiveCiphertext(&open);
  bool peer_closed = false;
  if (absl::Status s = DeliverPlaintext(&peer_closed); !s.ok()) {
    if (protocol_.state() == CameraClient::State::kFailed) {
      // Tell the server what it did wrong (the ERROR frame OnBytes queued).
      protocol_.TakeOutput(plaintext_out_);
      (void)tls_->WritePlaintext(absl::MakeConstSpan(
          reinterpret_cast<const uint8_t*>(plaintext_out_.data()), plaintext_out_.size()));
      plaintext_out_.clear();
    }
    s = WithContext(s);
    if (s.code() == absl::StatusCode::kUnauthenticated) {
      // TLS 1.3 lets the server refuse our certificate only after our side
      // finished the handshake, so the refusal arrives here as an alert.
      Disconnect(s, absl::Now() + options_.reconnect_backoff_max);
      return s;
    }
    DisconnectWithBackoff(s);
    return absl::OkStatus();
  }
  RETURN_IF_ERROR(AfterServerFrames());
  if (fd_ < 0) return absl::OkStatus();
  if (!received.ok()) {
    DisconnectWithBackoff(received);
  } else if (!open || peer_closed) {
    DisconnectWithBackoff(
        Error(absl::StatusCode::kUnavailable,
              peer_closed ? "server closed the TLS session" : "server closed the connection"));
  }
  return absl::OkStatus();
}

absl::Status BlockingCameraClient::SendCiphertext(absl::Time deadline, bool wait) {
  bool sent = false;
  absl::Status result;
  while (tls_->pending_ciphertext() > 0) {
    absl::Span<const uint8_t> bytes = tls_->PeekCiphertext();
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n > 0) {
      tls_->ConsumeCiphertext(static_cast<size_t>(n));
      sent = true;
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      if (!wait) break;
      if (WaitFor(fd_, POLLOUT, deadline) == 0) {
        result = Error(absl::StatusCode::kDeadlineExceeded, "send timed out");
        break;
      }
      continue;
    }
    result = Error(absl::StatusCode::kUnavailable, absl::StrCat("send: ", Errno(errno)));
    break;
  }
  if (sent) last_sent_ = absl::Now();
  return result;
}

absl::Status BlockingCameraClient::ReceiveCiphertext(bool* open) {
  size_t total = 0;
  while (total < kMaxReadPerStep) {
    const ssize_t n = recv(fd_, io_buffer_.data(), io_buffer_.size(), MSG_DONTWAIT);
    if (n > 0) {
      tls_->FeedCiphertext(absl::MakeConstSpan(io_buffer_.data(), static_cast<size_t>(n)));
      total += static_cast<size_t>(n);
      last_received_ = absl::Now();
      continue;
    }
    if (n == 0) {
      *open = false;
      break;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) break;
    return Error(absl::StatusCode::kUnavailable, absl::StrCat("recv: ", Errno(errno)));
  }
  return absl::OkStatus();
}

absl::Status BlockingCameraClient::DeliverPlaintext(bool* peer_closed) {
  while (true) {
    absl::StatusOr<size_t> n = tls_->ReadPlaintext(absl::MakeSpan(io_buffer_));
    if (!n.ok()) {
      if (IsPeerClosedCleanly(n.status())) {
        *peer_closed = true;
        return absl::OkStatus();
      }
      return absl::Status(n.status().code(), absl::StrCat("TLS: ", n.status().message()));
    }
    if (*n == 0) return absl::OkStatus();
    RETURN_IF_ERROR(protocol_.OnBytes(absl::MakeConstSpan(io_buffer_.data(), *n)));
  }
}

absl::Status BlockingCameraClient::AfterServerFrames() {
  const absl::Time now = absl::Now();
  switch (protocol_.state()) {
    case CameraClient::State::kStreaming:
      if (!welcomed_) {
        welcomed_ = true;
        failures_ = 0;
      }
      return absl::OkStatus();
    case CameraClient::State::kGoaway: {
      // Finish in-flight work first: its ACKs may still come on this
      // connection, saving a re-send on the next.
      if (protocol_.in_flight_bytes() > 0) return absl::OkStatus();
      const Goaway& goaway = *protocol_.goaway();
      absl::Status reason = Error(
          absl::StatusCode::kUnavailable,
          absl::StrCat("GOAWAY (reason ", static_cast<int>(goaway.reason), ", reconnect after ",
                       goaway.reconnect_after_ms, " ms): ", goaway.message));
      // Rezoned: our zone may have changed, so ask the home endpoint again.
      const bool go_home = goaway.reason == GoawayReason::kRezoned;
      failures_ = 0;
      Disconnect(std::move(reason), now + absl::Milliseconds(goaway.reconnect_after_ms));
      if (go_home) endpoint_ = home_;
      return absl::OkStatus();
    }
    case CameraClient::State::kRedirected: {
      const Redirect& redirect = *protocol_.redirect();
      absl::Status reason =
          Error(absl::StatusCode::kUnavailable,
                absl::StrCat("REDIRECT to ", redirect.endpoint, " (zone ", redirect.zone_id, ")"));
      if (protocol_.redirects_followed() > CameraClient::kMaxRedirects) {
        DisconnectWithBackoff(Error(
            absl::StatusCode::kUnavailable,
            absl::StrCat("more than ", CameraClient::kMaxRedirects, " REDIRECTs in a row (last to ",
                         redirect.endpoint, "); back to home")));
        endpoint_ = home_;
        return absl::OkStatus();
      }
      // The grammar the zone map validated the endpoint with (common/host_port.h).
      absl::StatusOr<ingest::HostPort> target = ingest::ParseEndpoint(redirect.endpoint);
      if (!target.ok()) {
        DisconnectWithBackoff(WithContext(target.status()));
        endpoint_ = home_;
        return absl::OkStatus();
      }
      Disconnect(std::move(reason), now);
      endpoint_ = Endpoint{.host = target->host, .port = target->port, .server_name = target->host};
      return absl::OkStatus();
    }
    case CameraClient::State::kRejected: {
      const Reject& reject = *protocol_.reject();
      absl::Status reason =
          Error(absl::StatusCode::kPermissionDenied,
                absl::StrCat("server rejected HELLO (code ", static_cast<int>(reject.code),
                             "): ", reject.reason));
      Disconnect(reason, now + options_.reconnect_backoff_max);
      return reason;
    }
    case CameraClient::State::kFailed:
      if (const auto& error = protocol_.error()) {
        DisconnectWithBackoff(
            Error(absl::StatusCode::kUnavailable,
                  absl::StrCat("server sent ERROR (code ", static_cast<int>(error->code),
                               "): ", error->message)));
      }
      return absl::OkStatus();
    case CameraClient::State::kAwaitingWelcome:
    case CameraClient::State::kDisconnected:
      return absl::OkStatus();
  }
  return absl::OkStatus();
}

void BlockingCameraClient::Disconnect(absl::Status reason, absl::Time reconnect_at) {
  if (tls_ != nullptr && fd_ >= 0) {
    // Best effort, without waiting: a pending alert or ERROR frame and our
    // close_notify tell the server this was deliberate.
    tls_->SendCloseNotify();
    (void)SendCiphertext(absl::Now(), /*wait=*/false);
  }
  if (fd_ >= 0) close(fd_);
  fd_ = -1;
  tls_.reset();
  plaintext_out_.clear();
  if (protocol_.state() != CameraClient::State::kDisconnected) protocol_.OnDisconnected();
  welcomed_ = false;
  ping_nonce_ = 0;
  if (!reason.ok()) last_disconnect_reason_ = std::move(reason);
  next_connect_at_ = reconnect_at;
}

void BlockingCameraClient::DisconnectWithBackoff(absl::Status reason) {
  Disconnect(std::move(reason), absl::Now() + NextBackoff());
}

absl::Duration BlockingCameraClient::NextBackoff() {
  // Full jitter: cameras that lost the same server spread their return
  // instead of arriving together.
  absl::Duration cap = options_.reconnect_backoff_min;
  for (int i = 0; i < failures_ && cap < options_.reconnect_backoff_max; ++i) cap *= 2;
  cap = std::min(cap, options_.reconnect_backoff_max);
  ++failures_;
  std::uniform_int_distribution<int64_t> pick(0, absl::ToInt64Microseconds(cap));
  return absl::Microseconds(pick(random_));
}

absl::Status BlockingCameraClient::WithContext(const absl::Status& status) const {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat("camera ", options_.client.camera_id, " at ",
                                                  current_endpoint(), ": ", status.message()));
}

absl::Status BlockingCameraClient::Error(absl::StatusCode code, const std::string& message) const {
  return WithContext(absl::Status(code, message));
}

}  // namespace camproto
