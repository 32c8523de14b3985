// One TLS connection run over memory, for either role.
//
// The server's io_uring loop and the camera simulator own the sockets and the
// receive/send buffers; TLS only ever sees bytes. Ciphertext goes in with
// FeedCiphertext (copied) or LendCiphertext (read in place, zero-copy), comes
// out with TakeCiphertext, and plaintext moves with Read/WritePlaintext. No
// call blocks and no call touches a file descriptor.
//
//   ASSIGN_OR_RETURN(auto tls, camproto::TlsChannel::CreateServer(ctx));
//   tls->LendCiphertext(received);              // bytes from a recv completion
//   ASSIGN_OR_RETURN(auto state, tls->Handshake());
//   tls->ReleaseLentCiphertext();               // before the buffer is reused
//   tls->TakeCiphertext(send_buffer);           // handshake replies, alerts
//   ...
//   ASSIGN_OR_RETURN(size_t n, tls->ReadPlaintext(dst));  // 0: need more input
//
// A clean close_notify from the peer is reported by ReadPlaintext as an
// absl::StatusCode::kCancelled status (test with IsPeerClosedCleanly); every
// other error means the connection is broken, and any alert OpenSSL produced
// is waiting in the pending ciphertext to be sent before closing.
//
// A server channel whose SSL_CTX went through EnableRecordLayerHandoff leaves
// OpenSSL once its TLS 1.3 handshake is done: the SSL object is freed and the
// channel's own record layer (tls13_record_layer.h) carries the connection
// from then on, with the same calls and the same results. ssl() is then null.
//
// Not thread-safe: a channel belongs to one shard thread. OpenSSL's error queue
// is per thread; every call here clears it before and drains it after.
#ifndef PROTO_TLS_CHANNEL_H_
#define PROTO_TLS_CHANNEL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/ssl_ptr.h"
#include "proto/tls13_record_layer.h"
#include "proto/tls13_traffic_keys.h"

namespace camproto {

// True for the status ReadPlaintext returns after the peer's close_notify.
bool IsPeerClosedCleanly(const absl::Status& status);

// Server connections from `ctx` hand their TLS 1.3 records over to the
// channel's own record layer once the handshake is done, so an idle
// connection no longer holds an OpenSSL connection (about 17 KB) and records
// are decrypted straight into the caller's buffer. Installs `ctx`'s key log
// callback, which is how OpenSSL 3.0 gives out the traffic secrets; a
// connection whose suite or state the record layer does not take (TLS 1.2,
// an unsupported suite, bytes OpenSSL already buffered) stays on OpenSSL.
void EnableRecordLayerHandoff(SSL_CTX* ctx);

class TlsChannel {
 public:
  // A server-side connection from `ctx` (e.g. from CreateServerContext). The
  // channel holds its own reference to `ctx`.
  static absl::StatusOr<std::unique_ptr<TlsChannel>> CreateServer(SSL_CTX* ctx);

  // A client-side connection that verifies the server's certificate against
  // `server_name` (a DNS name, sent as SNI, or an IPv4/IPv6 literal, matched
  // against IP SANs and not sent). `resume_session`, if not null, is offered
  // for resumption; the channel uses its own copy, so `resume_session` stays
  // usable for later connections however this one ends. If the server
  // refuses it a full handshake follows.
  static absl::StatusOr<std::unique_ptr<TlsChannel>> CreateClient(
      SSL_CTX* ctx, const std::string& server_name, SSL_SESSION* resume_session);

  TlsChannel(const TlsChannel&) = delete;
  TlsChannel& operator=(const TlsChannel&) = delete;
  ~TlsChannel();

  // Appends ciphertext received from the peer (copied into the channel).
  void FeedCiphertext(absl::Span<const uint8_t> bytes);

  // Zero-copy input: the following Handshake/ReadPlaintext calls read
  // ciphertext straight out of `bytes` (after any bytes fed earlier), so a
  // receive buffer is decrypted without an intermediate copy. `bytes` must stay
  // valid until ReleaseLentCiphertext(), which must be called before the next
  // LendCiphertext and before the buffer is reused. At most one lend at a time.
  void LendCiphertext(absl::Span<const uint8_t> bytes);
  // Ends a lend: whatever OpenSSL has not read yet is copied into the channel
  // (nothing, when the caller read until ReadPlaintext returned 0). No-op if
  // nothing is lent.
  void ReleaseLentCiphertext();

  enum class HandshakeResult { kDone, kWantMoreInput };
  // Advances the handshake with the ciphertext available so far; replies are
  // left in the pending ciphertext. kDone once finished (and on every later
  // call). On failure: kUnauthenticated when a certificate was refused (ours
  // by the peer, or the peer's by us; the message carries OpenSSL's reason,
  // e.g. "certificate verify failed (SSL routines): certificate has
  // expired"), kInvalidArgument for anything else (garbage, no common protocol
  // version). The alert for the peer is then in the pending ciphertext, and
  // the same error is returned by every later call.
  absl::StatusOr<HandshakeResult> Handshake();

  // True once the handshake has completed.
  bool handshake_done() const;

  // Decrypts into `dst`. Returns the bytes read (> 0), 0 when more ciphertext
  // is needed (post-handshake messages such as TLS 1.3 session tickets are
  // consumed along the way), kCancelled after the peer's close_notify (see
  // IsPeerClosedCleanly), or another error (same codes as Handshake; a
  // corrupted record is kDataLoss). Drives the handshake if it is not done.
  // May leave bytes to send (e.g. a KeyUpdate reply). An empty `dst` reads
  // nothing and returns 0.
  absl::StatusOr<size_t> ReadPlaintext(absl::Span<uint8_t> dst);

  // Plaintext already decrypted and buffered inside OpenSSL, readable without
  // new ciphertext.
  size_t pending_plaintext() const;

  // Encrypts all of `bytes` into the pending ciphertext (records of at most
  // 16 KiB). Never blocks. FailedPrecondition before the handshake is done or
  // after a failure.
  absl::Status WritePlaintext(absl::Span<const uint8_t> bytes);

  // Ciphertext bytes waiting to be sent to the peer.
  size_t pending_ciphertext() const;

  // Moves up to dst.size() pending ciphertext bytes into `dst`, oldest first;
  // returns the count.
  size_t TakeCiphertext(absl::Span<uint8_t> dst);
  // Appends all pending ciphertext to `out`.
  void TakeCiphertext(std::string& out);
  // Zero-copy output: the pending ciphertext in place. Valid until the next
  // call on this channel other than pending_ciphertext(); follow with
  // ConsumeCiphertext(n) for the bytes actually handed to the socket.
  absl::Span<const uint8_t> PeekCiphertext() const;
  // Drops the first n (<= pending_ciphertext()) pending ciphertext bytes.
  void ConsumeCiphertext(size_t n);

  // Queues a close_notify alert (once the handshake is done; otherwise there
  // is nothing to close cleanly and this does nothing).
  void SendCloseNotify();

  // True if the handshake resumed a session (ticket) instead of a full one.
  bool session_resumed() const;
  // The peer's leaf certificate, or null (not owned; valid while the channel
  // lives). On the server, the camera's certificate after the handshake.
  X509* peer_certificate() const;
  // Lets go of the peer's certificate once the owner has read what it needs
  // of it (after the handoff, the parsed certificate is most of what the
  // channel holds: about 5 KB). peer_certificate() is null from then on. No
  // effect while OpenSSL carries the connection (its session holds it).
  void ForgetPeerCertificate() { peer_certificate_.reset(); }

  // The underlying connection, for settings not wrapped here; null once the
  // channel's own record layer has taken over.
  SSL* ssl();
  // The negotiated protocol version (TLS1_3_VERSION, ...), 0 before.
  int protocol_version() const;
  // The record layer that took over after the handshake, or null while
  // OpenSSL carries the connection.
  const Tls13RecordLayer* record_layer() const { return records_.get(); }

  // Frees the buffers an idle connection does not need: OpenSSL's record
  // buffers (they are also released after each record by
  // SSL_MODE_RELEASE_BUFFERS) and the channel's own ciphertext buffers when
  // they are empty. Call when the connection goes idle; buffers come back on
  // the next byte.
  void ReleaseIdleMemory();

 private:
  explicit TlsChannel(SslPtr ssl);
  static absl::StatusOr<std::unique_ptr<TlsChannel>> Create(SSL_CTX* ctx);
  absl::Status ErrorStatus(const char* operation, int ssl_error);

  // The secrets OpenSSL's key log gives out during the handshake.
  struct CapturedSecrets {
    Tls13TrafficSecret client;
    Tls13TrafficSecret server;
    // written_total_ when the server secret came: OpenSSL switches to it
    // right after its Finished, so what it writes after this point (the
    // session ticket) used up the first sequence numbers of that key.
    uint64_t server_key_from = 0;
  };
  friend struct KeyLogHook;
  // The SSL ex_data slot that leads the key log callback to its channel.
  static int ChannelIndex();
  void CaptureSecret(const char* key_log_line);
  // Once a server's TLS 1.3 handshake is done: OpenSSL out, records_ in.
  void HandOffToRecordLayer();
  // The records OpenSSL wrote since byte `from` of its output, if all are
  // still in out_ and whole.
  std::optional<uint64_t> RecordsWrittenSince(uint64_t from) const;
  absl::StatusOr<size_t> ReadRecords(absl::Span<uint8_t> dst);
  // The next whole record, contiguous (an empty span while incomplete).
  absl::StatusOr<absl::Span<const uint8_t>> NextRecord();
  void ConsumeInput(size_t n);
  // out_, emptied first if everything in it was taken.
  std::vector<uint8_t>& CiphertextQueue();

  // The custom BIO's callbacks reach the buffers through these.
  friend struct ChannelBio;
  size_t ReadInput(uint8_t* dst, size_t size);
  void WriteOutput(const uint8_t* src, size_t size);
  size_t input_available() const;

  SslPtr ssl_;
  // Fed (or reclaimed) ciphertext not yet read by OpenSSL: in_[in_pos_..].
  std::vector<uint8_t> in_;
  size_t in_pos_ = 0;
  // Lent ciphertext, read after in_: lent_[lent_pos_..].
  absl::Span<const uint8_t> lent_;
  size_t lent_pos_ = 0;
  // Ciphertext for the peer: out_[out_pos_..].
  std::vector<uint8_t> out_;
  size_t out_pos_ = 0;
  uint64_t written_total_ = 0;  // bytes OpenSSL ever wrote into out_
  // Set on the first fatal error; returned by every later call.
  absl::Status failure_;

  // Until the handshake ends, on a context with the handoff enabled.
  std::unique_ptr<CapturedSecrets> secrets_;
  // After the handoff: the record layer, and what is kept of OpenSSL's
  // connection (the peer's certificate, for revocation checks of live
  // sessions).
  std::unique_ptr<Tls13RecordLayer> records_;
  X509Ptr peer_certificate_;
  bool resumed_ = false;
  bool peer_closed_ = false;
  // A record's plaintext the caller's buffer had no room for:
  // plaintext_[plaintext_begin_, plaintext_end_).
  std::unique_ptr<uint8_t[]> plaintext_;
  size_t plaintext_begin_ = 0;
  size_t plaintext_end_ = 0;
};

}  // namespace camproto

#endif  // PROTO_TLS_CHANNEL_H_
