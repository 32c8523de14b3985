#include "proto/frame_encoder.h"

#include <cstdio>
#include <cstdlib>
#include <limits>
#include <variant>

#include "absl/strings/str_cat.h"
#include "proto/frame_decoder.h"

namespace camproto {
namespace {

void PutU8(uint8_t v, std::string& out) { out.push_back(static_cast<char>(v)); }

void PutU16(uint16_t v, std::string& out) {
  const char bytes[2] = {static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(bytes, sizeof(bytes));
}

void PutU32(uint32_t v, std::string& out) {
  const char bytes[4] = {static_cast<char>(v >> 24), static_cast<char>(v >> 16),
                         static_cast<char>(v >> 8), static_cast<char>(v)};
  out.append(bytes, sizeof(bytes));
}

void PutU64(uint64_t v, std::string& out) {
  PutU32(static_cast<uint32_t>(v >> 32), out);
  PutU32(static_cast<uint32_t>(v), out);
}

void PutString(const std::string& s, std::string& out) {
  PutU16(static_cast<uint16_t>(s.size()), out);
  out.append(s);
}

constexpr size_t StringSize(const std::string& s) { return 2 + s.size(); }

// Per message type: its type byte, body size, body bytes and field checks.
FrameType TypeOf(const Hello&) { return FrameType::kHello; }
FrameType TypeOf(const Welcome&) { return FrameType::kWelcome; }
FrameType TypeOf(const Reject&) { return FrameType::kReject; }
FrameType TypeOf(const Redirect&) { return FrameType::kRedirect; }
FrameType TypeOf(const Ack&) { return FrameType::kAck; }
FrameType TypeOf(const Ping&) { return FrameType::kPing; }
FrameType TypeOf(const Pong&) { return FrameType::kPong; }
FrameType TypeOf(const Goaway&) { return FrameType::kGoaway; }
FrameType TypeOf(const Error&) { return FrameType::kError; }

size_t BodySize(const Hello& m) {
  return 2 + StringSize(m.camera_id) + StringSize(m.firmware_version) + 8;
}
size_t BodySize(const Welcome& m) { return 2 + 8 + StringSize(m.server_id) + 4 + 4 + 4 + 8; }
size_t BodySize(const Reject& m) { return 2 + StringSize(m.reason); }
size_t BodySize(const Redirect& m) { return StringSize(m.endpoint) + StringSize(m.zone_id); }
size_t BodySize(const Ack&) { return 8 + 1; }
size_t BodySize(const Ping&) { return 8; }
size_t BodySize(const Pong&) { return 8; }
size_t BodySize(const Goaway& m) { return 2 + 4 + StringSize(m.message); }
size_t BodySize(const Error& m) { return 2 + StringSize(m.message); }

void PutBody(const Hello& m, std::string& out) {
  PutU16(m.protocol_version, out);
  PutString(m.camera_id, out);
  PutString(m.firmware_version, out);
  PutU64(m.last_durable_seq, out);
}
void PutBody(const Welcome& m, std::string& out) {
  PutU16(m.protocol_version, out);
  PutU64(m.session_id, out);
  PutString(m.server_id, out);
  PutU32(m.max_segment_bytes, out);
  PutU32(m.ack_window_bytes, out);
  PutU32(m.keepalive_interval_ms, out);
  PutU64(m.durable_seq, out);
}
void PutBody(const Reject& m, std::string& out) {
  PutU16(static_cast<uint16_t>(m.code), out);
  PutString(m.reason, out);
}
void PutBody(const Redirect& m, std::string& out) {
  PutString(m.endpoint, out);
  PutString(m.zone_id, out);
}
void PutBody(const Ack& m, std::string& out) {
  PutU64(m.seq, out);
  PutU8(static_cast<uint8_t>(m.level), out);
}
void PutBody(const Ping& m, std::string& out) { PutU64(m.nonce, out); }
void PutBody(const Pong& m, std::string& out) { PutU64(m.nonce, out); }
void PutBody(const Goaway& m, std::string& out) {
  PutU16(static_cast<uint16_t>(m.reason), out);
  PutU32(m.reconnect_after_ms, out);
  PutString(m.message, out);
}
void PutBody(const Error& m, std::string& out) {
  PutU16(static_cast<uint16_t>(m.code), out);
  PutString(m.message, out);
}

absl::Status CheckString(const char* field, const std::string& s) {
  if (s.size() <= kMaxStringBytes) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(field, " is ", s.size(), " bytes, limit ", kMaxStringBytes));
}

absl::Status CheckFields(const Hello& m) {
  if (!IsValidCameraId(m.camera_id)) {
    return absl::InvalidArgumentError(absl::StrCat("camera_id \"", TruncateForWire(m.camera_id),
                                                   "\" is not 1..128 bytes of [A-Za-z0-9._-] (no leading dot)"));
  }
  return CheckString("firmware_version", m.firmware_version);
}
absl::Status CheckFields(const Welcome& m) { return CheckString("server_id", m.server_id); }
absl::Status CheckFields(const Reject& m) { return CheckString("reason", m.reason); }
absl::Status CheckFields(const Redirect& m) {
  absl::Status status = CheckString("endpoint", m.endpoint);
  if (!status.ok()) return status;
  return CheckString("zone_id", m.zone_id);
}
absl::Status CheckFields(const Ack& m) {
  if (m.level == DurabilityLevel::kSpooled || m.level == DurabilityLevel::kPersisted) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("ACK level ", static_cast<int>(m.level), " is not 1 or 2"));
}
absl::Status CheckFields(const Ping&) { return absl::OkStatus(); }
absl::Status CheckFields(const Pong&) { return absl::OkStatus(); }
absl::Status CheckFields(const Goaway& m) { return CheckString("message", m.message); }
absl::Status CheckFields(const Error& m) { return CheckString("message", m.message); }

template <typename Message>
absl::Status Validate(const Message& m) {
  absl::Status status = CheckFields(m);
  if (status.ok() && 1 + BodySize(m) > kMaxControlFrameBytes) {
    status = absl::InvalidArgumentError(
        absl::StrCat("frame length ", 1 + BodySize(m), " exceeds ", kMaxControlFrameBytes));
  }
  if (status.ok()) return status;
  return absl::InvalidArgumentError(absl::StrCat(FrameTypeName(TypeOf(m)), ": ", status.message()));
}

// Encoding an invalid frame is a bug in the sender; see the header comment.
[[noreturn]] void DieInvalid(const absl::Status& status) {
  std::fprintf(stderr, "camproto: refusing to encode an invalid frame: %s\n",
               std::string(status.message()).c_str());
  std::abort();
}

template <typename Message>
void Append(const Message& m, std::string& out) {
  if (absl::Status status = Validate(m); !status.ok()) DieInvalid(status);
  const size_t body = BodySize(m);
  out.reserve(out.size() + kFrameHeaderBytes + body);
  PutU32(static_cast<uint32_t>(1 + body), out);
  PutU8(static_cast<uint8_t>(TypeOf(m)), out);
  PutBody(m, out);
}

}  // namespace

absl::Status ValidateForEncoding(const ControlFrame& frame) {
  return std::visit([](const auto& m) { return Validate(m); }, frame);
}

absl::Status ValidateForEncoding(const SegmentHeader& header) {
  constexpr uint32_t kMaxPayload =
      std::numeric_limits<uint32_t>::max() - 1 - static_cast<uint32_t>(kSegmentHeaderBytes);
  if (header.payload_bytes <= kMaxPayload) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("SEGMENT payload of ", header.payload_bytes, " bytes does not fit a frame"));
}

size_t EncodedSize(const ControlFrame& frame) {
  return kFrameHeaderBytes + std::visit([](const auto& m) { return BodySize(m); }, frame);
}

void AppendFrame(const ControlFrame& frame, std::string& out) {
  std::visit([&out](const auto& m) { Append(m, out); }, frame);
}

void AppendHello(const Hello& hello, std::string& out) { Append(hello, out); }
void AppendWelcome(const Welcome& welcome, std::string& out) { Append(welcome, out); }
void AppendReject(const Reject& reject, std::string& out) { Append(reject, out); }
void AppendRedirect(const Redirect& redirect, std::string& out) { Append(redirect, out); }
void AppendAck(const Ack& ack, std::string& out) { Append(ack, out); }
void AppendPing(const Ping& ping, std::string& out) { Append(ping, out); }
void AppendPong(const Pong& pong, std::string& out) { Append(pong, out); }
void AppendGoaway(const Goaway& goaway, std::string& out) { Append(goaway, out); }
void AppendError(const Error& error, std::string& out) { Append(error, out); }

void AppendSegmentHeader(const SegmentHeader& h, std::string& out) {
  if (absl::Status status = ValidateForEncoding(h); !status.ok()) DieInvalid(status);
  PutU32(static_cast<uint32_t>(1 + kSegmentHeaderBytes + h.payload_bytes), out);
  PutU8(static_cast<uint8_t>(FrameType::kSegment), out);
  PutU64(h.seq, out);
  PutU64(static_cast<uint64_t>(h.capture_start_us), out);
  PutU32(h.duration_us, out);
  PutU8(h.flags, out);
}

void AppendSegment(const SegmentHeader& h, absl::Span<const uint8_t> payload, std::string& out) {
  if (payload.size() > std::numeric_limits<uint32_t>::max()) {
    DieInvalid(absl::InvalidArgumentError(
        absl::StrCat("SEGMENT payload of ", payload.size(), " bytes does not fit a frame")));
  }
  SegmentHeader sized = h;
  sized.payload_bytes = static_cast<uint32_t>(payload.size());
  out.reserve(out.size() + EncodedSegmentSize(sized.payload_bytes));
  AppendSegmentHeader(sized, out);
  out.append(reinterpret_cast<const char*>(payload.data()), payload.size());
}

std::string TruncateForWire(std::string_view text) {
  if (text.size() <= kMaxStringBytes) return std::string(text);
  size_t end = kMaxStringBytes;
  // Back off continuation bytes (10xxxxxx) so a multi-byte character is
  // dropped whole rather than split.
  while (end > 0 && (static_cast<uint8_t>(text[end]) & 0xC0) == 0x80) --end;
  return std::string(text.substr(0, end));
}

}  // namespace camproto
