// Test support for the bad-input integration tests: camera certificates and
// raw connections for a test server, waiting for a server counter (they are
// updated on shard threads, so a test polls them), and the closing check of
// every such test: after the misbehaving client, well-behaved cameras still
// get their segments acknowledged. Header-only.
//
//   TempDir dir;
//   auto server = StartTestServer(dir.path());
//   auto conn = ConnectCamera(*server, dir.path(), "cam-000010");
//   ... misbehave, check what the client saw ...
//   EXPECT_EQ(WaitForStat(*server, &IngestStats::protocol_errors, 1), 1u);
//   ExpectRawCameraStreams(*server, dir.path(), "cam-000011");
//   ExpectFleetStreams(*server, dir.path());
#ifndef TESTS_SUPPORT_BAD_INPUT_CHECKS_H_
#define TESTS_SUPPORT_BAD_INPUT_CHECKS_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <variant>

#include "absl/status/statusor.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "proto/frame.h"
#include "proto/frame_decoder.h"
#include "server/ingestd/ingest_server.h"
#include "server/tls/dev_certs.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/raw_camera_connection.h"

namespace ingest::testing {

// Raw-client camera ids are cam-000010 and up; the fleet check uses
// cam-000001 and cam-000002, so the two never share a camera's state.
inline constexpr int kRawCameraCount = 40;

inline std::string CertsDir(const std::string& state_dir) { return state_dir + "/dev-certs"; }

// Issues camera certificates cam-000001..cam-000040 next to the server's
// development CA (kept if already there).
inline DevCertPaths EnsureCameraCertificates(const std::string& state_dir) {
  absl::Status s = MakeDevCertificates(
      DevCertOptions{.out_dir = CertsDir(state_dir), .camera_count = kRawCameraCount});
  EXPECT_TRUE(s.ok()) << s;
  return DevCertPathsIn(CertsDir(state_dir));
}

// Options for a raw connection to `server` presenting `cert_file` (empty: no
// certificate).
inline RawCameraOptions RawOptions(const IngestServer& server, const std::string& state_dir,
                                   const std::string& cert_file) {
  return RawCameraOptions{.port = server.port(),
                          .server_ca_file = DevCertPathsIn(CertsDir(state_dir)).server_ca_cert,
                          .cert_file = cert_file};
}

// A TCP connection (TLS not started) as camera `camera_id` with its
// development certificate; null (and a test failure) if it cannot connect.
inline std::unique_ptr<RawCameraConnection> ConnectCamera(const IngestServer& server,
                                                          const std::string& state_dir,
                                                          const std::string& camera_id) {
  DevCertPaths paths = EnsureCameraCertificates(state_dir);
  absl::StatusOr<std::unique_ptr<RawCameraConnection>> conn =
      RawCameraConnection::Connect(RawOptions(server, state_dir, paths.CameraPem(camera_id)));
  EXPECT_TRUE(conn.ok()) << conn.status();
  return conn.ok() ? std::move(*conn) : nullptr;
}

// Polls `field` of server.Stats() until it reaches `at_least` or `timeout`
// passes; returns the last value seen, so the caller states the exact
// expectation (EXPECT_EQ) and a miss prints the value.
inline uint64_t WaitForStat(const IngestServer& server, uint64_t IngestStats::*field,
                            uint64_t at_least, absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    uint64_t value = server.Stats().*field;
    if (value >= at_least || absl::Now() >= deadline) return value;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

// Polls until `field` falls to `at_most` (gauges such as connections_open).
inline uint64_t WaitForStatAtMost(const IngestServer& server, uint64_t IngestStats::*field,
                                  uint64_t at_most, absl::Duration timeout = absl::Seconds(5)) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    uint64_t value = server.Stats().*field;
    if (value <= at_most || absl::Now() >= deadline) return value;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

// Expects the next thing from the server to be a frame of type T; nullopt
// (and a test failure naming `what`) otherwise.
template <typename T>
std::optional<T> ExpectFrame(RawCameraConnection& conn, const char* what) {
  absl::StatusOr<camproto::ControlFrame> frame = conn.ReadFrame();
  EXPECT_TRUE(frame.ok()) << "waiting for " << what << ": " << frame.status();
  if (!frame.ok()) return std::nullopt;
  T* typed = std::get_if<T>(&*frame);
  EXPECT_NE(typed, nullptr) << "expected " << what << ", got frame variant index "
                            << frame->index();
  if (typed == nullptr) return std::nullopt;
  return std::move(*typed);
}

// Expects an ERROR frame next; ACKs at the persisted level before it are
// skipped (the sealer may catch up with earlier segments at any time, and a
// slow or busy machine lets it do so between a refused frame and its ERROR).
inline std::optional<camproto::Error> ExpectError(RawCameraConnection& conn) {
  while (true) {
    absl::StatusOr<camproto::ControlFrame> frame = conn.ReadFrame();
    EXPECT_TRUE(frame.ok()) << "waiting for ERROR: " << frame.status();
    if (!frame.ok()) return std::nullopt;
    if (const auto* ack = std::get_if<camproto::Ack>(&*frame);
        ack != nullptr && ack->level == camproto::DurabilityLevel::kPersisted) {
      continue;
    }
    camproto::Error* error = std::get_if<camproto::Error>(&*frame);
    EXPECT_NE(error, nullptr) << "expected ERROR, got frame variant index " << frame->index();
    if (error == nullptr) return std::nullopt;
    return std::move(*error);
  }
}

// Expects an ERROR frame with `code`, then the server closing the connection.
inline void ExpectErrorThenClose(RawCameraConnection& conn, camproto::ErrorCode code) {
  std::optional<camproto::Error> error = ExpectError(conn);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->code, code) << camproto::ErrorCodeName(error->code) << ": " << error->message;
  EXPECT_TRUE(conn.WaitForClose(absl::Seconds(5)).ok()) << "the server kept the connection open";
}

// Expects ACKs until one says `seq` is spooled; ACKs at the persisted level
// (the sealer may catch up at any time) are skipped.
inline void ExpectSpooledAck(RawCameraConnection& conn, uint64_t seq) {
  while (true) {
    std::optional<camproto::Ack> ack = ExpectFrame<camproto::Ack>(conn, "ACK");
    ASSERT_TRUE(ack.has_value());
    if (ack->level == camproto::DurabilityLevel::kPersisted) continue;
    EXPECT_EQ(ack->seq, seq);
    return;
  }
}

// Handshake, HELLO -> WELCOME, then `segments` SEGMENTs of 4 KiB, each
// answered by its ACK: the server still serves a well-behaved camera.
inline void ExpectRawCameraStreams(IngestServer& server, const std::string& state_dir,
                                   const std::string& camera_id, int segments = 2) {
  std::unique_ptr<RawCameraConnection> conn = ConnectCamera(server, state_dir, camera_id);
  ASSERT_NE(conn, nullptr);
  absl::Status s = conn->Handshake();
  ASSERT_TRUE(s.ok()) << s;
  ASSERT_TRUE(conn->SendPlain(HelloFrame(camera_id)).ok());
  std::optional<camproto::Welcome> welcome = ExpectFrame<camproto::Welcome>(*conn, "WELCOME");
  ASSERT_TRUE(welcome.has_value());
  for (int i = 1; i <= segments; ++i) {
    uint64_t seq = welcome->durable_seq + static_cast<uint64_t>(i);
    ASSERT_TRUE(conn->SendPlain(SegmentFrame(seq, 4096)).ok());
    ASSERT_NO_FATAL_FAILURE(ExpectSpooledAck(*conn, seq));
  }
}

// A short fleet run (cameras cam-000001.., a few segments each) in which
// every segment is acknowledged and no protocol error is seen.
inline void ExpectFleetStreams(IngestServer& server, const std::string& state_dir,
                               int cameras = 2) {
  FleetOptions fleet = TestFleet(server, state_dir, cameras);
  fleet.segment_bytes = 8 * 1024;
  fleet.segment_duration = absl::Milliseconds(150);
  fleet.record_for = absl::Milliseconds(500);
  fleet.drain_timeout = absl::Seconds(5);
  absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->all_acked);
  EXPECT_EQ(report->protocol_errors, 0u);
  EXPECT_EQ(report->connect_failures, 0u);
  EXPECT_GE(report->segments_acked, static_cast<uint64_t>(cameras));
}

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_BAD_INPUT_CHECKS_H_
