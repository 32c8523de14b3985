#include "server/session/camera_session.h"

#include <algorithm>
#include <optional>
#include <type_traits>
#include <variant>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "proto/frame_encoder.h"
#include "server/spool/spool_record.h"

namespace ingest {
namespace {

absl::Status ProtocolError(camproto::ErrorCode code, std::string_view message) {
  // Same shape as the decoder's errors so ErrorCodeOf recovers the code.
  return camproto::MakeProtocolError(code, message);
}

}  // namespace

CameraSession::CameraSession(SessionHost& host, const SessionLimits& limits,
                             std::string certified_camera_id)
    : host_(host),
      limits_(limits),
      camera_id_(std::move(certified_camera_id)),
      // SEGMENT frames are refused until WELCOME raises the limit.
      decoder_(camproto::DecoderLimits{.max_control_frame = camproto::kMaxControlFrameBytes,
                                       .max_segment_payload = 0}) {}

CameraSession::~CameraSession() {
  // A segment cut off mid-payload was never handed to the spool.
  host_.ReleaseRecord(segment_buffer_);
}

void CameraSession::FailWith(const absl::Status& status) {
  if (state_ == State::kClosing) return;
  camproto::ErrorCode code = camproto::ErrorCodeOf(status);
  if (outcome_ == SessionOutcome::kNone) {
    outcome_ = code == camproto::ErrorCode::kWindowExceeded ? SessionOutcome::kWindowExceeded
                                                              : SessionOutcome::kProtocolError;
  }
  close_reason_ = std::string(status.message());
  camproto::AppendFrame(camproto::Error{.code = code, .message = close_reason_}, outbox_);
  state_ = State::kClosing;
}

bool CameraSession::CloseIfSuperseded() {
  if (state_ == State::kClosing || !Superseded()) return false;
  outcome_ = SessionOutcome::kSuperseded;
  FailWith(ProtocolError(camproto::ErrorCode::kSuperseded, "a newer connection of this camera took over"));
  return true;
}

bool CameraSession::CloseAsRevoked(std::string_view reason) {
  if (state_ == State::kClosing) return false;
  outcome_ = SessionOutcome::kRevoked;
  FailWith(ProtocolError(camproto::ErrorCode::kRevoked, reason));
  return true;
}

bool CameraSession::SendGoaway(camproto::GoawayReason reason, uint32_t reconnect_after_ms,
                               std::string_view message) {
  if (state_ == State::kClosing || goaway_sent_) return false;
  goaway_sent_ = true;
  camproto::AppendFrame(camproto::Goaway{.reason = reason,
                                         .reconnect_after_ms = reconnect_after_ms,
                                         .message = std::string(message)},
                        outbox_);
  return true;
}

void CameraSession::Reject(camproto::RejectCode code, std::string_view reason,
                           SessionOutcome outcome) {
  outcome_ = outcome;
  close_reason_ = std::string(reason);
  camproto::AppendFrame(camproto::Reject{.code = code, .reason = close_reason_}, outbox_);
  state_ = State::kClosing;
}

absl::Status CameraSession::OnControlFrame(camproto::ControlFrame frame) {
  if (state_ == State::kClosing) return absl::OkStatus();
  if (auto* hello = std::get_if<camproto::Hello>(&frame)) return OnHello(*hello);
  if (std::holds_alternative<camproto::Error>(frame)) {
    // The camera gave up on us; close without answering.
    outcome_ = SessionOutcome::kCameraError;
    close_reason_ = "the camera sent ERROR";
    state_ = State::kClosing;
    return absl::OkStatus();
  }
  if (state_ == State::kAwaitingHello) {
    return ProtocolError(camproto::ErrorCode::kUnexpectedFrame, "the first frame must be HELLO");
  }
  if (auto* ping = std::get_if<camproto::Ping>(&frame)) {
    camproto::AppendFrame(camproto::Pong{.nonce = ping->nonce}, outbox_);
    return absl::OkStatus();
  }
  if (std::holds_alternative<camproto::Pong>(frame)) return absl::OkStatus();
  return ProtocolError(camproto::ErrorCode::kUnexpectedFrame,
                       "only HELLO, SEGMENT, PING, PONG and ERROR are valid from a camera");
}

absl::Status CameraSession::OnHello(const camproto::Hello& hello) {
  if (state_ != State::kAwaitingHello) {
    return ProtocolError(camproto::ErrorCode::kUnexpectedFrame, "HELLO sent twice");
  }
  firmware_version_ = hello.firmware_version;
  hello_last_durable_seq_ = hello.last_durable_seq;
  if (hello.protocol_version != camproto::kProtocolVersion) {
    Reject(camproto::RejectCode::kUnsupportedVersion,
           absl::StrCat("protocol version ", hello.protocol_version, " unsupported; this server speaks ",
                        camproto::kProtocolVersion),
           SessionOutcome::kRejectedVersion);
    return absl::OkStatus();
  }
  if (hello.camera_id != camera_id_) {
    Reject(camproto::RejectCode::kCameraIdMismatch,
           absl::StrCat("HELLO camera id '", hello.camera_id,
                        "' differs from the certificate's '", camera_id_, "'"),
           SessionOutcome::kRejectedIdMismatch);
    return absl::OkStatus();
  }
  if (!refuse_full_reason_.empty()) {
    Reject(camproto::RejectCode::kServerFull, refuse_full_reason_, SessionOutcome::kRejectedServerFull);
    return absl::OkStatus();
  }
  if (const ZoneAdmission* admission = host_.admission()) {
    AdmissionDecision decision = admission->Decide(camera_id_);
    if (decision.kind == AdmissionDecision::Kind::kRedirect) {
      outcome_ = SessionOutcome::kRedirected;
      close_reason_ = absl::StrCat("redirected to zone ", decision.zone_id);
      camproto::AppendFrame(camproto::Redirect{.endpoint = std::move(decision.endpoint),
                                               .zone_id = std::move(decision.zone_id)},
                            outbox_);
      state_ = State::kClosing;
      return absl::OkStatus();
    }
    if (decision.kind == AdmissionDecision::Kind::kReject) {
      Reject(camproto::RejectCode::kUnknownCamera, decision.reason, SessionOutcome::kRejectedUnknownCamera);
      return absl::OkStatus();
    }
  }
  camera_ = &host_.registry().Get(camera_id_);
  owner_token_ = camera_->Claim();
  session_id_ = host_.NextSessionId();
  state_ = State::kWaitingForPredecessor;
  Poll();
  return absl::OkStatus();
}

void CameraSession::SendWelcome() {
  state_ = State::kStreaming;
  welcomed_ = true;
  decoder_.set_max_segment_payload(limits_.max_segment_bytes);
  uint64_t durable = camera_->durable();
  ack_sent_ = durable;
  ack_ready_ = durable;
  persisted_sent_ = std::min(camera_->persisted(), durable);
  // Seqs at or below the camera's own released mark will not come again as
  // new video: the first new seq follows whichever mark is higher.
  base_seq_ = std::max(durable, hello_last_durable_seq_);
  last_new_seq_ = base_seq_;
  camproto::AppendFrame(camproto::Welcome{.session_id = session_id_,
                                          .server_id = limits_.server_id,
                                          .max_segment_bytes = limits_.max_segment_bytes,
                                          .ack_window_bytes = limits_.ack_window_bytes,
                                          .keepalive_interval_ms = limits_.keepalive_interval_ms,
                                          .durable_seq = durable},
                        outbox_);
}

bool CameraSession::Superseded() const {
  return camera_ != nullptr && camera_->owner() != owner_token_;
}

absl::Status CameraSession::Refuse(SessionEvent event, camproto::ErrorCode code, std::string message) {
  host_.Count(event);
  outcome_ = SessionOutcome::kRefusedSegment;
  return ProtocolError(code, message);
}

absl::Status CameraSession::CheckSegmentHeader(const camproto::SegmentHeader& header) {
  const uint64_t seq = header.seq;
  if (seq == 0) {
    return ProtocolError(camproto::ErrorCode::kMalformedFrame, "segment sequence 0 is reserved");
  }
  // Field ranges first: a segment outside them is refused whatever its seq.
  if ((header.flags & ~camproto::kSegmentFlagsDefined) != 0) {
    return Refuse(SessionEvent::kRefusedInvalidField, camproto::ErrorCode::kInvalidField,
                  absl::StrCat("segment ", seq, ": flags 0x", absl::Hex(header.flags),
                               " set reserved bits (only bit 0 KEYFRAME and bit 1 SKIP are defined)"));
  }
  if (header.duration_us > camproto::kMaxSegmentDurationUs) {
    return Refuse(SessionEvent::kRefusedInvalidField, camproto::ErrorCode::kInvalidField,
                  absl::StrCat("segment ", seq, ": duration_us ", header.duration_us, " exceeds ",
                               camproto::kMaxSegmentDurationUs));
  }
  // The server's clock is near 2^50 us and the window at most years wide, so
  // these bounds cannot overflow.
  const int64_t now = host_.NowUnixMicros();
  const int64_t earliest = now - limits_.max_capture_age_us;
  const int64_t latest = now + limits_.max_capture_lead_us;
  if (header.capture_start_us < earliest || header.capture_start_us > latest) {
    return Refuse(SessionEvent::kRefusedInvalidField, camproto::ErrorCode::kInvalidField,
                  absl::StrCat("segment ", seq, ": capture_start_us ", header.capture_start_us,
                               " is outside the capture window [", earliest, ", ", latest,
                               "] around the server's clock"));
  }
  if (seq > last_new_seq_) {
    if (seq != last_new_seq_ + 1 && (header.flags & camproto::kSegmentFlagSkip) == 0) {
      return Refuse(SessionEvent::kRefusedBadSequence, camproto::ErrorCode::kBadSequence,
                    absl::StrCat("segment ", seq, " skips ", last_new_seq_ + 1, "..", seq - 1, ": send ",
                                 last_new_seq_ + 1, " next, or set flag SKIP to give those up"));
    }
    segment_kind_ = SegmentKind::kNew;
    return absl::OkStatus();
  }
  std::optional<SegmentFingerprint> original = camera_->Recall(seq);
  if (!original.has_value()) {
    return Refuse(SessionEvent::kRefusedBadSequence, camproto::ErrorCode::kBadSequence,
                  absl::StrCat("segment ", seq, " is a re-send of a seq this server cannot show it holds (",
                               "given up, released by the camera, or older than the last ", kRememberedSegments,
                               " it remembers); the next new seq is ", last_new_seq_ + 1));
  }
  segment_kind_ = SegmentKind::kResend;
  resend_original_ = *original;
  return absl::OkStatus();
}

std::optional<absl::Span<uint8_t>> CameraSession::OnSegmentBegin(
    const camproto::SegmentHeader& header) {
  // The decoder asks again while paused; a refusal stands (and is counted once).
  if (!error_.ok()) return std::nullopt;
  // Segments after our GOAWAY are welcome: the camera sent them before it
  // read the GOAWAY, and stores and ACKs them here rather than re-sending
  // them to a peer (which would store them twice).
  if (state_ != State::kStreaming) {
    error_ = ProtocolError(camproto::ErrorCode::kUnexpectedFrame, "SEGMENT before WELCOME");
    return std::nullopt;
  }
  if (unacked_bytes_ + header.payload_bytes > limits_.ack_window_bytes &&
      unacked_bytes_ > 0) {
    error_ = ProtocolError(camproto::ErrorCode::kWindowExceeded,
                           absl::StrCat("segment ", header.seq, " would put ",
                                        unacked_bytes_ + header.payload_bytes,
                                        " unacknowledged bytes in flight; the window is ",
                                        limits_.ack_window_bytes));
    return std::nullopt;
  }
  if (absl::Status checked = CheckSegmentHeader(header); !checked.ok()) {
    error_ = checked;
    return std::nullopt;
  }
  size_t header_bytes = SpoolRecordHeaderBytes(camera_id_.size());
  SegmentBuffer buffer = host_.AllocateRecord(header_bytes + header.payload_bytes);
  if (buffer.data == nullptr) return std::nullopt;  // backpressure: asked again later
  segment_ = header;
  segment_buffer_ = buffer;
  segment_header_bytes_ = header_bytes;
  return absl::Span<uint8_t>(buffer.data + header_bytes, header.payload_bytes);
}

absl::Status CameraSession::OnSegmentEnd() {
  SegmentBuffer buffer = segment_buffer_;
  segment_buffer_ = {};
  absl::Span<const uint8_t> payload(buffer.data + segment_header_bytes_, segment_.payload_bytes);
  const SegmentFingerprint fingerprint{.payload_crc = Crc32c(payload),
                                       .payload_bytes = segment_.payload_bytes,
                                       .capture_start_us = segment_.capture_start_us,
                                       .duration_us = segment_.duration_us,
                                       .keyframe = (segment_.flags & camproto::kSegmentFlagKeyframe) != 0};
  // A newer connection may have claimed the camera while this segment was
  // arriving; it alone may accept segments now.
  if (Superseded() ||
      (segment_kind_ == SegmentKind::kNew && !camera_->TryAccept(segment_.seq))) {
    host_.ReleaseRecord(buffer);
    outcome_ = SessionOutcome::kSuperseded;
    return ProtocolError(camproto::ErrorCode::kSuperseded, "a newer connection of this camera took over");
  }
  if (segment_kind_ == SegmentKind::kResend) {
    host_.ReleaseRecord(buffer);
    if (fingerprint != resend_original_) {
      return Refuse(SessionEvent::kRefusedMismatch, camproto::ErrorCode::kSegmentMismatch,
                    absl::StrCat("segment ", segment_.seq, " was stored with other contents (",
                                 resend_original_.payload_bytes, " payload bytes, crc32c ",
                                 absl::Hex(resend_original_.payload_crc), "; now ", fingerprint.payload_bytes,
                                 " bytes, crc32c ", absl::Hex(fingerprint.payload_crc),
                                 "); the stored one stays"));
    }
    // Already stored: acknowledge again once it is durable, store nothing.
    host_.Count(SessionEvent::kDuplicate);
    ++segments_duplicate_;
    reack_seq_ = std::max(reack_seq_, segment_.seq);
    Poll();
    return absl::OkStatus();
  }
  camera_->Remember(segment_.seq, fingerprint);
  last_new_seq_ = segment_.seq;
  EncodeSpoolRecordHeader(SpoolRecordMeta{.camera_id = camera_id_,
                                          .seq = segment_.seq,
                                          .capture_start_us = segment_.capture_start_us,
                                          .duration_us = segment_.duration_us,
                                          .flags = segment_.flags,
                                          .payload_bytes = segment_.payload_bytes,
                                          .payload_crc = fingerprint.payload_crc},
                          absl::Span<uint8_t>(buffer.data, segment_header_bytes_));
  unacked_bytes_ += segment_.payload_bytes;
  ++segments_accepted_;
  payload_bytes_accepted_ += segment_.payload_bytes;
  host_.SpoolRecord(*this, buffer, segment_header_bytes_ + segment_.payload_bytes, segment_.seq,
                    segment_.payload_bytes);
  return absl::OkStatus();
}

void CameraSession::OnDurable(uint64_t seq, uint32_t payload_bytes) {
  unacked_bytes_ -= std::min<uint64_t>(unacked_bytes_, payload_bytes);
  ack_ready_ = std::max(ack_ready_, seq);
}

bool CameraSession::needs_poll() const {
  if (camera_ == nullptr || state_ == State::kClosing) return false;
  return state_ == State::kWaitingForPredecessor || reack_seq_ > ack_ready_ ||
         persisted_sent_ < ack_sent_;
}

void CameraSession::Poll() {
  if (camera_ == nullptr || state_ == State::kClosing) return;
  if (state_ == State::kWaitingForPredecessor) {
    // Welcome only once everything an earlier connection of this camera had
    // accepted is durable, so records stay durable in sequence order.
    if (camera_->accepted() > camera_->durable()) return;
    SendWelcome();
  }
  if (reack_seq_ > ack_ready_) {
    // The original came from an earlier connection (or another shard): its
    // durability shows in the registry, not in this session's OnDurable.
    ack_ready_ = std::max(ack_ready_, std::min(camera_->durable(), reack_seq_));
  }
}

CameraSession::AcksQueued CameraSession::FlushAcks() {
  AcksQueued queued;
  if (state_ != State::kStreaming) return queued;
  // A re-send is owed an ACK even when it adds nothing new: the camera may
  // have lost the first one with its previous connection.
  const bool reack = reack_seq_ != 0 && reack_seq_ <= ack_ready_;
  if (ack_ready_ > ack_sent_ || reack) {
    ack_sent_ = ack_ready_;
    camproto::AppendFrame(
        camproto::Ack{.seq = ack_sent_, .level = camproto::DurabilityLevel::kSpooled}, outbox_);
    queued.spooled = true;
  }
  uint64_t persisted = std::min(camera_->persisted(), ack_sent_);
  if (persisted > persisted_sent_ || (reack && persisted >= reack_seq_)) {
    persisted_sent_ = persisted;
    camproto::AppendFrame(
        camproto::Ack{.seq = persisted, .level = camproto::DurabilityLevel::kPersisted}, outbox_);
    queued.persisted = true;
  }
  if (reack) reack_seq_ = 0;
  return queued;
}

}  // namespace ingest
