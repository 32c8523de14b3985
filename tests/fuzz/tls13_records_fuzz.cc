// Fuzzes proto/tls13_record_layer.h, the most exposed parser we have: once a
// handshake is done, a camera (or whatever got through one) sends arbitrary
// bytes, and they all reach Tls13RecordLayer.
//
// The harness plays a hostile peer that holds the connection's keys (fixed
// secrets), so mutations get past the AEAD tag and reach what lies inside it.
// It seals TLSInnerPlaintext records of its choosing with its own EVP code
// (nonce = IV XOR sequence number, additional data = the 5-byte header, a
// 16-byte tag): content type, content and zero padding from the input,
// alerts, KeyUpdates of any shape, whole or cut across records, following its
// own key after each KeyUpdate it sends. It also sends raw bytes, flips bytes,
// rewrites record lengths and cuts the stream short.
//
// The bytes reach the layer the way TlsChannel hands them over
// (proto/tls_channel_handoff.cc, NextRecord and ReadRecords): as they
// arrive, RecordSize on everything received once five bytes are there, again
// on each arrival until the record is whole, then Receive into a buffer of
// exactly PlaintextRoom bytes, and no more records after a failure or the
// peer's close_notify. TlsChannel itself is not used: it takes an OpenSSL
// handshake per input to get there. Two connections, each with its own suite,
// take turns, so the per-thread AEAD contexts move between keys and ciphers as
// they do in a shard. The server side may Send, SendCloseNotify and Fail in
// between; the peer opens everything the layer writes with its view of the
// layer's keys.
//
// Input: byte 0 picks the suites of the two connections (bits 0-1 and 2-3:
// AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305), how many records OpenSSL
// already wrote under the server's key (bits 4-6) and, with bit 7, a limit of
// 1 + byte 1 % 8 records per key instead of 2^24 (so the layer's own rekeying
// happens). Then operations: an op byte (bit 0: which connection; the rest,
// modulo kOpCount: which Op) and its arguments, read as Op says. Everything
// sent is delivered at the end.
//
// Checked on every input:
//   - no crash, leak or undefined behaviour (the sanitizers; the layer's
//     buffers are exactly as long as the record, the room exactly
//     PlaintextRoom);
//   - RecordSize takes only a header of type 23 with a body of 17 to
//     2^14 + 256 bytes (record_overflow beyond: RFC 8446 5.2);
//   - Receive accepts a record only if it opens under the key and sequence
//     number the layer must be at, as the peer follows them (so: sealed by
//     the peer, intact, in order; anything else fails with bad_record_mac);
//   - what a record that opens does agrees with RFC 8446 as predicted from
//     its plaintext: application data comes out byte-exact, with
//     data_bytes <= PlaintextRoom; close_notify closes; user_canceled does
//     nothing; other alerts end the connection without an answer; a KeyUpdate
//     moves the read key on and, when it asks for one, is answered by a
//     KeyUpdate(update_not_requested) before the layer's next application data
//     (unless the layer sent its close_notify); padding-only
//     records, content over 2^14 bytes, unknown content types, empty handshake
//     records, handshake messages other than a 1-byte KeyUpdate, a KeyUpdate
//     not ending its record, a bad request_update and records interleaved with
//     a cut handshake message fail, with the alert RFC 8446 requires where it
//     names one;
//   - every failure of RecordSize or Receive is kDataLoss, and once any call
//     failed every later one returns that same status (Send: an error) and
//     writes nothing;
//   - everything appended to `out` is whole, well-formed records (type 23,
//     version 0x0303, a body of 17 to 2^14 + 256 bytes) that open under the
//     layer's key as the peer follows it: a failure adds exactly one fatal
//     alert (none after the layer's own close_notify or the peer's alert),
//     nothing follows an alert, Send's data comes out byte-exact in records of
//     at most 2^14 bytes and never at or past the per-key record limit, and a
//     KeyUpdate comes only as that answer, when the layer's key reached its
//     limit, or (update_requested, once per key) when the peer's did;
//   - the layer's counters (records received, KeyUpdates received and sent)
//     agree with what the peer saw.
#include <openssl/err.h>
#include <openssl/evp.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "proto/tls13_record_layer.h"
#include "proto/tls13_traffic_keys.h"
#include "tests/fuzz/fuzz_check.h"

namespace camproto {
namespace {

using Layer = Tls13RecordLayer;

constexpr uint8_t kContentAlert = 21;
constexpr uint8_t kContentHandshake = 22;
constexpr uint8_t kContentApplicationData = 23;
constexpr uint8_t kHandshakeKeyUpdate = 24;
constexpr uint8_t kAlertLevelWarning = 1;
constexpr uint8_t kAlertLevelFatal = 2;
// The most a record's 16-bit length can carry besides the tag.
constexpr size_t kMaxSealedInner = 0xffff - kTls13TagBytes;

// The input, read front to back; zeros once it runs out.
class Input {
 public:
  explicit Input(absl::Span<const uint8_t> bytes) : bytes_(bytes) {}
  bool empty() const { return bytes_.empty(); }
  uint8_t Byte() {
    if (bytes_.empty()) return 0;
    const uint8_t b = bytes_[0];
    bytes_.remove_prefix(1);
    return b;
  }
  uint16_t Word() {
    const uint16_t high = Byte();
    return static_cast<uint16_t>(high << 8 | Byte());
  }
  absl::Span<const uint8_t> Take(size_t n) {
    n = std::min(n, bytes_.size());
    const absl::Span<const uint8_t> taken = bytes_.first(n);
    bytes_.remove_prefix(n);
    return taken;
  }

 private:
  absl::Span<const uint8_t> bytes_;
};

// Sizes no input byte can count, around every limit of the record layer.
constexpr size_t kSizes[16] = {0,     1,     255,   1000,  4096,  16383, 16384, 16385,
                               16400, 16639, 16640, 16641, 16700, 20000, 32768, 65000};

// Bytes from the input: below 0xe0, that many input bytes; otherwise one of
// kSizes, filled with the next input byte.
std::vector<uint8_t> ReadBytes(Input& in) {
  const uint8_t spec = in.Byte();
  if (spec < 0xe0) {
    const absl::Span<const uint8_t> bytes = in.Take(spec);
    return {bytes.begin(), bytes.end()};
  }
  const size_t size = kSizes[(spec - 0xe0) % 16];
  return std::vector<uint8_t>(size, in.Byte());
}

// Zero padding: mostly none, some short, some past every limit.
size_t ReadPadding(Input& in) {
  const uint8_t spec = in.Byte();
  if (spec < 0x80) return 0;
  if (spec < 0xf0) return spec - 0x80;
  return kSizes[spec - 0xf0];
}

// TLSInnerPlaintext (RFC 8446 5.2): content, type, zeros; cut to what one
// record can carry.
std::vector<uint8_t> InnerPlaintext(absl::Span<const uint8_t> content, uint8_t type, size_t padding) {
  content = content.first(std::min(content.size(), kMaxSealedInner - 1));
  padding = std::min(padding, kMaxSealedInner - 1 - content.size());
  std::vector<uint8_t> inner(content.begin(), content.end());
  inner.push_back(type);
  inner.resize(inner.size() + padding, 0);
  return inner;
}

// One direction's secret, key and sequence number, as the peer follows them.
struct DirectionKeys {
  const Tls13Suite* suite = nullptr;
  Tls13TrafficSecret secret;
  Tls13TrafficKey key;
  uint64_t sequence = 0;

  void Install(const Tls13TrafficSecret& next) {
    absl::StatusOr<Tls13TrafficKey> derived = DeriveTrafficKey(*suite, next);
    FUZZ_CHECK_MSG(derived.ok(), derived.status().ToString());
    secret = next;
    key = *derived;
    sequence = 0;
  }
  // After a KeyUpdate (RFC 8446 7.2).
  void MoveOn() {
    absl::StatusOr<Tls13TrafficSecret> next = NextTrafficSecret(*suite, secret);
    FUZZ_CHECK_MSG(next.ok(), next.status().ToString());
    Install(*next);
  }
  // RFC 8446 5.3: the IV XORed with the sequence number.
  std::array<uint8_t, kTls13IvBytes> Nonce() const {
    std::array<uint8_t, kTls13IvBytes> nonce = key.iv;
    for (int i = 0; i < 8; ++i) {
      nonce[kTls13IvBytes - 1 - i] ^= static_cast<uint8_t>(sequence >> (8 * i));
    }
    return nonce;
  }
};

// The peer's own AEAD context, apart from the layer's per-thread ones.
EVP_CIPHER_CTX* PeerAead() {
  static EVP_CIPHER_CTX* const context = EVP_CIPHER_CTX_new();
  return context;
}

// Appends a record that seals `inner` under `keys`, with `version` as its
// legacy_record_version.
void Seal(DirectionKeys& keys, uint16_t version, absl::Span<const uint8_t> inner, std::vector<uint8_t>& wire) {
  const size_t body = inner.size() + kTls13TagBytes;
  FUZZ_CHECK(!inner.empty() && body <= 0xffff);
  const size_t at = wire.size();
  wire.resize(at + Layer::kHeaderBytes + body);
  uint8_t* record = wire.data() + at;
  record[0] = kContentApplicationData;
  record[1] = static_cast<uint8_t>(version >> 8);
  record[2] = static_cast<uint8_t>(version);
  record[3] = static_cast<uint8_t>(body >> 8);
  record[4] = static_cast<uint8_t>(body);
  uint8_t* sealed = record + Layer::kHeaderBytes;
  const std::array<uint8_t, kTls13IvBytes> nonce = keys.Nonce();
  EVP_CIPHER_CTX* aead = PeerAead();
  int length = 0;
  int final_length = 0;
  const bool ok = aead != nullptr &&
                  EVP_EncryptInit_ex2(aead, keys.suite->aead, keys.key.key.data(), nonce.data(), nullptr) == 1 &&
                  EVP_EncryptUpdate(aead, nullptr, &length, record, Layer::kHeaderBytes) == 1 &&
                  EVP_EncryptUpdate(aead, sealed, &length, inner.data(), static_cast<int>(inner.size())) == 1 &&
                  static_cast<size_t>(length) == inner.size() &&
                  EVP_EncryptFinal_ex(aead, sealed + inner.size(), &final_length) == 1 && final_length == 0 &&
                  EVP_CIPHER_CTX_ctrl(aead, EVP_CTRL_AEAD_GET_TAG, kTls13TagBytes, sealed + inner.size()) == 1;
  FUZZ_CHECK_MSG(ok, "the peer could not seal a record");
  ++keys.sequence;
}

// The TLSInnerPlaintext of `record` (header included), opened under `keys`;
// nullopt if it does not open.
std::optional<std::vector<uint8_t>> Open(DirectionKeys& keys, absl::Span<const uint8_t> record) {
  const size_t sealed = record.size() - Layer::kHeaderBytes - kTls13TagBytes;
  std::vector<uint8_t> inner(sealed);
  std::array<uint8_t, kTls13TagBytes> tag;
  std::memcpy(tag.data(), record.data() + Layer::kHeaderBytes + sealed, tag.size());
  const std::array<uint8_t, kTls13IvBytes> nonce = keys.Nonce();
  EVP_CIPHER_CTX* aead = PeerAead();
  int length = 0;
  int final_length = 0;
  const bool ok =
      aead != nullptr && EVP_DecryptInit_ex2(aead, keys.suite->aead, keys.key.key.data(), nonce.data(), nullptr) == 1 &&
      EVP_DecryptUpdate(aead, nullptr, &length, record.data(), Layer::kHeaderBytes) == 1 &&
      EVP_DecryptUpdate(aead, inner.data(), &length, record.data() + Layer::kHeaderBytes, static_cast<int>(sealed)) ==
          1 &&
      static_cast<size_t>(length) == sealed &&
      EVP_CIPHER_CTX_ctrl(aead, EVP_CTRL_AEAD_SET_TAG, kTls13TagBytes, tag.data()) == 1 &&
      EVP_DecryptFinal_ex(aead, inner.data() + sealed, &final_length) == 1;
  if (!ok) {
    ERR_clear_error();
    return std::nullopt;
  }
  ++keys.sequence;
  return inner;
}

// What the layer must do with a record that opens, predicted from RFC 8446. kEither: the RFC leaves it open (a
// handshake message whose header is already wrong but not yet whole).
enum class Verdict { kAccept, kRefuse, kEither };
enum class Kind { kData, kCloseNotify, kUserCanceled, kPeerAlert, kHandshakeFragment, kKeyUpdate, kOther };

struct Prediction {
  Verdict verdict = Verdict::kRefuse;
  Kind kind = Kind::kOther;
  bool update_requested = false;
  uint8_t alert = 0;          // the alert a refusal must send where the RFC names one; 0: any
  std::vector<uint8_t> data;  // application data
};

// What a receiver does with a record whose TLSInnerPlaintext is `inner`,
// carrying the handshake message in progress in `handshake` from record to
// record.
Prediction Predict(absl::Span<const uint8_t> inner, std::vector<uint8_t>& handshake) {
  Prediction record;
  size_t end = inner.size();
  while (end > 0 && inner[end - 1] == 0) --end;
  record.verdict = Verdict::kRefuse;
  if (end == 0) {
    record.alert = Layer::kUnexpectedMessage;  // RFC 8446 5.4
    return record;
  }
  const uint8_t type = inner[end - 1];
  const absl::Span<const uint8_t> content = inner.first(end - 1);
  // RFC 8446 5.4: content, type and padding together at most 2^14 + 1. Only
  // senders are told so; the layer refuses it, as a receiver may.
  if (inner.size() > Layer::kMaxPlaintextBytes + 1) {
    record.alert = Layer::kRecordOverflow;
    return record;
  }
  if (!handshake.empty() && type != kContentHandshake) return record;  // RFC 8446 5.1
  switch (type) {
    case kContentApplicationData:
      record.verdict = Verdict::kAccept;
      record.kind = Kind::kData;
      record.data.assign(content.begin(), content.end());
      break;
    case kContentAlert:
      // RFC 8446 5.1 and 6: one whole alert per record; close_notify and
      // user_canceled close, every other alert is an error.
      if (content.size() != 2) return record;
      if (content[1] == Layer::kCloseNotify) {
        record.verdict = Verdict::kAccept;
        record.kind = Kind::kCloseNotify;
      } else if (content[1] == Layer::kUserCanceled) {
        record.verdict = Verdict::kAccept;
        record.kind = Kind::kUserCanceled;
      } else {
        record.kind = Kind::kPeerAlert;
      }
      break;
    case kContentHandshake:
      if (content.empty()) return record;  // RFC 8446 5.1: no zero-length fragments
      record.verdict = Verdict::kAccept;
      record.kind = Kind::kHandshakeFragment;
      for (size_t i = 0; i < content.size(); ++i) {
        handshake.push_back(content[i]);
        // After the handshake only a KeyUpdate (4.6.3), whose body is 1 byte.
        const bool bad_header = handshake[0] != kHandshakeKeyUpdate || (handshake.size() > 1 && handshake[1] != 0) ||
                                (handshake.size() > 2 && handshake[2] != 0) ||
                                (handshake.size() > 3 && handshake[3] != 1);
        if (bad_header) {
          if (handshake.size() >= 4) {
            record.verdict = Verdict::kRefuse;
            return record;
          }
          record.verdict = Verdict::kEither;
          continue;
        }
        if (handshake.size() < 5) continue;
        const uint8_t request = handshake[4];
        handshake.clear();
        if (request > 1) {
          record.verdict = Verdict::kRefuse;
          record.alert = Layer::kIllegalParameter;  // RFC 8446 4.6.3
          return record;
        }
        if (i + 1 != content.size()) {
          record.verdict = Verdict::kRefuse;
          record.alert = Layer::kUnexpectedMessage;  // RFC 8446 5.1: not across a key change
          return record;
        }
        record.kind = Kind::kKeyUpdate;
        record.update_requested = request == 1;
      }
      break;
    default:
      record.alert = Layer::kUnexpectedMessage;  // RFC 8446 5
      return record;
  }
  return record;
}

// One record the layer wrote, opened.
struct Written {
  uint8_t type = 0;
  std::vector<uint8_t> content;
  uint64_t sequence = 0;  // under the layer's key of the time
};

enum Op : uint8_t {
  kSealData,       // content, padding
  kSealRecord,     // type, version, content, padding
  kSealAlert,      // level, description, padding
  kSealKeyUpdate,  // flags (request, cut, more bytes, padding), [request], [bytes], [padding]
  kSendRaw,        // bytes
  kFlipByte,       // position from the end (2 bytes), mask
  kRewriteLength,  // of the last sealed record: delta, or a new length
  kCutTail,        // bytes to drop
  kDeliver,        // how many more bytes arrive (0: all)
  kServerSend,     // bytes
  kServerCloseNotify,
  kServerFail,  // alert
  kOpCount,
};

class Connection {
 public:
  Connection(const Tls13Suite& suite, uint64_t records_written, uint64_t records_per_key) : limit_(records_per_key) {
    Tls13TrafficSecret client;
    Tls13TrafficSecret server;
    client.size = server.size = suite.secret_bytes;
    for (size_t i = 0; i < suite.secret_bytes; ++i) {
      client.bytes[i] = static_cast<uint8_t>(7 * i + 1);
      server.bytes[i] = static_cast<uint8_t>(0xa5 ^ (13 * i));
    }
    absl::StatusOr<std::unique_ptr<Layer>> layer =
        Layer::Create(suite, client, server, records_written, records_per_key);
    FUZZ_CHECK_MSG(layer.ok(), layer.status().ToString());
    layer_ = std::move(*layer);
    peer_write_.suite = layer_read_.suite = layer_write_.suite = &suite;
    peer_write_.Install(client);
    layer_read_.Install(client);
    layer_write_.Install(server);
    layer_write_.sequence = records_written;
  }

  void Run(Op op, Input& in) {
    switch (op) {
      case kSealData: {
        const std::vector<uint8_t> content = ReadBytes(in);
        SealInner(InnerPlaintext(content, kContentApplicationData, ReadPadding(in)), 0x0303);
        break;
      }
      case kSealRecord: {
        const uint8_t type = in.Byte();
        const uint8_t v = in.Byte();
        const uint16_t version = v < 0xc0 ? 0x0303 : static_cast<uint16_t>(0x0300 | (v & 0x3f));
        const std::vector<uint8_t> content = ReadBytes(in);
        SealInner(InnerPlaintext(content, type, ReadPadding(in)), version);
        break;
      }
      case kSealAlert: {
        const uint8_t alert[2] = {in.Byte(), in.Byte()};
        SealInner(InnerPlaintext(alert, kContentAlert, ReadPadding(in)), 0x0303);
        break;
      }
      case kSealKeyUpdate:
        SealKeyUpdate(in);
        break;
      case kSendRaw: {
        const std::vector<uint8_t> bytes = ReadBytes(in);
        wire_.insert(wire_.end(), bytes.begin(), bytes.end());
        break;
      }
      case kFlipByte: {
        const uint16_t back = in.Word();
        uint8_t mask = in.Byte();
        if (mask == 0) mask = 0x80;
        if (wire_.size() > consumed_) wire_[wire_.size() - 1 - back % (wire_.size() - consumed_)] ^= mask;
        break;
      }
      case kRewriteLength:
        RewriteLength(in);
        break;
      case kCutTail: {
        const size_t n = std::min<size_t>(std::max<uint8_t>(in.Byte(), 1), wire_.size() - consumed_);
        wire_.resize(wire_.size() - n);
        visible_ = std::min(visible_, wire_.size());
        if (last_sealed_at_ != kNone && last_sealed_at_ + Layer::kHeaderBytes > wire_.size()) last_sealed_at_ = kNone;
        break;
      }
      case kDeliver: {
        const uint8_t b = in.Byte();
        Deliver(b == 0 ? wire_.size() : b < 0x80 ? b : size_t{b - 0x7fu} * 512);
        break;
      }
      case kServerSend:
        ServerSend(ReadBytes(in));
        break;
      case kServerCloseNotify:
        ServerCloseNotify();
        break;
      case kServerFail:
        ServerFail(in.Byte());
        break;
      case kOpCount:
        break;
    }
  }

  // Everything sent arrives, the server sends a last byte (so an answer still
  // owed must come out); then the layer's counters are checked.
  void Finish() {
    Deliver(wire_.size());
    if (!failed_ && !quiet_) ServerSend({'.'});
    FUZZ_CHECK(layer_->records_received() == opened_);
    FUZZ_CHECK(layer_->key_updates_received() == key_updates_received_);
    FUZZ_CHECK(layer_->key_updates_sent() == key_updates_sent_);
    FUZZ_CHECK(out_read_ == out_.size());
  }

 private:
  // Seals `inner` as the peer's next record. After a KeyUpdate the peer's
  // next records go under its next key (RFC 8446 4.6.3).
  void SealInner(const std::vector<uint8_t>& inner, uint16_t version) {
    const Prediction prediction = Predict(inner, peer_handshake_);
    last_sealed_at_ = wire_.size();
    Seal(peer_write_, version, inner, wire_);
    if (prediction.kind == Kind::kKeyUpdate && prediction.verdict != Verdict::kRefuse) peer_write_.MoveOn();
  }

  // A KeyUpdate: flags bits 0-1 the request (3: the next byte), bits 2-4 where
  // it is cut in two records (1 to 4; otherwise whole), bit 5 more bytes after
  // it in its (last) record, bit 6 padding.
  void SealKeyUpdate(Input& in) {
    const uint8_t flags = in.Byte();
    const uint8_t request = (flags & 3) == 3 ? in.Byte() : flags & 3;
    std::vector<uint8_t> message = {kHandshakeKeyUpdate, 0, 0, 1, request};
    if (flags & 0x20) {
      const std::vector<uint8_t> more = ReadBytes(in);
      message.insert(message.end(), more.begin(), more.end());
    }
    const size_t padding = (flags & 0x40) ? ReadPadding(in) : 0;
    const size_t cut = (flags >> 2) & 7;
    if (cut >= 1 && cut <= 4) {
      SealInner(InnerPlaintext(absl::MakeConstSpan(message).first(cut), kContentHandshake, 0), 0x0303);
      SealInner(InnerPlaintext(absl::MakeConstSpan(message).subspan(cut), kContentHandshake, padding), 0x0303);
    } else {
      SealInner(InnerPlaintext(message, kContentHandshake, padding), 0x0303);
    }
  }

  // The last sealed record's length, if none of it was handed over yet: below
  // 0x80, a delta of -64 to 63 (0 becomes 1); otherwise 15 bits of a new one.
  void RewriteLength(Input& in) {
    const uint8_t b = in.Byte();
    if (last_sealed_at_ == kNone || last_sealed_at_ < consumed_) return;
    uint8_t* header = wire_.data() + last_sealed_at_;
    const int old_length = header[3] << 8 | header[4];
    int length = b < 0x80 ? old_length + (b == 0x40 ? 1 : b - 0x40) : ((b & 0x7f) << 8) | in.Byte();
    length = std::clamp(length, 0, 0xffff);
    header[3] = static_cast<uint8_t>(length >> 8);
    header[4] = static_cast<uint8_t>(length);
  }

  // Opens what the layer appended to out_ since last time, checking that it
  // is whole, well-formed records under the layer's key as the peer follows
  // it, and that nothing follows an alert.
  std::vector<Written> TakeWritten() {
    std::vector<Written> written;
    while (out_read_ < out_.size()) {
      FUZZ_CHECK_MSG(!quiet_, "the layer wrote a record after its alert");
      const absl::Span<const uint8_t> rest = absl::MakeConstSpan(out_).subspan(out_read_);
      FUZZ_CHECK_MSG(rest.size() >= Layer::kHeaderBytes, "a cut record in out");
      FUZZ_CHECK(rest[0] == kContentApplicationData && rest[1] == 0x03 && rest[2] == 0x03);
      const size_t body = size_t{rest[3]} << 8 | rest[4];
      FUZZ_CHECK_MSG(body >= Layer::kMinBodyBytes && body <= Layer::kMaxBodyBytes,
                     absl::StrCat("the layer wrote a body of ", body, " bytes"));
      FUZZ_CHECK_MSG(rest.size() >= Layer::kHeaderBytes + body, "a cut record in out");
      Written record;
      record.sequence = layer_write_.sequence;
      std::optional<std::vector<uint8_t>> inner = Open(layer_write_, rest.first(Layer::kHeaderBytes + body));
      FUZZ_CHECK_MSG(inner.has_value(), "the layer's record does not open under its key");
      out_read_ += Layer::kHeaderBytes + body;
      size_t end = inner->size();
      while (end > 0 && (*inner)[end - 1] == 0) --end;
      FUZZ_CHECK_MSG(end > 0, "the layer wrote a record without a content type");
      record.type = (*inner)[end - 1];
      record.content.assign(inner->begin(), inner->begin() + static_cast<ptrdiff_t>(end - 1));
      const std::vector<uint8_t>& content = record.content;
      switch (record.type) {
        case kContentApplicationData:
          FUZZ_CHECK(content.size() <= Layer::kMaxPlaintextBytes);
          // RFC 8446 5.5: the key moves on before it wears out.
          FUZZ_CHECK_MSG(record.sequence < limit_,
                         absl::StrCat("data sealed at sequence ", record.sequence, " of a key limited to ", limit_));
          break;
        case kContentAlert:
          FUZZ_CHECK_MSG(
              content.size() == 2 && ((content[0] == kAlertLevelWarning && content[1] == Layer::kCloseNotify) ||
                                      (content[0] == kAlertLevelFatal && content[1] != Layer::kCloseNotify)),
              "the layer wrote a malformed alert");
          quiet_ = true;
          break;
        case kContentHandshake:
          FUZZ_CHECK_MSG(content.size() == 5 && content[0] == kHandshakeKeyUpdate && content[1] == 0 &&
                             content[2] == 0 && content[3] == 1 && content[4] <= 1,
                         "the layer wrote a handshake message other than a KeyUpdate");
          layer_write_.MoveOn();
          ++key_updates_sent_;
          break;
        default:
          FUZZ_CHECK_MSG(false, absl::StrCat("the layer wrote a record of type ", record.type));
      }
      written.push_back(std::move(record));
    }
    return written;
  }

  static bool IsKeyUpdate(const Written& w, uint8_t request) {
    return w.type == kContentHandshake && w.content.size() == 5 && w.content[4] == request;
  }

  // The first failure of a call: kDataLoss when it is the peer's doing, and
  // exactly one fatal alert (`alert` if not 0) unless the layer already went
  // quiet or `answered` is false.
  void CheckFirstFailure(const absl::Status& status, const std::vector<Written>& written, bool was_quiet, uint8_t alert,
                         bool answered) {
    FUZZ_CHECK(!status.ok());
    FUZZ_CHECK_MSG(status.code() == absl::StatusCode::kDataLoss, status.ToString());
    if (answered && !was_quiet) {
      FUZZ_CHECK_MSG(
          written.size() == 1 && written[0].type == kContentAlert && written[0].content[0] == kAlertLevelFatal,
          absl::StrCat("no fatal alert for ", status.ToString()));
      FUZZ_CHECK_MSG(alert == 0 || written[0].content[1] == alert,
                     absl::StrCat("alert ", written[0].content[1], " instead of ", alert, " for ", status.ToString()));
    } else {
      FUZZ_CHECK_MSG(written.empty(), status.ToString());
    }
    failed_ = true;
    failure_ = status;
    quiet_ = true;
  }

  // A later call after a failure: the same status, nothing written.
  void CheckStillFailed(const absl::Status& status) {
    FUZZ_CHECK_MSG(status == failure_, absl::StrCat(status.ToString(), " after ", failure_.ToString()));
    FUZZ_CHECK_MSG(TakeWritten().empty(), "the layer wrote after it failed");
  }

  // What RecordSize must say of the header at the front of `arrived`.
  void CheckRecordSize(absl::Span<const uint8_t> arrived, const absl::StatusOr<size_t>& size, bool was_quiet) {
    const std::vector<Written> written = TakeWritten();
    const size_t body = size_t{arrived[3]} << 8 | arrived[4];
    if (arrived[0] != kContentApplicationData) {
      CheckFirstFailure(size.status(), written, was_quiet, Layer::kUnexpectedMessage, true);  // RFC 8446 5
    } else if (body > Layer::kMaxBodyBytes) {
      CheckFirstFailure(size.status(), written, was_quiet, Layer::kRecordOverflow, true);  // RFC 8446 5.2
    } else if (body < Layer::kMinBodyBytes) {
      CheckFirstFailure(size.status(), written, was_quiet, 0, true);
    } else {
      FUZZ_CHECK_MSG(size.ok(), size.status().ToString());
      FUZZ_CHECK(*size == Layer::kHeaderBytes + body);
      FUZZ_CHECK(written.empty());
    }
  }

  // Lets `bytes` more of what was sent arrive, and hands over every whole
  // record as TlsChannel::ReadRecords does.
  void Deliver(size_t bytes) {
    visible_ = std::min(wire_.size(), visible_ + std::min(bytes, wire_.size()));
    if (failed_) {
      ProbeAfterFailure();
      return;
    }
    while (!failed_ && !peer_closed_ && visible_ - consumed_ >= Layer::kHeaderBytes) {
      // What has arrived, in a buffer of its own size (as a lent receive
      // buffer), so that a read past it is caught.
      const size_t arrived_bytes = std::min(visible_ - consumed_, Layer::kHeaderBytes + Layer::kMaxBodyBytes + 1);
      const std::vector<uint8_t> arrived(wire_.begin() + static_cast<ptrdiff_t>(consumed_),
                                         wire_.begin() + static_cast<ptrdiff_t>(consumed_ + arrived_bytes));
      bool was_quiet = quiet_;
      const absl::StatusOr<size_t> size = layer_->RecordSize(arrived, out_);
      CheckRecordSize(arrived, size, was_quiet);
      if (!size.ok() || visible_ - consumed_ < *size) return;

      const std::vector<uint8_t> record(wire_.begin() + static_cast<ptrdiff_t>(consumed_),
                                        wire_.begin() + static_cast<ptrdiff_t>(consumed_ + *size));
      std::vector<uint8_t> dst(Layer::PlaintextRoom(record.size()));
      was_quiet = quiet_;
      const absl::StatusOr<Layer::Received> got = layer_->Receive(record, absl::MakeSpan(dst), out_);
      consumed_ += record.size();
      const std::vector<Written> written = TakeWritten();
      // Whether the record is the peer's is for the AEAD to say, not where it
      // came from: the fuzzer may learn a sealed record and send it raw.
      const uint64_t sequence = layer_read_.sequence;
      const std::optional<std::vector<uint8_t>> inner = Open(layer_read_, record);
      if (!inner.has_value()) {
        // RFC 8446 5.2: what does not open under the layer's key fails.
        FUZZ_CHECK_MSG(!got.ok(), "the layer accepted a record that does not open under its key");
        CheckFirstFailure(got.status(), written, was_quiet, Layer::kBadRecordMac, true);
        return;
      }
      ++opened_;
      const Prediction prediction = Predict(*inner, received_handshake_);
      CheckReceived(prediction, sequence, got, dst, written, was_quiet);
      if (got.ok() && prediction.kind == Kind::kKeyUpdate) layer_read_.MoveOn();
    }
  }

  // What Receive must have done with a record that opens, the `sequence`th
  // under the layer's read key.
  void CheckReceived(const Prediction& expected, uint64_t sequence, const absl::StatusOr<Layer::Received>& got,
                     absl::Span<const uint8_t> dst, const std::vector<Written>& written, bool was_quiet) {
    if (expected.verdict == Verdict::kRefuse || (expected.verdict == Verdict::kEither && !got.ok())) {
      FUZZ_CHECK_MSG(!got.ok(), "the layer accepted a record RFC 8446 has it refuse");
      // A peer's fatal alert is not answered (RFC 8446 6.2: it closed).
      CheckFirstFailure(got.status(), written, was_quiet, expected.verdict == Verdict::kRefuse ? expected.alert : 0,
                        expected.kind != Kind::kPeerAlert);
      return;
    }
    FUZZ_CHECK_MSG(got.ok(), absl::StrCat("a record that opens was refused: ", got.status().ToString()));
    FUZZ_CHECK(got->data_bytes <= dst.size());
    FUZZ_CHECK(got->closed == (expected.kind == Kind::kCloseNotify));
    if (expected.kind == Kind::kData) {
      FUZZ_CHECK_MSG(got->data_bytes == expected.data.size(),
                     absl::StrCat(got->data_bytes, " bytes of data instead of ", expected.data.size()));
      FUZZ_CHECK_MSG(std::equal(expected.data.begin(), expected.data.end(), dst.begin()),
                     "application data changed on the way");
    } else {
      FUZZ_CHECK(got->data_bytes == 0);
    }
    if (expected.kind == Kind::kCloseNotify) {
      FUZZ_CHECK(written.empty());
      peer_closed_ = true;  // TlsChannel reads no further
      return;
    }
    uint64_t read_sequence = sequence + 1;
    if (expected.kind == Kind::kKeyUpdate) {
      ++key_updates_received_;
      asked_peer_ = false;
      read_sequence = 0;
      // RFC 8446 4.6.3: answered by a KeyUpdate(update_not_requested) before
      // the next application data (which ServerSend and Finish check).
      if (expected.update_requested && !was_quiet) answer_owed_ = true;
    }
    // Receive may write only KeyUpdates: that answer, or its own request once
    // the peer's key is worn out (RFC 8446 5.5), asked once per key.
    for (const Written& w : written) {
      if (IsKeyUpdate(w, 0)) {
        FUZZ_CHECK_MSG(answer_owed_, "Receive wrote a KeyUpdate nobody asked for");
        answer_owed_ = false;
      } else {
        FUZZ_CHECK_MSG(IsKeyUpdate(w, 1), "Receive wrote a record other than a KeyUpdate");
        FUZZ_CHECK_MSG(read_sequence >= limit_ && !asked_peer_,
                       absl::StrCat("asked the peer to move on after ", read_sequence, " records of its key"));
        asked_peer_ = true;
      }
    }
  }

  // Once failed, RecordSize and Receive keep returning the failure and write
  // nothing, even given a record that would open.
  void ProbeAfterFailure() {
    DirectionKeys keys = layer_read_;
    std::vector<uint8_t> record;
    Seal(keys, 0x0303, InnerPlaintext({}, kContentApplicationData, 0), record);
    CheckStillFailed(layer_->RecordSize(record, out_).status());
    std::vector<uint8_t> dst(Layer::PlaintextRoom(record.size()));
    CheckStillFailed(layer_->Receive(record, absl::MakeSpan(dst), out_).status());
  }

  void ServerSend(const std::vector<uint8_t>& data) {
    const bool was_quiet = quiet_;
    const absl::Status status = layer_->Send(data, out_);
    const std::vector<Written> written = TakeWritten();
    if (failed_ || was_quiet) {
      FUZZ_CHECK_MSG(!status.ok(), "Send after the layer failed or sent its alert");
      FUZZ_CHECK(written.empty());
      return;
    }
    FUZZ_CHECK_MSG(status.ok(), status.ToString());
    std::vector<uint8_t> sent;
    for (const Written& w : written) {
      if (w.type == kContentApplicationData) {
        FUZZ_CHECK_MSG(!answer_owed_, "data sent before the answer to the peer's KeyUpdate (RFC 8446 4.6.3)");
        sent.insert(sent.end(), w.content.begin(), w.content.end());
      } else {
        // The answer still owed, or the layer's own rekeying once its key is
        // used up.
        FUZZ_CHECK_MSG(IsKeyUpdate(w, 0) && (answer_owed_ || w.sequence >= limit_),
                       "Send wrote a record other than data");
        answer_owed_ = false;
      }
    }
    FUZZ_CHECK_MSG(sent == data, "Send's data changed on the way");
  }

  void ServerCloseNotify() {
    const bool was_quiet = quiet_;
    layer_->SendCloseNotify(out_);
    const std::vector<Written> written = TakeWritten();
    if (failed_ || was_quiet) {
      FUZZ_CHECK(written.empty());
      return;
    }
    FUZZ_CHECK_MSG(written.size() == 1 && written[0].type == kContentAlert &&
                       written[0].content[0] == kAlertLevelWarning && written[0].content[1] == Layer::kCloseNotify,
                   "SendCloseNotify wrote no close_notify");
  }

  void ServerFail(uint8_t alert) {
    const bool was_quiet = quiet_;
    const absl::Status given = absl::AbortedError("the server gave up on this camera");
    const absl::Status status = layer_->Fail(given, alert, out_);
    if (failed_) {
      CheckStillFailed(status);
      return;
    }
    const std::vector<Written> written = TakeWritten();
    FUZZ_CHECK(status == given);
    if (alert != 0 && !was_quiet) {
      FUZZ_CHECK(written.size() == 1 && written[0].type == kContentAlert && written[0].content[0] == kAlertLevelFatal &&
                 written[0].content[1] == alert);
    } else {
      FUZZ_CHECK(written.empty());
    }
    failed_ = true;
    failure_ = given;
  }

  static constexpr size_t kNone = ~size_t{0};

  const uint64_t limit_;
  std::unique_ptr<Layer> layer_;
  DirectionKeys peer_write_;                 // what the peer seals with
  DirectionKeys layer_read_;                 // what the layer must open with (behind peer_write_ until all arrived)
  DirectionKeys layer_write_;                // the layer's write key, as the peer follows it
  std::vector<uint8_t> peer_handshake_;      // the handshake message the peer is sending
  std::vector<uint8_t> received_handshake_;  // the one the layer is receiving

  // Everything the peer sent; the layer has had wire_[0, consumed_) and may
  // look at wire_[consumed_, visible_).
  std::vector<uint8_t> wire_;
  size_t consumed_ = 0;
  size_t visible_ = 0;
  size_t last_sealed_at_ = kNone;  // where the peer's last record starts

  std::vector<uint8_t> out_;  // what the layer wrote
  size_t out_read_ = 0;

  bool failed_ = false;
  absl::Status failure_;
  bool peer_closed_ = false;
  bool quiet_ = false;        // the layer sent an alert, or the peer's alert ended the connection
  bool asked_peer_ = false;   // the layer asked the peer to move its key on
  bool answer_owed_ = false;  // the peer's KeyUpdate asked for one
  uint64_t opened_ = 0;
  uint64_t key_updates_received_ = 0;
  uint64_t key_updates_sent_ = 0;
};

const Tls13Suite& SuiteFor(uint8_t bits) {
  static constexpr uint16_t kIds[4] = {0x1301, 0x1302, 0x1303, 0x1301};
  const Tls13Suite* suite = FindTls13Suite(kIds[bits & 3]);
  if (suite == nullptr) suite = FindTls13Suite(0x1301);
  FUZZ_CHECK_MSG(suite != nullptr, "no TLS 1.3 suite in this OpenSSL");
  return *suite;
}

}  // namespace
}  // namespace camproto

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace camproto;
  Input in(absl::MakeConstSpan(data, size));
  const uint8_t settings = in.Byte();
  const uint8_t limit_byte = in.Byte();
  const uint64_t records_written = (settings >> 4) & 7;
  const uint64_t records_per_key = (settings & 0x80) ? 1 + limit_byte % 8 : Layer::kRecordsPerKey;
  std::array<Connection, 2> connections = {
      Connection(SuiteFor(settings), records_written, records_per_key),
      Connection(SuiteFor(settings >> 2), records_written, records_per_key),
  };
  while (!in.empty()) {
    const uint8_t op = in.Byte();
    connections[op & 1].Run(static_cast<Op>((op >> 1) % kOpCount), in);
  }
  for (Connection& connection : connections) connection.Finish();
  return 0;
}
