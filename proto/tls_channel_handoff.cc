// TlsChannel after a server's TLS 1.3 handshake: the traffic secrets taken
// from OpenSSL's key log, the handoff to Tls13RecordLayer, and reading records
// from the channel's ciphertext (fed or lent) without OpenSSL.
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>
#include <string_view>

#include "proto/tls_channel.h"

namespace camproto {

// OpenSSL 3.0 has no call that returns a connection's traffic secrets; its key
// log callback is given each one as an NSS key log line while the handshake
// runs, on the connection's thread.
struct KeyLogHook {
  static void OnLine(const SSL* ssl, const char* line) {
    auto* channel = static_cast<TlsChannel*>(SSL_get_ex_data(ssl, TlsChannel::ChannelIndex()));
    if (channel != nullptr) channel->CaptureSecret(line);
  }
};

int TlsChannel::ChannelIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

void EnableRecordLayerHandoff(SSL_CTX* ctx) { SSL_CTX_set_keylog_callback(ctx, &KeyLogHook::OnLine); }

namespace {

// "<label> <client random, hex> <secret, hex>" into `secret` if the label is
// `wanted`.
bool ParseKeyLogSecret(std::string_view line, std::string_view wanted, Tls13TrafficSecret& secret) {
  if (line.size() <= wanted.size() || line.substr(0, wanted.size()) != wanted ||
      line[wanted.size()] != ' ') {
    return false;
  }
  const size_t last_space = line.rfind(' ');
  if (last_space == std::string_view::npos || last_space <= wanted.size()) return false;
  const std::string_view hex = line.substr(last_space + 1);
  if (hex.size() % 2 != 0 || hex.size() / 2 > secret.bytes.size()) return false;
  auto nibble = [](char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int high = nibble(hex[i]);
    const int low = nibble(hex[i + 1]);
    if (high < 0 || low < 0) return false;
    secret.bytes[i / 2] = static_cast<uint8_t>((high << 4) | low);
  }
  secret.size = hex.size() / 2;
  return true;
}

}  // namespace

void TlsChannel::CaptureSecret(const char* key_log_line) {
  if (secrets_ == nullptr) secrets_ = std::make_unique<CapturedSecrets>();
  const std::string_view line(key_log_line);
  if (!ParseKeyLogSecret(line, "CLIENT_TRAFFIC_SECRET_0", secrets_->client) &&
      ParseKeyLogSecret(line, "SERVER_TRAFFIC_SECRET_0", secrets_->server)) {
    secrets_->server_key_from = written_total_;
  }
}

std::optional<uint64_t> TlsChannel::RecordsWrittenSince(uint64_t from) const {
  // out_ holds OpenSSL's output bytes [written_total_ - out_.size(), written_total_).
  const uint64_t out_start = written_total_ - out_.size();
  if (from < out_start || from > written_total_) return std::nullopt;
  uint64_t records = 0;
  size_t at = static_cast<size_t>(from - out_start);
  while (at < out_.size()) {
    if (out_.size() - at < Tls13RecordLayer::kHeaderBytes) return std::nullopt;
    at += Tls13RecordLayer::kHeaderBytes + ((size_t{out_[at + 3]} << 8) | out_[at + 4]);
    ++records;
  }
  if (at != out_.size()) return std::nullopt;
  return records;
}

void TlsChannel::HandOffToRecordLayer() {
  if (secrets_ == nullptr) return;
  std::unique_ptr<CapturedSecrets> secrets = std::move(secrets_);
  SSL* ssl = ssl_.get();
  const SSL_CIPHER* cipher = SSL_get_current_cipher(ssl);
  const Tls13Suite* suite =
      cipher == nullptr ? nullptr : FindTls13Suite(SSL_CIPHER_get_protocol_id(cipher));
  const std::optional<uint64_t> records_written = RecordsWrittenSince(secrets->server_key_from);
  // Bytes OpenSSL has read but not yet handed out would be lost with it.
  if (SSL_is_server(ssl) == 1 && SSL_version(ssl) == TLS1_3_VERSION && suite != nullptr &&
      SSL_has_pending(ssl) == 0 && secrets->client.size != 0 && secrets->server.size != 0 &&
      records_written.has_value()) {
    absl::StatusOr<std::unique_ptr<Tls13RecordLayer>> records =
        Tls13RecordLayer::Create(*suite, secrets->client, secrets->server, *records_written);
    if (records.ok()) {
      X509* peer = SSL_get0_peer_certificate(ssl);
      if (peer != nullptr) X509_up_ref(peer);
      peer_certificate_.reset(peer);
      resumed_ = SSL_session_reused(ssl) == 1;
      records_ = std::move(*records);
      ssl_.reset();  // the SSL object, its session, handshake state and BIO
    }
  }
  Wipe(secrets->client);
  Wipe(secrets->server);
  ERR_clear_error();
}

std::vector<uint8_t>& TlsChannel::CiphertextQueue() {
  if (out_pos_ == out_.size()) {
    out_.clear();
    out_pos_ = 0;
  }
  return out_;
}

absl::StatusOr<absl::Span<const uint8_t>> TlsChannel::NextRecord() {
  constexpr size_t kHeader = Tls13RecordLayer::kHeaderBytes;
  if (in_pos_ == in_.size() && lent_pos_ < lent_.size()) {
    // The common case: the record lies whole in the lent receive buffer.
    const absl::Span<const uint8_t> lent = lent_.subspan(lent_pos_);
    if (lent.size() < kHeader) return absl::Span<const uint8_t>();
    absl::StatusOr<size_t> size = records_->RecordSize(lent, CiphertextQueue());
    if (!size.ok()) return size.status();
    if (lent.size() < *size) return absl::Span<const uint8_t>();
    return lent.first(*size);
  }
  // The record starts in what was kept from earlier receives: complete it
  // there from the lent buffer (a record cut across two receives).
  auto complete_to = [&](size_t wanted) {
    const size_t have = in_.size() - in_pos_;
    if (have >= wanted) return true;
    const size_t n = std::min(wanted - have, lent_.size() - lent_pos_);
    in_.insert(in_.end(), lent_.begin() + lent_pos_, lent_.begin() + lent_pos_ + n);
    lent_pos_ += n;
    return have + n >= wanted;
  };
  if (!complete_to(kHeader)) return absl::Span<const uint8_t>();
  absl::StatusOr<size_t> size =
      records_->RecordSize(absl::MakeConstSpan(in_).subspan(in_pos_), CiphertextQueue());
  if (!size.ok()) return size.status();
  if (!complete_to(*size)) return absl::Span<const uint8_t>();
  return absl::MakeConstSpan(in_).subspan(in_pos_, *size);
}

void TlsChannel::ConsumeInput(size_t n) {
  if (in_pos_ < in_.size()) {
    in_pos_ += n;
    if (in_pos_ == in_.size()) {
      in_.clear();
      in_pos_ = 0;
    }
  } else {
    lent_pos_ += n;
  }
}

absl::StatusOr<size_t> TlsChannel::ReadRecords(absl::Span<uint8_t> dst) {
  if (!failure_.ok()) return failure_;
  if (peer_closed_) {
    return absl::CancelledError("TLS peer closed the connection cleanly (close_notify)");
  }
  if (dst.empty()) return 0;
  if (plaintext_begin_ < plaintext_end_) {
    const size_t n = std::min(dst.size(), plaintext_end_ - plaintext_begin_);
    std::memcpy(dst.data(), plaintext_.get() + plaintext_begin_, n);
    plaintext_begin_ += n;
    return n;
  }
  for (;;) {
    absl::StatusOr<absl::Span<const uint8_t>> record = NextRecord();
    if (!record.ok()) {
      failure_ = record.status();
      return failure_;
    }
    if (record->empty()) return 0;
    const size_t room = Tls13RecordLayer::PlaintextRoom(record->size());
    // Straight into the caller's buffer when the whole record fits (a
    // segment's payload); otherwise into the channel's own, and copied out.
    const bool direct = dst.size() >= room;
    if (!direct && plaintext_ == nullptr) {
      plaintext_ = std::make_unique<uint8_t[]>(Tls13RecordLayer::kMaxBodyBytes);
    }
    uint8_t* target = direct ? dst.data() : plaintext_.get();
    absl::StatusOr<Tls13RecordLayer::Received> received =
        records_->Receive(*record, absl::MakeSpan(target, room), CiphertextQueue());
    ConsumeInput(record->size());
    if (!received.ok()) {
      failure_ = received.status();
      return failure_;
    }
    if (received->closed) {
      peer_closed_ = true;
      return absl::CancelledError("TLS peer closed the connection cleanly (close_notify)");
    }
    if (received->data_bytes == 0) continue;  // a KeyUpdate, padding, an empty record
    if (direct) return received->data_bytes;
    const size_t n = std::min(dst.size(), received->data_bytes);
    std::memcpy(dst.data(), plaintext_.get(), n);
    plaintext_begin_ = n;
    plaintext_end_ = received->data_bytes;
    return n;
  }
}

}  // namespace camproto
