// CameraSession against a fake SessionHost that records every call: what a
// session asks of its shard and when. HELLO refusals take nothing from the
// host (no registry entry, no session id); a zone map redirects or rejects
// before the camera is claimed; a new connection waits for its predecessor's
// records to be durable; a session out of segment memory pauses and resumes
// where it stopped; each new segment reaches the spool as one well-formed
// record; half-received segments are handed back; GOAWAY, PING, the ACK
// window and a camera's own ERROR. (camera_session_test.cc holds the
// sequence, re-send and field rules through tests/support/session_harness.h.)
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "proto/frame.h"
#include "proto/frame_decoder.h"
#include "proto/frame_encoder.h"
#include "server/session/camera_registry.h"
#include "server/session/camera_session.h"
#include "server/session/session_host.h"
#include "server/session/zone_admission.h"
#include "server/spool/spool_record.h"
#include "zones/zone_map.h"

namespace ingest {
namespace {

constexpr int64_t kNowUs = 1'700'000'000'000'000;

// A SessionHost that hands out plain heap buffers (or none, while
// `out_of_memory`), keeps what is spooled, and counts every call.
class FakeSessionHost final : public SessionHost {
 public:
  struct Spooled {
    CameraSession* session;
    SegmentBuffer buffer;
    size_t record_bytes;
    uint64_t seq;
    uint32_t payload_bytes;
  };

  ~FakeSessionHost() override {
    for (Spooled& s : spooled) delete[] s.buffer.data;
  }

  SegmentBuffer AllocateRecord(size_t bytes) override {
    ++allocations_asked;
    if (out_of_memory) return {};
    ++live_buffers;
    return SegmentBuffer{.data = new uint8_t[bytes], .capacity = bytes};
  }
  void ReleaseRecord(const SegmentBuffer& buffer) override {
    if (buffer.data == nullptr) return;  // sessions release their empty slot too
    ++released;
    --live_buffers;
    delete[] buffer.data;
  }
  void SpoolRecord(CameraSession& session, const SegmentBuffer& buffer, size_t record_bytes, uint64_t seq,
                   uint32_t payload_bytes) override {
    spooled.push_back({&session, buffer, record_bytes, seq, payload_bytes});
  }
  CameraRegistry& registry() override { return registry_; }
  uint64_t NextSessionId() override { return ++session_ids_given; }
  const ZoneAdmission* admission() const override { return admission_.get(); }
  int64_t NowUnixMicros() const override { return kNowUs; }
  void Count(SessionEvent event) override { events.push_back(event); }

  // The group commit finished every spooled record, as the shard reports it.
  void MakeDurable() {
    for (Spooled& s : spooled) {
      registry_.Get(s.session->camera_id()).RaiseDurable(s.seq);
      s.session->OnDurable(s.seq, s.payload_bytes);
      delete[] s.buffer.data;
      --live_buffers;
    }
    spooled.clear();
  }

  void SetAdmission(std::unique_ptr<ZoneAdmission> admission) { admission_ = std::move(admission); }
  const CameraRegistry& registry_view() const { return registry_; }

  bool out_of_memory = false;
  int allocations_asked = 0;
  int live_buffers = 0;
  int released = 0;
  uint64_t session_ids_given = 0;
  std::vector<Spooled> spooled;
  std::vector<SessionEvent> events;

 private:
  CameraRegistry registry_;
  std::unique_ptr<ZoneAdmission> admission_;
};

SessionLimits Limits() {
  return SessionLimits{.server_id = "srv-1",
                       .max_segment_bytes = 64 << 10,
                       .ack_window_bytes = 16 << 10,
                       .keepalive_interval_ms = 15000};
}

std::string Frame(const camproto::ControlFrame& frame) {
  std::string out;
  camproto::AppendFrame(frame, out);
  return out;
}

std::string Hello(const std::string& camera, uint16_t version = camproto::kProtocolVersion,
                  uint64_t last_durable_seq = 0) {
  return Frame(camproto::Hello{.protocol_version = version,
                               .camera_id = camera,
                               .firmware_version = "fw-9",
                               .last_durable_seq = last_durable_seq});
}

std::string Segment(uint64_t seq, size_t payload_bytes, char fill = 'p') {
  const std::string payload(payload_bytes, fill);
  std::string out;
  camproto::AppendSegment(
      camproto::SegmentHeader{
          .seq = seq, .capture_start_us = kNowUs, .duration_us = 2'000'000, .flags = camproto::kSegmentFlagKeyframe},
      {reinterpret_cast<const uint8_t*>(payload.data()), payload.size()}, out);
  return out;
}

// Feeds `bytes` as the shard does; returns how many were consumed (fewer
// while paused for memory) and turns a decoder error into the session's
// ERROR.
size_t Feed(CameraSession& session, std::string_view bytes) {
  absl::StatusOr<size_t> fed =
      session.decoder().Feed({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()}, session);
  absl::Status status = fed.ok() ? session.pending_error() : fed.status();
  if (!session.pending_error().ok()) status = session.pending_error();
  if (!status.ok()) {
    session.FailWith(status);
    return bytes.size();
  }
  return *fed;
}

// Frames the session queued since the last call.
std::vector<camproto::ControlFrame> Sent(CameraSession& session) {
  struct Collector final : camproto::FrameHandler {
    std::vector<camproto::ControlFrame> frames;
    absl::Status OnControlFrame(camproto::ControlFrame frame) override {
      frames.push_back(std::move(frame));
      return absl::OkStatus();
    }
    std::optional<absl::Span<uint8_t>> OnSegmentBegin(const camproto::SegmentHeader&) override { return std::nullopt; }
    absl::Status OnSegmentEnd() override { return absl::OkStatus(); }
  } collector;
  session.FlushAcks();
  const std::string out = std::exchange(session.outbox(), {});
  camproto::FrameDecoder decoder({.max_segment_payload = 0});
  absl::StatusOr<size_t> fed = decoder.Feed({reinterpret_cast<const uint8_t*>(out.data()), out.size()}, collector);
  EXPECT_TRUE(fed.ok()) << fed.status();
  return std::move(collector.frames);
}

template <typename T>
const T* Only(const std::vector<camproto::ControlFrame>& frames) {
  if (frames.size() != 1) return nullptr;
  return std::get_if<T>(&frames[0]);
}

std::shared_ptr<const zones::ZoneMap> ZoneMapPinning(const std::string& here_camera, const std::string& there_camera) {
  const std::string toml = absl::StrCat(
      "[map]\ndefault = \"none\"\n"
      "[[zone]]\nid = \"here\"\nsubnets = [\"10.1.0.0/24\"]\nendpoint = \"here.example.com:7443\"\n"
      "capacity_per_server = 100\n[zone.store]\nbucket = \"b\"\nregion = \"r\"\n"
      "[zone.cameras]\nids = [\"",
      here_camera,
      "\"]\n"
      "[[zone]]\nid = \"there\"\nsubnets = [\"10.2.0.0/24\"]\nendpoint = \"there.example.com:7443\"\n"
      "capacity_per_server = 100\n[zone.store]\nbucket = \"b\"\nregion = \"r\"\n"
      "[zone.cameras]\nids = [\"",
      there_camera, "\"]\n");
  absl::StatusOr<zones::ZoneMap> map = zones::ZoneMap::Parse(toml, "zones.toml");
  EXPECT_TRUE(map.ok()) << map.status();
  return map.ok() ? std::make_shared<const zones::ZoneMap>(*std::move(map)) : nullptr;
}

TEST(CameraSessionHostTest, AnUnsupportedVersionIsRejectedWithoutTouchingTheHost) {
  FakeSessionHost host;
  const SessionLimits limits = Limits();
  CameraSession session(host, limits, "cam-1");
  Feed(session, Hello("cam-1", camproto::kProtocolVersion + 1));
  const auto frames = Sent(session);
  const camproto::Reject* reject = Only<camproto::Reject>(frames);
  ASSERT_NE(reject, nullptr);
  EXPECT_EQ(reject->code, camproto::RejectCode::kUnsupportedVersion);
  EXPECT_EQ(session.outcome(), SessionOutcome::kRejectedVersion);
  EXPECT_EQ(session.state(), CameraSession::State::kClosing);
  EXPECT_EQ(session.close_reason(), reject->reason);
  EXPECT_EQ(host.registry_view().size(), 0u) << "a refused camera is not claimed";
  EXPECT_EQ(host.session_ids_given, 0u);
  EXPECT_FALSE(session.welcomed());
}

TEST(CameraSessionHostTest, AHelloForAnotherIdThanTheCertificatesIsRejected) {
  FakeSessionHost host;
  const SessionLimits limits = Limits();
  CameraSession session(host, limits, "cam-1");
  Feed(session, Hello("cam-2"));
  const auto frames = Sent(session);
  const camproto::Reject* reject = Only<camproto::Reject>(frames);
  ASSERT_NE(reject, nullptr);
  EXPECT_EQ(reject->code, camproto::RejectCode::kCameraIdMismatch);
  EXPECT_NE(reject->reason.find("'cam-2'"), std::string::npos) << reject->reason;
  EXPECT_NE(reject->reason.find("'cam-1'"), std::string::npos) << reject->reason;
  EXPECT_EQ(session.outcome(), SessionOutcome::kRejectedIdMismatch);
  EXPECT_EQ(host.registry_view().size(), 0u);
  EXPECT_EQ(session.firmware_version(), "fw-9") << "kept for the close log line";
}

TEST(CameraSessionHostTest, AnotherZonesCameraIsRedirectedThereBeforeItIsClaimed) {
  FakeSessionHost host;
  host.SetAdmission(std::make_unique<ZoneAdmission>("here", ZoneMapPinning("cam-here", "cam-there")));
  const SessionLimits limits = Limits();
  CameraSession session(host, limits, "cam-there");
  Feed(session, Hello("cam-there"));
  const auto frames = Sent(session);
  const camproto::Redirect* redirect = Only<camproto::Redirect>(frames);
  ASSERT_NE(redirect, nullptr);
  EXPECT_EQ(redirect->endpoint, "there.example.com:7443");
  EXPECT_EQ(redirect->zone_id, "there");
  EXPECT_EQ(session.outcome(), SessionOutcome::kRedirected);
  EXPECT_EQ(session.close_reason(), "redirected to zone there");
  EXPECT_EQ(session.state(), CameraSession::State::kClosing);
  EXPECT_EQ(host.registry_view().size(), 0u);
  EXPECT_EQ(host.session_ids_given, 0u);
}

TEST(CameraSessionHostTest, ACameraNoZonePlacesIsRejectedAsUnknown) {
  FakeSessionHost host;
  host.SetAdmission(std::make_unique<ZoneAdmission>("here", ZoneMapPinning("cam-here", "cam-there")));
  const SessionLimits limits = Limits();
  CameraSession session(host, limits, "cam-stranger");
  Feed(session, Hello("cam-stranger"));
  const auto frames = Sent(session);
  const camproto::Reject* reject = Only<camproto::Reject>(frames);
  ASSERT_NE(reject, nullptr);
  EXPECT_EQ(reject->code, camproto::RejectCode::kUnknownCamera);
  EXPECT_EQ(session.outcome(), SessionOutcome::kRejectedUnknownCamera);
  EXPECT_EQ(host.registry_view().size(), 0u);

  // This zone's own camera is welcomed under the same map.
  CameraSession admitted(host, limits, "cam-here");
  Feed(admitted, Hello("cam-here"));
  EXPECT_NE(Only<camproto::Welcome>(Sent(admitted)), nullptr);
}

TEST(CameraSessionHostTest, WelcomeCarriesTheHostsSessionIdAndTheLimits) {
  FakeSessionHost host;
  host.registry().Get("cam-1").SeedDurable(41);
  const SessionLimits limits = Limits();
  CameraSession session(host, limits, "cam-1");
  session.set_host_tag(0xABCD);
  Feed(session, Hello("cam-1", camproto::kProtocolVersion, /*last_durable_seq=*/30));
  const auto frames = Sent(session);
  const camproto::Welcome* welcome = Only<camproto::Welcome>(frames);
  ASSERT_NE(welcome, nullptr);
  EXPECT_EQ(welcome->session_id, 1u);
  EXPECT_EQ(session.session_id(), 1u);
  EXPECT_EQ(welcome->server_id, "srv-1");
  EXPECT_EQ(welcome->max_segment_bytes, limits.max_segment_bytes);
  EXPECT_EQ(welcome->ack_window_bytes, limits.ack_window_bytes);
  EXPECT_EQ(welcome->keepalive_interval_ms, limits.keepalive_interval_ms);
  EXPECT_EQ(welcome->durable_seq, 41u);
  EXPECT_EQ(session.hello_last_durable_seq(), 30u);
  EXPECT_EQ(session.base_seq(), 41u);
  EXPECT_EQ(session.host_tag(), 0xABCDu);
  EXPECT_TRUE(session.welcomed());
  EXPECT_EQ(session.state(), CameraSession::State::kStreaming);
}

TEST(CameraSessionHostTest, ANewConnectionWaitsUntilItsPredecessorsRecordsAreDurable) {
  FakeSessionHost host;
  const SessionLimits limits = Limits();
  auto first = std::make_unique<CameraSession>(host, limits, "cam-1");
  Feed(*first, Hello("cam-1"));
  Sent(*first);
  Feed(*first, Segment(1, 100) + Segment(2, 100));
  ASSERT_EQ(host.spooled.size(), 2u);  // accepted, not yet durable

  CameraSession second(host, limits, "cam-1");
  Feed(second, Hello("cam-1"));
  EXPECT_EQ(second.state(), CameraSession::State::kWaitingForPredecessor);
  EXPECT_TRUE(second.needs_poll());
  EXPECT_TRUE(Sent(second).empty()) << "no WELCOME while seqs 1..2 may still be lost";
  EXPECT_TRUE(first->CloseIfSuperseded());

  host.MakeDurable();
  second.Poll();
  const auto frames = Sent(second);
  const camproto::Welcome* welcome = Only<camproto::Welcome>(frames);
  ASSERT_NE(welcome, nullptr);
  EXPECT_EQ(welcome->durable_seq, 2u);
  EXPECT_EQ(second.session_id(), 2u);
  // Welcomed; still polled until what it acknowledged is in the store.
  EXPECT_TRUE(second.needs_poll());
  host.registry().Get("cam-1").RaisePersisted(2);
  const auto persisted = Sent(second);
  const camproto::Ack* ack = Only<camproto::Ack>(persisted);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->seq, 2u);
  EXPECT_EQ(ack->level, camproto::DurabilityLevel::kPersisted);
  EXPECT_FALSE(second.needs_poll());
}

TEST(CameraSessionHostTest, EachNewSegmentReachesTheSpoolAsOneWellFormedRecord) {
  FakeSessionHost host;
  const SessionLimits limits = Limits();
  CameraSession session(host, limits, "cam-1");
  Feed(session, Hello("cam-1"));
  Sent(session);
  Feed(session, Segment(1, 3000, 'a'));
  ASSERT_EQ(host.spooled.size(), 1u);
  const FakeSessionHost::Spooled& record = host.spooled[0];
  EXPECT_EQ(record.session, &session);
  EXPECT_EQ(record.seq, 1u);
  EXPECT_EQ(record.payload_bytes, 3000u);
  const size_t header_bytes = SpoolRecordHeaderBytes(std::string("cam-1").size());
  EXPECT_EQ(record.record_bytes, header_bytes + 3000);
  EXPECT_GE(record.buffer.capacity, record.record_bytes);

  absl::StatusOr<SpoolRecord> decoded = DecodeSpoolRecordHeader({record.buffer.data, record.record_bytes}, 0);
  ASSERT_TRUE(decoded.ok()) << decoded.status();
  EXPECT_EQ(decoded->camera_id, "cam-1");
  EXPECT_EQ(decoded->seq, 1u);
  EXPECT_EQ(decoded->capture_start_us, kNowUs);
  EXPECT_EQ(decoded->duration_us, 2'000'000u);
  EXPECT_EQ(decoded->payload_bytes, 3000u);
  const std::string payload(reinterpret_cast<const char*>(record.buffer.data) + header_bytes, 3000);
  EXPECT_EQ(payload, std::string(3000, 'a'));
  EXPECT_EQ(decoded->payload_crc, Crc32c({record.buffer.data + header_bytes, 3000}));
  EXPECT_EQ(session.unacked_bytes(), 3000u);
  EXPECT_EQ(session.segments_accepted(), 1u);
  EXPECT_EQ(session.payload_bytes_accepted(), 3000u);

  // Durable: acknowledged, the window freed.
  host.MakeDurable();
  const auto frames = Sent(session);
  const camproto::Ack* ack = Only<camproto::Ack>(frames);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->seq, 1u);
  EXPECT_EQ(ack->level, camproto::DurabilityLevel::kSpooled);
  EXPECT_EQ(session.unacked_bytes(), 0u);
}

TEST(CameraSessionHostTest, OutOfSegmentMemoryTheSessionPausesAndResumesWhereItStopped) {
  FakeSessionHost host;
  const SessionLimits limits = Limits();
  CameraSession session(host, limits, "cam-1");
  Feed(session, Hello("cam-1"));
  Sent(session);

  host.out_of_memory = true;
  const std::string bytes = Segment(1, 2000, 'x') + Segment(2, 2000, 'y');
  const size_t consumed = Feed(session, bytes);
  EXPECT_LT(consumed, bytes.size());
  EXPECT_TRUE(session.blocked_on_memory());
  EXPECT_TRUE(session.decoder().paused());
  EXPECT_TRUE(session.pending_error().ok()) << "backpressure is not an error";
  EXPECT_TRUE(host.spooled.empty());
  EXPECT_EQ(session.state(), CameraSession::State::kStreaming);
  const int asked = host.allocations_asked;
  EXPECT_GE(asked, 1);

  // Still no memory: asking again changes nothing.
  EXPECT_EQ(Feed(session, std::string_view(bytes).substr(consumed)), 0u);
  EXPECT_TRUE(session.blocked_on_memory());

  host.out_of_memory = false;
  const size_t rest = Feed(session, std::string_view(bytes).substr(consumed));
  EXPECT_EQ(consumed + rest, bytes.size());
  EXPECT_FALSE(session.blocked_on_memory());
  ASSERT_EQ(host.spooled.size(), 2u);
  EXPECT_EQ(host.spooled[0].seq, 1u);
  EXPECT_EQ(host.spooled[1].seq, 2u);
  EXPECT_EQ(host.spooled[1].buffer.data[host.spooled[1].record_bytes - 1], 'y');
}

TEST(CameraSessionHostTest, AHalfReceivedSegmentIsHandedBackWhenTheSessionEnds) {
  FakeSessionHost host;
  const SessionLimits limits = Limits();
  {
    CameraSession session(host, limits, "cam-1");
    Feed(session, Hello("cam-1"));
    const std::string segment = Segment(1, 5000);
    Feed(session, std::string_view(segment).substr(0, segment.size() - 1000));
    EXPECT_EQ(host.live_buffers, 1);
    EXPECT_TRUE(host.spooled.empty());
  }
  EXPECT_EQ(host.live_buffers, 0) << "the connection closed mid-payload: its buffer went back";
  EXPECT_EQ(host.released, 1);
  EXPECT_EQ(host.registry().Get("cam-1").accepted(), 0u) << "a cut-off segment is never accepted";
}

TEST(CameraSessionHostTest, MoreThanTheAckWindowInFlightIsAnError) {
  FakeSessionHost host;
  const SessionLimits limits = Limits();  // 16 KiB window
  CameraSession session(host, limits, "cam-1");
  Feed(session, Hello("cam-1"));
  Sent(session);
  Feed(session, Segment(1, 10 << 10));
  EXPECT_EQ(session.state(), CameraSession::State::kStreaming);
  Feed(session, Segment(2, 10 << 10));  // 20 KiB unacknowledged
  const auto frames = Sent(session);
  ASSERT_FALSE(frames.empty());
  const auto* error = std::get_if<camproto::Error>(&frames.back());
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->code, camproto::ErrorCode::kWindowExceeded);
  EXPECT_EQ(session.outcome(), SessionOutcome::kWindowExceeded);
  EXPECT_EQ(session.state(), CameraSession::State::kClosing);
  EXPECT_EQ(host.spooled.size(), 1u) << "the segment over the window is not stored";
}

TEST(CameraSessionHostTest, SegmentsSentAfterGoawayAreStillStoredAndAcknowledged) {
  FakeSessionHost host;
  const SessionLimits limits = Limits();
  CameraSession session(host, limits, "cam-1");
  Feed(session, Hello("cam-1"));
  Sent(session);
  EXPECT_TRUE(session.SendGoaway(camproto::GoawayReason::kDraining, 1500, "draining"));
  EXPECT_FALSE(session.SendGoaway(camproto::GoawayReason::kDraining, 1500, "again")) << "told once";
  EXPECT_TRUE(session.goaway_sent());
  auto frames = Sent(session);
  const camproto::Goaway* goaway = Only<camproto::Goaway>(frames);
  ASSERT_NE(goaway, nullptr);
  EXPECT_EQ(goaway->reason, camproto::GoawayReason::kDraining);
  EXPECT_EQ(goaway->reconnect_after_ms, 1500u);
  EXPECT_EQ(goaway->message, "draining");

  Feed(session, Segment(1, 100));  // in flight before the camera read the GOAWAY
  host.MakeDurable();
  frames = Sent(session);
  const camproto::Ack* ack = Only<camproto::Ack>(frames);
  ASSERT_NE(ack, nullptr);
  EXPECT_EQ(ack->seq, 1u);
  EXPECT_EQ(session.state(), CameraSession::State::kStreaming);
}

TEST(CameraSessionHostTest, APingIsAnsweredWithItsNonce) {
  FakeSessionHost host;
  const SessionLimits limits = Limits();
  CameraSession session(host, limits, "cam-1");
  Feed(session, Hello("cam-1"));
  Sent(session);
  Feed(session, Frame(camproto::Ping{.nonce = 0x1234'5678'9ABCull}));
  const auto frames = Sent(session);
  const camproto::Pong* pong = Only<camproto::Pong>(frames);
  ASSERT_NE(pong, nullptr);
  EXPECT_EQ(pong->nonce, 0x1234'5678'9ABCull);
  Feed(session, Frame(camproto::Pong{.nonce = 1}));  // a camera's PONG needs no answer
  EXPECT_TRUE(Sent(session).empty());
}

TEST(CameraSessionHostTest, ACamerasErrorEndsTheSessionWithoutAnAnswer) {
  FakeSessionHost host;
  const SessionLimits limits = Limits();
  CameraSession session(host, limits, "cam-1");
  Feed(session, Hello("cam-1"));
  Sent(session);
  Feed(session, Frame(camproto::Error{.code = camproto::ErrorCode::kInternal, .message = "disk broke"}));
  EXPECT_EQ(session.state(), CameraSession::State::kClosing);
  EXPECT_EQ(session.outcome(), SessionOutcome::kCameraError);
  EXPECT_TRUE(Sent(session).empty());
  EXPECT_FALSE(session.needs_poll());
}

TEST(CameraSessionHostTest, ASecondHelloIsAnUnexpectedFrame) {
  FakeSessionHost host;
  const SessionLimits limits = Limits();
  CameraSession session(host, limits, "cam-1");
  Feed(session, Hello("cam-1"));
  Sent(session);
  Feed(session, Hello("cam-1"));
  const auto frames = Sent(session);
  ASSERT_EQ(frames.size(), 1u);
  const auto* error = std::get_if<camproto::Error>(&frames[0]);
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->code, camproto::ErrorCode::kUnexpectedFrame);
  EXPECT_EQ(session.outcome(), SessionOutcome::kProtocolError);
}

}  // namespace
}  // namespace ingest
