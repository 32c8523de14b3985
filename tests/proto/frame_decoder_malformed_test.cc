// The decoder against hostile input: every malformed case yields the right
// protocol ErrorCode without a crash, limits hold before any body byte is
// stored, and a long seeded random-bytes loop never crashes or lets
// WritableSpan() exceed the configured limits.
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/frame.h"
#include "proto/frame_decoder.h"
#include "proto/frame_encoder.h"

namespace camproto {
namespace {

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// Accepts everything into scratch memory and counts what arrived.
class CountingHandler : public FrameHandler {
 public:
  absl::Status OnControlFrame(ControlFrame) override {
    ++control_frames;
    return absl::OkStatus();
  }
  std::optional<absl::Span<uint8_t>> OnSegmentBegin(const SegmentHeader& header) override {
    EXPECT_LE(header.payload_bytes, payload.size());
    ++segments_begun;
    return absl::MakeSpan(payload.data(), header.payload_bytes);
  }
  absl::Status OnSegmentEnd() override {
    ++segments_ended;
    return absl::OkStatus();
  }

  std::vector<uint8_t> payload = std::vector<uint8_t>(1 << 16);
  int control_frames = 0;
  int segments_begun = 0;
  int segments_ended = 0;
};

std::string U16(uint16_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string U32(uint32_t v) {
  return U16(static_cast<uint16_t>(v >> 16)) + U16(static_cast<uint16_t>(v));
}
std::string U64(uint64_t v) {
  return U32(static_cast<uint32_t>(v >> 32)) + U32(static_cast<uint32_t>(v));
}
std::string Str(const std::string& s) { return U16(static_cast<uint16_t>(s.size())) + s; }

// A frame with an arbitrary body, built by hand so it may be wrong.
std::string RawFrame(FrameType type, const std::string& body) {
  return U32(static_cast<uint32_t>(1 + body.size())) + static_cast<char>(type) + body;
}

constexpr DecoderLimits kLimits{.max_control_frame = kMaxControlFrameBytes,
                                .max_segment_payload = 1024};

// Feeds `wire` and returns the error code it must fail with.
ErrorCode FailureOf(const std::string& wire, DecoderLimits limits = kLimits) {
  FrameDecoder decoder(limits);
  CountingHandler handler;
  absl::StatusOr<size_t> result = decoder.Feed(Bytes(wire), handler);
  EXPECT_FALSE(result.ok()) << "accepted " << wire.size() << " bytes";
  if (result.ok()) return static_cast<ErrorCode>(0);
  EXPECT_TRUE(decoder.failed());
  EXPECT_TRUE(decoder.WritableSpan(handler).empty());
  // The decoder stays failed with the same error.
  absl::StatusOr<size_t> again = decoder.Feed(Bytes(wire), handler);
  EXPECT_EQ(again.status(), result.status());
  return ErrorCodeOf(result.status());
}

TEST(FrameDecoderMalformedTest, LengthZero) {
  EXPECT_EQ(FailureOf(U32(0) + '\x07'), ErrorCode::kMalformedFrame);
}

TEST(FrameDecoderMalformedTest, ControlFrameOverLimitFailsAtTheHeader) {
  // Only the 5 header bytes are sent: the limit is checked before any body byte.
  EXPECT_EQ(FailureOf(U32(kMaxControlFrameBytes + 1) + '\x07'), ErrorCode::kFrameTooLarge);
  EXPECT_EQ(FailureOf(U32(0xffffffff) + '\x01'), ErrorCode::kFrameTooLarge);
  EXPECT_EQ(FailureOf(U32(101) + '\x09', DecoderLimits{.max_control_frame = 100}),
            ErrorCode::kFrameTooLarge);
}

TEST(FrameDecoderMalformedTest, ControlFrameAtLimitIsRead) {
  // A frame of exactly max_control_frame bytes passes the header check and
  // then fails only because this PING body is too long.
  std::string wire =
      U32(kMaxControlFrameBytes) + '\x07' + std::string(kMaxControlFrameBytes - 1, 'x');
  EXPECT_EQ(FailureOf(wire), ErrorCode::kMalformedFrame);
}

TEST(FrameDecoderMalformedTest, SegmentOverLimitFailsAtTheHeader) {
  EXPECT_EQ(FailureOf(U32(1 + kSegmentHeaderBytes + 1025) + '\x05'), ErrorCode::kFrameTooLarge);
  EXPECT_EQ(FailureOf(U32(0xffffffff) + '\x05'), ErrorCode::kFrameTooLarge);
}

TEST(FrameDecoderMalformedTest, SegmentAtLimitIsAccepted) {
  std::string wire;
  AppendSegment(SegmentHeader{.seq = 1}, Bytes(std::string(1024, 's')), wire);
  FrameDecoder decoder(kLimits);
  CountingHandler handler;
  EXPECT_EQ(decoder.Feed(Bytes(wire), handler).value_or(0), wire.size());
  EXPECT_EQ(handler.segments_ended, 1);
}

TEST(FrameDecoderMalformedTest, SegmentWhenSegmentsAreNotAllowed) {
  std::string wire;
  AppendSegment(SegmentHeader{.seq = 1}, Bytes("x"), wire);
  EXPECT_EQ(FailureOf(wire.substr(0, kFrameHeaderBytes), DecoderLimits{.max_segment_payload = 0}),
            ErrorCode::kUnexpectedFrame);
}

TEST(FrameDecoderMalformedTest, SegmentShorterThanItsHeader) {
  EXPECT_EQ(FailureOf(U32(1 + kSegmentHeaderBytes - 1) + '\x05'), ErrorCode::kMalformedFrame);
  EXPECT_EQ(FailureOf(U32(1) + '\x05'), ErrorCode::kMalformedFrame);
}

TEST(FrameDecoderMalformedTest, UnknownTypeFailsAtTheHeader) {
  for (uint8_t type : {0x00, 0x0B, 0x7F, 0xFF}) {
    EXPECT_EQ(FailureOf(U32(9) + static_cast<char>(type)), ErrorCode::kUnknownFrameType)
        << int{type};
  }
}

TEST(FrameDecoderMalformedTest, TruncatedString) {
  // REJECT whose reason claims 10 bytes but the frame holds 3.
  EXPECT_EQ(FailureOf(RawFrame(FrameType::kReject, U16(1) + U16(10) + "abc")),
            ErrorCode::kMalformedFrame);
  // REDIRECT ending inside the second string's length.
  EXPECT_EQ(FailureOf(RawFrame(FrameType::kRedirect, Str("host:1") + '\x00')),
            ErrorCode::kMalformedFrame);
}

TEST(FrameDecoderMalformedTest, StringOverLimit) {
  const std::string body = U16(1) + U32(0) + Str(std::string(kMaxStringBytes + 1, 'm'));
  EXPECT_EQ(FailureOf(RawFrame(FrameType::kGoaway, body)), ErrorCode::kMalformedFrame);
}

TEST(FrameDecoderMalformedTest, TrailingBytes) {
  EXPECT_EQ(FailureOf(RawFrame(FrameType::kPing, U64(1) + 'x')), ErrorCode::kMalformedFrame);
  EXPECT_EQ(FailureOf(RawFrame(FrameType::kAck, U64(1) + '\x01' + '\x00')),
            ErrorCode::kMalformedFrame);
  EXPECT_EQ(FailureOf(RawFrame(FrameType::kError, U16(1) + Str("m") + "zz")),
            ErrorCode::kMalformedFrame);
}

TEST(FrameDecoderMalformedTest, BodyTooShort) {
  EXPECT_EQ(FailureOf(RawFrame(FrameType::kPing, "")), ErrorCode::kMalformedFrame);
  EXPECT_EQ(FailureOf(RawFrame(FrameType::kPong, U32(1))), ErrorCode::kMalformedFrame);
  EXPECT_EQ(FailureOf(RawFrame(FrameType::kAck, U64(1))), ErrorCode::kMalformedFrame);
  EXPECT_EQ(FailureOf(RawFrame(FrameType::kWelcome, U16(1) + U64(2) + Str("srv") + U32(1))),
            ErrorCode::kMalformedFrame);
  EXPECT_EQ(FailureOf(RawFrame(FrameType::kHello, U16(1) + Str("cam") + Str("fw") + U32(0))),
            ErrorCode::kMalformedFrame);
}

TEST(FrameDecoderMalformedTest, BadAckLevel) {
  for (uint8_t level : {0, 3, 255}) {
    EXPECT_EQ(FailureOf(RawFrame(FrameType::kAck, U64(1) + static_cast<char>(level))),
              ErrorCode::kMalformedFrame)
        << int{level};
  }
}

TEST(FrameDecoderMalformedTest, BadCameraId) {
  for (const std::string& id :
       {std::string(""), std::string("cam 1"), std::string("cam/1"), std::string("cam\xc3\xa9"),
        std::string(1, '\0'), std::string(kMaxCameraIdBytes + 1, 'c')}) {
    EXPECT_EQ(FailureOf(RawFrame(FrameType::kHello, U16(1) + Str(id) + Str("fw") + U64(0))),
              ErrorCode::kMalformedFrame)
        << id;
  }
}

TEST(FrameDecoderMalformedTest, ValidFramesBeforeTheBadOneAreDelivered) {
  std::string wire;
  AppendPing(Ping{.nonce = 1}, wire);
  AppendPong(Pong{.nonce = 2}, wire);
  wire += U32(0) + '\x07';
  FrameDecoder decoder(kLimits);
  CountingHandler handler;
  EXPECT_FALSE(decoder.Feed(Bytes(wire), handler).ok());
  EXPECT_EQ(handler.control_frames, 2);
}

// Feeds `wire` in random pieces through WritableSpan/CommitWritten, checking
// every span against the limits, until the input ends or the decoder fails.
void FeedChecked(const std::string& wire, DecoderLimits limits, std::mt19937_64& rng,
                 FrameDecoder& decoder, CountingHandler& handler) {
  size_t pos = 0;
  while (pos < wire.size()) {
    absl::Span<uint8_t> dst = decoder.WritableSpan(handler);
    if (dst.empty()) {
      ASSERT_TRUE(decoder.failed()) << "empty span while neither paused nor failed";
      return;
    }
    const size_t max_span =
        std::max<size_t>({kFrameHeaderBytes, limits.max_control_frame, limits.max_segment_payload});
    ASSERT_LE(dst.size(), max_span);
    const size_t n = std::min<size_t>({dst.size(), wire.size() - pos, 1 + rng() % 64});
    std::memcpy(dst.data(), wire.data() + pos, n);
    pos += n;
    if (!decoder.CommitWritten(n, handler).ok()) {
      ASSERT_TRUE(decoder.failed());
      ASSERT_TRUE(decoder.WritableSpan(handler).empty());
      return;
    }
  }
}

TEST(FrameDecoderFuzzTest, RandomBytesNeverCrashOrExceedLimits) {
  std::mt19937_64 rng(20240601);
  const DecoderLimits limits{.max_control_frame = 512, .max_segment_payload = 2048};
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string wire(rng() % 300, '\0');
    for (char& c : wire) c = static_cast<char>(rng());
    // Bias towards plausible headers so bodies get parsed, not just refused.
    if (wire.size() >= 5 && rng() % 2 == 0) {
      const uint32_t length = static_cast<uint32_t>(rng() % wire.size());
      std::memcpy(wire.data(), U32(length).data(), 4);
      wire[4] = static_cast<char>(1 + rng() % 10);
    }
    FrameDecoder decoder(limits);
    CountingHandler handler;
    FeedChecked(wire, limits, rng, decoder, handler);
    if (HasFatalFailure()) return;
    EXPECT_GE(handler.segments_begun, handler.segments_ended);
    EXPECT_LE(handler.segments_begun - handler.segments_ended, 1);
  }
}

TEST(FrameDecoderFuzzTest, MutatedValidStreamsNeverCrash) {
  std::mt19937_64 rng(7);
  std::string valid;
  AppendHello(Hello{.camera_id = "cam-1", .firmware_version = "fw"}, valid);
  AppendWelcome(Welcome{.server_id = "s", .max_segment_bytes = 100, .durable_seq = 4}, valid);
  AppendReject(Reject{.reason = "r"}, valid);
  AppendRedirect(Redirect{.endpoint = "e:1", .zone_id = "z"}, valid);
  AppendSegment(SegmentHeader{.seq = 5}, Bytes(std::string(40, 'p')), valid);
  AppendAck(Ack{.seq = 5}, valid);
  AppendPing(Ping{}, valid);
  AppendPong(Pong{}, valid);
  AppendGoaway(Goaway{.message = "g"}, valid);
  AppendError(Error{.message = "e"}, valid);
  const DecoderLimits limits{.max_segment_payload = 64};
  for (int iteration = 0; iteration < 20000; ++iteration) {
    std::string wire = valid;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int i = 0; i < flips; ++i) wire[rng() % wire.size()] = static_cast<char>(rng());
    if (rng() % 4 == 0) wire.resize(rng() % wire.size());
    FrameDecoder decoder(limits);
    CountingHandler handler;
    FeedChecked(wire, limits, rng, decoder, handler);
    if (HasFatalFailure()) return;
    EXPECT_GE(handler.segments_begun, handler.segments_ended);
    EXPECT_LE(handler.segments_begun - handler.segments_ended, 1);
  }
}

}  // namespace
}  // namespace camproto
