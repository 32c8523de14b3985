// Test support: one camera connection driven by hand, byte by byte, so tests
// can misbehave on purpose (no certificate, a wrong HELLO, oversized or
// unknown frames, garbage instead of TLS, a half-finished handshake) and see
// exactly what the server answers. Blocking and single-threaded: a TCP socket
// to 127.0.0.1 with SO_RCVTIMEO/SO_SNDTIMEO, and a client TlsChannel pumped
// over it. Every wait is bounded, so a silent server fails a test instead of
// hanging it. Implemented in raw_camera_connection.cc.
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

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "proto/frame.h"
#include "proto/frame_decoder.h"
#include "proto/ssl_ptr.h"
#include "proto/tls_channel.h"

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
std::string HelloFrame(const std::string& camera_id, uint16_t protocol_version = camproto::kProtocolVersion,
                       uint64_t last_durable_seq = 0);

// A SEGMENT frame with `payload_bytes` of a pattern derived from `seq`.
std::string SegmentFrame(uint64_t seq, uint32_t payload_bytes);

class RawCameraConnection final : public camproto::FrameHandler {
 public:
  // Opens the TCP connection and prepares (does not start) the TLS client.
  // Errors name what failed: the certificate files or the connect.
  static absl::StatusOr<std::unique_ptr<RawCameraConnection>> Connect(const RawCameraOptions& options);

  ~RawCameraConnection() override;
  RawCameraConnection(const RawCameraConnection&) = delete;
  RawCameraConnection& operator=(const RawCameraConnection&) = delete;

  // Runs the TLS handshake to completion (within io_timeout). OK once this
  // side considers it done; in TLS 1.3 the server checks the client
  // certificate after that, so a refused certificate shows up as an alert on
  // the next ReadFrame. An error is the TLS failure or how the connection
  // ended (see IsConnectionClosed).
  absl::Status Handshake();

  // The client's first handshake flight (the ClientHello), produced but not
  // sent, for tests that send only part of it with SendRawTcp.
  absl::StatusOr<std::string> TakeClientHello();

  // Encrypts `plaintext` (protocol frames, whole or cut anywhere) and sends
  // it. Requires a finished handshake.
  absl::Status SendPlain(std::string_view plaintext);

  // Sends `bytes` on the socket as they are, bypassing TLS (garbage, a
  // partial ClientHello).
  absl::Status SendRawTcp(std::string_view bytes) { return SendAll(bytes); }

  // The next frame from the server, or how the connection ended, or
  // kDeadlineExceeded if nothing complete arrived within `timeout`
  // (io_timeout when not given). A frame the decoder cannot parse is returned
  // as its decoder error.
  absl::StatusOr<camproto::ControlFrame> ReadFrame(std::optional<absl::Duration> timeout = {});

  // Reads (and drops into `frames_seen`, if given) whatever the server still
  // sends until it closes the connection. OK once closed (the reason is then
  // in close_reason()); kDeadlineExceeded if it is still open at `timeout`.
  absl::Status WaitForClose(absl::Duration timeout, std::vector<camproto::ControlFrame>* frames_seen = nullptr);

  // Reads raw socket bytes, without TLS, until the server closes the
  // connection; for clients that never spoke TLS properly (garbage, a stalled
  // handshake). Returns what the server sent before closing (a TLS alert
  // record, or nothing), or kDeadlineExceeded if it is still open at `timeout`.
  absl::StatusOr<std::string> ReadRawUntilClose(absl::Duration timeout);

  // Half-closes: the server sees end of stream, this side can still read.
  void ShutdownWrite();

  // Encrypts `plaintext` but sends only the first `ciphertext_bytes` of the
  // resulting TLS records (all of them if there are fewer), as a camera that
  // loses power mid-write would: the server sees a frame, or even a TLS
  // record, cut off. The connection is unusable for TLS afterwards; close or
  // Abort it. Returns how many ciphertext bytes were sent.
  absl::StatusOr<size_t> SendPlainCutAt(std::string_view plaintext, size_t ciphertext_bytes);

  // Closes the socket with a TCP reset (SO_LINGER 0) instead of a FIN, as a
  // camera whose network vanished; later calls see the connection closed.
  void Abort();

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
  camproto::SslSessionPtr session();
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
        decoder_(
            camproto::DecoderLimits{.max_control_frame = camproto::kMaxControlFrameBytes, .max_segment_payload = 0}) {}

  absl::Status OpenSocket();

  // Records the first reason the connection ended and returns it.
  absl::Status Closed(absl::Status reason);

  absl::Status SendAll(std::string_view bytes);

  absl::Status FlushCiphertext();

  // Waits (until `deadline`) for ciphertext and feeds it to TLS. A close or
  // reset is recorded as the close reason and returned.
  absl::Status ReceiveCiphertext(absl::Time deadline);

  // Decrypts everything TLS can and decodes it into frames_. A TLS failure
  // (alert), close_notify or an undecodable frame ends the connection and is
  // recorded as the close reason.
  void DecryptAvailable();

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
