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
//
// An empty WritableSpan() while !paused() means the decoder has failed (a
// handler callback made from inside WritableSpan() returned an error);
// CommitWritten(0, handler) then returns that error.
#ifndef PROTO_FRAME_DECODER_H_
#define PROTO_FRAME_DECODER_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
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
  // Length field, non-SEGMENT; values above kMaxControlFrameBytes act as
  // kMaxControlFrameBytes (the size of the decoder's fixed buffer).
  uint32_t max_control_frame = kMaxControlFrameBytes;
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
  // True once any error was returned; the decoder accepts nothing more.
  bool failed() const;

 private:
  enum class Phase { kHeader, kBody, kPayload, kFailed };

  // Bytes the current phase can take now (0 while paused or failed).
  size_t Capacity() const;
  absl::Status OnHeaderComplete(FrameHandler& handler);
  absl::Status OnBodyComplete(FrameHandler& handler);
  // Asks the handler for payload memory; finishes a zero-length payload at once.
  absl::Status RequestPayloadMemory(FrameHandler& handler);
  absl::Status FinishSegment(FrameHandler& handler);
  // Records `status` as the decoder's final error and returns it.
  absl::Status Fail(absl::Status status);

  DecoderLimits limits_;
  Phase phase_ = Phase::kHeader;
  // Bytes of the current phase received so far (header or body).
  size_t filled_ = 0;
  // Body bytes buffered for this frame: the control body, or the 21-byte
  // SEGMENT header.
  size_t body_bytes_ = 0;
  uint8_t type_ = 0;
  SegmentHeader segment_;
  bool paused_ = false;
  absl::Span<uint8_t> payload_;
  size_t payload_written_ = 0;
  absl::Status status_;
  // Frame header followed by the body of a control frame (or a SEGMENT
  // header). Headers, ACK/PING/PONG and SEGMENT headers fit inline; a larger
  // control frame (HELLO, once per connection) borrows a heap buffer of its
  // exact size, bounded by kMaxControlFrameBytes, for as long as it is being
  // decoded. Idle connections then cost 64 bytes here, not 4 KiB.
  static constexpr size_t kInlineBytes = 64;
  uint8_t* buffer() { return large_ != nullptr ? large_.get() : inline_.data(); }
  std::array<uint8_t, kInlineBytes> inline_{};
  std::unique_ptr<uint8_t[]> large_;
};

// Builds a status carrying a protocol ErrorCode, so ErrorCodeOf recovers it.
// FrameHandler implementations use it for their own protocol errors (e.g.
// kUnexpectedFrame, kWindowExceeded).
absl::Status MakeProtocolError(ErrorCode code, std::string_view message);

// The protocol ErrorCode carried by a decoder error status (kMalformedFrame if
// the status was not made by the decoder).
ErrorCode ErrorCodeOf(const absl::Status& status);

// True if `id` is 1..kMaxCameraIdBytes bytes of [A-Za-z0-9._-] not starting
// with '.': the one camera-id rule, shared by the wire, certificates and storage.
bool IsValidCameraId(std::string_view id);

// Names for log lines and error messages ("HELLO", "FRAME_TOO_LARGE"; "?" if
// the value is not one of the enum's).
const char* FrameTypeName(FrameType type);
const char* ErrorCodeName(ErrorCode code);

}  // namespace camproto

#endif  // PROTO_FRAME_DECODER_H_
