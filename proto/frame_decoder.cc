#include "proto/frame_decoder.h"

#include <algorithm>
#include <cstring>
#include <utility>

#include "absl/strings/cord.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"

namespace camproto {
namespace {

// The status payload that carries the protocol ErrorCode (decimal).
constexpr char kErrorCodeUrl[] = "type.camproto/error_code";

uint16_t LoadU16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

uint32_t LoadU32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

uint64_t LoadU64(const uint8_t* p) { return (uint64_t{LoadU32(p)} << 32) | LoadU32(p + 4); }

bool IsKnownFrameType(uint8_t type) {
  return type >= static_cast<uint8_t>(FrameType::kHello) &&
         type <= static_cast<uint8_t>(FrameType::kError);
}

// Reads the fields of one control frame body in order. A field that runs past
// the end records the failure and yields zero values, so parsers read every
// field unconditionally and check once, in Finish().
class BodyReader {
 public:
  BodyReader(FrameType type, absl::Span<const uint8_t> body) : type_(type), body_(body) {}

  uint8_t U8() {
    const uint8_t* p = Take(1);
    return p ? *p : 0;
  }
  uint16_t U16() {
    const uint8_t* p = Take(2);
    return p ? LoadU16(p) : 0;
  }
  uint32_t U32() {
    const uint8_t* p = Take(4);
    return p ? LoadU32(p) : 0;
  }
  uint64_t U64() {
    const uint8_t* p = Take(8);
    return p ? LoadU64(p) : 0;
  }
  std::string String(const char* field) {
    const uint16_t length = U16();
    if (error_.empty() && length > kMaxStringBytes) {
      error_ = absl::StrCat(field, " is ", length, " bytes, limit ", kMaxStringBytes);
      return {};
    }
    const uint8_t* p = Take(length);
    return p ? std::string(reinterpret_cast<const char*>(p), length) : std::string();
  }
  void Invalid(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

  // OK if every field was present, valid, and no byte is left over.
  absl::Status Finish() {
    if (error_.empty() && pos_ != body_.size()) {
      error_ = absl::StrCat(body_.size() - pos_, " trailing bytes after the last field");
    }
    if (error_.empty()) return absl::OkStatus();
    return MakeProtocolError(ErrorCode::kMalformedFrame,
                             absl::StrCat(FrameTypeName(type_), ": ", error_));
  }

 private:
  const uint8_t* Take(size_t n) {
    if (!error_.empty()) return nullptr;
    if (body_.size() - pos_ < n) {
      error_ = absl::StrCat("body of ", body_.size(), " bytes ends early");
      return nullptr;
    }
    pos_ += n;
    return body_.data() + pos_ - n;
  }

  FrameType type_;
  absl::Span<const uint8_t> body_;
  size_t pos_ = 0;
  std::string error_;
};

absl::StatusOr<ControlFrame> ParseControlFrame(FrameType type, absl::Span<const uint8_t> body) {
  BodyReader r(type, body);
  ControlFrame frame;
  switch (type) {
    case FrameType::kHello: {
      Hello m;
      m.protocol_version = r.U16();
      m.camera_id = r.String("camera_id");
      m.firmware_version = r.String("firmware_version");
      m.last_durable_seq = r.U64();
      if (!IsValidCameraId(m.camera_id)) {
        r.Invalid("camera_id must be 1..128 bytes of [A-Za-z0-9._-], not starting with '.'");
      }
      frame = std::move(m);
      break;
    }
    case FrameType::kWelcome: {
      Welcome m;
      m.protocol_version = r.U16();
      m.session_id = r.U64();
      m.server_id = r.String("server_id");
      m.max_segment_bytes = r.U32();
      m.ack_window_bytes = r.U32();
      m.keepalive_interval_ms = r.U32();
      m.durable_seq = r.U64();
      frame = std::move(m);
      break;
    }
    case FrameType::kReject: {
      // Unknown codes and reasons are passed on, not refused: a newer peer may
      // add values, and the receiver acts on the frame type alone.
      Reject m;
      m.code = static_cast<RejectCode>(r.U16());
      m.reason = r.String("reason");
      frame = std::move(m);
      break;
    }
    case FrameType::kRedirect: {
      Redirect m;
      m.endpoint = r.String("endpoint");
      m.zone_id = r.String("zone_id");
      frame = std::move(m);
      break;
    }
    case FrameType::kAck: {
      Ack m;
      m.seq = r.U64();
      const uint8_t level = r.U8();
      if (level != static_cast<uint8_t>(DurabilityLevel::kSpooled) &&
          level != static_cast<uint8_t>(DurabilityLevel::kPersisted)) {
        r.Invalid(absl::StrCat("unknown durability level ", level));
      }
      m.level = static_cast<DurabilityLevel>(level);
      frame = m;
      break;
    }
    case FrameType::kPing:
      frame = Ping{.nonce = r.U64()};
      break;
    case FrameType::kPong:
      frame = Pong{.nonce = r.U64()};
      break;
    case FrameType::kGoaway: {
      Goaway m;
      m.reason = static_cast<GoawayReason>(r.U16());
      m.reconnect_after_ms = r.U32();
      m.message = r.String("message");
      frame = std::move(m);
      break;
    }
    case FrameType::kError: {
      Error m;
      m.code = static_cast<ErrorCode>(r.U16());
      m.message = r.String("message");
      frame = std::move(m);
      break;
    }
    case FrameType::kSegment:
      return MakeProtocolError(ErrorCode::kInternal, "SEGMENT parsed as a control frame");
  }
  RETURN_IF_ERROR(r.Finish());
  return frame;
}

}  // namespace

FrameDecoder::FrameDecoder(DecoderLimits limits) : limits_(limits) {}

void FrameDecoder::set_max_segment_payload(uint32_t bytes) { limits_.max_segment_payload = bytes; }

bool FrameDecoder::AtFrameBoundary() const { return phase_ == Phase::kHeader && filled_ == 0; }

bool FrameDecoder::paused() const { return paused_; }

bool FrameDecoder::failed() const { return phase_ == Phase::kFailed; }

size_t FrameDecoder::Capacity() const {
  switch (phase_) {
    case Phase::kHeader:
      return kFrameHeaderBytes - filled_;
    case Phase::kBody:
      return body_bytes_ - filled_;
    case Phase::kPayload:
      return paused_ ? 0 : payload_.size() - payload_written_;
    case Phase::kFailed:
      return 0;
  }
  return 0;
}

absl::Span<uint8_t> FrameDecoder::WritableSpan(FrameHandler& handler) {
  switch (phase_) {
    case Phase::kHeader:
      return absl::MakeSpan(buffer() + filled_, kFrameHeaderBytes - filled_);
    case Phase::kBody:
      return absl::MakeSpan(buffer() + kFrameHeaderBytes + filled_, body_bytes_ - filled_);
    case Phase::kPayload:
      if (paused_) {
        absl::Status status = RequestPayloadMemory(handler);
        if (!status.ok()) {
          Fail(std::move(status)).IgnoreError();  // kept in status_
          return {};
        }
        if (paused_) return {};
        // A zero-length payload completes inside RequestPayloadMemory; the
        // next bytes then belong to the next frame's header.
        if (phase_ != Phase::kPayload) return WritableSpan(handler);
      }
      return payload_.subspan(payload_written_);
    case Phase::kFailed:
      return {};
  }
  return {};
}

absl::Status FrameDecoder::CommitWritten(size_t n, FrameHandler& handler) {
  if (phase_ == Phase::kFailed) return status_;
  if (n > Capacity()) {
    return Fail(MakeProtocolError(
        ErrorCode::kInternal,
        absl::StrCat("CommitWritten(", n, ") exceeds the writable span of ", Capacity())));
  }
  if (n == 0) return absl::OkStatus();
  absl::Status status;
  switch (phase_) {
    case Phase::kHeader:
      filled_ += n;
      if (filled_ == kFrameHeaderBytes) status = OnHeaderComplete(handler);
      break;
    case Phase::kBody:
      filled_ += n;
      if (filled_ == body_bytes_) status = OnBodyComplete(handler);
      break;
    case Phase::kPayload:
      payload_written_ += n;
      if (payload_written_ == payload_.size()) status = FinishSegment(handler);
      break;
    case Phase::kFailed:
      break;
  }
  if (!status.ok()) return Fail(std::move(status));
  return absl::OkStatus();
}

absl::StatusOr<size_t> FrameDecoder::Feed(absl::Span<const uint8_t> bytes, FrameHandler& handler) {
  if (phase_ == Phase::kFailed) return status_;
  size_t consumed = 0;
  while (consumed < bytes.size()) {
    absl::Span<uint8_t> dst = WritableSpan(handler);
    if (dst.empty()) {
      if (phase_ == Phase::kFailed) return status_;
      break;  // paused for payload memory
    }
    const size_t n = std::min(dst.size(), bytes.size() - consumed);
    std::memcpy(dst.data(), bytes.data() + consumed, n);
    consumed += n;
    RETURN_IF_ERROR(CommitWritten(n, handler));
    // Just refused payload memory: the handler is asked again on the caller's
    // next call, not straight away.
    if (paused_) break;
  }
  return consumed;
}

absl::Status FrameDecoder::OnHeaderComplete(FrameHandler& handler) {
  // Every limit is checked here, before a single body byte is stored.
  const uint32_t length = LoadU32(buffer());
  type_ = buffer()[4];
  if (length == 0) {
    return MakeProtocolError(ErrorCode::kMalformedFrame, "frame length 0 (no type byte)");
  }
  if (!IsKnownFrameType(type_)) {
    return MakeProtocolError(ErrorCode::kUnknownFrameType,
                             absl::StrCat("unknown frame type 0x", absl::Hex(type_)));
  }
  if (static_cast<FrameType>(type_) == FrameType::kSegment) {
    if (limits_.max_segment_payload == 0) {
      return MakeProtocolError(ErrorCode::kUnexpectedFrame,
                               "SEGMENT frames are not accepted on this connection");
    }
    if (length < 1 + kSegmentHeaderBytes) {
      return MakeProtocolError(
          ErrorCode::kMalformedFrame,
          absl::StrCat("SEGMENT frame length ", length, " is shorter than its 22-byte minimum"));
    }
    const uint32_t payload = length - 1 - kSegmentHeaderBytes;
    if (payload > limits_.max_segment_payload) {
      return MakeProtocolError(ErrorCode::kFrameTooLarge,
                               absl::StrCat("SEGMENT payload of ", payload, " bytes exceeds ",
                                            limits_.max_segment_payload));
    }
    segment_ = SegmentHeader{.payload_bytes = payload};
    body_bytes_ = kSegmentHeaderBytes;
  } else {
    const uint32_t limit = std::min(limits_.max_control_frame, kMaxControlFrameBytes);
    if (length > limit) {
      return MakeProtocolError(ErrorCode::kFrameTooLarge,
                               absl::StrCat(FrameTypeName(static_cast<FrameType>(type_)),
                                            " frame length ", length, " exceeds ", limit));
    }
    body_bytes_ = length - 1;
  }
  if (kFrameHeaderBytes + body_bytes_ > kInlineBytes) {
    large_ = std::make_unique<uint8_t[]>(kFrameHeaderBytes + body_bytes_);
    std::memcpy(large_.get(), inline_.data(), kFrameHeaderBytes);
  }
  phase_ = Phase::kBody;
  filled_ = 0;
  if (body_bytes_ == 0) return OnBodyComplete(handler);
  return absl::OkStatus();
}

absl::Status FrameDecoder::OnBodyComplete(FrameHandler& handler) {
  const uint8_t* body = buffer() + kFrameHeaderBytes;
  const FrameType type = static_cast<FrameType>(type_);
  if (type == FrameType::kSegment) {
    segment_.seq = LoadU64(body);
    segment_.capture_start_us = static_cast<int64_t>(LoadU64(body + 8));
    segment_.duration_us = LoadU32(body + 16);
    segment_.flags = body[20];
    phase_ = Phase::kPayload;
    payload_ = {};
    payload_written_ = 0;
    return RequestPayloadMemory(handler);
  }
  ASSIGN_OR_RETURN(ControlFrame frame,
                   ParseControlFrame(type, absl::MakeConstSpan(body, body_bytes_)));
  phase_ = Phase::kHeader;
  filled_ = 0;
  large_.reset();
  return handler.OnControlFrame(std::move(frame));
}

absl::Status FrameDecoder::RequestPayloadMemory(FrameHandler& handler) {
  std::optional<absl::Span<uint8_t>> memory = handler.OnSegmentBegin(segment_);
  if (!memory.has_value()) {
    paused_ = true;
    return absl::OkStatus();
  }
  paused_ = false;
  if (memory->size() != segment_.payload_bytes) {
    return MakeProtocolError(
        ErrorCode::kInternal,
        absl::StrCat("OnSegmentBegin returned ", memory->size(), " bytes for a payload of ",
                     segment_.payload_bytes, " (seq ", segment_.seq, ")"));
  }
  payload_ = *memory;
  payload_written_ = 0;
  if (segment_.payload_bytes == 0) return FinishSegment(handler);
  return absl::OkStatus();
}

absl::Status FrameDecoder::FinishSegment(FrameHandler& handler) {
  phase_ = Phase::kHeader;
  filled_ = 0;
  payload_ = {};
  payload_written_ = 0;
  return handler.OnSegmentEnd();
}

absl::Status FrameDecoder::Fail(absl::Status status) {
  phase_ = Phase::kFailed;
  paused_ = false;
  payload_ = {};
  status_ = std::move(status);
  return status_;
}

absl::Status MakeProtocolError(ErrorCode code, std::string_view message) {
  const std::string text =
      absl::StrCat(ErrorCodeName(code), ": ", ingest::ToAbsl(message));
  absl::Status status =
      code == ErrorCode::kInternal ? absl::InternalError(text) : absl::InvalidArgumentError(text);
  status.SetPayload(kErrorCodeUrl, absl::Cord(absl::StrCat(static_cast<int>(code))));
  return status;
}

ErrorCode ErrorCodeOf(const absl::Status& status) {
  const absl::optional<absl::Cord> payload = status.GetPayload(kErrorCodeUrl);
  int code = 0;
  if (payload.has_value() && absl::SimpleAtoi(std::string(*payload), &code) &&
      code >= static_cast<int>(ErrorCode::kMalformedFrame) &&
      code <= static_cast<int>(ErrorCode::kRevoked)) {
    return static_cast<ErrorCode>(code);
  }
  return ErrorCode::kMalformedFrame;
}

bool IsValidCameraId(std::string_view id) {
  // The id becomes a folder of the recording layout and an object-key
  // segment, so it must be safe there too: no separators, no leading dot.
  if (id.empty() || id.size() > kMaxCameraIdBytes || id.front() == '.') return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
  });
}

const char* FrameTypeName(FrameType type) {
  switch (type) {
    case FrameType::kHello:
      return "HELLO";
    case FrameType::kWelcome:
      return "WELCOME";
    case FrameType::kReject:
      return "REJECT";
    case FrameType::kRedirect:
      return "REDIRECT";
    case FrameType::kSegment:
      return "SEGMENT";
    case FrameType::kAck:
      return "ACK";
    case FrameType::kPing:
      return "PING";
    case FrameType::kPong:
      return "PONG";
    case FrameType::kGoaway:
      return "GOAWAY";
    case FrameType::kError:
      return "ERROR";
  }
  return "?";
}

const char* ErrorCodeName(ErrorCode code) {
  switch (code) {
    case ErrorCode::kMalformedFrame:
      return "MALFORMED_FRAME";
    case ErrorCode::kFrameTooLarge:
      return "FRAME_TOO_LARGE";
    case ErrorCode::kUnknownFrameType:
      return "UNKNOWN_FRAME_TYPE";
    case ErrorCode::kUnexpectedFrame:
      return "UNEXPECTED_FRAME";
    case ErrorCode::kWindowExceeded:
      return "WINDOW_EXCEEDED";
    case ErrorCode::kTimeout:
      return "TIMEOUT";
    case ErrorCode::kInternal:
      return "INTERNAL";
    case ErrorCode::kBadSequence:
      return "BAD_SEQUENCE";
    case ErrorCode::kSegmentMismatch:
      return "SEGMENT_MISMATCH";
    case ErrorCode::kInvalidField:
      return "INVALID_FIELD";
    case ErrorCode::kSuperseded:
      return "SUPERSEDED";
    case ErrorCode::kRevoked:
      return "REVOKED";
  }
  return "?";
}

}  // namespace camproto
