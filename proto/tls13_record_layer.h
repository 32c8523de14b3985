// The TLS 1.3 record layer after the handshake (RFC 8446 sections 4.6.3, 5
// and 6), in place of OpenSSL's for a server connection once its handshake is
// done.
//
// Why: an idle OpenSSL connection keeps about 17 KB (the SSL object, its
// session, cipher contexts), more than everything else an idle camera costs;
// this keeps the two directions' secrets, keys and sequence numbers (a few
// hundred bytes). And a record is decrypted straight from the receive buffer
// into its destination and encrypted straight into the send buffer, where
// OpenSSL copies ciphertext into its own buffer first and plaintext out after.
//
// What it takes care of after the handshake: application data; the peer's
// KeyUpdate (its read key moves on; when asked, ours too, with a KeyUpdate of
// our own); close_notify; rekeying before a key has protected 2^24 records in
// either direction (RFC 8446 5.5); and a fatal alert for anything else
// (unexpected_message, bad_record_mac, record_overflow, decode_error).
//
//   ASSIGN_OR_RETURN(auto records, Tls13RecordLayer::Create(*suite, client_secret, server_secret, 1));
//   ASSIGN_OR_RETURN(size_t size, records->RecordSize(header, out));  // 5 bytes
//   ASSIGN_OR_RETURN(auto got, records->Receive(record, dst, out));  // dst >= size - 21 bytes
//   RETURN_IF_ERROR(records->Send(plaintext, out));
//
// Ciphertext to send is appended to a caller's vector. The AEAD contexts are
// per thread and re-keyed when another connection's record comes by, so an
// idle connection holds none. Not thread-safe: one connection, one thread.
#ifndef PROTO_TLS13_RECORD_LAYER_H_
#define PROTO_TLS13_RECORD_LAYER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/tls13_traffic_keys.h"

namespace camproto {

class Tls13RecordLayer {
 public:
  static constexpr size_t kHeaderBytes = 5;
  static constexpr size_t kMaxPlaintextBytes = 1 << 14;
  // A protected record's body: content, type, padding and tag (RFC 8446 5.2).
  static constexpr size_t kMaxBodyBytes = kMaxPlaintextBytes + 256;
  static constexpr size_t kMinBodyBytes = 1 + kTls13TagBytes;
  // Each direction moves to a new key after this many records (RFC 8446 5.5
  // allows 2^24.5 full records under one AES-GCM key).
  static constexpr uint64_t kRecordsPerKey = uint64_t{1} << 24;

  // `read_secret` protects what the peer sends, `write_secret` what we send
  // (a server: the client's and the server's application traffic secret 0).
  // `records_written` records were already sent under `write_secret` (by
  // OpenSSL: a server's session tickets). `records_per_key` is lowered only
  // by tests, to see keys move on.
  static absl::StatusOr<std::unique_ptr<Tls13RecordLayer>> Create(
      const Tls13Suite& suite, const Tls13TrafficSecret& read_secret,
      const Tls13TrafficSecret& write_secret, uint64_t records_written,
      uint64_t records_per_key = kRecordsPerKey);
  ~Tls13RecordLayer();
  Tls13RecordLayer(const Tls13RecordLayer&) = delete;
  Tls13RecordLayer& operator=(const Tls13RecordLayer&) = delete;

  // The whole size (header included) of the record whose 5-byte header is
  // `header`. A header no TLS 1.3 peer sends after its handshake (not
  // application_data, a body too short or too long) fails the connection as
  // Receive does, with its alert appended to `out`.
  absl::StatusOr<size_t> RecordSize(absl::Span<const uint8_t> header, std::vector<uint8_t>& out);
  // The room Receive needs in `dst` for a record of `record_size` bytes.
  static size_t PlaintextRoom(size_t record_size) {
    return record_size - kHeaderBytes - kTls13TagBytes;
  }

  struct Received {
    size_t data_bytes = 0;      // application data now at dst[0, data_bytes)
    bool closed = false;        // the peer's close_notify
  };
  // Opens one whole record (RecordSize bytes). Application data is decrypted
  // into `dst` (at least PlaintextRoom bytes; anything there may be
  // overwritten); a KeyUpdate, or our own rekeying, may append records to
  // `out`. On failure the connection is done: a fatal alert is appended to
  // `out` and every later call fails the same way (kDataLoss).
  absl::StatusOr<Received> Receive(absl::Span<const uint8_t> record, absl::Span<uint8_t> dst,
                                   std::vector<uint8_t>& out);

  // Appends `plaintext` to `out` as application_data records of at most
  // 16 KiB each.
  absl::Status Send(absl::Span<const uint8_t> plaintext, std::vector<uint8_t>& out);
  // Appends a close_notify alert (nothing once failed).
  void SendCloseNotify(std::vector<uint8_t>& out);
  // Ends the connection with a fatal alert (if `alert` is not 0 and the
  // connection has not failed already); later calls return `status`.
  absl::Status Fail(absl::Status status, uint8_t alert, std::vector<uint8_t>& out);

  const Tls13Suite& suite() const { return *suite_; }
  uint64_t records_received() const { return received_records_; }
  uint64_t key_updates_received() const { return key_updates_received_; }
  uint64_t key_updates_sent() const { return key_updates_sent_; }

  // Alert descriptions (RFC 8446 6).
  static constexpr uint8_t kCloseNotify = 0;
  static constexpr uint8_t kUnexpectedMessage = 10;
  static constexpr uint8_t kBadRecordMac = 20;
  static constexpr uint8_t kRecordOverflow = 22;
  static constexpr uint8_t kIllegalParameter = 47;
  static constexpr uint8_t kDecodeError = 50;
  static constexpr uint8_t kInternalError = 80;
  static constexpr uint8_t kUserCanceled = 90;

 private:
  // One direction: its secret (for the next KeyUpdate), key, IV and the
  // sequence number of its next record.
  struct Direction {
    Tls13TrafficSecret secret;
    Tls13TrafficKey key;
    uint64_t sequence = 0;
    uint64_t key_id = 0;  // unique per process: a thread's cached AEAD context holds this key
  };

  explicit Tls13RecordLayer(const Tls13Suite& suite) : suite_(&suite) {}
  static absl::Status Install(const Tls13Suite& suite, const Tls13TrafficSecret& secret,
                              Direction& direction);
  absl::Status NextKey(Direction& direction);

  // Appends one record of `content_type` carrying `content` to `out`.
  absl::Status Seal(uint8_t content_type, absl::Span<const uint8_t> content,
                    std::vector<uint8_t>& out);
  // A KeyUpdate of our own: sent under the current key, then ours moves on.
  absl::Status SendKeyUpdate(bool request_peer_update, std::vector<uint8_t>& out);
  // The peer's handshake bytes: only KeyUpdate is allowed after the handshake.
  absl::Status OnHandshakeBytes(absl::Span<const uint8_t> bytes, std::vector<uint8_t>& out);
  absl::StatusOr<Received> OnAlert(absl::Span<const uint8_t> content, std::vector<uint8_t>& out);

  const Tls13Suite* suite_;
  Direction read_;
  Direction write_;
  // A handshake message cut across records: at most a KeyUpdate's 5 bytes.
  uint8_t handshake_bytes_[5] = {};
  uint8_t handshake_length_ = 0;
  uint64_t records_per_key_ = kRecordsPerKey;
  bool asked_peer_to_rekey_ = false;  // since the peer's last KeyUpdate
  bool close_sent_ = false;
  uint64_t received_records_ = 0;
  uint64_t key_updates_received_ = 0;
  uint64_t key_updates_sent_ = 0;
  absl::Status failure_;
};

}  // namespace camproto

#endif  // PROTO_TLS13_RECORD_LAYER_H_
