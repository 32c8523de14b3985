// The HTTPS ingest session without a ring: what an encoder's requests become
// (spool records of its camera, byte for byte), when they are answered (201
// only once durable, in request order), and every refusal with its status —
// authentication, routing, sizes, malformed bodies, truncated streams, a
// head that never ends, memory backpressure and a predecessor's commits.
#include "server/http_ingest/http_ingest_session.h"

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/match.h"
#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "server/s3/sigv4.h"  // Sha256Hex
#include "proto/frame.h"
#include "server/spool/metadata_streams.h"
#include "server/spool/spool_record.h"
#include "tests/support/encoded_ts.h"
#include "tests/support/fmp4_builder.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

constexpr int64_t kNowUs = int64_t{1'800'000'000} * 1'000'000;
const std::string kToken = "tok-1";

struct Stored {
  HttpIngestSession* session;
  SegmentBuffer buffer;
  size_t record_bytes;
  uint64_t seq;
};

class FakeHttpHost final : public HttpIngestHost {
 public:
  FakeHttpHost() {
    absl::StatusOr<EncoderCredentials> parsed = EncoderCredentials::Parse(
        absl::StrCat("token cam-1 sha256:", Sha256Hex(kToken), "\nkey k1 ", std::string(64, 'a'), "\n"), "creds");
    EXPECT_TRUE(parsed.ok()) << parsed.status();
    credentials_ = std::make_unique<EncoderCredentials>(*std::move(parsed));
  }
  ~FakeHttpHost() override {
    for (Stored& s : spooled) delete[] s.buffer.data;
    for (Stored& s : durable) delete[] s.buffer.data;
  }

  SegmentBuffer AllocateRecord(size_t bytes) override {
    if (deny_memory) return {};
    allocations.push_back(bytes);
    ++buffers_out;
    bytes_out += bytes;
    peak_bytes_out = std::max(peak_bytes_out, bytes_out);
    return SegmentBuffer{.data = new uint8_t[bytes], .capacity = bytes, .size_class = 0};
  }
  void ReleaseRecord(const SegmentBuffer& buffer) override {
    if (buffer.data == nullptr) return;
    --buffers_out;
    bytes_out -= buffer.capacity;
    delete[] buffer.data;
  }
  void SpoolHttpRecord(HttpIngestSession& session, const SegmentBuffer& buffer, size_t record_bytes, uint64_t seq,
                       uint32_t) override {
    --buffers_out;
    bytes_out -= buffer.capacity;
    spooled.push_back({&session, buffer, record_bytes, seq});
  }
  CameraRegistry& registry() override { return registry_; }
  const EncoderCredentials* encoder_credentials() const override { return credentials_.get(); }
  int64_t NowUnixMicros() const override { return now_us; }
  std::optional<std::string> CameraDenied(std::string_view camera) const override {
    if (camera == denied) return "on the deny list";
    return std::nullopt;
  }
  void Count(HttpIngestEvent event) override { ++counts[event]; }

  // The group commit finished every record handed over so far.
  void MakeDurable() {
    std::vector<Stored> batch;
    batch.swap(spooled);
    for (Stored& s : batch) {
      registry_.Get(DecodeSpoolRecordHeader({s.buffer.data, s.record_bytes}, 0)->camera_id).RaiseDurable(s.seq);
      s.session->OnDurable(s.seq);
      durable.push_back(s);
    }
  }
  // The payload of the i-th durable record, and its decoded header.
  std::string Payload(size_t i) const {
    const Stored& s = durable.at(i);
    const size_t header = SpoolRecordHeaderBytes(Header(i).camera_id.size());
    return std::string(reinterpret_cast<const char*>(s.buffer.data) + header, s.record_bytes - header);
  }
  SpoolRecord Header(size_t i) const {
    const Stored& s = durable.at(i);
    absl::StatusOr<SpoolRecord> r = DecodeSpoolRecordHeader({s.buffer.data, s.record_bytes}, 0);
    EXPECT_TRUE(r.ok()) << r.status();
    return *r;
  }

  bool deny_memory = false;
  std::string denied;
  int64_t now_us = kNowUs;
  int64_t buffers_out = 0;
  size_t bytes_out = 0;  // held by sessions, not yet spooled
  size_t peak_bytes_out = 0;
  std::vector<size_t> allocations;  // the size of every record asked for
  std::vector<Stored> spooled;
  std::vector<Stored> durable;
  std::map<HttpIngestEvent, int> counts;

 private:
  CameraRegistry registry_;
  std::unique_ptr<EncoderCredentials> credentials_;
};

HttpIngestLimits Limits() {
  HttpIngestLimits limits;
  limits.max_segment_bytes = 64 * 1024;
  limits.stream_min_segment_bytes = 188 * 50;
  return limits;
}

// Offers `bytes` in pieces of `piece` (as TLS would hand them over); returns
// how many the session took.
size_t Feed(HttpIngestSession& session, std::string_view bytes, size_t piece = 1 << 20) {
  size_t taken = 0;
  while (taken < bytes.size()) {
    absl::Span<uint8_t> span = session.WritableSpan();
    if (span.empty()) break;
    const size_t n = std::min({span.size(), piece, bytes.size() - taken});
    std::memcpy(span.data(), bytes.data() + taken, n);
    session.CommitWritten(n);
    taken += n;
  }
  return taken;
}

std::string Put(const std::string& path, const std::string& body, const std::string& auth = "Bearer tok-1") {
  return absl::StrCat("PUT ", path, " HTTP/1.1\r\nHost: x\r\nAuthorization: ", auth,
                      "\r\nContent-Length: ", body.size(), "\r\n\r\n", body);
}

std::string Chunked(const std::string& method, const std::string& path, const std::string& body, size_t chunk) {
  std::string out = absl::StrCat(method, " ", path, " HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ", kToken,
                                 "\r\nTransfer-Encoding: chunked\r\n\r\n");
  for (size_t at = 0; at < body.size(); at += chunk) {
    const std::string part = body.substr(at, chunk);
    absl::StrAppend(&out, absl::Hex(part.size()), "\r\n", part, "\r\n");
  }
  absl::StrAppend(&out, "0\r\n\r\n");
  return out;
}

// MPEG-TS-shaped bytes: `packets` packets of 188 with sync bytes and a
// counter in the payload (no PAT, so a stream is cut by size).
std::string TsPackets(size_t packets) {
  std::string out;
  for (size_t i = 0; i < packets; ++i) {
    std::string packet(188, static_cast<char>('a' + i % 26));
    packet[0] = 0x47;
    packet[1] = 0x01;  // PID 0x100
    packet[2] = 0x00;
    packet[3] = static_cast<char>(0x10 | (i & 0x0F));
    out += packet;
  }
  return out;
}

std::vector<std::string> Statuses(const std::string& outbox) {
  std::vector<std::string> out;
  for (size_t at = outbox.find("HTTP/1.1 "); at != std::string::npos; at = outbox.find("HTTP/1.1 ", at + 1)) {
    out.push_back(outbox.substr(at + 9, 3));
  }
  return out;
}

TEST(HttpIngestSessionTest, ASegmentIsStoredAsItsCamerasSeqAndAnsweredOnlyOnceDurable) {
  FakeHttpHost host;
  HttpIngestSession session(host, Limits(), "");
  const std::string body(5000, 'v');
  Feed(session, Put("/v1/cameras/cam-1/live17.ts", body));
  ASSERT_EQ(host.spooled.size(), 1u);
  EXPECT_EQ(host.spooled[0].seq, 18u);  // live17 is the 18th segment
  EXPECT_EQ(session.outbox(), "") << "nothing is answered before the record is durable";
  host.MakeDurable();
  EXPECT_TRUE(absl::StartsWith(session.outbox(), "HTTP/1.1 201 Created\r\n")) << session.outbox();
  EXPECT_EQ(host.Payload(0), body);
  const SpoolRecord header = host.Header(0);
  EXPECT_EQ(header.camera_id, "cam-1");
  EXPECT_EQ(header.seq, 18u);
  EXPECT_EQ(header.payload_crc, Crc32c({reinterpret_cast<const uint8_t*>(body.data()), body.size()}));
  EXPECT_EQ(header.flags & camproto::kSegmentFlagSkip, camproto::kSegmentFlagSkip) << "seqs 1..17 given up";
  EXPECT_FALSE(session.closing());
  EXPECT_EQ(host.buffers_out, 0);
}

TEST(HttpIngestSessionTest, AChunkedUploadSplitAnywhereIsStoredWhole) {
  std::string body;
  for (int i = 0; i < 3000; ++i) body += static_cast<char>('A' + i % 50);
  for (size_t piece : {1u, 2u, 3u, 7u, 100u, 4096u}) {
    for (size_t chunk : {1u, 13u, 1000u}) {
      FakeHttpHost host;
      HttpIngestSession session(host, Limits(), "");
      EXPECT_EQ(Feed(session, Chunked("PUT", "/v1/cameras/cam-1/seg_4.ts", body, chunk), piece),
                Chunked("PUT", "/v1/cameras/cam-1/seg_4.ts", body, chunk).size());
      host.MakeDurable();
      ASSERT_EQ(host.durable.size(), 1u) << "piece " << piece << " chunk " << chunk;
      EXPECT_EQ(host.Payload(0), body);
      EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{"201"});
    }
  }
}

TEST(HttpIngestSessionTest, ARePutIsAnsweredAgainWithoutStoringAndOtherContentsAreAConflict) {
  FakeHttpHost host;
  HttpIngestSession session(host, Limits(), "");
  Feed(session, Put("/v1/cameras/cam-1/live0.ts", "first"));
  host.MakeDurable();
  Feed(session, Put("/v1/cameras/cam-1/live0.ts", "first"));
  Feed(session, Put("/v1/cameras/cam-1/live0.ts", "other"));
  EXPECT_TRUE(host.spooled.empty());
  EXPECT_EQ(Statuses(session.outbox()), (std::vector<std::string>{"201", "201", "409"}));
  EXPECT_EQ(host.counts[HttpIngestEvent::kSegmentDuplicate], 1);
  EXPECT_EQ(host.counts[HttpIngestEvent::kSegmentConflict], 1);
  EXPECT_FALSE(session.closing()) << "a conflict keeps the connection";
  EXPECT_EQ(host.buffers_out, 0);
}

TEST(HttpIngestSessionTest, PipelinedRequestsAreServedOneAtATimeAndAnsweredInOrder) {
  FakeHttpHost host;
  HttpIngestSession session(host, Limits(), "");
  const std::string requests =
      absl::StrCat(Put("/v1/cameras/cam-1/a1.ts", "one"), Put("/v1/cameras/cam-1/a2.ts", "two"),
                   "DELETE /v1/cameras/cam-1/a0.ts HTTP/1.1\r\nAuthorization: Bearer tok-1\r\n\r\n",
                   Put("/v1/cameras/cam-1/a3.ts", "three"));
  EXPECT_EQ(Feed(session, requests), requests.size());
  for (uint64_t seq : {2u, 3u}) {
    ASSERT_EQ(host.spooled.size(), 1u) << "the next request waits for the answer to the one before";
    EXPECT_EQ(host.spooled[0].seq, seq);
    host.MakeDurable();
    session.Resume();  // the host pumps the session again once it answered
  }
  ASSERT_EQ(host.spooled.size(), 1u);
  EXPECT_EQ(host.spooled[0].seq, 4u);
  host.MakeDurable();
  EXPECT_EQ(Statuses(session.outbox()), (std::vector<std::string>{"201", "201", "204", "201"}));
  EXPECT_EQ(session.requests(), 4u);
}

TEST(HttpIngestSessionTest, EncodersWithoutCredentialsOrForAnotherCameraAreRefusedAndClosed) {
  struct Case {
    std::string certified;
    std::string request;
    std::string status;
  };
  const std::vector<Case> cases = {
      {"", Put("/v1/cameras/cam-1/l1.ts", "x", "Bearer nope"), "403"},
      {"", "PUT /v1/cameras/cam-1/l1.ts HTTP/1.1\r\nContent-Length: 1\r\n\r\nx", "401"},
      {"", Put("/v1/cameras/cam-2/l1.ts", "x"), "403"},
      {"cam-9", Put("/v1/cameras/cam-1/l1.ts", "x"), "403"},
  };
  for (const Case& c : cases) {
    FakeHttpHost host;
    HttpIngestSession session(host, Limits(), c.certified);
    Feed(session, c.request);
    EXPECT_TRUE(host.spooled.empty());
    EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{c.status}) << c.request;
    EXPECT_TRUE(absl::StrContains(session.outbox(), "Connection: close")) << session.outbox();
    EXPECT_TRUE(session.closing());
  }
}

TEST(HttpIngestSessionTest, ACertifiedCameraAndASignedUrlNeedNoToken) {
  {
    FakeHttpHost host;
    HttpIngestSession session(host, Limits(), "cam-7");
    Feed(session, Put("/v1/cameras/cam-7/l1.ts", "x", ""));
    host.MakeDurable();
    EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{"201"});
  }
  FakeHttpHost host;
  HttpIngestSession session(host, Limits(), "");
  const int64_t expires = kNowUs / 1'000'000 + 60;
  const std::string signature = SignEncoderPath(std::string(32, '\xaa'), "cam-3", expires);
  Feed(session, Put(absl::StrCat("/v1/signed/", expires, "/k1.", signature, "/cameras/cam-3/l1.ts"), "x", ""));
  host.MakeDurable();
  EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{"201"});
}

TEST(HttpIngestSessionTest, FragmentedMp4KeepsItsInitInTheInitStreamAndItsSegmentsInTheCameras) {
  FakeHttpHost host;
  HttpIngestSession session(host, Limits(), "");
  const std::string init = testing::Fmp4Init(1, 90000);
  Feed(session, Put("/v1/cameras/cam-1/init.mp4", init));
  ASSERT_EQ(host.spooled.size(), 1u);
  EXPECT_EQ(session.outbox(), "") << "an init is answered only once durable, like a segment";
  host.MakeDurable();
  EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{"201"});
  EXPECT_EQ(host.Header(0).camera_id, "cam-1~init");
  EXPECT_EQ(host.Header(0).seq, InitSeq(1, 0)) << "for the camera's segments from seq 1 on";
  EXPECT_EQ(host.Payload(0), init);
  EXPECT_EQ(host.counts[HttpIngestEvent::kInitStored], 1);

  // A segment after it: the camera's own seq, marked as needing its init,
  // its duration read from its samples with the init's timescale.
  session.outbox().clear();
  host.now_us = kNowUs + 5'000'000;
  const std::string segment = testing::Fmp4Segment(1, {90000, 90000});
  Feed(session, Put("/v1/cameras/cam-1/live0.m4s", segment));
  host.MakeDurable();
  EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{"201"});
  const SpoolRecord header = host.Header(1);
  EXPECT_EQ(header.camera_id, "cam-1");
  EXPECT_EQ(header.seq, 1u);
  EXPECT_EQ(header.flags & kRecordFlagFragment, kRecordFlagFragment);
  EXPECT_EQ(header.duration_us, 2'000'000u);
  EXPECT_EQ(header.capture_start_us, host.now_us - 2'000'000);
  EXPECT_EQ(host.Payload(1), segment);

  // The same init again (an encoder re-sending it) is answered, not stored;
  // another one governs the segments from the camera's next seq on.
  session.outbox().clear();
  Feed(session, Put("/v1/cameras/cam-1/init.mp4", init));
  EXPECT_TRUE(host.spooled.empty());
  const std::string other = testing::Fmp4Init(1, 1000);
  Feed(session, Put("/v1/cameras/cam-1/init.mp4", other));
  ASSERT_EQ(host.spooled.size(), 1u);
  host.MakeDurable();
  EXPECT_EQ(Statuses(session.outbox()), (std::vector<std::string>{"201", "201"}));
  EXPECT_EQ(host.Header(2).seq, InitSeq(2, 0));
  // And a third before any segment comes next to it, for the same seq.
  Feed(session, Put("/v1/cameras/cam-1/init.mp4", init));
  host.MakeDurable();
  EXPECT_EQ(host.Header(3).seq, InitSeq(2, 1));
  EXPECT_EQ(host.buffers_out, 0);
}

TEST(HttpIngestSessionTest, AFragmentWithoutAKnownInitIsStoredWithoutADuration) {
  FakeHttpHost host;
  HttpIngestSession session(host, Limits(), "");
  Feed(session, Put("/v1/cameras/cam-1/s4.m4s", testing::Fmp4Segment(1, {90000})));
  host.MakeDurable();
  EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{"201"});
  EXPECT_EQ(host.Header(0).duration_us, 0u);
  EXPECT_EQ(host.Header(0).capture_start_us, kNowUs);
  EXPECT_EQ(host.Header(0).flags & kRecordFlagFragment, kRecordFlagFragment);
}

TEST(HttpIngestSessionTest, WithoutTheInitAPlaylistGivesTheDurationsOfTheSegmentsAfterIt) {
  // A server started after the encoder pushed its init (a restart, a
  // replacement): the playlist after the first segment gives its timescale.
  FakeHttpHost host;
  HttpIngestSession session(host, Limits(), "");
  Feed(session, Put("/v1/cameras/cam-1/s0.m4s", testing::Fmp4Segment(1, {45000, 45000})));
  host.MakeDurable();
  Feed(session, Put("/v1/cameras/cam-1/live.m3u8", "#EXTM3U\n#EXTINF:1.000000,\ns0.m4s\n"));
  host.MakeDurable();
  Feed(session, Put("/v1/cameras/cam-1/s1.m4s", testing::Fmp4Segment(1, {90000, 90000})));
  host.MakeDurable();
  EXPECT_EQ(Statuses(session.outbox()), (std::vector<std::string>{"201", "201", "201"}));
  ASSERT_EQ(host.durable.size(), 3u);
  EXPECT_EQ(host.Header(0).duration_us, 0u);
  EXPECT_EQ(host.Header(2).seq, 2u);
  EXPECT_EQ(host.Header(2).duration_us, 2'000'000u);
}

TEST(HttpIngestSessionTest, PlaylistsAreKeptInThePlaylistStreamEachVersionOnce) {
  FakeHttpHost host;
  HttpIngestSession session(host, Limits(), "");
  const std::string v1 = "#EXTM3U\n#EXT-X-TARGETDURATION:2\n#EXTINF:2.0,\nlive0.ts\n";
  const std::string v2 = v1 + "#EXTINF:1.5,\nlive1.ts\n";
  Feed(session, Put("/v1/cameras/cam-1/live.m3u8", v1));
  EXPECT_EQ(session.outbox(), "") << "kept, so answered once durable";
  host.MakeDurable();
  Feed(session, Put("/v1/cameras/cam-1/live.m3u8", v1));  // unchanged: answered, not kept twice
  Feed(session, Put("/v1/cameras/cam-1/live.m3u8", v2));
  host.MakeDurable();
  EXPECT_EQ(Statuses(session.outbox()), (std::vector<std::string>{"201", "201", "201"}));
  ASSERT_EQ(host.durable.size(), 2u);
  EXPECT_EQ(host.Header(0).camera_id, "cam-1~m3u8");
  EXPECT_EQ(host.Header(0).seq, 1u);
  EXPECT_EQ(host.Payload(0), v1);
  EXPECT_EQ(host.Header(1).seq, 2u);
  EXPECT_EQ(host.Payload(1), v2);
  // A segment after them is still the camera's own.
  Feed(session, Put("/v1/cameras/cam-1/live2.ts", "media"));
  host.MakeDurable();
  EXPECT_EQ(host.Header(2).camera_id, "cam-1");
  EXPECT_EQ(host.Header(2).seq, 3u);
}

TEST(HttpIngestSessionTest, ACameraIdTooLongForMetadataStreamsGetsReasons) {
  const std::string camera(kMaxCameraIdWithMetadata + 1, 'c');
  FakeHttpHost host;
  HttpIngestSession session(host, Limits(), camera);
  const std::string base = absl::StrCat("/v1/cameras/", camera, "/");
  Feed(session, Put(base + "live.m3u8", "#EXTM3U\n#EXTINF:2.0,\nlive0.ts\n", ""));
  EXPECT_TRUE(host.spooled.empty());
  EXPECT_TRUE(absl::StrContains(session.outbox(), "not kept")) << session.outbox();
  Feed(session, Put(base + "init.mp4", testing::Fmp4Init(1, 90000), ""));
  EXPECT_EQ(Statuses(session.outbox()), (std::vector<std::string>{"201", "400"}));
  EXPECT_TRUE(host.spooled.empty());
}

TEST(HttpIngestSessionTest, WhatIsNotServedGetsItsStatus) {
  struct Case {
    std::string request;
    std::string status;
    bool closes;
  };
  const std::vector<Case> cases = {
      {"GET /v1/cameras/cam-1/l1.ts HTTP/1.1\r\n\r\n", "405", true},
      {Put("/v2/whatever", "x"), "404", false},
      {Put("/v1/cameras/cam-1/init.mp4", "x"), "415", false},
      {Put("/v1/cameras/cam-1/l1.m4s", "x"), "415", false},
      {Put("/v1/cameras/cam-1/noseq.ts", "x"), "400", false},
      {Put("/v1/cameras/cam-1/l1.ts", std::string(64 * 1024 + 1, 'x')), "413", true},
      {"PUT /v1/cameras/cam-1/l1.ts HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", "400", true},
      {"POST /v1/cameras/cam-1/l1.ts HTTP/1.1\r\nAuthorization: Bearer tok-1\r\nContent-Length: 1\r\n\r\nx", "405",
       false},
      {Put("/v1/cameras/cam-1/live.m3u8", "not a playlist"), "400", false},
  };
  for (const Case& c : cases) {
    FakeHttpHost host;
    HttpIngestSession session(host, Limits(), "");
    Feed(session, c.request);
    EXPECT_TRUE(host.spooled.empty()) << c.request.substr(0, 60);
    EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{c.status}) << c.request.substr(0, 60);
    EXPECT_EQ(session.closing(), c.closes) << c.request.substr(0, 60);
    EXPECT_EQ(host.buffers_out, 0);
  }
}

TEST(HttpIngestSessionTest, AStreamIsCutIntoConsecutiveSegmentsAndAnsweredWhenAllAreDurable) {
  FakeHttpHost host;
  HttpIngestLimits limits = Limits();
  limits.max_segment_bytes = 64 * 1024;
  HttpIngestSession session(host, limits, "");
  const std::string stream = TsPackets(1500);
  Feed(session, Chunked("POST", "/v1/cameras/cam-1/stream", stream, 1000), 777);
  EXPECT_GE(host.spooled.size(), 4u);
  EXPECT_EQ(session.outbox(), "");
  host.MakeDurable();
  EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{"201"});
  std::string joined;
  for (size_t i = 0; i < host.durable.size(); ++i) {
    EXPECT_EQ(host.Header(i).seq, i + 1) << "pieces are the camera's next seqs";
    EXPECT_EQ(host.Payload(i).size() % 188, 0u);
    EXPECT_LE(host.Payload(i).size(), limits.max_segment_bytes);
    joined += host.Payload(i);
  }
  EXPECT_EQ(joined, stream) << "the pieces laid end to end are the stream";
  EXPECT_EQ(host.buffers_out, 0);
}

TEST(HttpIngestSessionTest, ALowBitrateStreamHoldsRecordsSizedToItsPiecesNotToTheSegmentLimit) {
  if (!ingest::testing::FfmpegInstalled()) GTEST_SKIP() << "ffmpeg is not installed (scripts/setup.sh installs it)";
  ingest::testing::TempDir dir;
  // Twelve seconds at about 20 KiB a second, a keyframe a second.
  const std::string stream = ingest::testing::EncodeTestPattern(dir.path() + "/low.ts", 12, 25);
  ASSERT_GT(stream.size(), 100u * 188);
  FakeHttpHost host;
  HttpIngestLimits limits;  // 4 MiB segments, keyframe after 1 MiB
  limits.stream_segment_us = 2'000'000;
  HttpIngestSession session(host, limits, "");
  Feed(session, Chunked("POST", "/v1/cameras/cam-1/stream", stream, 16384), 5000);
  host.MakeDurable();
  EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{"201"});
  ASSERT_EQ(host.durable.size(), 6u) << "pieces of two seconds";
  std::string joined;
  for (size_t i = 0; i < host.durable.size(); ++i) joined += host.Payload(i);
  EXPECT_EQ(joined, stream);

  // Every record the floor of 256 KiB (twice a piece is far less), not 4 MiB.
  ASSERT_EQ(host.allocations.size(), host.durable.size());
  for (size_t i = 0; i < host.allocations.size(); ++i) {
    EXPECT_GE(host.allocations[i], 256u << 10) << "record " << i;
    EXPECT_LE(host.allocations[i], (256u << 10) + 4096) << "record " << i;
  }
  EXPECT_EQ(host.buffers_out, 0);

  // Without the time rule (a minute), the pieces end at the first keyframe
  // past half their record, each starting with the tables and a keyframe.
  FakeHttpHost host2;
  limits.stream_segment_us = 60'000'000;
  HttpIngestSession session2(host2, limits, "");
  Feed(session2, Chunked("POST", "/v1/cameras/cam-1/stream", stream, 16384), 5000);
  host2.MakeDurable();
  EXPECT_EQ(Statuses(session2.outbox()), std::vector<std::string>{"201"});
  ASSERT_GE(host2.durable.size(), 2u);
  joined.clear();
  for (size_t i = 0; i < host2.durable.size(); ++i) {
    const std::string piece = host2.Payload(i);
    joined += piece;
    if (i + 1 < host2.durable.size()) {
      EXPECT_GE(piece.size(), (128u << 10) - 8 * 188) << "piece " << i;
      EXPECT_LE(piece.size(), host2.allocations[i]) << "piece " << i;
    }
    EXPECT_TRUE(host2.Header(i).flags & camproto::kSegmentFlagKeyframe) << "piece " << i << " starts at a keyframe";
  }
  EXPECT_EQ(joined, stream);
}

TEST(HttpIngestSessionTest, AStreamCutOffIsNeverAnsweredAndItsLastPieceNotStored) {
  FakeHttpHost host;
  HttpIngestLimits limits = Limits();
  limits.max_segment_bytes = 64 * 1024;
  HttpIngestSession session(host, limits, "");
  std::string request = Chunked("POST", "/v1/cameras/cam-1/stream", TsPackets(800), 100000);
  request.resize(request.size() - 500);  // the connection ends inside the body
  Feed(session, request);
  session.OnPeerClosed();
  host.MakeDurable();
  EXPECT_EQ(session.outbox(), "");
  EXPECT_EQ(host.counts[HttpIngestEvent::kTruncated], 1);
  size_t stored = 0;
  for (size_t i = 0; i < host.durable.size(); ++i) stored += host.Payload(i).size();
  EXPECT_LE(stored, 188u * 800 - 500) << "only whole pieces cut before the end are kept";
  EXPECT_EQ(host.buffers_out, 0);

  // A body that ends properly but inside a packet: 400, its tail not stored.
  FakeHttpHost host2;
  HttpIngestSession session2(host2, limits, "");
  Feed(session2, Chunked("POST", "/v1/cameras/cam-1/stream", TsPackets(20).substr(0, 188 * 20 - 7), 512));
  host2.MakeDurable();
  EXPECT_EQ(Statuses(session2.outbox()), std::vector<std::string>{"400"});
  EXPECT_TRUE(host2.durable.empty());
}

TEST(HttpIngestSessionTest, WithoutMemoryTheSessionWaitsAndGoesOnWhenItComes) {
  FakeHttpHost host;
  HttpIngestSession session(host, Limits(), "");
  host.deny_memory = true;
  const std::string request = Put("/v1/cameras/cam-1/l1.ts", std::string(40000, 'm'));
  const size_t taken = Feed(session, request, 4096);
  EXPECT_TRUE(session.blocked_on_memory());
  EXPECT_LT(taken, request.size()) << "a waiting session stops taking bytes";
  host.deny_memory = false;
  session.Resume();
  Feed(session, std::string_view(request).substr(taken), 4096);
  host.MakeDurable();
  ASSERT_EQ(host.durable.size(), 1u);
  EXPECT_EQ(host.Payload(0), std::string(40000, 'm'));
}

TEST(HttpIngestSessionTest, AStreamWaitingForMemoryHoldsNoRecordAndGoesOn) {
  // Sessions that waited for memory while holding some could take the whole
  // budget and wait on each other forever: a stream's bytes after a cut wait
  // in the session itself, never in a half-used record.
  FakeHttpHost host;
  HttpIngestLimits limits = Limits();
  limits.max_segment_bytes = 64 * 1024;
  HttpIngestSession session(host, limits, "");
  const std::string stream = TsPackets(1200);  // about 3.4 pieces of 64 KiB
  const std::string request = Chunked("POST", "/v1/cameras/cam-1/stream", stream, 4000);
  size_t taken = 0;
  bool waited = false;
  int memory_waits = 0;
  while (taken < request.size()) {
    const size_t n = Feed(session, std::string_view(request).substr(taken, 4096), 4096);
    taken += n;
    if (!host.spooled.empty() && !waited) {
      host.deny_memory = true;  // from the first cut on, no memory for a while
      waited = true;
    }
    if (session.blocked_on_memory()) {
      ++memory_waits;
      EXPECT_EQ(host.bytes_out, 0u) << "waiting for memory while holding some";
      host.MakeDurable();
      host.deny_memory = false;
      session.Resume();
    }
    if (n == 0 && !session.blocked_on_memory()) break;
  }
  EXPECT_GT(memory_waits, 0);
  host.MakeDurable();
  EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{"201"});
  std::string joined;
  for (size_t i = 0; i < host.durable.size(); ++i) joined += host.Payload(i);
  EXPECT_EQ(joined, stream);
  EXPECT_GE(host.durable.size(), 3u);
  EXPECT_EQ(host.buffers_out, 0);
}

TEST(HttpIngestSessionTest, StreamsNeedSegmentsOfAtLeast64KiB) {
  FakeHttpHost host;
  HttpIngestLimits limits = Limits();
  limits.max_segment_bytes = 32 * 1024;
  HttpIngestSession session(host, limits, "");
  Feed(session, Chunked("POST", "/v1/cameras/cam-1/stream", TsPackets(10), 1000));
  EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{"501"});
  EXPECT_TRUE(host.spooled.empty());
}

TEST(HttpIngestSessionTest, ANewConnectionWaitsUntilItsPredecessorsRecordsAreDurable) {
  FakeHttpHost host;
  HttpIngestSession first(host, Limits(), "");
  Feed(first, Put("/v1/cameras/cam-1/l1.ts", "one"));
  ASSERT_EQ(host.spooled.size(), 1u);  // accepted, not durable yet
  HttpIngestSession second(host, Limits(), "");
  Feed(second, Put("/v1/cameras/cam-1/l2.ts", "two"));
  EXPECT_TRUE(second.needs_poll());
  EXPECT_EQ(host.spooled.size(), 1u) << "seq 3 must not be spooled before seq 2 is durable";
  host.MakeDurable();
  second.Resume();
  ASSERT_EQ(host.spooled.size(), 1u);
  EXPECT_EQ(host.spooled[0].seq, 3u);
  host.MakeDurable();
  EXPECT_EQ(Statuses(second.outbox()), std::vector<std::string>{"201"});
  EXPECT_EQ(Statuses(first.outbox()), std::vector<std::string>{"201"}) << "its record was accepted and is durable";
}

TEST(HttpIngestSessionTest, AHeadThatNeverEndsTimesOut) {
  FakeHttpHost host;
  HttpIngestSession session(host, Limits(), "");
  Feed(session, "PUT /v1/cameras/cam-1/l1.ts HTTP/1.1\r\nHost: x\r\nX-Slow: a");
  EXPECT_NE(session.head_started_us(), 0);
  session.TimeOut();
  EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{"408"});
  EXPECT_TRUE(session.closing());
}

TEST(HttpIngestSessionTest, OnlyTheHeadHasADeadlineNotALongStreamsBody) {
  FakeHttpHost host;
  HttpIngestSession session(host, Limits(), "");
  std::string request = Chunked("POST", "/v1/cameras/cam-1/stream", TsPackets(30), 188);
  request.resize(request.size() - 100);
  Feed(session, request);
  EXPECT_EQ(session.head_started_us(), 0) << "a live stream's body may last for hours";
}

TEST(HttpIngestSessionTest, ADeniedCameraIsRefusedWhateverItsCredentials) {
  FakeHttpHost host;
  host.denied = "cam-1";
  HttpIngestSession session(host, Limits(), "");
  Feed(session, Put("/v1/cameras/cam-1/l1.ts", "x"));
  EXPECT_EQ(Statuses(session.outbox()), std::vector<std::string>{"403"});
  EXPECT_TRUE(absl::StrContains(session.outbox(), "deny list"));
  EXPECT_TRUE(host.spooled.empty());
}

TEST(HttpIngestSessionTest, ADrainClosesAfterTheAnswerDue) {
  FakeHttpHost host;
  HttpIngestSession session(host, Limits(), "");
  Feed(session, Put("/v1/cameras/cam-1/l1.ts", "one"));
  session.CloseAfterAnswer();
  EXPECT_FALSE(session.closing()) << "the upload waiting for durability is answered first";
  host.MakeDurable();
  EXPECT_TRUE(absl::StrContains(session.outbox(), "Connection: close"));
  EXPECT_TRUE(session.closing());
}

}  // namespace
}  // namespace ingest
