#include "server/session/camera_session.h"

#include <algorithm>
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
  camproto::AppendFrame(camproto::Error{.code = code, .message = std::string(status.message())},
                        outbox_);
  state_ = State::kClosing;
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
  camproto::AppendFrame(camproto::Reject{.code = code, .reason = std::string(reason)}, outbox_);
  state_ = State::kClosing;
}

absl::Status CameraSession::OnControlFrame(camproto::ControlFrame frame) {
  if (state_ == State::kClosing) return absl::OkStatus();
  if (auto* hello = std::get_if<camproto::Hello>(&frame)) return OnHello(*hello);
  if (auto* ping = std::get_if<camproto::Ping>(&frame)) {
    camproto::AppendFrame(camproto::Pong{.nonce = ping->nonce}, outbox_);
    return absl::OkStatus();
  }
  if (std::holds_alternative<camproto::Pong>(frame)) return absl::OkStatus();
  if (std::holds_alternative<camproto::Error>(frame)) {
    // The camera gave up on us; close without answering.
    outcome_ = SessionOutcome::kProtocolError;
    state_ = State::kClosing;
    return absl::OkStatus();
  }
  return ProtocolError(camproto::ErrorCode::kUnexpectedFrame,
                       "only HELLO, SEGMENT, PING, PONG and ERROR are valid from a camera");
}

absl::Status CameraSession::OnHello(const camproto::Hello& hello) {
  if (state_ != State::kAwaitingHello) {
    return ProtocolError(camproto::ErrorCode::kUnexpectedFrame, "HELLO sent twice");
  }
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
  if (const ZoneAdmission* admission = host_.admission()) {
    AdmissionDecision decision = admission->Decide(camera_id_);
    if (decision.kind == AdmissionDecision::Kind::kRedirect) {
      outcome_ = SessionOutcome::kRedirected;
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
  decoder_.set_max_segment_payload(limits_.max_segment_bytes);
  uint64_t durable = camera_->durable();
  ack_sent_ = durable;
  ack_ready_ = durable;
  persisted_sent_ = std::min(camera_->persisted(), durable);
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

std::optional<absl::Span<uint8_t>> CameraSession::OnSegmentBegin(
    const camproto::SegmentHeader& header) {
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
  if (header.seq == 0) {
    error_ = ProtocolError(camproto::ErrorCode::kMalformedFrame, "segment sequence 0 is reserved");
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
  if (Superseded()) {
    host_.ReleaseRecord(buffer);
    outcome_ = SessionOutcome::kSuperseded;
    return ProtocolError(camproto::ErrorCode::kUnexpectedFrame,
                         "a newer connection of this camera took over");
  }
  if (!camera_->TryAccept(segment_.seq)) {
    // Already stored (a resend after reconnect): acknowledge, never store twice.
    host_.ReleaseRecord(buffer);
    ++segments_duplicate_;
    duplicate_wait_ = std::max(duplicate_wait_, segment_.seq);
    Poll();
    return absl::OkStatus();
  }
  absl::Span<const uint8_t> payload(buffer.data + segment_header_bytes_, segment_.payload_bytes);
  EncodeSpoolRecordHeader(SpoolRecordMeta{.camera_id = camera_id_,
                                          .seq = segment_.seq,
                                          .capture_start_us = segment_.capture_start_us,
                                          .duration_us = segment_.duration_us,
                                          .flags = segment_.flags,
                                          .payload_bytes = segment_.payload_bytes,
                                          .payload_crc = Crc32c(payload)},
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
  return state_ == State::kWaitingForPredecessor || duplicate_wait_ > ack_ready_ ||
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
  if (duplicate_wait_ > ack_ready_) {
    uint64_t durable = camera_->durable();
    ack_ready_ = std::max(ack_ready_, std::min(durable, duplicate_wait_));
  }
}

CameraSession::AcksQueued CameraSession::FlushAcks() {
  AcksQueued queued;
  if (state_ != State::kStreaming) return queued;
  if (ack_ready_ > ack_sent_) {
    ack_sent_ = ack_ready_;
    camproto::AppendFrame(
        camproto::Ack{.seq = ack_sent_, .level = camproto::DurabilityLevel::kSpooled}, outbox_);
    queued.spooled = true;
  }
  uint64_t persisted = std::min(camera_->persisted(), ack_sent_);
  if (persisted > persisted_sent_) {
    persisted_sent_ = persisted;
    camproto::AppendFrame(
        camproto::Ack{.seq = persisted, .level = camproto::DurabilityLevel::kPersisted}, outbox_);
    queued.persisted = true;
  }
  return queued;
}

}  // namespace ingest
