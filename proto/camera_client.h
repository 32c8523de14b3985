// The camera side of protocol v1 as a sans-IO state machine: it turns
// recorded segments and bytes from the server into bytes to send, and does no
// I/O, timing or TLS itself. Camera firmware and our simulator link it and
// move the plaintext through their own TLS connection.
//
//   CameraClient client({.camera_id = "cam-0001"});
//   client.AddSegment(start_us, 2'000'000, /*keyframe=*/true, std::move(bytes));
//   client.OnConnected();                     // TLS is up
//   client.TakeOutput(out);  tls.Write(out);  // HELLO (+ segments once welcomed)
//   RETURN_IF_ERROR(client.OnBytes(tls.Read()));
//   client.TakeOutput(out);  tls.Write(out);  // segments the ack window allows
//   ...
//   client.OnDisconnected();                  // then consult goaway()/redirect()/reject()
//
// Segments stay buffered until the server acknowledges them at
// options.release_at; after a reconnect, everything the new server does not
// already hold durably (WELCOME durable_seq) is re-sent in seq order.
#ifndef PROTO_CAMERA_CLIENT_H_
#define PROTO_CAMERA_CLIENT_H_

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "proto/frame.h"
#include "proto/frame_decoder.h"

namespace camproto {

struct CameraClientOptions {
  std::string camera_id;
  std::string firmware_version = "camproto-client/1";
  size_t max_buffered_bytes = 64 << 20;  // camera's local storage for unacknowledged segments
  DurabilityLevel release_at =
      DurabilityLevel::kSpooled;  // drop a segment once acked at this level
};

class CameraClient {
 public:
  enum class State {
    kDisconnected,     // no connection (initially, and after OnDisconnected)
    kAwaitingWelcome,  // HELLO queued or sent
    kStreaming,        // welcomed: segments flow
    kGoaway,           // server asked us to leave: no new segments, acks still count
    kRedirected,       // server named another endpoint; see redirect()
    kRejected,         // server refused the HELLO; see reject()
    kFailed,           // protocol error, by the server (error()) or detected here
  };

  // Callers stop following REDIRECTs once redirects_followed() exceeds this.
  static constexpr int kMaxRedirects = 3;

  struct Counters {
    uint64_t segments_sent = 0;    // SEGMENT frames written, re-sends included
    uint64_t segments_resent = 0;  // of those, segments already sent on an earlier connection
    uint64_t bytes_sent = 0;       // payload bytes of those frames
    // Segments larger than the server's WELCOME max_segment_bytes: they can
    // never be delivered, so they are dropped instead of blocking the stream.
    uint64_t segments_dropped_too_large = 0;
  };

  // OK if a client can be built from `options` (valid camera id, strings
  // within the wire limits, a known release level).
  static absl::Status ValidateOptions(const CameraClientOptions& options);

  // Aborts with the reason if ValidateOptions(options) fails: options are
  // static configuration, so a bad one is a bug to fix, not a runtime event.
  explicit CameraClient(CameraClientOptions options);
  CameraClient(const CameraClient&) = delete;
  CameraClient& operator=(const CameraClient&) = delete;

  // A new connection is up (TLS done): resets per-connection state and queues
  // HELLO (last_durable_seq = highest released seq). Clears goaway(),
  // redirect(), reject(), error() and welcome() from the previous connection.
  void OnConnected();

  // The connection is gone: everything sent but not released will be re-sent
  // after the next OnConnected + WELCOME. Queued output is discarded. State
  // becomes kDisconnected; goaway()/redirect()/reject()/error() keep saying
  // why until the next OnConnected.
  void OnDisconnected();

  // Records a new segment; assigns the next seq (starting at 1). Fails with
  // ResourceExhausted if buffering it would exceed max_buffered_bytes, and
  // InvalidArgument if the payload cannot fit a frame. Allowed in any state.
  absl::StatusOr<uint64_t> AddSegment(int64_t capture_start_us, uint32_t duration_us, bool keyframe,
                                      std::string payload);

  // Plaintext bytes from the server. Returns an error on a protocol violation
  // by the server (after which state is kFailed and an ERROR frame is queued
  // for TakeOutput; the caller sends it and closes). FailedPrecondition while
  // disconnected or failed. An ERROR from the server is not a violation: it
  // returns OK, sets error() and state kFailed. Frames after REJECT, REDIRECT
  // or ERROR are ignored (the server closes after those).
  absl::Status OnBytes(absl::Span<const uint8_t> bytes);

  // Appends the plaintext bytes to send now to `out`: HELLO, PONG/PING
  // replies, an ERROR after a violation, and (only while kStreaming) as many
  // buffered segments as the server's ack window allows: payload bytes sent
  // and not yet acknowledged stay <= ack_window_bytes, except that one segment
  // may always go when nothing is in flight. Returns bytes appended.
  size_t TakeOutput(std::string& out);

  // Queues a PING (the caller's keepalive timer decides when). Ignored while
  // disconnected.
  void QueuePing(uint64_t nonce);

  State state() const { return state_; }
  // The WELCOME of the current connection; null before it arrives.
  const Welcome* welcome() const { return welcome_ ? &*welcome_ : nullptr; }
  // Highest seq acknowledged at `level` or above (kPersisted implies kSpooled).
  uint64_t acked_seq(DurabilityLevel level) const;
  // The seq the next AddSegment will assign.
  uint64_t next_seq() const { return next_seq_; }
  // Highest seq written out on the current connection (0 if none yet).
  uint64_t sent_seq() const { return conn_sent_seq_; }
  // Highest seq the camera may forget: acked at release_at, or announced
  // durable by a WELCOME. Sent as HELLO last_durable_seq.
  uint64_t released_seq() const { return released_seq_; }
  size_t buffered_segments() const { return buffer_.size(); }
  size_t buffered_bytes() const { return buffered_bytes_; }
  // Payload bytes sent on this connection and not yet acknowledged.
  size_t in_flight_bytes() const { return in_flight_bytes_; }
  // REDIRECTs received since the last WELCOME (the caller's loop guard).
  int redirects_followed() const { return redirects_followed_; }
  // Nonce of the last PONG received (0 if none), for the keepalive timer.
  uint64_t last_pong_nonce() const { return last_pong_nonce_; }

  // Set on GOAWAY / REDIRECT / REJECT / ERROR from the server:
  const std::optional<Goaway>& goaway() const { return goaway_; }
  const std::optional<Redirect>& redirect() const { return redirect_; }
  const std::optional<Reject>& reject() const { return reject_; }
  const std::optional<Error>& error() const { return error_; }

  // Called for every segment when the server first acknowledges it at a level
  // (for latency measurements): (seq, level). An ACK at kPersisted reports
  // kSpooled first for seqs not yet acked at kSpooled. Runs inside OnBytes;
  // it must not call back into the client.
  void set_on_acked(std::function<void(uint64_t seq, DurabilityLevel level)> cb) {
    on_acked_ = std::move(cb);
  }

  const Counters& counters() const { return counters_; }

 private:
  struct BufferedSegment {
    SegmentHeader header;
    std::string payload;
    // Sent on some connection (segments are sent in seq order, so these form
    // a prefix of buffer_).
    bool ever_sent = false;
    // Too large for the server; payload freed, never sent.
    bool dropped = false;
  };

  // Routes decoder callbacks into the client.
  class Receiver : public FrameHandler {
   public:
    explicit Receiver(CameraClient& client) : client_(client) {}
    absl::Status OnControlFrame(ControlFrame frame) override;
    std::optional<absl::Span<uint8_t>> OnSegmentBegin(const SegmentHeader& header) override;
    absl::Status OnSegmentEnd() override;

   private:
    CameraClient& client_;
  };

  absl::Status OnControlFrame(ControlFrame frame);
  absl::Status OnWelcome(const Welcome& welcome);
  absl::Status OnAck(const Ack& ack);
  // Segments never sent whose seq the server already claims: the camera lost
  // its state (e.g. a factory reset), so they take fresh seqs after `durable`.
  void RenumberUnsentAfter(uint64_t durable);
  // Marks every seq <= `seq` acknowledged at `level`, reporting new ones.
  void AdvanceAck(DurabilityLevel level, uint64_t seq);
  // Forgets buffered segments with seq <= `seq` (and dropped ones in front).
  void ReleaseThrough(uint64_t seq);
  void SendSegments(std::string& out);
  // Index of the first buffered segment with seq > `seq`.
  size_t FirstAfter(uint64_t seq) const;

  CameraClientOptions options_;
  State state_ = State::kDisconnected;
  Receiver receiver_{*this};
  FrameDecoder decoder_{DecoderLimits{}};
  std::string control_out_;

  std::deque<BufferedSegment> buffer_;  // seq order, unreleased
  size_t buffered_bytes_ = 0;
  uint64_t next_seq_ = 1;
  // Lowest seq of the current numbering (moves up when RenumberUnsentAfter
  // runs), so ack reports never cover seqs this client did not assign.
  uint64_t first_seq_ = 1;
  uint64_t released_seq_ = 0;
  uint64_t acked_spooled_ = 0;
  uint64_t acked_persisted_ = 0;

  // Per connection.
  size_t send_index_ = 0;        // buffer_ index of the next segment to send
  uint64_t conn_sent_seq_ = 0;   // highest seq sent on this connection
  uint64_t conn_acked_seq_ = 0;  // highest seq acked (or WELCOME-durable) on this connection
  size_t in_flight_bytes_ = 0;

  std::optional<Welcome> welcome_;
  std::optional<Goaway> goaway_;
  std::optional<Redirect> redirect_;
  std::optional<Reject> reject_;
  std::optional<Error> error_;
  int redirects_followed_ = 0;
  uint64_t last_pong_nonce_ = 0;
  std::function<void(uint64_t, DurabilityLevel)> on_acked_;
  Counters counters_;
};

}  // namespace camproto

#endif  // PROTO_CAMERA_CLIENT_H_
