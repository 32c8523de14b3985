// Incremental decoder for camera protocol v1 frames.
//
// Built so a segment's payload is written once, straight into its final
// buffer: the caller asks WritableSpan() where the next bytes go, writes up to
// that many bytes there (for the server: SSL_read decrypts into it), and calls
// CommitWritten(). Frame headers and control frames go to a fixed internal
// buffer; SEGMENT payloads go to memory the FrameHandler provides. Nothing is
// allocated per frame, every length is bounded before any byte is stored, and
// frames may be split at any byte boundary.
//
//   FrameDecoder decoder({.max_segment_payload = 4 << 20});
//   absl::Span<uint8_t> dst = decoder.WritableSpan(handler);
//   size_t n = read_some(dst);
//   absl::Status s = decoder.CommitWritten(n, handler);  // !ok -> send ERROR, close
#ifndef PROTO_FRAME_DECODER_H_
#define PROTO_FRAME_DECODER_H_

#include <array>
#include <cstdint>
#include <optional>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "proto/frame.h"

namespace camproto {

// Receives what the decoder finds. Implemented by the server's session and the
// client library.
class FrameHandler {
 public:
  virtual ~FrameHandler() = default;
  // A complete non-SEGMENT frame. A non-OK status stops decoding and is
  // returned from CommitWritten/Feed.
  virtual absl::Status OnControlFrame(ControlFrame frame) = 0;
  // A SEGMENT header was parsed; header.payload_bytes is already bounded by the
  // decoder's limit. Return memory of exactly payload_bytes where the payload
  // will be written, or std::nullopt if no memory is available right now
  // (backpressure): the decoder then pauses (WritableSpan() returns an empty
  // span) and asks again on the next WritableSpan() call.
  virtual std::optional<absl::Span<uint8_t>> OnSegmentBegin(
      const SegmentHeader& header) = 0;
  // The payload promised by OnSegmentBegin is complete.
  virtual absl::Status OnSegmentEnd() = 0;
};

struct DecoderLimits {
  uint32_t max_control_frame = kMaxControlFrameBytes;  // length field, non-SEGMENT
  uint32_t max_segment_payload = 0;  // 0 = SEGMENT frames are refused
};

class FrameDecoder {
 public:
  explicit FrameDecoder(DecoderLimits limits);

  // Raises or lowers the largest accepted SEGMENT payload (e.g. after WELCOME).
  void set_max_segment_payload(uint32_t bytes);

  // Where the next incoming bytes must be written. Never larger than what the
  // current frame still needs (so bytes of the next frame are never written
  // into a payload buffer). Empty while paused for payload memory or after an
  // error.
  absl::Span<uint8_t> WritableSpan(FrameHandler& handler);

  // `n` bytes (n <= WritableSpan().size()) were written; parse and dispatch.
  // An error status names the problem and the ErrorCode to send (see
  // ErrorCodeOf); the decoder is then failed for good.
  absl::Status CommitWritten(size_t n, FrameHandler& handler);

  // Copies `bytes` in through WritableSpan/CommitWritten. Returns how many
  // bytes were consumed: fewer than bytes.size() only while paused for payload
  // memory. Convenient for tests and the client library.
  absl::StatusOr<size_t> Feed(absl::Span<const uint8_t> bytes, FrameHandler& handler);

  // True between frames (no partial frame buffered): a clean place to close.
  bool AtFrameBoundary() const;
  // True while OnSegmentBegin returned std::nullopt and has not yet succeeded.
  bool paused() const;
};

// The protocol ErrorCode carried by a decoder error status (kMalformedFrame if
// the status was not made by the decoder).
ErrorCode ErrorCodeOf(const absl::Status& status);

}  // namespace camproto

#endif  // PROTO_FRAME_DECODER_H_
