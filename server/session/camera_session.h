// The camera protocol v1 state machine for one connection, after TLS: it
// checks HELLO against the certificate, welcomes the camera (telling it where
// to resume), checks every SEGMENT against the sequence rules and field
// ranges of proto/README.md, turns new ones into spool records written
// straight from the decrypted payload buffer, compares re-sent ones with what
// was stored, and acknowledges segments cumulatively once they are durable
// (ACK spooled) and once they are in the store (ACK persisted). It upholds the
// invariants of proto/README.md: no ACK or WELCOME ever covers a seq the
// camera has not released that is not stored.
//
// It does no I/O: bytes come in through decoder() (the shard decrypts straight
// into decoder().WritableSpan()), frames to send accumulate in outbox(), and
// the spool is reached through SessionHost.
//
//   CameraSession session(host, limits, /*certified_camera_id=*/"cam-000001");
//   auto span = session.decoder().WritableSpan(session);
//   ... decrypt n bytes into span ...
//   absl::Status s = session.decoder().CommitWritten(n, session);
//   if (!s.ok()) session.FailWith(s);          // queues ERROR; then close
//   session.FlushAcks(); send(session.outbox());
#ifndef SERVER_SESSION_CAMERA_SESSION_H_
#define SERVER_SESSION_CAMERA_SESSION_H_

#include <algorithm>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "proto/frame.h"
#include "proto/frame_decoder.h"
#include "server/session/session_host.h"

namespace ingest {

struct SessionLimits {
  std::string server_id;
  uint32_t max_segment_bytes = 4 << 20;
  uint32_t ack_window_bytes = 8 << 20;
  uint32_t keepalive_interval_ms = 15000;
  // The capture window around the server's clock (protocol.max_capture_*).
  int64_t max_capture_age_us = int64_t{30} * 86400 * 1'000'000;
  int64_t max_capture_lead_us = int64_t{86400} * 1'000'000;
};

// Why a session ended or refused a camera; one counter each.
enum class SessionOutcome {
  kNone,
  kRejectedVersion,
  kRejectedIdMismatch,
  kRejectedBadHello,
  kProtocolError,
  kWindowExceeded,
  kSuperseded,
  kRedirected,             // belongs to another zone: REDIRECT there
  kRejectedUnknownCamera,  // no zone map rule places it
  kRejectedServerFull,     // over a connection limit
  kRefusedSegment,         // BAD_SEQUENCE, SEGMENT_MISMATCH or INVALID_FIELD
  kCameraError,            // the camera sent ERROR
  kRevoked,                // deny list or CRL: ERROR REVOKED
};

class CameraSession final : public camproto::FrameHandler {
 public:
  enum class State { kAwaitingHello, kWaitingForPredecessor, kStreaming, kClosing };

  CameraSession(SessionHost& host, const SessionLimits& limits, std::string certified_camera_id);
  ~CameraSession() override;
  CameraSession(const CameraSession&) = delete;
  CameraSession& operator=(const CameraSession&) = delete;

  camproto::FrameDecoder& decoder() { return decoder_; }
  State state() const { return state_; }
  bool goaway_sent() const { return goaway_sent_; }
  // Re-zoning: the first call notes how far this camera's segments have been
  // accepted; true once that much is in the store (a moved camera's spooled
  // data goes up with its old zone before it leaves). Segments that arrive
  // meanwhile follow with the next batch.
  bool PersistedUpToMoveMark() {
    if (camera_ == nullptr) return false;
    if (move_mark_ == 0) move_mark_ = std::max<uint64_t>(camera_->accepted(), 1);
    return camera_->persisted() >= move_mark_ || camera_->accepted() == 0;
  }
  const std::string& camera_id() const { return camera_id_; }
  uint64_t session_id() const { return session_id_; }
  // An opaque value the host attaches (the shard: connection id and generation).
  void set_host_tag(uint64_t tag) { host_tag_ = tag; }
  uint64_t host_tag() const { return host_tag_; }
  SessionOutcome outcome() const { return outcome_; }
  // True once WELCOME was queued (even if the session closed right after).
  bool welcomed() const { return welcomed_; }
  const std::string& firmware_version() const { return firmware_version_; }
  // HELLO last_durable_seq, and the connection's base: max(that, WELCOME durable_seq).
  uint64_t hello_last_durable_seq() const { return hello_last_durable_seq_; }
  uint64_t base_seq() const { return base_seq_; }
  // The message of the ERROR/REJECT that ended the session, for the close log.
  const std::string& close_reason() const { return close_reason_; }

  // The connection is over a connection limit: answer its HELLO with REJECT
  // SERVER_FULL (`reason` says which limit) instead of admitting it.
  void RefuseAsFull(std::string reason) { refuse_full_reason_ = std::move(reason); }
  // A newer connection of this camera took over: queues ERROR SUPERSEDED and
  // enters kClosing. Returns false if the session was not superseded or is
  // already closing. The shard calls it every tick, so an old connection
  // leaves within a tick even if it never sends again.
  bool CloseIfSuperseded();
  // The camera was revoked (deny list or CRL; `reason` says which): queues
  // ERROR REVOKED and enters kClosing, whatever the session is doing. False
  // if it is already closing.
  bool CloseAsRevoked(std::string_view reason);

  // Frames waiting to be encrypted and sent. The caller moves them out.
  std::string& outbox() { return outbox_; }

  // Queues an ERROR frame for a decoder/protocol failure and enters kClosing.
  void FailWith(const absl::Status& status);
  // Queues a GOAWAY (drain). Segments the camera sent before reading it are
  // still stored and acknowledged; the camera leaves once they are. Returns
  // false if the session is closing or was already told.
  bool SendGoaway(camproto::GoawayReason reason, uint32_t reconnect_after_ms, std::string_view message);

  // The host's group commit made `seq` durable.
  void OnDurable(uint64_t seq, uint32_t payload_bytes);

  // Re-checks conditions that depend on other sessions or threads: a
  // predecessor finishing its commits (then WELCOME is sent), re-sent
  // segments becoming durable, segments reaching the store. Cheap; the shard
  // calls it for sessions that asked (needs_poll()).
  void Poll();
  bool needs_poll() const;

  // Appends ACK frames for progress not yet acknowledged; says which levels.
  struct AcksQueued {
    bool spooled = false;
    bool persisted = false;
  };
  AcksQueued FlushAcks();

  // Bytes of accepted segments not yet acknowledged spooled.
  uint64_t unacked_bytes() const { return unacked_bytes_; }
  // True when the session stopped because it needs segment memory (backpressure).
  bool blocked_on_memory() const { return decoder_.paused() && error_.ok(); }
  // A protocol error found where FrameHandler cannot return one (OnSegmentBegin).
  const absl::Status& pending_error() const { return error_; }

  // Counters the shard aggregates.
  uint64_t segments_accepted() const { return segments_accepted_; }
  uint64_t segments_duplicate() const { return segments_duplicate_; }
  uint64_t payload_bytes_accepted() const { return payload_bytes_accepted_; }

  // camproto::FrameHandler
  absl::Status OnControlFrame(camproto::ControlFrame frame) override;
  std::optional<absl::Span<uint8_t>> OnSegmentBegin(const camproto::SegmentHeader& header) override;
  absl::Status OnSegmentEnd() override;

 private:
  // What the segment being received is, decided from its header.
  enum class SegmentKind { kNew, kResend };

  absl::Status OnHello(const camproto::Hello& hello);
  // Field ranges and sequence rules for a SEGMENT header; sets segment_kind_
  // and, for a re-send, resend_original_. An error names the seq and why.
  absl::Status CheckSegmentHeader(const camproto::SegmentHeader& header);
  absl::Status Refuse(SessionEvent event, camproto::ErrorCode code, std::string message);
  void Reject(camproto::RejectCode code, std::string_view reason, SessionOutcome outcome);
  void SendWelcome();
  bool Superseded() const;

  SessionHost& host_;
  const SessionLimits& limits_;
  const std::string camera_id_;
  camproto::FrameDecoder decoder_;
  State state_ = State::kAwaitingHello;
  SessionOutcome outcome_ = SessionOutcome::kNone;
  absl::Status error_;
  std::string outbox_;

  CameraState* camera_ = nullptr;
  uint64_t owner_token_ = 0;
  uint64_t session_id_ = 0;
  uint64_t host_tag_ = 0;
  bool goaway_sent_ = false;
  uint64_t move_mark_ = 0;  // see PersistedUpToMoveMark

  // The segment being received.
  camproto::SegmentHeader segment_;
  SegmentBuffer segment_buffer_;
  size_t segment_header_bytes_ = 0;

  SegmentKind segment_kind_ = SegmentKind::kNew;
  SegmentFingerprint resend_original_;

  std::string firmware_version_;
  std::string refuse_full_reason_;
  std::string close_reason_;
  bool welcomed_ = false;
  uint64_t hello_last_durable_seq_ = 0;
  uint64_t base_seq_ = 0;      // max(HELLO last_durable_seq, WELCOME durable_seq)
  uint64_t last_new_seq_ = 0;  // highest new seq accepted on this connection (base_seq_ before any)

  uint64_t unacked_bytes_ = 0;
  uint64_t ack_ready_ = 0;  // highest seq known durable for this session
  uint64_t ack_sent_ = 0;
  uint64_t reack_seq_ = 0;  // highest re-sent seq owed an ACK again (0: none)
  uint64_t persisted_sent_ = 0;

  uint64_t segments_accepted_ = 0;
  uint64_t segments_duplicate_ = 0;
  uint64_t payload_bytes_accepted_ = 0;
};

}  // namespace ingest

#endif  // SERVER_SESSION_CAMERA_SESSION_H_
