// Camera protocol v1: the messages a camera and an ingest server exchange.
// The byte layout of every frame is documented in proto/README.md; this file is
// its C++ mirror. Encoding lives in frame_encoder.h, decoding in frame_decoder.h.
//
//   camproto::Hello hello{.camera_id = "cam-0001", .firmware_version = "4.2.0"};
//   std::string wire;
//   camproto::AppendHello(hello, wire);
#ifndef PROTO_FRAME_H_
#define PROTO_FRAME_H_

#include <cstdint>
#include <string>
#include <variant>

namespace camproto {

inline constexpr uint16_t kProtocolVersion = 1;

// Every frame starts with a 4-byte big-endian length (of the type byte plus the
// body) and a 1-byte type.
inline constexpr size_t kFrameHeaderBytes = 5;
// Largest non-SEGMENT frame (length field value) either side accepts.
inline constexpr uint32_t kMaxControlFrameBytes = 4096;
// Bytes of a SEGMENT body before its payload: seq u64, capture_start_us i64,
// duration_us u32, flags u8.
inline constexpr size_t kSegmentHeaderBytes = 21;
// Longest string field (camera id, firmware version, reasons, endpoints).
inline constexpr size_t kMaxStringBytes = 1024;
inline constexpr size_t kMaxCameraIdBytes = 128;

enum class FrameType : uint8_t {
  kHello = 0x01,
  kWelcome = 0x02,
  kReject = 0x03,
  kRedirect = 0x04,
  kSegment = 0x05,
  kAck = 0x06,
  kPing = 0x07,
  kPong = 0x08,
  kGoaway = 0x09,
  kError = 0x0A,
};

// Camera -> server, first frame after the TLS handshake.
struct Hello {
  uint16_t protocol_version = kProtocolVersion;
  std::string camera_id;         // must equal the id in the camera's certificate
  std::string firmware_version;  // free text, logged
  uint64_t last_durable_seq = 0; // highest seq the camera believes durable; 0 = none
};

// Server -> camera, the answer to an accepted HELLO.
struct Welcome {
  uint16_t protocol_version = kProtocolVersion;
  uint64_t session_id = 0;
  std::string server_id;
  uint32_t max_segment_bytes = 0;    // largest SEGMENT payload the server accepts
  uint32_t ack_window_bytes = 0;     // max unacknowledged payload bytes in flight
  uint32_t keepalive_interval_ms = 0;// camera sends PING if idle this long
  uint64_t durable_seq = 0;          // highest seq the server holds durably; resend after it
};

enum class RejectCode : uint16_t {
  kUnsupportedVersion = 1,
  kCameraIdMismatch = 2,
  kServerFull = 3,
  kBadHello = 4,
  kUnknownCamera = 5,
  kShuttingDown = 6,
};

// Server -> camera: HELLO refused; the server closes after sending it.
struct Reject {
  RejectCode code = RejectCode::kBadHello;
  std::string reason;
};

// Server -> camera: connect to another endpoint instead (zones).
struct Redirect {
  std::string endpoint;  // "host:port"
  std::string zone_id;
};

inline constexpr uint8_t kSegmentFlagKeyframe = 0x01;
// The camera gives up every seq between its previous segment and this one.
inline constexpr uint8_t kSegmentFlagSkip = 0x02;
inline constexpr uint8_t kSegmentFlagsDefined = kSegmentFlagKeyframe | kSegmentFlagSkip;
// Longest segment a camera may declare (10 minutes).
inline constexpr uint32_t kMaxSegmentDurationUs = 600'000'000;

// Camera -> server: one recorded segment. The payload is not part of this
// struct: decoders hand it to the receiver's own memory (see FrameHandler).
struct SegmentHeader {
  uint64_t seq = 0;               // starts at 1; see proto/README.md "Sequence numbers"
  int64_t capture_start_us = 0;   // unix time, microseconds
  uint32_t duration_us = 0;
  uint8_t flags = 0;              // kSegmentFlagKeyframe | kSegmentFlagSkip
  uint32_t payload_bytes = 0;     // derived from the frame length on decode
};

enum class DurabilityLevel : uint8_t {
  kSpooled = 1,    // fsync'd to the server's local spool
  kPersisted = 2,  // in the object store (S3)
};

// Server -> camera: every segment with seq <= `seq` has reached `level`.
struct Ack {
  uint64_t seq = 0;
  DurabilityLevel level = DurabilityLevel::kSpooled;
};

struct Ping { uint64_t nonce = 0; };
struct Pong { uint64_t nonce = 0; };

enum class GoawayReason : uint16_t {
  kDraining = 1,
  kRezoned = 2,
  kOverloaded = 3,
};

// Server -> camera: finish in-flight work, then reconnect after the delay
// (the server already added jitter).
struct Goaway {
  GoawayReason reason = GoawayReason::kDraining;
  uint32_t reconnect_after_ms = 0;
  std::string message;
};

enum class ErrorCode : uint16_t {
  kMalformedFrame = 1,
  kFrameTooLarge = 2,
  kUnknownFrameType = 3,
  kUnexpectedFrame = 4,
  kWindowExceeded = 5,
  kTimeout = 6,
  kInternal = 7,
  kBadSequence = 8,      // a seq that jumps without SKIP, or one the server cannot show it holds
  kSegmentMismatch = 9,  // a re-sent seq whose contents differ from the stored segment
  kInvalidField = 10,    // a SEGMENT field outside its documented range
  kSuperseded = 11,      // a newer connection of the same camera took over
  kRevoked = 12,         // the camera's certificate or id was revoked (deny list or CRL)
};

// Either side: a protocol error; the sender closes after it.
struct Error {
  ErrorCode code = ErrorCode::kMalformedFrame;
  std::string message;
};

// Every frame except SEGMENT, as one value.
using ControlFrame =
    std::variant<Hello, Welcome, Reject, Redirect, Ack, Ping, Pong, Goaway, Error>;

}  // namespace camproto

#endif  // PROTO_FRAME_H_
