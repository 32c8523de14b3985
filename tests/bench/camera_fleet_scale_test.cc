// The simulator's scale features, against an in-process ingestd: cameras
// split over several rings (threads), connections as direct descriptors,
// source addresses spread over 127.0.0.2 and up, and a bound on handshakes
// in flight that the report shows it kept.
#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "common/json_log.h"
#include "gtest/gtest.h"
#include "tests/support/ingest_test_env.h"

namespace ingest::testing {
namespace {

// The peer addresses in the server's session_open lines.
std::set<std::string> SessionPeers(const std::string& log_text) {
  std::set<std::string> peers;
  const std::string key = "\"peer\":\"";
  for (absl::string_view line : absl::StrSplit(log_text, '\n')) {
    if (!absl::StrContains(line, "\"event\":\"session_open\"")) continue;
    size_t at = line.find(key);
    if (at == absl::string_view::npos) continue;
    at += key.size();
    peers.emplace(line.substr(at, line.find('"', at) - at));
  }
  return peers;
}

TEST(CameraFleetScaleTest, RingsSourceAddressesAndTheHandshakeBoundTogether) {
  TempDir dir;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  FleetOptions fleet = TestFleet(*server, dir.path(), 60);
  fleet.rings = 3;
  fleet.source_addresses = 5;
  fleet.max_handshakes_in_flight = 6;  // two per ring
  fleet.direct_descriptors = true;
  log::SetMinLevel(log::Level::kInfo);
  ::testing::internal::CaptureStderr();
  absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
  ASSERT_TRUE(server->Stop().ok());
  const std::string text = ::testing::internal::GetCapturedStderr();
  log::SetMinLevel(log::Level::kWarn);
  ASSERT_TRUE(report.ok()) << report.status();

  EXPECT_EQ(report->rings, 3);
  EXPECT_TRUE(report->all_acked);
  EXPECT_EQ(report->protocol_errors, 0u);
  EXPECT_EQ(report->connect_failures, 0u);
  EXPECT_EQ(report->handshakes_full + report->handshakes_resumed, 60u);
  EXPECT_GE(report->peak_handshakes_in_flight, 1u);
  EXPECT_LE(report->peak_handshakes_in_flight, 6u);
  // 20 cameras per ring due at once against a bound of 2: connects waited.
  EXPECT_GT(report->handshake_bound_wait, absl::ZeroDuration());
  ASSERT_EQ(report->cameras.size(), 60u);
  std::set<std::string> ids;
  for (const CameraReport& camera : report->cameras) {
    ids.insert(camera.id);
    EXPECT_GT(camera.segments, 0u) << camera.id;
    EXPECT_EQ(camera.acked_spooled, camera.segments) << camera.id;
  }
  EXPECT_EQ(ids.size(), 60u) << "each camera in exactly one ring";
  EXPECT_EQ(SessionPeers(text),
            (std::set<std::string>{"127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6"}));
}

TEST(CameraFleetScaleTest, OneCameraPerRingAtMostAndFileDescriptorsWhenAsked) {
  TempDir dir;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  FleetOptions fleet = TestFleet(*server, dir.path(), 2);
  fleet.rings = 5;  // more rings than cameras: one ring per camera
  fleet.direct_descriptors = false;
  absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
  ASSERT_TRUE(server->Stop().ok());
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_EQ(report->rings, 2);
  EXPECT_TRUE(report->all_acked);
  EXPECT_EQ(report->cameras.size(), 2u);
}

TEST(CameraFleetScaleTest, SourceAddressesNeedALoopbackTarget) {
  FleetOptions fleet;
  fleet.host = "10.0.0.1";
  fleet.source_addresses = 4;
  fleet.certs_dir = "/nonexistent";
  absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
  ASSERT_FALSE(report.ok());
  EXPECT_EQ(report.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(absl::StrContains(report.status().message(), "loopback")) << report.status();
}

}  // namespace
}  // namespace ingest::testing
