#include "proto/tls_channel.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <algorithm>
#include <cstring>

#include "proto/openssl_error.h"

namespace camproto {

// A source/sink BIO over the channel's own buffers. OpenSSL's memory BIO would
// cost one more copy on input (receive buffer -> BIO -> record buffer) and a
// second buffer per connection; this one reads lent receive buffers in place
// and writes straight into the channel's send queue.
struct ChannelBio {
  static TlsChannel* Channel(BIO* bio) { return static_cast<TlsChannel*>(BIO_get_data(bio)); }

  static int Read(BIO* bio, char* dst, size_t size, size_t* read) {
    BIO_clear_retry_flags(bio);
    size_t n = Channel(bio)->ReadInput(reinterpret_cast<uint8_t*>(dst), size);
    *read = n;
    if (n == 0) {
      // No data yet is not end of stream: ask OpenSSL to retry later
      // (SSL_ERROR_WANT_READ), as a non-blocking socket would.
      BIO_set_retry_read(bio);
      return 0;
    }
    return 1;
  }

  static int Write(BIO* bio, const char* src, size_t size, size_t* written) {
    BIO_clear_retry_flags(bio);
    Channel(bio)->WriteOutput(reinterpret_cast<const uint8_t*>(src), size);
    *written = size;
    return 1;
  }

  static long Ctrl(BIO* bio, int cmd, long /*num*/, void* /*ptr*/) {
    switch (cmd) {
      case BIO_CTRL_FLUSH:
        return 1;
      case BIO_CTRL_PENDING:
        return static_cast<long>(Channel(bio)->input_available());
      case BIO_CTRL_WPENDING:
        return static_cast<long>(Channel(bio)->pending_ciphertext());
      default:
        return 0;
    }
  }

  static int Create(BIO* bio) {
    BIO_set_init(bio, 1);
    return 1;
  }

  static int Destroy(BIO* bio) {
    BIO_set_data(bio, nullptr);
    return 1;
  }

  // One method table for the process; never freed.
  static const BIO_METHOD* Method() {
    static const BIO_METHOD* method = [] {
      BIO_METHOD* m =
          BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "camproto channel");
      if (m == nullptr) return static_cast<BIO_METHOD*>(nullptr);
      BIO_meth_set_read_ex(m, &Read);
      BIO_meth_set_write_ex(m, &Write);
      BIO_meth_set_ctrl(m, &Ctrl);
      BIO_meth_set_create(m, &Create);
      BIO_meth_set_destroy(m, &Destroy);
      return m;
    }();
    return method;
  }
};

namespace {

// Certificate problems deserve their own status code: the session layer logs
// and counts them apart from broken or hostile byte streams.
bool IsCertificateReason(int reason) {
  switch (reason) {
    case SSL_R_CERTIFICATE_VERIFY_FAILED:
    case SSL_R_PEER_DID_NOT_RETURN_A_CERTIFICATE:
    case SSL_R_NO_CERTIFICATES_RETURNED:
    case SSL_R_SSLV3_ALERT_BAD_CERTIFICATE:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_EXPIRED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_REVOKED:
    case SSL_R_SSLV3_ALERT_CERTIFICATE_UNKNOWN:
    case SSL_R_SSLV3_ALERT_UNSUPPORTED_CERTIFICATE:
    case SSL_R_TLSV1_ALERT_UNKNOWN_CA:
    case SSL_R_TLSV1_ALERT_ACCESS_DENIED:
    case SSL_R_TLSV13_ALERT_CERTIFICATE_REQUIRED:
      return true;
    default:
      return false;
  }
}

bool IsIpLiteral(const std::string& name) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

}  // namespace

bool IsPeerClosedCleanly(const absl::Status& status) {
  return status.code() == absl::StatusCode::kCancelled;
}

TlsChannel::TlsChannel(SslPtr ssl) : ssl_(std::move(ssl)) {}

TlsChannel::~TlsChannel() {
  if (secrets_ != nullptr) {
    Wipe(secrets_->client);
    Wipe(secrets_->server);
  }
}

absl::StatusOr<std::unique_ptr<TlsChannel>> TlsChannel::Create(SSL_CTX* ctx) {
  if (ctx == nullptr) return absl::InvalidArgumentError("TLS channel: null SSL_CTX");
  ERR_clear_error();
  const BIO_METHOD* method = ChannelBio::Method();
  if (method == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "creating TLS BIO method");
  }
  SslPtr ssl(SSL_new(ctx));
  if (ssl == nullptr) return OpenSslError(absl::StatusCode::kResourceExhausted, "SSL_new");
  BIO* bio = BIO_new(method);
  if (bio == nullptr) return OpenSslError(absl::StatusCode::kResourceExhausted, "BIO_new");
  // Idle connections must not pin 2 x ~17 KiB of record buffers each.
  SSL_set_mode(ssl.get(), SSL_MODE_RELEASE_BUFFERS);
  std::unique_ptr<TlsChannel> channel(new TlsChannel(std::move(ssl)));
  BIO_set_data(bio, channel.get());
  // For the key log callback of EnableRecordLayerHandoff.
  SSL_set_ex_data(channel->ssl_.get(), ChannelIndex(), channel.get());
  // With one BIO for both directions SSL_set_bio takes over its single reference.
  SSL_set_bio(channel->ssl_.get(), bio, bio);
  return channel;
}

absl::StatusOr<std::unique_ptr<TlsChannel>> TlsChannel::CreateServer(SSL_CTX* ctx) {
  absl::StatusOr<std::unique_ptr<TlsChannel>> channel = Create(ctx);
  if (!channel.ok()) return channel.status();
  SSL_set_accept_state((*channel)->ssl_.get());
  return channel;
}

absl::StatusOr<std::unique_ptr<TlsChannel>> TlsChannel::CreateClient(
    SSL_CTX* ctx, const std::string& server_name, SSL_SESSION* resume_session) {
  if (server_name.empty()) {
    // Without a name any certificate from the CA would pass; refuse rather
    // than silently skip the check.
    return absl::InvalidArgumentError("TLS client: empty server name");
  }
  absl::StatusOr<std::unique_ptr<TlsChannel>> channel = Create(ctx);
  if (!channel.ok()) return channel.status();
  SSL* ssl = (*channel)->ssl_.get();
  SSL_set_connect_state(ssl);
  if (IsIpLiteral(server_name)) {
    // RFC 6066 forbids IP literals in SNI; match the certificate's IP SANs.
    if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(ssl), server_name.c_str()) != 1) {
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          "TLS client: bad server address " + server_name);
    }
  } else {
    SSL_set_hostflags(ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
    if (SSL_set1_host(ssl, server_name.c_str()) != 1 ||
        SSL_set_tlsext_host_name(ssl, server_name.c_str()) != 1) {
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          "TLS client: bad server name " + server_name);
    }
  }
  if (resume_session != nullptr) {
    // Offer a private copy: OpenSSL marks the connection's session
    // not-resumable when the connection is freed without a close_notify, and
    // a resumed TLS 1.3 connection gets no fresh ticket (unless the key
    // rotated), so offering the caller's own object would spoil it for the
    // next reconnect after a dropped link.
    SslSessionPtr copy(SSL_SESSION_dup(resume_session));
    if (copy == nullptr || SSL_set_session(ssl, copy.get()) != 1) {
      // Not worth failing the connection over: a full handshake follows.
      ERR_clear_error();
    }
  }
  return channel;
}

size_t TlsChannel::input_available() const {
  return (in_.size() - in_pos_) + (lent_.size() - lent_pos_);
}

size_t TlsChannel::ReadInput(uint8_t* dst, size_t size) {
  size_t total = 0;
  if (in_pos_ < in_.size()) {
    size_t n = std::min(size, in_.size() - in_pos_);
    std::memcpy(dst, in_.data() + in_pos_, n);
    in_pos_ += n;
    total += n;
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
  }
  if (total < size && lent_pos_ < lent_.size()) {
    size_t n = std::min(size - total, lent_.size() - lent_pos_);
    std::memcpy(dst + total, lent_.data() + lent_pos_, n);
    lent_pos_ += n;
    total += n;
  }
  return total;
}

void TlsChannel::WriteOutput(const uint8_t* src, size_t size) {
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  }
  out_.insert(out_.end(), src, src + size);
  written_total_ += size;
}

void TlsChannel::FeedCiphertext(absl::Span<const uint8_t> bytes) {
  // Bytes still lent are older than these and must be read first.
  ReleaseLentCiphertext();
  in_.insert(in_.end(), bytes.begin(), bytes.end());
}

void TlsChannel::LendCiphertext(absl::Span<const uint8_t> bytes) {
  ReleaseLentCiphertext();
  lent_ = bytes;
  lent_pos_ = 0;
}

void TlsChannel::ReleaseLentCiphertext() {
  if (lent_pos_ < lent_.size()) {
    in_.insert(in_.end(), lent_.begin() + lent_pos_, lent_.end());
  }
  lent_ = {};
  lent_pos_ = 0;
}

absl::Status TlsChannel::ErrorStatus(const char* operation, int ssl_error) {
  bool certificate = false;
  std::string reasons;
  while (unsigned long code = ERR_get_error()) {
    if (ERR_GET_LIB(code) == ERR_LIB_SSL && IsCertificateReason(ERR_GET_REASON(code))) {
      certificate = true;
    }
    if (!reasons.empty()) reasons += "; ";
    const char* reason = ERR_reason_error_string(code);
    const char* library = ERR_lib_error_string(code);
    reasons += reason != nullptr ? reason : "unknown reason";
    if (library != nullptr) {
      reasons += " (";
      reasons += library;
      reasons += ")";
    }
  }
  std::string message = std::string("TLS ") + operation + " failed: ";
  if (!reasons.empty()) {
    message += reasons;
  } else if (ssl_error == SSL_ERROR_SYSCALL) {
    message += "unexpected end of stream";
  } else {
    message += "SSL error " + std::to_string(ssl_error);
  }
  long verify = SSL_get_verify_result(ssl_.get());
  if (verify != X509_V_OK) {
    certificate = true;
    message += ": ";
    message += X509_verify_cert_error_string(verify);
  }
  absl::StatusCode code = absl::StatusCode::kInvalidArgument;
  if (certificate) {
    code = absl::StatusCode::kUnauthenticated;
  } else if (handshake_done()) {
    code = absl::StatusCode::kDataLoss;
  }
  failure_ = absl::Status(code, message);
  return failure_;
}

absl::StatusOr<TlsChannel::HandshakeResult> TlsChannel::Handshake() {
  if (!failure_.ok()) return failure_;
  if (records_ != nullptr || SSL_is_init_finished(ssl_.get())) return HandshakeResult::kDone;
  ERR_clear_error();
  int result = SSL_do_handshake(ssl_.get());
  if (result == 1) {
    HandOffToRecordLayer();
    return HandshakeResult::kDone;
  }
  int error = SSL_get_error(ssl_.get(), result);
  if (error == SSL_ERROR_WANT_READ) return HandshakeResult::kWantMoreInput;
  return ErrorStatus("handshake", error);
}

bool TlsChannel::handshake_done() const {
  return records_ != nullptr || SSL_is_init_finished(ssl_.get()) == 1;
}

absl::StatusOr<size_t> TlsChannel::ReadPlaintext(absl::Span<uint8_t> dst) {
  if (records_ != nullptr) return ReadRecords(dst);
  if (!failure_.ok()) return failure_;
  if (dst.empty()) return 0;
  ERR_clear_error();
  size_t read = 0;
  if (SSL_read_ex(ssl_.get(), dst.data(), dst.size(), &read) == 1) return read;
  int error = SSL_get_error(ssl_.get(), 0);
  switch (error) {
    case SSL_ERROR_WANT_READ:
      return 0;
    case SSL_ERROR_ZERO_RETURN:
      // Not stored in failure_: a clean close is an outcome, not a fault.
      return absl::CancelledError("TLS peer closed the connection cleanly (close_notify)");
    default:
      return ErrorStatus(handshake_done() ? "read" : "handshake", error);
  }
}

size_t TlsChannel::pending_plaintext() const {
  if (records_ != nullptr) return plaintext_end_ - plaintext_begin_;
  int pending = SSL_pending(ssl_.get());
  return pending > 0 ? static_cast<size_t>(pending) : 0;
}

absl::Status TlsChannel::WritePlaintext(absl::Span<const uint8_t> bytes) {
  if (!failure_.ok()) return absl::FailedPreconditionError(failure_.message());
  if (!handshake_done()) {
    return absl::FailedPreconditionError("TLS write before the handshake is done");
  }
  if (bytes.empty()) return absl::OkStatus();
  if (records_ != nullptr) {
    absl::Status s = records_->Send(bytes, CiphertextQueue());
    if (!s.ok() && failure_.ok() && s.code() != absl::StatusCode::kFailedPrecondition) failure_ = s;
    return s;
  }
  ERR_clear_error();
  size_t written = 0;
  // Partial writes are off, and the BIO never refuses bytes, so one call
  // writes everything or fails.
  if (SSL_write_ex(ssl_.get(), bytes.data(), bytes.size(), &written) == 1) {
    return absl::OkStatus();
  }
  return ErrorStatus("write", SSL_get_error(ssl_.get(), 0));
}

size_t TlsChannel::pending_ciphertext() const { return out_.size() - out_pos_; }

size_t TlsChannel::TakeCiphertext(absl::Span<uint8_t> dst) {
  size_t n = std::min(dst.size(), pending_ciphertext());
  if (n == 0) return 0;
  std::memcpy(dst.data(), out_.data() + out_pos_, n);
  ConsumeCiphertext(n);
  return n;
}

void TlsChannel::TakeCiphertext(std::string& out) {
  out.append(reinterpret_cast<const char*>(out_.data()) + out_pos_, pending_ciphertext());
  out_.clear();
  out_pos_ = 0;
}

absl::Span<const uint8_t> TlsChannel::PeekCiphertext() const {
  return absl::Span<const uint8_t>(out_.data() + out_pos_, pending_ciphertext());
}

void TlsChannel::ConsumeCiphertext(size_t n) {
  out_pos_ += std::min(n, pending_ciphertext());
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  }
}

void TlsChannel::SendCloseNotify() {
  if (!failure_.ok() || !handshake_done()) return;
  if (records_ != nullptr) {
    records_->SendCloseNotify(CiphertextQueue());
    return;
  }
  ERR_clear_error();
  // Returns 0 ("sent, peer's not yet seen"); the peer's reply is not awaited.
  SSL_shutdown(ssl_.get());
  ERR_clear_error();
}

bool TlsChannel::session_resumed() const {
  if (records_ != nullptr) return resumed_;
  return SSL_session_reused(ssl_.get()) == 1;
}

X509* TlsChannel::peer_certificate() const {
  if (records_ != nullptr) return peer_certificate_.get();
  return SSL_get0_peer_certificate(ssl_.get());
}

SSL* TlsChannel::ssl() { return ssl_.get(); }

int TlsChannel::protocol_version() const {
  if (records_ != nullptr) return TLS1_3_VERSION;
  return handshake_done() ? SSL_version(ssl_.get()) : 0;
}

void TlsChannel::ReleaseIdleMemory() {
  if (in_pos_ == in_.size()) {
    std::vector<uint8_t>().swap(in_);
    in_pos_ = 0;
  }
  if (out_pos_ == out_.size()) {
    std::vector<uint8_t>().swap(out_);
    out_pos_ = 0;
  }
  if (plaintext_begin_ == plaintext_end_) {
    plaintext_.reset();
    plaintext_begin_ = plaintext_end_ = 0;
  }
  // Fails harmlessly (returns 0) while a partial record is buffered.
  if (ssl_ != nullptr) SSL_free_buffers(ssl_.get());
}

}  // namespace camproto
