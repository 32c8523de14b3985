// The camera protocol v1 state machine for one connection, after TLS: it
// checks HELLO against the certificate, welcomes the camera (telling it where
// to resume), turns SEGMENT frames into spool records written straight from
// the decrypted payload buffer, and acknowledges segments cumulatively once
// they are durable (ACK spooled) and once they are in the store (ACK persisted).
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

  // Frames waiting to be encrypted and sent. The caller moves them out.
  std::string& outbox() { return outbox_; }

  // Queues an ERROR frame for a decoder/protocol failure and enters kClosing.
  void FailWith(const absl::Status& status);
  // Queues a GOAWAY (drain). Segments the camera sent before reading it are
  // still stored and acknowledged; the camera leaves once they are. Returns
  // false if the session is closing or was already told.
  bool SendGoaway(camproto::GoawayReason reason, uint32_t reconnect_after_ms,
                  std::string_view message);

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
  absl::Status OnHello(const camproto::Hello& hello);
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

  uint64_t unacked_bytes_ = 0;
  uint64_t ack_ready_ = 0;       // highest seq known durable for this session
  uint64_t ack_sent_ = 0;
  uint64_t duplicate_wait_ = 0;  // a re-sent seq that waits for its original to be durable
  uint64_t persisted_sent_ = 0;

  uint64_t segments_accepted_ = 0;
  uint64_t segments_duplicate_ = 0;
  uint64_t payload_bytes_accepted_ = 0;
};

}  // namespace ingest

#endif  // SERVER_SESSION_CAMERA_SESSION_H_
