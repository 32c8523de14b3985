// A camera client that does its own I/O, for firmware without an event loop:
// it owns one TCP + mutual-TLS connection at a time, drives the sans-IO
// CameraClient over it, and takes care of connecting, resuming TLS sessions,
// reconnecting with backoff, and following GOAWAY and REDIRECT.
//
//   ASSIGN_OR_RETURN(auto camera, BlockingCameraClient::Create({
//       .host = "ingest.zone-a.example", .port = 7443,
//       .tls = {.ca_file = "server-ca.crt", .cert_file = "camera.pem"},
//       .client = {.camera_id = "cam-000001"}}));
//   while (recording) {
//     ASSIGN_OR_RETURN(uint64_t seq, camera->AddSegment(start_us, 2'000'000, true, bytes));
//     RETURN_IF_ERROR(camera->Poll(absl::Milliseconds(100)));  // between captures
//   }
//   RETURN_IF_ERROR(camera->Flush(absl::Seconds(30)));
//
// Blocking by design: the socket is non-blocking only so every wait can be
// bounded with poll(2). A connection attempt (TCP connect + TLS handshake)
// runs to completion or connect_timeout once begun, so one Poll may overrun
// its budget by up to connect_timeout. Not thread-safe: one thread owns the
// client.
#ifndef PROTO_BLOCKING_CAMERA_CLIENT_H_
#define PROTO_BLOCKING_CAMERA_CLIENT_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/camera_client.h"
#include "proto/ssl_ptr.h"
#include "proto/tls_channel.h"
#include "proto/tls_client_context.h"

namespace camproto {

struct BlockingCameraClientOptions {
  // The home endpoint: an IPv4/IPv6 literal or a DNS name (resolved with
  // getaddrinfo on every connection attempt, so DNS changes are followed).
  std::string host{};
  uint16_t port = 0;
  // Checked against the server certificate; empty means `host`.
  std::string server_name{};
  CameraTlsFiles tls{};                                // server CA + camera certificate/key
  CameraClientOptions client{};                        // camera id, buffer size, release level
  absl::Duration connect_timeout = absl::Seconds(10);  // TCP connect + TLS handshake
  // A connection is dropped when the server owes us something (WELCOME, an
  // ACK, a PONG) and sends nothing for this long, or a send stalls this long.
  absl::Duration io_timeout = absl::Seconds(30);
  // Delay before reconnecting after a failure: exponential with full jitter,
  // uniform in [0, min(max, min * 2^failures)]. Reset by a WELCOME.
  absl::Duration reconnect_backoff_min = absl::Milliseconds(200);
  absl::Duration reconnect_backoff_max = absl::Seconds(30);
};

class BlockingCameraClient {
 public:
  // Checks `options` (the CameraClient options, a host and port, positive
  // timeouts, min <= max backoff) and loads the TLS files. Does no network
  // I/O: the first Poll connects. Errors name the bad option or file.
  static absl::StatusOr<std::unique_ptr<BlockingCameraClient>> Create(
      BlockingCameraClientOptions options);

  BlockingCameraClient(const BlockingCameraClient&) = delete;
  BlockingCameraClient& operator=(const BlockingCameraClient&) = delete;
  // Closes the connection (with a TLS close_notify); unacknowledged segments
  // are lost with the object.
  ~BlockingCameraClient();

  // Buffers a segment and returns its seq; never touches the network (the
  // next Poll sends it). Fails like CameraClient::AddSegment: ResourceExhausted
  // when the buffer is full, InvalidArgument for an impossible payload.
  absl::StatusOr<uint64_t> AddSegment(int64_t capture_start_us, uint32_t duration_us, bool keyframe,
                                      std::string payload);

  // Does network work for about `budget`: (re)connects when due (respecting
  // backoff, the GOAWAY delay and REDIRECTs, at most CameraClient::kMaxRedirects
  // in a row before going back home), sends what the ack window allows, reads
  // ACKs, answers PINGs and sends a PING after the server's keepalive interval
  // without traffic. Returns OK, or an error only for what retrying cannot fix
  // soon: the server's REJECT (kPermissionDenied) or a certificate refused by
  // either side (kUnauthenticated). After such an error the client stays
  // usable; the next attempt waits reconnect_backoff_max.
  absl::Status Poll(absl::Duration budget);

  // Polls until every buffered segment is acknowledged at the release level
  // (options.client.release_at): OK then, kDeadlineExceeded (with how far the
  // acks got) after `timeout`, or Poll's errors.
  absl::Status Flush(absl::Duration timeout);

  // The protocol state machine: state, acked seqs, counters.
  const CameraClient& protocol() const { return protocol_; }
  // "host:port" of the endpoint in use or next to be tried.
  std::string current_endpoint() const;
  // Connections whose TLS handshake completed.
  int connections() const { return connections_; }
  // True if the latest completed handshake resumed a TLS session.
  bool resumed_last_handshake() const { return resumed_last_handshake_; }
  // Why the last connection ended or the last attempt failed (OK if none
  // did), with endpoint and camera id: for diagnostics and logs.
  const absl::Status& last_disconnect_reason() const { return last_disconnect_reason_; }

 private:
  struct Endpoint {
    std::string host;
    uint16_t port = 0;
    std::string server_name;
  };

  BlockingCameraClient(BlockingCameraClientOptions options, SslCtxPtr ctx);

  // Runs the loop until `done()` holds or `deadline` passes (OK either way).
  absl::Status Run(absl::Time deadline, const std::function<bool()>& done);
  // One step while connected: send, wait for the socket until `wake`, read.
  absl::Status Step(absl::Time wake);
  // TCP connect and TLS handshake to endpoint_, then HELLO is queued.
  absl::Status Connect();
  absl::Status ConnectTcp(absl::Time deadline);
  absl::Status Handshake(absl::Time deadline);
  // Moves pending ciphertext to the socket; waits for room until `deadline`
  // only if `wait` (otherwise sends what fits now).
  absl::Status SendCiphertext(absl::Time deadline, bool wait);
  // Reads what the socket has; false in *open once the peer closed TCP.
  absl::Status ReceiveCiphertext(bool* open);
  // Decrypts received ciphertext and feeds it to the protocol.
  absl::Status DeliverPlaintext(bool* peer_closed);
  // Acts on GOAWAY / REDIRECT / REJECT / ERROR after the protocol saw them.
  absl::Status AfterServerFrames();

  // Closes the connection; the next attempt is at `reconnect_at`.
  void Disconnect(absl::Status reason, absl::Time reconnect_at);
  // Disconnect with the next backoff delay.
  void DisconnectWithBackoff(absl::Status reason);
  absl::Duration NextBackoff();
  // `status` with "camera <id> at <host:port>: " in front of its message.
  absl::Status WithContext(const absl::Status& status) const;
  absl::Status Error(absl::StatusCode code, const std::string& message) const;

  BlockingCameraClientOptions options_;
  SslCtxPtr ctx_;
  // Sessions are kept per endpoint (the cache's key), since a ticket from one
  // zone's servers means nothing to another's.
  ResumptionCache sessions_;
  CameraClient protocol_;
  std::mt19937_64 random_;

  Endpoint home_;
  Endpoint endpoint_;
  int fd_ = -1;
  std::unique_ptr<TlsChannel> tls_;
  std::string plaintext_out_;
  // Receive and decrypt buffer, on the heap: camera threads have small stacks.
  std::vector<uint8_t> io_buffer_;
  absl::Time next_connect_at_ = absl::InfinitePast();
  int failures_ = 0;  // consecutive failed attempts, for the backoff

  absl::Time last_sent_ = absl::InfinitePast();
  absl::Time last_received_ = absl::InfinitePast();
  absl::Time send_stalled_since_ = absl::InfiniteFuture();
  uint64_t ping_nonce_ = 0;  // last PING sent on this connection (0: none)
  bool welcomed_ = false;    // this connection got its WELCOME

  int connections_ = 0;
  bool resumed_last_handshake_ = false;
  absl::Status last_disconnect_reason_;
};

}  // namespace camproto

#endif  // PROTO_BLOCKING_CAMERA_CLIENT_H_
