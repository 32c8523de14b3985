// Zones end to end with two servers of two zones on loopback (zone-a on
// 127.0.0.1, zone-b on 127.0.1.1) and the firmware client library:
//  - a camera of zone-b that dials zone-a is redirected and records in zone-b;
//  - a camera no rule places is rejected with a reason;
//  - a live reload moves cameras from zone-a to zone-b in waves, after their
//    spooled data is in the store: every acknowledged segment is stored once,
//    in zone-a up to the move and in zone-b after it;
//  - a bad map is refused on reload and the old one stays in force.
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "bench/sim/segment_payload.h"
#include "gmock/gmock.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "proto/blocking_camera_client.h"
#include "server/tls/dev_certs.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/ingestd_process.h"

namespace ingest::testing {
namespace {

using camproto::BlockingCameraClient;
using ::testing::HasSubstr;

constexpr size_t kSegmentBytes = 8 * 1024;
constexpr uint32_t kSegmentDurationUs = 100'000;
// Capture times near the server's clock: it refuses any outside its capture window.
const int64_t kCaptureBaseUs = absl::ToUnixMicros(absl::Now());

// zone-a pins cameras [a_first, a_last], zone-b [b_first, b_last]; nothing else
// is placed (default "none").
std::string ZoneMapToml(uint16_t port_a, uint16_t port_b, const std::string& a_last, const std::string& b_first) {
  return absl::StrCat(R"([map]
default = "none"

[[zone]]
id = "zone-a"
subnets = ["127.0.0.0/24"]
endpoint = "127.0.0.1:)",
                      port_a, R"("
capacity_per_server = 1000
[zone.store]
bucket = "recordings"
prefix = "zone-a"
region = "us-east-1"
[zone.cameras]
ranges = [["cam-000001", ")",
                      a_last, R"("]]

[[zone]]
id = "zone-b"
subnets = ["127.0.1.0/24"]
endpoint = "127.0.1.1:)",
                      port_b, R"("
capacity_per_server = 1000
[zone.store]
bucket = "recordings"
prefix = "zone-b"
region = "us-east-1"
[zone.cameras]
ranges = [[")",
                      b_first, R"(", "cam-000008"]]
)");
}

void WriteFile(const std::string& path, const std::string& text) {
  // Write then rename: a reader never sees half a map.
  const std::string temp = path + ".tmp";
  std::ofstream(temp) << text;
  ASSERT_EQ(std::rename(temp.c_str(), path.c_str()), 0);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class ZoneAdmissionTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // One CA for both zones; the server certificate covers both addresses.
    ASSERT_TRUE(MakeDevCertificates(DevCertOptions{.out_dir = dir_.path() + "/certs",
                                                   .camera_count = 9,
                                                   .server_names = {"localhost", "127.0.0.1", "127.0.1.1"}})
                    .ok());
    certs_ = DevCertPathsIn(dir_.path() + "/certs");
    port_a_ = PickFreePort();
    port_b_ = PickFreePort();
    map_path_ = dir_.path() + "/zones.toml";
    WriteFile(map_path_, ZoneMapToml(port_a_, port_b_, "cam-000004", "cam-000005"));
    a_ = StartZoneServer("zone-a", absl::StrCat("127.0.0.1:", port_a_));
    b_ = StartZoneServer("zone-b", absl::StrCat("127.0.1.1:", port_b_));
    ASSERT_NE(a_, nullptr);
    ASSERT_NE(b_, nullptr);
  }

  std::unique_ptr<IngestServer> StartZoneServer(const std::string& zone, const std::string& listen) {
    return StartTestServer(dir_.path() + "/" + zone, [&](IngestConfig& config) {
      config.server.zone = zone;
      config.server.id = zone + "-server";
      config.server.listen = listen;
      config.server.zone_map = map_path_;
      config.server.zone_subnet_check = "refuse";
      config.store.url = "dir:" + dir_.path() + "/store";
      config.drain.goaway_per_second = 20;
      config.drain.reconnect_after_min_ms = 50;
      config.drain.reconnect_after_max_ms = 300;
      config.tls.dev_certs = false;
      config.tls.cert_file = certs_.server_cert;
      config.tls.key_file = certs_.server_key;
      config.tls.camera_ca_file = certs_.camera_ca_cert;
    });
  }

  std::unique_ptr<BlockingCameraClient> Camera(const std::string& id) {
    auto client =
        BlockingCameraClient::Create({.host = "127.0.0.1",
                                      .port = port_a_,
                                      .tls = {.ca_file = certs_.server_ca_cert, .cert_file = certs_.CameraPem(id)},
                                      .client = {.camera_id = id},
                                      .connect_timeout = absl::Seconds(5),
                                      .io_timeout = absl::Seconds(10),
                                      .reconnect_backoff_min = absl::Milliseconds(50),
                                      .reconnect_backoff_max = absl::Milliseconds(500)});
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(*client) : nullptr;
  }

  // Segments stored for `camera` in `zone`: count, duplicates skipped, and
  // the seq range.
  ExportStats Stored(const std::string& zone, const std::string& camera) {
    ExportStats stats;
    StoredSha256(a_->store(), zone, camera, &stats);
    return stats;
  }

  TempDir dir_;
  DevCertPaths certs_;
  uint16_t port_a_ = 0;
  uint16_t port_b_ = 0;
  std::string map_path_;
  std::unique_ptr<IngestServer> a_;
  std::unique_ptr<IngestServer> b_;
};

void Record(BlockingCameraClient& camera, uint64_t seq) {
  absl::StatusOr<uint64_t> added = camera.AddSegment(kCaptureBaseUs + static_cast<int64_t>(seq) * kSegmentDurationUs, kSegmentDurationUs,
                                                     seq % 8 == 1, MakeSegmentPayload(1, seq, kSegmentBytes));
  ASSERT_TRUE(added.ok()) << added.status();
}

TEST_F(ZoneAdmissionTest, ACameraOfAnotherZoneIsRedirectedThereAndAnUnknownOneRejected) {
  std::unique_ptr<BlockingCameraClient> camera = Camera("cam-000006");
  ASSERT_NE(camera, nullptr);
  for (uint64_t seq = 1; seq <= 10; ++seq) Record(*camera, seq);
  ASSERT_TRUE(camera->Flush(absl::Seconds(30)).ok()) << camera->last_disconnect_reason();
  EXPECT_EQ(camera->current_endpoint(), absl::StrCat("127.0.1.1:", port_b_));
  EXPECT_EQ(a_->Stats().admission_redirected, 1u);
  EXPECT_EQ(a_->Stats().sessions_welcomed, 0u);
  EXPECT_EQ(b_->Stats().sessions_welcomed, 1u);

  std::unique_ptr<BlockingCameraClient> unknown = Camera("cam-000009");
  ASSERT_NE(unknown, nullptr);
  Record(*unknown, 1);
  absl::Status refused = unknown->Flush(absl::Seconds(10));
  EXPECT_EQ(refused.code(), absl::StatusCode::kPermissionDenied) << refused;
  EXPECT_GE(a_->Stats().admission_rejected_unknown, 1u);

  camera.reset();
  ASSERT_TRUE(b_->Stop().ok());
  ExportStats stored = Stored("zone-b", "cam-000006");
  EXPECT_EQ(stored.segments, 10u);
  EXPECT_EQ(stored.duplicates_skipped, 0u);
  EXPECT_EQ(Stored("zone-a", "cam-000006").segments, 0u);
}

TEST_F(ZoneAdmissionTest, ALiveReloadMovesCamerasToTheirNewZoneWithoutLosingASegment) {
  const std::vector<std::string> ids = {"cam-000001", "cam-000002", "cam-000003", "cam-000004"};
  std::atomic<bool> recording{true};
  std::vector<uint64_t> recorded(ids.size(), 0);
  std::vector<std::string> endpoints(ids.size());
  std::vector<std::thread> threads;
  for (size_t i = 0; i < ids.size(); ++i) {
    threads.emplace_back([&, i] {
      std::unique_ptr<BlockingCameraClient> camera = Camera(ids[i]);
      if (camera == nullptr) return;
      while (recording.load()) {
        Record(*camera, ++recorded[i]);
        (void)camera->Poll(absl::Milliseconds(50));
      }
      EXPECT_TRUE(camera->Flush(absl::Seconds(30)).ok()) << camera->last_disconnect_reason();
      endpoints[i] = camera->current_endpoint();
    });
  }
  for (int i = 0; i < 100 && a_->Stats().sessions_welcomed < ids.size(); ++i) absl::SleepFor(absl::Milliseconds(50));
  ASSERT_EQ(a_->Stats().sessions_welcomed, ids.size());
  absl::SleepFor(absl::Seconds(1));

  // A broken map is refused; zone-a keeps its cameras.
  WriteFile(map_path_, "[[zone]]\nid = \"zone-a\"\nsubnets = [\"not-a-cidr\"]\n");
  EXPECT_FALSE(a_->ReloadZoneMap().ok());
  EXPECT_EQ(a_->MisplacedSessions(), 0u);

  // cam-000003 and cam-000004 now belong to zone-b.
  WriteFile(map_path_, ZoneMapToml(port_a_, port_b_, "cam-000002", "cam-000003"));
  ASSERT_TRUE(a_->ReloadZoneMap().ok());
  ASSERT_TRUE(b_->ReloadZoneMap().ok());
  for (int i = 0; i < 200 && b_->Stats().sessions_welcomed < 2; ++i) absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(b_->Stats().sessions_welcomed, 2u);
  EXPECT_EQ(a_->Stats().rezone_goaways, 2u);
  absl::SleepFor(absl::Seconds(1));
  recording.store(false);
  for (auto& t : threads) t.join();
  EXPECT_EQ(endpoints[0], absl::StrCat("127.0.0.1:", port_a_));
  EXPECT_EQ(endpoints[2], absl::StrCat("127.0.1.1:", port_b_));
  ASSERT_TRUE(a_->Stop().ok());
  ASSERT_TRUE(b_->Stop().ok());

  for (size_t i = 0; i < ids.size(); ++i) {
    const ExportStats in_a = Stored("zone-a", ids[i]);
    const ExportStats in_b = Stored("zone-b", ids[i]);
    EXPECT_EQ(in_a.segments + in_b.segments, recorded[i]) << ids[i];
    EXPECT_EQ(in_a.duplicates_skipped + in_b.duplicates_skipped, 0u) << ids[i];
    if (i < 2) {
      EXPECT_EQ(in_b.segments, 0u) << ids[i];
    } else {
      // zone-a holds the recording up to the move, zone-b from there on.
      EXPECT_GT(in_a.segments, 0u) << ids[i];
      EXPECT_GT(in_b.segments, 0u) << ids[i];
      EXPECT_EQ(in_b.first_seq, in_a.last_seq + 1) << ids[i];
    }
  }
  const std::string audit = ReadAll(dir_.path() + "/zone-a/audit.log");
  EXPECT_THAT(audit, HasSubstr("\"event\":\"zone_map_reload_refused\""));
  EXPECT_THAT(audit, HasSubstr("\"event\":\"zone_map_reloaded\""));
  EXPECT_THAT(audit, HasSubstr("\"cameras_moved\":2,\"cameras_left\":0"));
}

// The real binary refuses to start in a zone whose subnets do not hold it.
TEST(ZoneStartupTest, RefusesToStartOutsideItsZonesSubnetsWhenAskedTo) {
  TempDir dir;
  const uint16_t port = PickFreePort();
  std::ofstream(dir.path() + "/zones.toml") << ZoneMapToml(port, port + 1, "cam-000004", "cam-000005");
  IngestdProcess refused(dir.path(), port,
                         {"--zone=zone-b", "--zone_map=" + dir.path() + "/zones.toml", "--zone_subnet_check=refuse",
                          "--store=dir:" + dir.path() + "/store"});
  EXPECT_FALSE(refused.Start());
  IngestdProcess warned(
      dir.path(), port,
      {"--zone=zone-b", "--zone_map=" + dir.path() + "/zones.toml", "--store=dir:" + dir.path() + "/store"});
  EXPECT_TRUE(warned.Start());
}

}  // namespace
}  // namespace ingest::testing
