// Encoder for camera protocol v1 frames (byte layout: proto/README.md).
//
// Frames are appended to a caller-owned std::string, so a sender batches many
// frames into one buffer and hands it to TLS in one write. A SEGMENT's payload
// is appended by the caller right after AppendSegmentHeader (or by
// AppendSegment), so it is copied exactly once.
//
//   std::string out;
//   camproto::AppendAck({.seq = 41, .level = camproto::DurabilityLevel::kSpooled}, out);
//   camproto::AppendSegmentHeader(header, out);  // header.payload_bytes = payload.size()
//   out.append(payload);
//
// Append* expect valid input: a frame that ValidateForEncoding refuses (a
// string over kMaxStringBytes, a bad camera id, an unknown ACK level) is a
// programming error and aborts the process with the reason, rather than
// putting a frame on the wire that the peer must refuse. Text that comes from
// elsewhere (exception messages, file names) goes through TruncateForWire.
#ifndef PROTO_FRAME_ENCODER_H_
#define PROTO_FRAME_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "proto/frame.h"

namespace camproto {

// OK if `frame` can be encoded and a conforming decoder will accept it.
absl::Status ValidateForEncoding(const ControlFrame& frame);
// OK if a SEGMENT with this header fits a frame (payload below 4 GiB - 22).
absl::Status ValidateForEncoding(const SegmentHeader& header);

// Encoded size of `frame` including the 5-byte frame header.
size_t EncodedSize(const ControlFrame& frame);
// Encoded size of a SEGMENT frame with `payload_bytes` of payload.
constexpr size_t EncodedSegmentSize(uint32_t payload_bytes) {
  return kFrameHeaderBytes + kSegmentHeaderBytes + payload_bytes;
}

// Appends one complete frame to `out`. Aborts if ValidateForEncoding fails.
void AppendFrame(const ControlFrame& frame, std::string& out);

// Typed forms of AppendFrame that need no ControlFrame (so no string copies).
void AppendHello(const Hello& hello, std::string& out);
void AppendWelcome(const Welcome& welcome, std::string& out);
void AppendReject(const Reject& reject, std::string& out);
void AppendRedirect(const Redirect& redirect, std::string& out);
void AppendAck(const Ack& ack, std::string& out);
void AppendPing(const Ping& ping, std::string& out);
void AppendPong(const Pong& pong, std::string& out);
void AppendGoaway(const Goaway& goaway, std::string& out);
void AppendError(const Error& error, std::string& out);

// Appends the 5-byte frame header and 21-byte SEGMENT header for a payload of
// h.payload_bytes; the caller appends exactly that many payload bytes next.
void AppendSegmentHeader(const SegmentHeader& h, std::string& out);

// Appends a whole SEGMENT frame. The frame length comes from payload.size();
// h.payload_bytes is ignored.
void AppendSegment(const SegmentHeader& h, absl::Span<const uint8_t> payload, std::string& out);

// `text` cut to at most kMaxStringBytes without splitting a UTF-8 sequence,
// for string fields filled from text the sender does not control.
std::string TruncateForWire(std::string_view text);

}  // namespace camproto

#endif  // PROTO_FRAME_ENCODER_H_
