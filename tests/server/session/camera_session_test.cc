// The camera session against the sequence rules, field ranges and invariants
// of proto/README.md, without a ring or TLS: each case feeds frames, lets the
// spool make them durable, and checks the frames the session answered and
// what it stored.
#include "server/session/camera_session.h"

#include <limits>
#include <string>
#include <variant>
#include <vector>

#include "gtest/gtest.h"
#include "tests/support/session_harness.h"

namespace ingest {
namespace {

using camproto::ControlFrame;
using camproto::ErrorCode;
using testing::HeaderFor;
using testing::HelloBytes;
using testing::SegmentBytes;
using testing::SessionHarness;

std::string Payload(uint64_t seq, char variant = 'a') {
  return absl::StrCat("segment-", seq, "-", std::string(1, variant), std::string(seq % 7, 'x'));
}

std::string Segment(uint64_t seq, uint8_t flags = camproto::kSegmentFlagKeyframe, char variant = 'a') {
  return SegmentBytes(HeaderFor(seq, flags), Payload(seq, variant));
}

// Highest spooled ACK among `frames` (0 if none).
uint64_t HighestSpooledAck(const std::vector<ControlFrame>& frames) {
  uint64_t highest = 0;
  for (const ControlFrame& f : frames) {
    if (auto* ack = std::get_if<camproto::Ack>(&f); ack && ack->level == camproto::DurabilityLevel::kSpooled) {
      highest = std::max(highest, ack->seq);
    }
  }
  return highest;
}

std::optional<ErrorCode> ErrorIn(const std::vector<ControlFrame>& frames) {
  for (const ControlFrame& f : frames) {
    if (auto* error = std::get_if<camproto::Error>(&f)) return error->code;
  }
  return std::nullopt;
}

int CountAcks(const std::vector<ControlFrame>& frames) {
  int n = 0;
  for (const ControlFrame& f : frames) n += std::holds_alternative<camproto::Ack>(f) ? 1 : 0;
  return n;
}

// Welcomes cam-1 with `last_durable_seq` in HELLO on a new connection.
CameraSession& Welcomed(SessionHarness& h, uint64_t last_durable_seq = 0) {
  CameraSession& s = h.Connect("cam-1");
  EXPECT_TRUE(h.Feed(s, HelloBytes("cam-1", last_durable_seq)).ok());
  EXPECT_EQ(s.state(), CameraSession::State::kStreaming);
  return s;
}

// Sends `seqs` one after another, making each durable; returns all frames.
std::vector<ControlFrame> SendEach(SessionHarness& h, CameraSession& s, const std::vector<std::string>& frames) {
  std::vector<ControlFrame> out;
  for (const std::string& bytes : frames) {
    (void)h.Feed(s, bytes);
    h.MakeDurable();
    for (ControlFrame& f : h.TakeFrames(s)) out.push_back(std::move(f));
  }
  return out;
}

TEST(CameraSessionSequence, OutOfOrderIsRefusedBeforeAnyAckCoversTheSkippedSeq) {
  // The firmware report: 1, 2, 3, 5, 4, 6 on one connection.
  SessionHarness h;
  CameraSession& s = Welcomed(h);
  std::vector<ControlFrame> out =
      SendEach(h, s, {Segment(1), Segment(2), Segment(3), Segment(5), Segment(4), Segment(6)});
  EXPECT_EQ(ErrorIn(out), ErrorCode::kBadSequence);
  EXPECT_EQ(HighestSpooledAck(out), 3u);
  EXPECT_FALSE(h.stored("cam-1").contains(5));
  EXPECT_EQ(h.count(SessionEvent::kRefusedBadSequence), 1u);
  EXPECT_EQ(h.CheckInvariants(), "");
}

TEST(CameraSessionSequence, SkipFlagGivesUpTheSeqsInBetween) {
  SessionHarness h;
  CameraSession& s = Welcomed(h);
  std::vector<ControlFrame> out =
      SendEach(h, s, {Segment(1), Segment(2), Segment(5, camproto::kSegmentFlagSkip), Segment(6)});
  EXPECT_EQ(ErrorIn(out), std::nullopt);
  EXPECT_EQ(HighestSpooledAck(out), 6u);
  EXPECT_EQ(h.stored("cam-1").size(), 4u);
  EXPECT_EQ(h.CheckInvariants(), "");
}

TEST(CameraSessionSequence, FirstNewSeqFollowsTheHigherOfHelloAndWelcome) {
  // A server that never saw this camera: the camera released 1..100 elsewhere.
  SessionHarness h;
  CameraSession& s = Welcomed(h, /*last_durable_seq=*/100);
  EXPECT_EQ(s.base_seq(), 100u);
  std::vector<ControlFrame> out = SendEach(h, s, {Segment(101), Segment(102)});
  EXPECT_EQ(HighestSpooledAck(out), 102u);
  EXPECT_EQ(h.CheckInvariants(), "");

  // Jumping past the base without SKIP is refused.
  SessionHarness h2;
  CameraSession& s2 = Welcomed(h2, 100);
  out = SendEach(h2, s2, {Segment(103)});
  EXPECT_EQ(ErrorIn(out), ErrorCode::kBadSequence);

  // So is a seq the camera itself released but this server never stored.
  SessionHarness h3;
  CameraSession& s3 = Welcomed(h3, 100);
  out = SendEach(h3, s3, {Segment(50)});
  EXPECT_EQ(ErrorIn(out), ErrorCode::kBadSequence);
  EXPECT_TRUE(h3.stored("cam-1").empty());
}

TEST(CameraSessionResend, SameContentsAreAcknowledgedAgainAndStoredOnce) {
  SessionHarness h;
  CameraSession& first = Welcomed(h);
  SendEach(h, first, {Segment(1), Segment(2), Segment(3)});
  // The camera lost the ACKs with its connection and, ignoring WELCOME's
  // durable_seq, sends 3 again.
  CameraSession& second = Welcomed(h, /*last_durable_seq=*/0);
  std::vector<ControlFrame> out = h.TakeFrames(second);
  ASSERT_FALSE(out.empty());
  ASSERT_TRUE(std::holds_alternative<camproto::Welcome>(out[0]));
  EXPECT_EQ(std::get<camproto::Welcome>(out[0]).durable_seq, 3u);
  out = SendEach(h, second, {Segment(3)});
  EXPECT_EQ(ErrorIn(out), std::nullopt);
  EXPECT_EQ(HighestSpooledAck(out), 3u);
  EXPECT_EQ(h.store_count("cam-1", 3), 1);
  EXPECT_EQ(h.count(SessionEvent::kDuplicate), 1u);
  EXPECT_EQ(h.CheckInvariants(), "");
}

TEST(CameraSessionResend, WithinOneConnectionBeforeDurableIsAckedOnceDurable) {
  SessionHarness h;
  CameraSession& s = Welcomed(h);
  (void)h.Feed(s, Segment(1));
  (void)h.Feed(s, Segment(1));  // again, before the spool committed it
  EXPECT_EQ(HighestSpooledAck(h.TakeFrames(s)), 0u);
  h.MakeDurable();
  std::vector<ControlFrame> out = h.TakeFrames(s);
  EXPECT_EQ(HighestSpooledAck(out), 1u);
  EXPECT_EQ(h.store_count("cam-1", 1), 1);
  EXPECT_EQ(h.CheckInvariants(), "");
}

TEST(CameraSessionResend, PersistedLevelIsRepeatedToo) {
  SessionHarness h;
  CameraSession& s = Welcomed(h);
  SendEach(h, s, {Segment(1), Segment(2)});
  h.MakePersisted("cam-1", 2);
  h.TakeFrames(s);
  std::vector<ControlFrame> out = SendEach(h, s, {Segment(2)});
  int persisted = 0;
  for (const ControlFrame& f : out) {
    if (auto* ack = std::get_if<camproto::Ack>(&f); ack && ack->level == camproto::DurabilityLevel::kPersisted) {
      ++persisted;
      EXPECT_EQ(ack->seq, 2u);
    }
  }
  EXPECT_EQ(persisted, 1);
  EXPECT_EQ(CountAcks(out), 2);
}

struct MismatchCase {
  std::string name;
  camproto::SegmentHeader header;
  std::string payload;
};

TEST(CameraSessionResend, DifferentContentsAreRefusedAndTheStoredOneStays) {
  const std::vector<MismatchCase> cases = {
      {"payload", HeaderFor(2), Payload(2, 'b')},
      {"longer payload", HeaderFor(2), Payload(2) + "!"},
      {"capture time",
       [] {
         auto h = HeaderFor(2);
         h.capture_start_us += 1;
         return h;
       }(),
       Payload(2)},
      {"duration",
       [] {
         auto h = HeaderFor(2);
         h.duration_us += 1;
         return h;
       }(),
       Payload(2)},
      {"keyframe flag", HeaderFor(2, 0), Payload(2)},
  };
  for (const MismatchCase& c : cases) {
    SCOPED_TRACE(c.name);
    SessionHarness h;
    CameraSession& s = Welcomed(h);
    SendEach(h, s, {Segment(1), Segment(2), Segment(3)});
    std::vector<ControlFrame> out = SendEach(h, s, {SegmentBytes(c.header, c.payload)});
    EXPECT_EQ(ErrorIn(out), ErrorCode::kSegmentMismatch);
    EXPECT_EQ(h.stored("cam-1").at(2), Payload(2));
    EXPECT_EQ(h.store_count("cam-1", 2), 1);
    EXPECT_EQ(h.count(SessionEvent::kRefusedMismatch), 1u);
  }
}

TEST(CameraSessionResend, OlderThanRememberedIsRefusedNotSilentlyAcked) {
  SessionHarness h;
  CameraSession& s = Welcomed(h);
  std::vector<std::string> frames;
  for (uint64_t seq = 1; seq <= kRememberedSegments + 5; ++seq) frames.push_back(Segment(seq));
  SendEach(h, s, frames);
  std::vector<ControlFrame> out = SendEach(h, s, {Segment(2)});
  EXPECT_EQ(ErrorIn(out), ErrorCode::kBadSequence);
  EXPECT_EQ(h.CheckInvariants(), "");
}

struct FieldCase {
  std::string name;
  camproto::SegmentHeader header;
};

TEST(CameraSessionFields, OutOfRangeFieldsAreRefusedNeverAcked) {
  constexpr int64_t kDay = int64_t{86400} * 1'000'000;
  auto with = [](auto change) {
    camproto::SegmentHeader h = HeaderFor(1);
    change(h);
    return h;
  };
  const std::vector<FieldCase> cases = {
      {"capture INT64_MAX", with([](auto& h) { h.capture_start_us = std::numeric_limits<int64_t>::max(); })},
      {"capture INT64_MAX - 1000",
       with([](auto& h) { h.capture_start_us = std::numeric_limits<int64_t>::max() - 1000; })},
      {"capture INT64_MIN", with([](auto& h) { h.capture_start_us = std::numeric_limits<int64_t>::min(); })},
      {"capture 0 (clock not set)", with([](auto& h) { h.capture_start_us = 0; })},
      {"capture 31 days old", with([](auto& h) { h.capture_start_us = testing::kHarnessNowUs - 31 * kDay; })},
      {"capture 2 days ahead", with([](auto& h) { h.capture_start_us = testing::kHarnessNowUs + 2 * kDay; })},
      {"duration over 10 minutes", with([](auto& h) { h.duration_us = camproto::kMaxSegmentDurationUs + 1; })},
      {"reserved flag bit 2", with([](auto& h) { h.flags = 0x04; })},
      {"reserved flag bit 7", with([](auto& h) { h.flags = 0x81; })},
  };
  for (const FieldCase& c : cases) {
    SCOPED_TRACE(c.name);
    SessionHarness h;
    CameraSession& s = Welcomed(h);
    std::vector<ControlFrame> out = SendEach(h, s, {SegmentBytes(c.header, "payload")});
    EXPECT_EQ(ErrorIn(out), ErrorCode::kInvalidField);
    EXPECT_EQ(HighestSpooledAck(out), 0u);
    EXPECT_TRUE(h.stored("cam-1").empty());
    EXPECT_EQ(h.count(SessionEvent::kRefusedInvalidField), 1u);
  }
}

TEST(CameraSessionFields, EdgesOfTheWindowAreAccepted) {
  constexpr int64_t kDay = int64_t{86400} * 1'000'000;
  SessionHarness h;
  CameraSession& s = Welcomed(h);
  camproto::SegmentHeader oldest = HeaderFor(1);
  oldest.capture_start_us = testing::kHarnessNowUs - 30 * kDay;
  camproto::SegmentHeader latest = HeaderFor(2);
  latest.capture_start_us = testing::kHarnessNowUs + kDay;
  latest.duration_us = camproto::kMaxSegmentDurationUs;
  std::vector<ControlFrame> out = SendEach(h, s, {SegmentBytes(oldest, "a"), SegmentBytes(latest, "")});
  EXPECT_EQ(ErrorIn(out), std::nullopt);
  EXPECT_EQ(HighestSpooledAck(out), 2u);
}

TEST(CameraSessionStart, PingOrPongBeforeHelloIsUnexpected) {
  for (ControlFrame first : {ControlFrame(camproto::Ping{.nonce = 7}), ControlFrame(camproto::Pong{.nonce = 7})}) {
    SessionHarness h;
    CameraSession& s = h.Connect("cam-1");
    std::string bytes;
    camproto::AppendFrame(first, bytes);
    (void)h.Feed(s, bytes);
    std::vector<ControlFrame> out = h.TakeFrames(s);
    ASSERT_EQ(out.size(), 1u);
    ASSERT_TRUE(std::holds_alternative<camproto::Error>(out[0]));
    EXPECT_EQ(std::get<camproto::Error>(out[0]).code, ErrorCode::kUnexpectedFrame);
  }
}

TEST(CameraSessionStart, WelcomedIsKnownEvenWhenABadFrameFollowsInTheSameRead) {
  SessionHarness h;
  CameraSession& s = h.Connect("cam-1");
  (void)h.Feed(s, HelloBytes("cam-1", 0) + HelloBytes("cam-1", 0));
  EXPECT_EQ(s.state(), CameraSession::State::kClosing);
  EXPECT_TRUE(s.welcomed());
}

TEST(CameraSessionStart, OverALimitTheHelloGetsServerFull) {
  SessionHarness h;
  CameraSession& s = h.Connect("cam-1");
  s.RefuseAsFull("at the limit");
  (void)h.Feed(s, HelloBytes("cam-1", 0));
  std::vector<ControlFrame> out = h.TakeFrames(s);
  ASSERT_EQ(out.size(), 1u);
  ASSERT_TRUE(std::holds_alternative<camproto::Reject>(out[0]));
  EXPECT_EQ(std::get<camproto::Reject>(out[0]).code, camproto::RejectCode::kServerFull);
  EXPECT_EQ(s.outcome(), SessionOutcome::kRejectedServerFull);
}

TEST(CameraSessionRevocation, ARevokedSessionIsToldWhyAndClosesOnce) {
  SessionHarness h;
  CameraSession& s = Welcomed(h);
  SendEach(h, s, {Segment(1)});
  EXPECT_TRUE(s.CloseAsRevoked("camera cam-1 is on the deny list"));
  std::vector<ControlFrame> out = h.TakeFrames(s);
  EXPECT_EQ(ErrorIn(out), ErrorCode::kRevoked);
  EXPECT_EQ(s.outcome(), SessionOutcome::kRevoked);
  EXPECT_EQ(s.state(), CameraSession::State::kClosing);
  EXPECT_NE(s.close_reason().find("deny list"), std::string::npos);
  EXPECT_FALSE(s.CloseAsRevoked("again"));
  EXPECT_EQ(h.CheckInvariants(), "");
}

TEST(CameraSessionOwnership, AnOlderConnectionIsToldSupersededWithoutSendingAgain) {
  SessionHarness h;
  CameraSession& old_connection = Welcomed(h);
  SendEach(h, old_connection, {Segment(1)});
  CameraSession& new_connection = Welcomed(h, 1);
  EXPECT_FALSE(new_connection.CloseIfSuperseded());
  EXPECT_TRUE(old_connection.CloseIfSuperseded());
  EXPECT_EQ(ErrorIn(h.TakeFrames(old_connection)), ErrorCode::kSuperseded);
  EXPECT_EQ(old_connection.outcome(), SessionOutcome::kSuperseded);
  // The new one carries on where the old one stopped.
  std::vector<ControlFrame> out = SendEach(h, new_connection, {Segment(2)});
  EXPECT_EQ(HighestSpooledAck(out), 2u);
  EXPECT_EQ(h.CheckInvariants(), "");
}

}  // namespace
}  // namespace ingest
