#include "proto/tls13_record_layer.h"

#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"

namespace camproto {
namespace {

constexpr uint8_t kContentAlert = 21;
constexpr uint8_t kContentHandshake = 22;
constexpr uint8_t kContentApplicationData = 23;
constexpr uint8_t kHandshakeKeyUpdate = 24;
constexpr uint8_t kAlertLevelWarning = 1;
constexpr uint8_t kAlertLevelFatal = 2;

std::atomic<uint64_t> next_key_id{1};

// One AEAD context per thread and direction, holding the key of whichever
// connection used it last. Re-keying costs an AES key expansion (a fraction
// of a microsecond); records of one connection mostly come in runs, which
// only set the nonce. Idle connections therefore hold no context at all.
struct AeadSlot {
  EVP_CIPHER_CTX* context = nullptr;
  const EVP_CIPHER* cipher = nullptr;
  uint64_t key_id = 0;

  AeadSlot() = default;
  AeadSlot(const AeadSlot&) = delete;
  AeadSlot& operator=(const AeadSlot&) = delete;
  ~AeadSlot() { EVP_CIPHER_CTX_free(context); }

  // The context ready for one record under `key` and `nonce`, or null.
  EVP_CIPHER_CTX* Prepare(bool encrypt, const Tls13Suite& suite, uint64_t id, const uint8_t* key,
                          const uint8_t* nonce) {
    if (context == nullptr && (context = EVP_CIPHER_CTX_new()) == nullptr) return nullptr;
    int ok = 0;
    if (cipher != suite.aead) {
      ok = EVP_CipherInit_ex2(context, suite.aead, key, nonce, encrypt ? 1 : 0, nullptr);
    } else if (key_id != id) {
      ok = EVP_CipherInit_ex2(context, nullptr, key, nonce, encrypt ? 1 : 0, nullptr);
    } else {
      ok = EVP_CipherInit_ex2(context, nullptr, nullptr, nonce, encrypt ? 1 : 0, nullptr);
    }
    if (ok != 1) {
      cipher = nullptr;
      key_id = 0;
      return nullptr;
    }
    cipher = suite.aead;
    key_id = id;
    return context;
  }
};

struct ThreadAead {
  AeadSlot seal;
  AeadSlot open;
};
thread_local ThreadAead thread_aead;

// RFC 8446 5.3: the IV XORed with the record's sequence number.
std::array<uint8_t, kTls13IvBytes> Nonce(const Tls13TrafficKey& key, uint64_t sequence) {
  std::array<uint8_t, kTls13IvBytes> nonce = key.iv;
  for (int i = 0; i < 8; ++i) {
    nonce[kTls13IvBytes - 1 - i] ^= static_cast<uint8_t>(sequence >> (8 * i));
  }
  return nonce;
}

absl::Status CryptoFailure(const char* what) {
  ERR_clear_error();
  return absl::InternalError(absl::StrCat("TLS record layer: ", what, " failed"));
}

}  // namespace

absl::StatusOr<std::unique_ptr<Tls13RecordLayer>> Tls13RecordLayer::Create(
    const Tls13Suite& suite, const Tls13TrafficSecret& read_secret,
    const Tls13TrafficSecret& write_secret, uint64_t records_written, uint64_t records_per_key) {
  if (read_secret.size != suite.secret_bytes || write_secret.size != suite.secret_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("TLS record layer: ", suite.name, " needs ", suite.secret_bytes, "-byte secrets"));
  }
  std::unique_ptr<Tls13RecordLayer> layer(new Tls13RecordLayer(suite));
  absl::Status s = Install(suite, read_secret, layer->read_);
  if (s.ok()) s = Install(suite, write_secret, layer->write_);
  if (!s.ok()) return s;
  layer->write_.sequence = records_written;
  layer->records_per_key_ = std::max<uint64_t>(records_per_key, 1);
  return layer;
}

Tls13RecordLayer::~Tls13RecordLayer() {
  Wipe(read_.secret);
  Wipe(read_.key);
  Wipe(write_.secret);
  Wipe(write_.key);
}

absl::Status Tls13RecordLayer::Install(const Tls13Suite& suite, const Tls13TrafficSecret& secret,
                                       Direction& direction) {
  absl::StatusOr<Tls13TrafficKey> key = DeriveTrafficKey(suite, secret);
  if (!key.ok()) return key.status();
  Wipe(direction.key);
  direction.secret = secret;
  direction.key = *key;
  Tls13TrafficKey& derived = *key;
  Wipe(derived);
  direction.sequence = 0;
  direction.key_id = next_key_id.fetch_add(1, std::memory_order_relaxed);
  return absl::OkStatus();
}

absl::Status Tls13RecordLayer::NextKey(Direction& direction) {
  absl::StatusOr<Tls13TrafficSecret> next = NextTrafficSecret(*suite_, direction.secret);
  if (!next.ok()) return next.status();
  Wipe(direction.secret);
  absl::Status s = Install(*suite_, *next, direction);
  Wipe(*next);
  return s;
}

absl::StatusOr<size_t> Tls13RecordLayer::RecordSize(absl::Span<const uint8_t> header,
                                                    std::vector<uint8_t>& out) {
  if (!failure_.ok()) return failure_;
  if (header.size() < kHeaderBytes) return absl::InternalError("TLS record header cut short");
  const size_t body = (size_t{header[3]} << 8) | header[4];
  if (header[0] != kContentApplicationData) {
    // After the handshake every record is protected and says application_data
    // outside; a change_cipher_spec is allowed only until the peer's Finished.
    return Fail(absl::DataLossError(absl::StrCat("TLS record of type ", header[0],
                                                 " after the handshake (unexpected_message)")),
                kUnexpectedMessage, out);
  }
  if (body > kMaxBodyBytes) {
    return Fail(absl::DataLossError(absl::StrCat("TLS record of ", body, " bytes, more than ",
                                                 kMaxBodyBytes, " (record_overflow)")),
                kRecordOverflow, out);
  }
  if (body < kMinBodyBytes) {
    return Fail(absl::DataLossError(absl::StrCat("TLS record of ", body,
                                                 " bytes, too short to be protected (decode_error)")),
                kDecodeError, out);
  }
  return kHeaderBytes + body;
}

absl::StatusOr<Tls13RecordLayer::Received> Tls13RecordLayer::Receive(
    absl::Span<const uint8_t> record, absl::Span<uint8_t> dst, std::vector<uint8_t>& out) {
  if (!failure_.ok()) return failure_;
  if (record.size() < kHeaderBytes + kMinBodyBytes || dst.size() < PlaintextRoom(record.size())) {
    return Fail(absl::InternalError("TLS record layer: record or room cut short"), kInternalError, out);
  }
  const size_t sealed = record.size() - kHeaderBytes - kTls13TagBytes;
  const std::array<uint8_t, kTls13IvBytes> nonce = Nonce(read_.key, read_.sequence);
  EVP_CIPHER_CTX* aead =
      thread_aead.open.Prepare(false, *suite_, read_.key_id, read_.key.key.data(), nonce.data());
  if (aead == nullptr) return Fail(CryptoFailure("decryption set-up"), kInternalError, out);
  std::array<uint8_t, kTls13TagBytes> tag;
  std::memcpy(tag.data(), record.data() + kHeaderBytes + sealed, tag.size());
  int length = 0;
  int final_length = 0;
  // The additional data is the record's header (RFC 8446 5.2).
  const bool opened =
      EVP_DecryptUpdate(aead, nullptr, &length, record.data(), kHeaderBytes) == 1 &&
      EVP_DecryptUpdate(aead, dst.data(), &length, record.data() + kHeaderBytes,
                        static_cast<int>(sealed)) == 1 &&
      static_cast<size_t>(length) == sealed &&
      EVP_CIPHER_CTX_ctrl(aead, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(tag.size()), tag.data()) == 1 &&
      EVP_DecryptFinal_ex(aead, dst.data() + length, &final_length) == 1;
  if (!opened) {
    ERR_clear_error();
    thread_aead.open.key_id = 0;
    return Fail(absl::DataLossError("TLS record failed authentication (bad_record_mac)"),
                kBadRecordMac, out);
  }
  ++read_.sequence;
  ++received_records_;

  // TLSInnerPlaintext: content, then the real content type, then zeros.
  size_t end = sealed;
  while (end > 0 && dst[end - 1] == 0) --end;
  if (end == 0) {
    return Fail(absl::DataLossError("TLS record with no content type (unexpected_message)"),
                kUnexpectedMessage, out);
  }
  const uint8_t type = dst[end - 1];
  const absl::Span<const uint8_t> content(dst.data(), end - 1);
  // RFC 8446 5.4: content, type and padding together at most 2^14 + 1.
  if (sealed > kMaxPlaintextBytes + 1) {
    return Fail(absl::DataLossError("TLS record plaintext over 16 KiB (record_overflow)"),
                kRecordOverflow, out);
  }
  if (handshake_length_ > 0 && type != kContentHandshake) {
    return Fail(absl::DataLossError("TLS handshake message interleaved with other records "
                                    "(unexpected_message)"),
                kUnexpectedMessage, out);
  }
  Received received;
  switch (type) {
    case kContentApplicationData:
      received.data_bytes = content.size();
      break;
    case kContentAlert:
      return OnAlert(content, out);
    case kContentHandshake: {
      absl::Status s = OnHandshakeBytes(content, out);
      if (!s.ok()) return s;
      break;
    }
    default:
      return Fail(absl::DataLossError(absl::StrCat("TLS record of content type ", type,
                                                   " after the handshake (unexpected_message)")),
                  kUnexpectedMessage, out);
  }
  if (read_.sequence >= records_per_key_ && !asked_peer_to_rekey_ && !close_sent_) {
    // The peer's key is near its limit: ask it to move on (ours moves too).
    absl::Status s = SendKeyUpdate(/*request_peer_update=*/true, out);
    if (!s.ok()) return Fail(s, kInternalError, out);
  }
  return received;
}

absl::Status Tls13RecordLayer::OnHandshakeBytes(absl::Span<const uint8_t> bytes,
                                                std::vector<uint8_t>& out) {
  if (bytes.empty()) {
    return Fail(absl::DataLossError("TLS empty handshake record (unexpected_message)"),
                kUnexpectedMessage, out);
  }
  size_t at = 0;
  while (at < bytes.size()) {
    handshake_bytes_[handshake_length_++] = bytes[at++];
    if (handshake_length_ == 4) {
      // The message header: only a KeyUpdate (one byte of body) may come now.
      const uint8_t message = handshake_bytes_[0];
      const uint32_t length = (uint32_t{handshake_bytes_[1]} << 16) |
                              (uint32_t{handshake_bytes_[2]} << 8) | handshake_bytes_[3];
      if (message != kHandshakeKeyUpdate) {
        return Fail(absl::DataLossError(absl::StrCat("TLS handshake message of type ", message,
                                                     " after the handshake (unexpected_message)")),
                    kUnexpectedMessage, out);
      }
      if (length != 1) {
        return Fail(absl::DataLossError(absl::StrCat("TLS KeyUpdate of ", length,
                                                     " bytes (decode_error)")),
                    kDecodeError, out);
      }
    }
    if (handshake_length_ < 5) continue;
    const uint8_t request = handshake_bytes_[4];
    handshake_length_ = 0;
    if (request > 1) {
      return Fail(absl::DataLossError("TLS KeyUpdate with a bad request_update (illegal_parameter)"),
                  kIllegalParameter, out);
    }
    if (at != bytes.size()) {
      // RFC 8446 5.1: handshake messages must not span a key change.
      return Fail(absl::DataLossError("TLS KeyUpdate not at the end of its record "
                                      "(unexpected_message)"),
                  kUnexpectedMessage, out);
    }
    ++key_updates_received_;
    asked_peer_to_rekey_ = false;
    absl::Status s = NextKey(read_);
    if (s.ok() && request == 1 && !close_sent_) s = SendKeyUpdate(/*request_peer_update=*/false, out);
    if (!s.ok()) return Fail(s, kInternalError, out);
  }
  return absl::OkStatus();
}

absl::StatusOr<Tls13RecordLayer::Received> Tls13RecordLayer::OnAlert(absl::Span<const uint8_t> content,
                                                                      std::vector<uint8_t>& out) {
  // RFC 8446 5.1: an alert is never fragmented, and one record holds one.
  if (content.size() != 2) {
    return Fail(absl::DataLossError(absl::StrCat("TLS alert record of ", content.size(),
                                                 " bytes (decode_error)")),
                kDecodeError, out);
  }
  const uint8_t description = content[1];
  if (description == kCloseNotify) return Received{.closed = true};
  if (description == kUserCanceled) return Received{};  // a close_notify follows
  // The peer has given up: nothing to answer.
  failure_ = absl::DataLossError(absl::StrCat("TLS peer sent alert ", description));
  close_sent_ = true;
  return failure_;
}

absl::Status Tls13RecordLayer::Send(absl::Span<const uint8_t> plaintext, std::vector<uint8_t>& out) {
  if (!failure_.ok()) return absl::FailedPreconditionError(failure_.message());
  if (close_sent_) return absl::FailedPreconditionError("TLS write after close_notify");
  while (!plaintext.empty()) {
    if (write_.sequence >= records_per_key_) {
      absl::Status s = SendKeyUpdate(/*request_peer_update=*/false, out);
      if (!s.ok()) return Fail(s, kInternalError, out);
    }
    const size_t n = std::min(plaintext.size(), kMaxPlaintextBytes);
    absl::Status s = Seal(kContentApplicationData, plaintext.first(n), out);
    if (!s.ok()) return Fail(s, kInternalError, out);
    plaintext.remove_prefix(n);
  }
  return absl::OkStatus();
}

void Tls13RecordLayer::SendCloseNotify(std::vector<uint8_t>& out) {
  if (!failure_.ok() || close_sent_) return;
  const uint8_t alert[2] = {kAlertLevelWarning, kCloseNotify};
  if (Seal(kContentAlert, alert, out).ok()) close_sent_ = true;
}

absl::Status Tls13RecordLayer::Fail(absl::Status status, uint8_t alert, std::vector<uint8_t>& out) {
  if (!failure_.ok()) return failure_;
  failure_ = std::move(status);
  if (alert != 0 && !close_sent_) {
    const uint8_t fatal[2] = {kAlertLevelFatal, alert};
    (void)Seal(kContentAlert, fatal, out);
    close_sent_ = true;
  }
  return failure_;
}

absl::Status Tls13RecordLayer::SendKeyUpdate(bool request_peer_update, std::vector<uint8_t>& out) {
  const uint8_t key_update[5] = {kHandshakeKeyUpdate, 0, 0, 1,
                                 static_cast<uint8_t>(request_peer_update ? 1 : 0)};
  absl::Status s = Seal(kContentHandshake, key_update, out);
  if (s.ok()) s = NextKey(write_);
  if (s.ok()) ++key_updates_sent_;
  if (s.ok() && request_peer_update) asked_peer_to_rekey_ = true;
  return s;
}

absl::Status Tls13RecordLayer::Seal(uint8_t content_type, absl::Span<const uint8_t> content,
                                    std::vector<uint8_t>& out) {
  const size_t body = content.size() + 1 + kTls13TagBytes;
  const size_t at = out.size();
  out.resize(at + kHeaderBytes + body);
  uint8_t* record = out.data() + at;
  record[0] = kContentApplicationData;
  record[1] = 0x03;  // legacy_record_version TLS 1.2
  record[2] = 0x03;
  record[3] = static_cast<uint8_t>(body >> 8);
  record[4] = static_cast<uint8_t>(body);
  uint8_t* sealed = record + kHeaderBytes;
  const std::array<uint8_t, kTls13IvBytes> nonce = Nonce(write_.key, write_.sequence);
  EVP_CIPHER_CTX* aead =
      thread_aead.seal.Prepare(true, *suite_, write_.key_id, write_.key.key.data(), nonce.data());
  int length = 0;
  int type_length = 0;
  int final_length = 0;
  const bool ok = aead != nullptr &&
                  EVP_EncryptUpdate(aead, nullptr, &length, record, kHeaderBytes) == 1 &&
                  EVP_EncryptUpdate(aead, sealed, &length, content.data(),
                                    static_cast<int>(content.size())) == 1 &&
                  static_cast<size_t>(length) == content.size() &&
                  EVP_EncryptUpdate(aead, sealed + length, &type_length, &content_type, 1) == 1 &&
                  type_length == 1 &&
                  EVP_EncryptFinal_ex(aead, sealed + content.size() + 1, &final_length) == 1 &&
                  final_length == 0 &&
                  EVP_CIPHER_CTX_ctrl(aead, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTls13TagBytes),
                                      sealed + content.size() + 1) == 1;
  if (!ok) {
    out.resize(at);
    thread_aead.seal.key_id = 0;
    return CryptoFailure("encryption");
  }
  ++write_.sequence;
  return absl::OkStatus();
}

}  // namespace camproto
