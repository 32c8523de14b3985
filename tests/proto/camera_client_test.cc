// The sans-IO camera client driven against a small server written here from
// the real decoder and encoder: HELLO, ack window, release, resume after
// reconnect, GOAWAY / REDIRECT / REJECT / ERROR, and server protocol violations.
#include "proto/camera_client.h"

#include <random>
#include <string>
#include <utility>
#include <vector>

#include "gtest/gtest.h"
#include "proto/frame_decoder.h"
#include "proto/frame_encoder.h"

namespace camproto {
namespace {

using State = CameraClient::State;

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
}

// The server end of one camera's connections: decodes what the client sends
// and encodes what the test wants the server to say.
class TestServer : public FrameHandler {
 public:
  struct Received {
    SegmentHeader header;
    std::string payload;
  };

  // A fresh connection (the decoder and per-connection records start over).
  void NewConnection() {
    decoder_ = FrameDecoder(DecoderLimits{.max_segment_payload = 1 << 20});
    control.clear();
    segments.clear();
  }

  // Moves everything the client wants to send into this server.
  void Pump(CameraClient& client) {
    std::string wire;
    client.TakeOutput(wire);
    absl::StatusOr<size_t> consumed = decoder_.Feed(Bytes(wire), *this);
    ASSERT_TRUE(consumed.ok()) << consumed.status();
    ASSERT_EQ(*consumed, wire.size());
    ASSERT_TRUE(decoder_.AtFrameBoundary());
  }

  void Send(CameraClient& client, const ControlFrame& frame) {
    std::string wire;
    AppendFrame(frame, wire);
    absl::Status status = client.OnBytes(Bytes(wire));
    ASSERT_TRUE(status.ok()) << status;
  }

  std::vector<uint64_t> SegmentSeqs() const {
    std::vector<uint64_t> seqs;
    for (const Received& r : segments) seqs.push_back(r.header.seq);
    return seqs;
  }

  template <typename T>
  std::vector<T> ControlOf() const {
    std::vector<T> out;
    for (const ControlFrame& f : control) {
      if (const auto* m = std::get_if<T>(&f)) out.push_back(*m);
    }
    return out;
  }

  absl::Status OnControlFrame(ControlFrame frame) override {
    control.push_back(std::move(frame));
    return absl::OkStatus();
  }
  std::optional<absl::Span<uint8_t>> OnSegmentBegin(const SegmentHeader& header) override {
    segments.push_back(Received{header, std::string(header.payload_bytes, '\0')});
    std::string& payload = segments.back().payload;
    return absl::MakeSpan(reinterpret_cast<uint8_t*>(payload.data()), payload.size());
  }
  absl::Status OnSegmentEnd() override { return absl::OkStatus(); }

  std::vector<ControlFrame> control;
  std::vector<Received> segments;

 private:
  FrameDecoder decoder_{DecoderLimits{.max_segment_payload = 1 << 20}};
};

Welcome MakeWelcome(uint64_t durable_seq, uint32_t window = 1 << 20,
                    uint32_t max_segment = 1 << 20) {
  return Welcome{.session_id = 1,
                 .server_id = "test-server",
                 .max_segment_bytes = max_segment,
                 .ack_window_bytes = window,
                 .keepalive_interval_ms = 1000,
                 .durable_seq = durable_seq};
}

// Connects, checks the HELLO, and welcomes the client.
void Connect(CameraClient& client, TestServer& server, const Welcome& welcome) {
  client.OnConnected();
  server.NewConnection();
  server.Pump(client);
  ASSERT_EQ(server.ControlOf<Hello>().size(), 1u);
  server.Send(client, welcome);
  ASSERT_EQ(client.state(), State::kStreaming);
}

void AddSegments(CameraClient& client, int count, size_t bytes) {
  for (int i = 0; i < count; ++i) {
    const uint64_t expected = client.next_seq();
    absl::StatusOr<uint64_t> seq =
        client.AddSegment(1000 * static_cast<int64_t>(expected), 2000000, i == 0,
                          std::string(bytes, static_cast<char>('a' + expected % 26)));
    ASSERT_TRUE(seq.ok()) << seq.status();
    ASSERT_EQ(*seq, expected);
  }
}

Ack Spooled(uint64_t seq) { return Ack{.seq = seq, .level = DurabilityLevel::kSpooled}; }
Ack Persisted(uint64_t seq) { return Ack{.seq = seq, .level = DurabilityLevel::kPersisted}; }

TEST(CameraClientTest, SendsHelloOnConnectAndNoSegmentsBeforeWelcome) {
  CameraClient client({.camera_id = "cam-1", .firmware_version = "9.9"});
  AddSegments(client, 2, 10);
  EXPECT_EQ(client.state(), State::kDisconnected);
  client.OnConnected();
  EXPECT_EQ(client.state(), State::kAwaitingWelcome);
  TestServer server;
  server.Pump(client);
  ASSERT_EQ(server.control.size(), 1u);
  const Hello hello = server.ControlOf<Hello>().at(0);
  EXPECT_EQ(hello.protocol_version, kProtocolVersion);
  EXPECT_EQ(hello.camera_id, "cam-1");
  EXPECT_EQ(hello.firmware_version, "9.9");
  EXPECT_EQ(hello.last_durable_seq, 0u);
  EXPECT_TRUE(server.segments.empty());
  EXPECT_EQ(client.welcome(), nullptr);
}

TEST(CameraClientTest, SendsSegmentsInOrderAfterWelcome) {
  CameraClient client({.camera_id = "cam-1"});
  AddSegments(client, 3, 100);
  TestServer server;
  Connect(client, server, MakeWelcome(0));
  ASSERT_NE(client.welcome(), nullptr);
  EXPECT_EQ(client.welcome()->server_id, "test-server");
  server.Pump(client);
  EXPECT_EQ(server.SegmentSeqs(), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_EQ(server.segments[0].header.flags, kSegmentFlagKeyframe);
  EXPECT_EQ(server.segments[1].header.flags, 0);
  EXPECT_EQ(server.segments[2].header.capture_start_us, 3000);
  EXPECT_EQ(server.segments[2].payload, std::string(100, 'd'));
  EXPECT_EQ(client.in_flight_bytes(), 300u);
  EXPECT_EQ(client.counters().segments_sent, 3u);
  EXPECT_EQ(client.counters().bytes_sent, 300u);
  // Nothing more until something new arrives.
  server.Pump(client);
  EXPECT_EQ(server.segments.size(), 3u);
}

TEST(CameraClientTest, RespectsTheAckWindow) {
  CameraClient client({.camera_id = "cam-1"});
  AddSegments(client, 5, 400);
  TestServer server;
  Connect(client, server, MakeWelcome(0, /*window=*/1000));
  server.Pump(client);
  EXPECT_EQ(server.SegmentSeqs(), (std::vector<uint64_t>{1, 2}));  // 800; a third makes 1200
  EXPECT_EQ(client.in_flight_bytes(), 800u);

  server.Send(client, Spooled(1));
  EXPECT_EQ(client.in_flight_bytes(), 400u);
  server.Pump(client);
  EXPECT_EQ(server.SegmentSeqs(), (std::vector<uint64_t>{1, 2, 3}));
  EXPECT_LE(client.in_flight_bytes(), 1000u);

  server.Send(client, Spooled(3));
  server.Pump(client);
  EXPECT_EQ(server.SegmentSeqs(), (std::vector<uint64_t>{1, 2, 3, 4, 5}));
  EXPECT_EQ(client.in_flight_bytes(), 800u);
}

TEST(CameraClientTest, SendsOneSegmentLargerThanTheWindowWhenNothingIsInFlight) {
  CameraClient client({.camera_id = "cam-1"});
  AddSegments(client, 2, 500);
  TestServer server;
  Connect(client, server, MakeWelcome(0, /*window=*/100));
  server.Pump(client);
  EXPECT_EQ(server.SegmentSeqs(), (std::vector<uint64_t>{1}));
  server.Send(client, Spooled(1));
  server.Pump(client);
  EXPECT_EQ(server.SegmentSeqs(), (std::vector<uint64_t>{1, 2}));
}

TEST(CameraClientTest, AcksReleaseSegmentsAndReportEachSeqOnce) {
  CameraClient client({.camera_id = "cam-1"});
  std::vector<std::pair<uint64_t, DurabilityLevel>> reported;
  client.set_on_acked([&](uint64_t seq, DurabilityLevel level) {
    reported.push_back({seq, level});
  });
  AddSegments(client, 4, 50);
  TestServer server;
  Connect(client, server, MakeWelcome(0));
  server.Pump(client);
  EXPECT_EQ(client.buffered_segments(), 4u);
  EXPECT_EQ(client.buffered_bytes(), 200u);

  server.Send(client, Spooled(2));
  EXPECT_EQ(client.buffered_segments(), 2u);
  EXPECT_EQ(client.buffered_bytes(), 100u);
  EXPECT_EQ(client.acked_seq(DurabilityLevel::kSpooled), 2u);
  EXPECT_EQ(client.released_seq(), 2u);
  server.Send(client, Spooled(1));  // stale: ignored
  server.Send(client, Persisted(3));
  EXPECT_EQ(client.acked_seq(DurabilityLevel::kSpooled), 3u);
  EXPECT_EQ(client.acked_seq(DurabilityLevel::kPersisted), 3u);
  EXPECT_EQ(client.buffered_segments(), 1u);

  const std::vector<std::pair<uint64_t, DurabilityLevel>> expected = {
      {1, DurabilityLevel::kSpooled},   {2, DurabilityLevel::kSpooled},
      {3, DurabilityLevel::kSpooled},   {1, DurabilityLevel::kPersisted},
      {2, DurabilityLevel::kPersisted}, {3, DurabilityLevel::kPersisted}};
  EXPECT_EQ(reported, expected);
}

TEST(CameraClientTest, ReleaseAtPersistedKeepsSpooledSegments) {
  CameraClient client({.camera_id = "cam-1", .release_at = DurabilityLevel::kPersisted});
  AddSegments(client, 3, 10);
  TestServer server;
  Connect(client, server, MakeWelcome(0));
  server.Pump(client);
  server.Send(client, Spooled(3));
  EXPECT_EQ(client.buffered_segments(), 3u);
  EXPECT_EQ(client.in_flight_bytes(), 0u);  // spooled acks open the window
  server.Send(client, Persisted(2));
  EXPECT_EQ(client.buffered_segments(), 1u);
  EXPECT_EQ(client.released_seq(), 2u);
}

TEST(CameraClientTest, ReleaseAtPersistedDoesNotResendWhatTheServerSpooled) {
  CameraClient client({.camera_id = "cam-1", .release_at = DurabilityLevel::kPersisted});
  AddSegments(client, 3, 10);
  TestServer server;
  Connect(client, server, MakeWelcome(0));
  server.Pump(client);
  server.Send(client, Spooled(3));
  client.OnDisconnected();
  // The next server holds 1..2 in its spool: those wait for PERSISTED, 3 is re-sent.
  Connect(client, server, MakeWelcome(2));
  EXPECT_EQ(client.buffered_segments(), 3u);
  EXPECT_EQ(client.released_seq(), 0u);
  server.Pump(client);
  EXPECT_EQ(server.SegmentSeqs(), (std::vector<uint64_t>{3}));
  server.Send(client, Persisted(3));
  EXPECT_EQ(client.buffered_segments(), 0u);
}

TEST(CameraClientTest, WelcomeWithAbsurdDurableSeqIsAViolation) {
  CameraClient client({.camera_id = "cam-1"});
  client.OnConnected();
  std::string wire;
  AppendWelcome(MakeWelcome(~uint64_t{0}), wire);
  EXPECT_EQ(ErrorCodeOf(client.OnBytes(Bytes(wire))), ErrorCode::kMalformedFrame);
  EXPECT_EQ(client.state(), State::kFailed);
}

TEST(CameraClientTest, ResumeResendsExactlyTheUnreleasedSegments) {
  CameraClient client({.camera_id = "cam-1"});
  AddSegments(client, 5, 30);
  TestServer server;
  Connect(client, server, MakeWelcome(0));
  server.Pump(client);
  server.Send(client, Spooled(2));
  client.OnDisconnected();
  EXPECT_EQ(client.state(), State::kDisconnected);
  EXPECT_EQ(client.in_flight_bytes(), 0u);
  AddSegments(client, 1, 30);  // seq 6, recorded while offline

  client.OnConnected();
  server.NewConnection();
  server.Pump(client);
  EXPECT_EQ(server.ControlOf<Hello>().at(0).last_durable_seq, 2u);
  EXPECT_TRUE(server.segments.empty());
  server.Send(client, MakeWelcome(2));
  server.Pump(client);
  EXPECT_EQ(server.SegmentSeqs(), (std::vector<uint64_t>{3, 4, 5, 6}));
  EXPECT_EQ(server.segments[0].payload, std::string(30, 'd'));
  EXPECT_EQ(client.counters().segments_resent, 3u);
  EXPECT_EQ(client.counters().segments_sent, 9u);
}

TEST(CameraClientTest, WelcomeDurableSeqReleasesWhatTheServerAlreadyHolds) {
  CameraClient client({.camera_id = "cam-1"});
  AddSegments(client, 6, 10);
  TestServer server;
  Connect(client, server, MakeWelcome(0));
  server.Pump(client);
  client.OnDisconnected();  // acks for 1..4 were lost with the connection

  Connect(client, server, MakeWelcome(4));
  EXPECT_EQ(client.released_seq(), 4u);
  EXPECT_EQ(client.acked_seq(DurabilityLevel::kSpooled), 4u);
  EXPECT_EQ(client.buffered_segments(), 2u);
  server.Pump(client);
  EXPECT_EQ(server.SegmentSeqs(), (std::vector<uint64_t>{5, 6}));
  // ACKs up to the WELCOME's durable seq are legal even before resending.
  server.Send(client, Spooled(6));
  EXPECT_EQ(client.buffered_segments(), 0u);
}

TEST(CameraClientTest, ResumeWithRandomDisconnectsHasNoGapAndNoDuplicate) {
  std::mt19937_64 rng(99);
  CameraClient client({.camera_id = "cam-1"});
  TestServer server;
  uint64_t durable = 0;  // what the "server" has spooled, contiguous from 1
  for (int round = 0; round < 200; ++round) {
    AddSegments(client, static_cast<int>(rng() % 5), 1 + rng() % 300);
    if (HasFatalFailure()) return;
    Connect(client, server, MakeWelcome(durable, /*window=*/600));
    if (HasFatalFailure()) return;
    for (int step = 0; step < 4; ++step) {
      const size_t before = server.segments.size();
      server.Pump(client);
      // Each connection carries every seq after `durable` once, in order.
      for (size_t i = before; i < server.segments.size(); ++i) {
        ASSERT_EQ(server.segments[i].header.seq, durable + 1)
            << "round " << round << ": gap or duplicate";
        durable = server.segments[i].header.seq;
      }
      if (rng() % 3 != 0 && durable > 0) server.Send(client, Spooled(durable));
    }
    client.OnDisconnected();
  }
  Connect(client, server, MakeWelcome(durable));
  server.Pump(client);
  for (const TestServer::Received& r : server.segments) {
    ASSERT_EQ(r.header.seq, ++durable);
  }
  EXPECT_EQ(durable, client.next_seq() - 1);
}

TEST(CameraClientTest, CameraThatLostItsStateContinuesAfterTheServersSeq) {
  CameraClient client({.camera_id = "cam-1"});
  AddSegments(client, 2, 10);  // seqs 1, 2, never sent
  TestServer server;
  Connect(client, server, MakeWelcome(100));
  EXPECT_EQ(client.next_seq(), 103u);
  EXPECT_EQ(client.buffered_segments(), 2u);
  server.Pump(client);
  EXPECT_EQ(server.SegmentSeqs(), (std::vector<uint64_t>{101, 102}));
}

TEST(CameraClientTest, GoawayStopsNewSegmentsButAcksStillCount) {
  CameraClient client({.camera_id = "cam-1"});
  AddSegments(client, 2, 10);
  TestServer server;
  Connect(client, server, MakeWelcome(0));
  server.Pump(client);
  server.Send(
      client,
      Goaway{.reason = GoawayReason::kDraining, .reconnect_after_ms = 1234, .message = "drain"});
  EXPECT_EQ(client.state(), State::kGoaway);
  ASSERT_TRUE(client.goaway().has_value());
  EXPECT_EQ(client.goaway()->reconnect_after_ms, 1234u);
  AddSegments(client, 1, 10);
  server.Pump(client);
  EXPECT_EQ(server.SegmentSeqs(), (std::vector<uint64_t>{1, 2}));
  server.Send(client, Spooled(2));
  EXPECT_EQ(client.buffered_segments(), 1u);
  client.OnDisconnected();
  EXPECT_TRUE(client.goaway().has_value());  // kept until the next connection
  Connect(client, server, MakeWelcome(2));
  EXPECT_FALSE(client.goaway().has_value());
  server.Pump(client);
  EXPECT_EQ(server.SegmentSeqs(), (std::vector<uint64_t>{3}));
}

TEST(CameraClientTest, RedirectIsRecordedAndCountedUntilWelcome) {
  CameraClient client({.camera_id = "cam-1"});
  TestServer server;
  for (int i = 1; i <= CameraClient::kMaxRedirects + 1; ++i) {
    client.OnConnected();
    server.NewConnection();
    server.Pump(client);
    server.Send(client, Redirect{.endpoint = "other:7443", .zone_id = "eu-2"});
    EXPECT_EQ(client.state(), State::kRedirected);
    ASSERT_TRUE(client.redirect().has_value());
    EXPECT_EQ(client.redirect()->endpoint, "other:7443");
    EXPECT_EQ(client.redirect()->zone_id, "eu-2");
    EXPECT_EQ(client.redirects_followed(), i);
    client.OnDisconnected();
  }
  EXPECT_GT(client.redirects_followed(), CameraClient::kMaxRedirects);  // caller stops here
  Connect(client, server, MakeWelcome(0));
  EXPECT_EQ(client.redirects_followed(), 0);
  EXPECT_FALSE(client.redirect().has_value());
}

TEST(CameraClientTest, RejectIsRecorded) {
  CameraClient client({.camera_id = "cam-1"});
  AddSegments(client, 1, 10);
  TestServer server;
  client.OnConnected();
  server.Pump(client);
  server.Send(client, Reject{.code = RejectCode::kCameraIdMismatch, .reason = "cert says cam-2"});
  EXPECT_EQ(client.state(), State::kRejected);
  ASSERT_TRUE(client.reject().has_value());
  EXPECT_EQ(client.reject()->code, RejectCode::kCameraIdMismatch);
  EXPECT_EQ(client.reject()->reason, "cert says cam-2");
  server.Pump(client);
  EXPECT_TRUE(server.segments.empty());
}

TEST(CameraClientTest, ServerErrorIsRecorded) {
  CameraClient client({.camera_id = "cam-1"});
  TestServer server;
  Connect(client, server, MakeWelcome(0));
  server.Send(client, Error{.code = ErrorCode::kTimeout, .message = "idle"});
  EXPECT_EQ(client.state(), State::kFailed);
  ASSERT_TRUE(client.error().has_value());
  EXPECT_EQ(client.error()->code, ErrorCode::kTimeout);
}

TEST(CameraClientTest, AckBeyondAnythingSentIsAViolation) {
  CameraClient client({.camera_id = "cam-1"});
  AddSegments(client, 2, 10);
  TestServer server;
  Connect(client, server, MakeWelcome(0));
  server.Pump(client);
  std::string wire;
  AppendAck(Spooled(3), wire);
  absl::Status status = client.OnBytes(Bytes(wire));
  EXPECT_FALSE(status.ok());
  EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kUnexpectedFrame);
  EXPECT_EQ(client.state(), State::kFailed);
  // The client tells the server why before the caller closes.
  server.Pump(client);
  ASSERT_EQ(server.ControlOf<Error>().size(), 1u);
  EXPECT_EQ(server.ControlOf<Error>()[0].code, ErrorCode::kUnexpectedFrame);
  EXPECT_FALSE(client.OnBytes(Bytes(wire)).ok());
}

TEST(CameraClientTest, MalformedBytesFromTheServerAreAViolation) {
  CameraClient client({.camera_id = "cam-1"});
  client.OnConnected();
  const std::string garbage("\x00\x00\x00\x00\x07", 5);
  absl::Status status = client.OnBytes(Bytes(garbage));
  EXPECT_EQ(ErrorCodeOf(status), ErrorCode::kMalformedFrame);
  EXPECT_EQ(client.state(), State::kFailed);
}

TEST(CameraClientTest, SegmentFromTheServerIsAViolation) {
  CameraClient client({.camera_id = "cam-1"});
  TestServer server;
  Connect(client, server, MakeWelcome(0));
  std::string wire;
  AppendSegment(SegmentHeader{.seq = 1}, Bytes("x"), wire);
  EXPECT_EQ(ErrorCodeOf(client.OnBytes(Bytes(wire))), ErrorCode::kUnexpectedFrame);
}

TEST(CameraClientTest, AckBeforeWelcomeIsAViolation) {
  CameraClient client({.camera_id = "cam-1"});
  client.OnConnected();
  std::string wire;
  AppendAck(Spooled(0), wire);
  EXPECT_EQ(ErrorCodeOf(client.OnBytes(Bytes(wire))), ErrorCode::kUnexpectedFrame);
}

TEST(CameraClientTest, AnswersPingAndSendsQueuedPing) {
  CameraClient client({.camera_id = "cam-1"});
  TestServer server;
  Connect(client, server, MakeWelcome(0));
  server.Send(client, Ping{.nonce = 41});
  client.QueuePing(42);
  server.Pump(client);
  ASSERT_EQ(server.ControlOf<Pong>().size(), 1u);
  EXPECT_EQ(server.ControlOf<Pong>()[0].nonce, 41u);
  ASSERT_EQ(server.ControlOf<Ping>().size(), 1u);
  EXPECT_EQ(server.ControlOf<Ping>()[0].nonce, 42u);
  server.Send(client, Pong{.nonce = 42});
  EXPECT_EQ(client.last_pong_nonce(), 42u);
}

TEST(CameraClientTest, BufferLimitRefusesNewSegments) {
  CameraClient client({.camera_id = "cam-1", .max_buffered_bytes = 100});
  EXPECT_TRUE(client.AddSegment(0, 1, true, std::string(60, 'a')).ok());
  absl::StatusOr<uint64_t> refused = client.AddSegment(0, 1, false, std::string(41, 'b'));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_EQ(client.next_seq(), 2u);  // no seq burned
  EXPECT_TRUE(client.AddSegment(0, 1, false, std::string(40, 'c')).ok());
  EXPECT_EQ(client.buffered_bytes(), 100u);
}

TEST(CameraClientTest, SegmentLargerThanTheServerAcceptsIsDroppedAndCounted) {
  CameraClient client({.camera_id = "cam-1"});
  AddSegments(client, 1, 10);
  AddSegments(client, 1, 500);
  AddSegments(client, 1, 10);
  TestServer server;
  Connect(client, server, MakeWelcome(0, /*window=*/1 << 20, /*max_segment=*/100));
  server.Pump(client);
  EXPECT_EQ(server.SegmentSeqs(), (std::vector<uint64_t>{1, 3}));
  // Seq 3 tells the server that 2 is given up, not sent out of order.
  EXPECT_EQ(server.segments[0].header.flags & kSegmentFlagSkip, 0);
  EXPECT_EQ(server.segments[1].header.flags & kSegmentFlagSkip, kSegmentFlagSkip);
  EXPECT_EQ(client.counters().segments_dropped_too_large, 1u);
  server.Send(client, Spooled(3));
  EXPECT_EQ(client.buffered_segments(), 0u);
  EXPECT_EQ(client.buffered_bytes(), 0u);
}

TEST(CameraClientTest, OptionsAreValidated) {
  EXPECT_TRUE(CameraClient::ValidateOptions({.camera_id = "cam-1"}).ok());
  EXPECT_FALSE(CameraClient::ValidateOptions({.camera_id = ""}).ok());
  EXPECT_FALSE(CameraClient::ValidateOptions({.camera_id = "cam 1"}).ok());
  EXPECT_FALSE(
      CameraClient::ValidateOptions({.camera_id = "c", .firmware_version = std::string(2000, 'f')})
          .ok());
}

}  // namespace
}  // namespace camproto
