// Round trips through the encoder and the incremental decoder: every message
// type, the byte layout documented in proto/README.md, frames split at every
// byte boundary, many frames in one Feed, and pausing for payload memory.
#include <cstring>
#include <memory>
#include <string>
#include <variant>
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

std::string FromHex(std::string_view hex) {
  std::string out;
  int nibbles = 0;
  uint8_t byte = 0;
  for (char c : hex) {
    int v;
    if (c >= '0' && c <= '9')
      v = c - '0';
    else if (c >= 'a' && c <= 'f')
      v = c - 'a' + 10;
    else
      continue;  // spaces and line breaks
    byte = static_cast<uint8_t>(byte << 4 | v);
    if (++nibbles % 2 == 0) out.push_back(static_cast<char>(byte));
  }
  return out;
}

struct SegmentEvent {
  SegmentHeader header;
  std::string payload;
};
using Event = std::variant<ControlFrame, SegmentEvent>;

// Records what the decoder delivers; payload memory is a string per segment.
class RecordingHandler : public FrameHandler {
 public:
  absl::Status OnControlFrame(ControlFrame frame) override {
    events.push_back(std::move(frame));
    return absl::OkStatus();
  }
  std::optional<absl::Span<uint8_t>> OnSegmentBegin(const SegmentHeader& header) override {
    EXPECT_FALSE(in_segment) << "OnSegmentBegin twice without OnSegmentEnd";
    if (refusals_left > 0) {
      --refusals_left;
      return std::nullopt;
    }
    in_segment = true;
    pending = SegmentEvent{header, std::string(header.payload_bytes, '\0')};
    return absl::MakeSpan(reinterpret_cast<uint8_t*>(pending.payload.data()),
                          pending.payload.size());
  }
  absl::Status OnSegmentEnd() override {
    EXPECT_TRUE(in_segment);
    in_segment = false;
    events.push_back(std::move(pending));
    return absl::OkStatus();
  }

  std::vector<Event> events;
  SegmentEvent pending;
  bool in_segment = false;
  int refusals_left = 0;
};

// The canonical encoding of an event, to compare decoded streams byte-exactly.
std::string Encode(const Event& event) {
  std::string out;
  if (const auto* frame = std::get_if<ControlFrame>(&event)) {
    AppendFrame(*frame, out);
  } else {
    const auto& segment = std::get<SegmentEvent>(event);
    AppendSegment(segment.header, Bytes(segment.payload), out);
  }
  return out;
}

std::string EncodeAll(const std::vector<Event>& events) {
  std::string out;
  for (const Event& e : events) out += Encode(e);
  return out;
}

constexpr DecoderLimits kLimits{.max_segment_payload = 1 << 20};

std::vector<Event> DecodeOneShot(const std::string& wire) {
  FrameDecoder decoder(kLimits);
  RecordingHandler handler;
  absl::StatusOr<size_t> consumed = decoder.Feed(Bytes(wire), handler);
  EXPECT_TRUE(consumed.ok()) << consumed.status();
  EXPECT_EQ(consumed.value_or(0), wire.size());
  EXPECT_TRUE(decoder.AtFrameBoundary());
  return std::move(handler.events);
}

template <typename T>
T DecodeSingle(const ControlFrame& frame) {
  std::string wire;
  AppendFrame(frame, wire);
  EXPECT_EQ(wire.size(), EncodedSize(frame));
  std::vector<Event> events = DecodeOneShot(wire);
  EXPECT_EQ(events.size(), 1u);
  if (events.size() != 1) return T{};
  const auto* control = std::get_if<ControlFrame>(&events[0]);
  EXPECT_NE(control, nullptr);
  EXPECT_TRUE(control != nullptr && std::holds_alternative<T>(*control));
  return control != nullptr && std::holds_alternative<T>(*control) ? std::get<T>(*control) : T{};
}

TEST(FrameCodecTest, HelloRoundTrip) {
  Hello in{.camera_id = "cam-0001.site_a-7",
           .firmware_version = "4.2.0 \xc3\xa9",
           .last_durable_seq = 0x0102030405060708};
  Hello out = DecodeSingle<Hello>(in);
  EXPECT_EQ(out.protocol_version, kProtocolVersion);
  EXPECT_EQ(out.camera_id, in.camera_id);
  EXPECT_EQ(out.firmware_version, in.firmware_version);
  EXPECT_EQ(out.last_durable_seq, in.last_durable_seq);
}

TEST(FrameCodecTest, WelcomeRoundTrip) {
  Welcome in{.session_id = 0xfedcba9876543210,
             .server_id = "zone-eu1/ingest-07",
             .max_segment_bytes = 4 << 20,
             .ack_window_bytes = 16 << 20,
             .keepalive_interval_ms = 15000,
             .durable_seq = 99};
  Welcome out = DecodeSingle<Welcome>(in);
  EXPECT_EQ(out.protocol_version, kProtocolVersion);
  EXPECT_EQ(out.session_id, in.session_id);
  EXPECT_EQ(out.server_id, in.server_id);
  EXPECT_EQ(out.max_segment_bytes, in.max_segment_bytes);
  EXPECT_EQ(out.ack_window_bytes, in.ack_window_bytes);
  EXPECT_EQ(out.keepalive_interval_ms, in.keepalive_interval_ms);
  EXPECT_EQ(out.durable_seq, in.durable_seq);
}

TEST(FrameCodecTest, RejectRoundTrip) {
  Reject out = DecodeSingle<Reject>(Reject{.code = RejectCode::kServerFull, .reason = "full"});
  EXPECT_EQ(out.code, RejectCode::kServerFull);
  EXPECT_EQ(out.reason, "full");
}

TEST(FrameCodecTest, RedirectRoundTrip) {
  Redirect out =
      DecodeSingle<Redirect>(Redirect{.endpoint = "ingest-b.example:7443", .zone_id = "eu-2"});
  EXPECT_EQ(out.endpoint, "ingest-b.example:7443");
  EXPECT_EQ(out.zone_id, "eu-2");
}

TEST(FrameCodecTest, AckRoundTrip) {
  for (DurabilityLevel level : {DurabilityLevel::kSpooled, DurabilityLevel::kPersisted}) {
    Ack out = DecodeSingle<Ack>(Ack{.seq = 123456789012, .level = level});
    EXPECT_EQ(out.seq, 123456789012u);
    EXPECT_EQ(out.level, level);
  }
}

TEST(FrameCodecTest, PingPongRoundTrip) {
  EXPECT_EQ(DecodeSingle<Ping>(Ping{.nonce = 7}).nonce, 7u);
  EXPECT_EQ(DecodeSingle<Pong>(Pong{.nonce = ~uint64_t{0}}).nonce, ~uint64_t{0});
}

TEST(FrameCodecTest, GoawayRoundTrip) {
  Goaway out = DecodeSingle<Goaway>(
      Goaway{.reason = GoawayReason::kRezoned, .reconnect_after_ms = 2500, .message = "moved"});
  EXPECT_EQ(out.reason, GoawayReason::kRezoned);
  EXPECT_EQ(out.reconnect_after_ms, 2500u);
  EXPECT_EQ(out.message, "moved");
}

TEST(FrameCodecTest, ErrorRoundTrip) {
  Error out = DecodeSingle<Error>(Error{.code = ErrorCode::kWindowExceeded, .message = ""});
  EXPECT_EQ(out.code, ErrorCode::kWindowExceeded);
  EXPECT_EQ(out.message, "");
}

TEST(FrameCodecTest, LongestStringsRoundTrip) {
  const std::string longest(kMaxStringBytes, 'x');
  Goaway out = DecodeSingle<Goaway>(Goaway{.message = longest});
  EXPECT_EQ(out.message, longest);
  Hello hello = DecodeSingle<Hello>(
      Hello{.camera_id = std::string(kMaxCameraIdBytes, 'c'), .firmware_version = longest});
  EXPECT_EQ(hello.camera_id.size(), kMaxCameraIdBytes);
}

TEST(FrameCodecTest, SegmentRoundTrip) {
  std::string payload(1000, '\0');
  for (size_t i = 0; i < payload.size(); ++i) payload[i] = static_cast<char>(i * 7);
  SegmentHeader header{
      .seq = 42, .capture_start_us = -5, .duration_us = 2000000, .flags = kSegmentFlagKeyframe};
  std::string wire;
  AppendSegment(header, Bytes(payload), wire);
  EXPECT_EQ(wire.size(), EncodedSegmentSize(1000));
  std::vector<Event> events = DecodeOneShot(wire);
  ASSERT_EQ(events.size(), 1u);
  const auto& segment = std::get<SegmentEvent>(events[0]);
  EXPECT_EQ(segment.header.seq, 42u);
  EXPECT_EQ(segment.header.capture_start_us, -5);
  EXPECT_EQ(segment.header.duration_us, 2000000u);
  EXPECT_EQ(segment.header.flags, kSegmentFlagKeyframe);
  EXPECT_EQ(segment.header.payload_bytes, 1000u);
  EXPECT_EQ(segment.payload, payload);
}

TEST(FrameCodecTest, SegmentHeaderThenPayloadEqualsAppendSegment) {
  const std::string payload = "abcdef";
  SegmentHeader header{.seq = 3,
                       .capture_start_us = 10,
                       .duration_us = 20,
                       .payload_bytes = static_cast<uint32_t>(payload.size())};
  std::string split;
  AppendSegmentHeader(header, split);
  EXPECT_EQ(split.size(), kFrameHeaderBytes + kSegmentHeaderBytes);
  split += payload;
  std::string whole;
  AppendSegment(SegmentHeader{.seq = 3, .capture_start_us = 10, .duration_us = 20}, Bytes(payload),
                whole);
  EXPECT_EQ(split, whole);
}

TEST(FrameCodecTest, ZeroLengthSegmentBeginsAndEnds) {
  std::string wire;
  AppendSegment(SegmentHeader{.seq = 9}, {}, wire);
  std::vector<Event> events = DecodeOneShot(wire);
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(std::get<SegmentEvent>(events[0]).header.seq, 9u);
  EXPECT_TRUE(std::get<SegmentEvent>(events[0]).payload.empty());
}

// The worked examples in proto/README.md, byte for byte.
TEST(FrameCodecTest, MatchesReadmeHelloExample) {
  std::string wire;
  AppendHello(Hello{.camera_id = "cam-1", .firmware_version = "4.2", .last_durable_seq = 17}, wire);
  EXPECT_EQ(wire, FromHex("00 00 00 17 01  00 01  00 05 63 61 6d 2d 31  00 03 34 2e 32"
                          "  00 00 00 00 00 00 00 11"));
}

TEST(FrameCodecTest, MatchesReadmeSegmentExample) {
  std::string wire;
  AppendSegment(SegmentHeader{.seq = 18,
                              .capture_start_us = 1700000000000000,
                              .duration_us = 2000000,
                              .flags = kSegmentFlagKeyframe},
                Bytes("\xde\xad\xbe\xef"), wire);
  EXPECT_EQ(wire, FromHex("00 00 00 1a 05  00 00 00 00 00 00 00 12  00 06 0a 24 18 1e 40 00"
                          "  00 1e 84 80  01  de ad be ef"));
}

TEST(FrameCodecTest, MatchesReadmeAckExample) {
  std::string wire;
  AppendAck(Ack{.seq = 18, .level = DurabilityLevel::kSpooled}, wire);
  EXPECT_EQ(wire, FromHex("00 00 00 0a 06  00 00 00 00 00 00 00 12  01"));
}

std::vector<Event> MixedStream() {
  std::vector<Event> events;
  events.push_back(
      ControlFrame(Hello{.camera_id = "cam-7", .firmware_version = "fw", .last_durable_seq = 3}));
  events.push_back(SegmentEvent{
      SegmentHeader{
          .seq = 4, .capture_start_us = 1, .duration_us = 2, .flags = 1, .payload_bytes = 17},
      std::string(17, 'p')});
  events.push_back(ControlFrame(Ack{.seq = 4, .level = DurabilityLevel::kPersisted}));
  events.push_back(SegmentEvent{SegmentHeader{.seq = 5}, std::string()});
  events.push_back(ControlFrame(Ping{.nonce = 77}));
  events.push_back(SegmentEvent{SegmentHeader{.seq = 6, .payload_bytes = 3}, "xyz"});
  events.push_back(ControlFrame(Goaway{.reconnect_after_ms = 5, .message = "drain"}));
  events.push_back(ControlFrame(Error{.code = ErrorCode::kTimeout, .message = "t"}));
  return events;
}

TEST(FrameCodecTest, EverySplitPointDecodesTheSameFrames) {
  const std::string wire = EncodeAll(MixedStream());
  for (size_t split = 0; split <= wire.size(); ++split) {
    FrameDecoder decoder(kLimits);
    RecordingHandler handler;
    const std::string first = wire.substr(0, split);
    const std::string second = wire.substr(split);
    ASSERT_EQ(decoder.Feed(Bytes(first), handler).value_or(0), first.size()) << split;
    ASSERT_EQ(decoder.Feed(Bytes(second), handler).value_or(0), second.size()) << split;
    EXPECT_EQ(EncodeAll(handler.events), wire) << "split at " << split;
    EXPECT_TRUE(decoder.AtFrameBoundary());
  }
}

TEST(FrameCodecTest, EveryPairOfSplitPointsDecodesTheSameFrames) {
  const std::string wire = EncodeAll(MixedStream());
  for (size_t a = 0; a <= wire.size(); ++a) {
    for (size_t b = a; b <= wire.size(); ++b) {
      FrameDecoder decoder(kLimits);
      RecordingHandler handler;
      for (const std::string& piece : {wire.substr(0, a), wire.substr(a, b - a), wire.substr(b)}) {
        ASSERT_TRUE(decoder.Feed(Bytes(piece), handler).ok());
      }
      ASSERT_EQ(EncodeAll(handler.events), wire) << "splits at " << a << ", " << b;
    }
  }
}

TEST(FrameCodecTest, ByteAtATimeThroughWritableSpan) {
  const std::string wire = EncodeAll(MixedStream());
  FrameDecoder decoder(kLimits);
  RecordingHandler handler;
  for (char c : wire) {
    absl::Span<uint8_t> dst = decoder.WritableSpan(handler);
    ASSERT_FALSE(dst.empty());
    dst[0] = static_cast<uint8_t>(c);
    ASSERT_TRUE(decoder.CommitWritten(1, handler).ok());
  }
  EXPECT_EQ(EncodeAll(handler.events), wire);
  EXPECT_TRUE(decoder.AtFrameBoundary());
}

TEST(FrameCodecTest, WritableSpanNeverCrossesIntoTheNextFrame) {
  // Offer as much as the decoder asks for; it must ask for exactly the frame
  // boundaries: 5 header bytes, then the body, then the payload.
  const std::vector<Event> events = MixedStream();
  const std::string wire = EncodeAll(events);
  FrameDecoder decoder(kLimits);
  RecordingHandler handler;
  size_t pos = 0;
  size_t frame_end = 0;
  size_t next_event = 0;
  while (pos < wire.size()) {
    if (pos == frame_end) frame_end += Encode(events[next_event++]).size();
    absl::Span<uint8_t> dst = decoder.WritableSpan(handler);
    ASSERT_FALSE(dst.empty());
    ASSERT_LE(pos + dst.size(), frame_end) << "span crosses a frame boundary at " << pos;
    std::memcpy(dst.data(), wire.data() + pos, dst.size());
    pos += dst.size();
    ASSERT_TRUE(decoder.CommitWritten(dst.size(), handler).ok());
  }
  EXPECT_EQ(EncodeAll(handler.events), wire);
}

TEST(FrameCodecTest, ManyFramesInOneFeed) {
  std::string wire;
  for (uint64_t seq = 1; seq <= 5000; ++seq) {
    AppendAck(Ack{.seq = seq}, wire);
    if (seq % 100 == 0) AppendSegment(SegmentHeader{.seq = seq}, Bytes("payload"), wire);
  }
  FrameDecoder decoder(kLimits);
  RecordingHandler handler;
  ASSERT_EQ(decoder.Feed(Bytes(wire), handler).value_or(0), wire.size());
  ASSERT_EQ(handler.events.size(), 5050u);
  EXPECT_EQ(EncodeAll(handler.events), wire);
}

TEST(FrameCodecTest, PausesUntilPayloadMemoryIsAvailable) {
  std::string wire;
  AppendSegment(SegmentHeader{.seq = 1}, Bytes("first payload"), wire);
  AppendPing(Ping{.nonce = 5}, wire);
  FrameDecoder decoder(kLimits);
  RecordingHandler handler;
  handler.refusals_left = 2;

  absl::StatusOr<size_t> consumed = decoder.Feed(Bytes(wire), handler);
  ASSERT_TRUE(consumed.ok());
  EXPECT_EQ(*consumed, kFrameHeaderBytes + kSegmentHeaderBytes);  // headers only
  EXPECT_TRUE(decoder.paused());
  EXPECT_FALSE(decoder.AtFrameBoundary());
  EXPECT_TRUE(decoder.WritableSpan(handler).empty());  // second refusal
  EXPECT_TRUE(decoder.paused());

  const std::string rest = wire.substr(*consumed);
  consumed = decoder.Feed(Bytes(rest), handler);
  ASSERT_TRUE(consumed.ok());
  EXPECT_EQ(*consumed, rest.size());
  EXPECT_FALSE(decoder.paused());
  ASSERT_EQ(handler.events.size(), 2u);
  EXPECT_EQ(EncodeAll(handler.events), wire);
}

TEST(FrameCodecTest, PausedZeroLengthSegmentFinishesWhenMemoryArrives) {
  std::string wire;
  AppendSegment(SegmentHeader{.seq = 1}, {}, wire);
  AppendPing(Ping{.nonce = 5}, wire);
  FrameDecoder decoder(kLimits);
  RecordingHandler handler;
  handler.refusals_left = 1;
  ASSERT_EQ(decoder.Feed(Bytes(wire), handler).value_or(0),
            kFrameHeaderBytes + kSegmentHeaderBytes);
  EXPECT_TRUE(decoder.paused());
  // The retry completes the empty segment and offers the next header.
  EXPECT_EQ(decoder.WritableSpan(handler).size(), kFrameHeaderBytes);
  EXPECT_FALSE(decoder.paused());
  ASSERT_EQ(handler.events.size(), 1u);
  const std::string rest = wire.substr(kFrameHeaderBytes + kSegmentHeaderBytes);
  ASSERT_EQ(decoder.Feed(Bytes(rest), handler).value_or(0), rest.size());
  EXPECT_EQ(EncodeAll(handler.events), wire);
}

TEST(FrameCodecTest, SegmentLimitCanBeRaisedAfterConstruction) {
  std::string wire;
  AppendSegment(SegmentHeader{.seq = 1}, Bytes("12345"), wire);
  FrameDecoder decoder(DecoderLimits{.max_segment_payload = 4});
  decoder.set_max_segment_payload(5);
  RecordingHandler handler;
  EXPECT_EQ(decoder.Feed(Bytes(wire), handler).value_or(0), wire.size());
}

TEST(FrameCodecTest, HandlerErrorStopsDecodingAndIsReturned) {
  class FailingHandler : public RecordingHandler {
   public:
    absl::Status OnControlFrame(ControlFrame) override {
      return MakeProtocolError(ErrorCode::kUnexpectedFrame, "no PING here");
    }
  } handler;
  std::string wire;
  AppendPing(Ping{}, wire);
  AppendPing(Ping{}, wire);
  FrameDecoder decoder(kLimits);
  absl::StatusOr<size_t> result = decoder.Feed(Bytes(wire), handler);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kUnexpectedFrame);
  EXPECT_TRUE(decoder.failed());
  EXPECT_TRUE(decoder.WritableSpan(handler).empty());
}

TEST(FrameCodecTest, WrongSizedPayloadMemoryIsAnInternalError) {
  class ShortMemoryHandler : public RecordingHandler {
   public:
    std::optional<absl::Span<uint8_t>> OnSegmentBegin(const SegmentHeader&) override {
      return absl::MakeSpan(memory, 1);
    }
    uint8_t memory[1];
  } handler;
  std::string wire;
  AppendSegment(SegmentHeader{.seq = 1}, Bytes("four"), wire);
  FrameDecoder decoder(kLimits);
  absl::StatusOr<size_t> result = decoder.Feed(Bytes(wire), handler);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(ErrorCodeOf(result.status()), ErrorCode::kInternal);
}

TEST(FrameCodecTest, CommitBeyondWritableSpanIsRefused) {
  FrameDecoder decoder(kLimits);
  RecordingHandler handler;
  EXPECT_EQ(decoder.WritableSpan(handler).size(), kFrameHeaderBytes);
  absl::Status status = decoder.CommitWritten(kFrameHeaderBytes + 1, handler);
  EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kInternal);
  EXPECT_TRUE(decoder.failed());
}

TEST(FrameCodecTest, ErrorCodeSurvivesTheStatus) {
  for (ErrorCode code : {ErrorCode::kMalformedFrame, ErrorCode::kFrameTooLarge,
                         ErrorCode::kUnknownFrameType, ErrorCode::kUnexpectedFrame,
                         ErrorCode::kWindowExceeded, ErrorCode::kTimeout, ErrorCode::kInternal,
                         ErrorCode::kSuperseded, ErrorCode::kRevoked}) {
    absl::Status status = MakeProtocolError(code, "context");
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(ErrorCodeOf(status), code);
    EXPECT_NE(status.message().find("context"), absl::string_view::npos);
  }
  EXPECT_EQ(ErrorCodeOf(absl::UnavailableError("not ours")), ErrorCode::kMalformedFrame);
  EXPECT_NE(MakeProtocolError(ErrorCode::kRevoked, "x").message().find("REVOKED: x"), absl::string_view::npos);
}

TEST(FrameEncoderTest, ValidateForEncodingRefusesWhatDecodersRefuse) {
  EXPECT_TRUE(
      ValidateForEncoding(ControlFrame(Hello{.camera_id = "ok-1", .firmware_version = ""})).ok());
  EXPECT_FALSE(
      ValidateForEncoding(ControlFrame(Hello{.camera_id = "", .firmware_version = ""})).ok());
  EXPECT_FALSE(
      ValidateForEncoding(ControlFrame(Hello{.camera_id = "has space", .firmware_version = ""}))
          .ok());
  EXPECT_FALSE(ValidateForEncoding(
                   ControlFrame(Hello{.camera_id = std::string(129, 'a'), .firmware_version = ""}))
                   .ok());
  EXPECT_FALSE(ValidateForEncoding(ControlFrame(Hello{.camera_id = "a",
                                                      .firmware_version = std::string(1025, 'f')}))
                   .ok());
  EXPECT_FALSE(ValidateForEncoding(ControlFrame(Error{.message = std::string(1025, 'm')})).ok());
  EXPECT_FALSE(ValidateForEncoding(
                   ControlFrame(Redirect{.endpoint = "e:1", .zone_id = std::string(2000, 'z')}))
                   .ok());
  EXPECT_FALSE(
      ValidateForEncoding(ControlFrame(Ack{.level = static_cast<DurabilityLevel>(3)})).ok());
  EXPECT_TRUE(ValidateForEncoding(SegmentHeader{.payload_bytes = 1 << 30}).ok());
  EXPECT_FALSE(ValidateForEncoding(SegmentHeader{.payload_bytes = 0xffffffff}).ok());
}

TEST(FrameEncoderDeathTest, AppendingAnInvalidFrameAborts) {
  std::string out;
  EXPECT_DEATH(AppendHello(Hello{.camera_id = "bad id", .firmware_version = ""}, out), "camera_id");
  EXPECT_DEATH(AppendError(Error{.message = std::string(5000, 'x')}, out), "message");
}

TEST(FrameEncoderTest, TruncateForWireKeepsUtf8Whole) {
  EXPECT_EQ(TruncateForWire("short"), "short");
  std::string text(kMaxStringBytes - 1, 'a');
  text += "\xc3\xa9";  // a 2-byte character straddling the limit
  text += "tail";
  const std::string cut = TruncateForWire(text);
  EXPECT_EQ(cut, std::string(kMaxStringBytes - 1, 'a'));
  EXPECT_TRUE(ValidateForEncoding(ControlFrame(Error{.message = cut})).ok());
}

}  // namespace
}  // namespace camproto
