// The zone map of a running server: loaded with the subnet check, reloaded
// (bad maps refused and audited), and a changed map's misplaced cameras moved
// in waves through a RezoneTarget until none is left, or until the mover is
// stopped, which ends it at once rather than after its wave.
#include "server/ingestd/zone_reloader.h"

#include <algorithm>
#include <atomic>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using testing::TempDir;

std::string ZoneMap(const std::string& subnet, int capacity) {
  return absl::StrCat(R"([map]
default = "none"

[[zone]]
id = "zone-a"
subnets = [")",
                      subnet, R"("]
endpoint = "127.0.0.1:7443"
capacity_per_server = )",
                      capacity, R"(
[zone.store]
bucket = "recordings"
region = "us-east-1"
[zone.cameras]
ranges = [["cam-000001", "cam-000009"]]
)");
}

void WriteFile(const std::string& path, const std::string& text) {
  const std::string temp = path + ".tmp";
  std::ofstream(temp) << text;
  ASSERT_EQ(std::rename(temp.c_str(), path.c_str()), 0);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class FakeTarget : public RezoneTarget {
 public:
  explicit FakeTarget(uint64_t misplaced, bool leave = true) : misplaced_(misplaced), leave_(leave) {}
  void RequestRezoneGoaways(uint32_t per_shard) override {
    ++waves_;
    if (!leave_) return;
    const uint64_t told = std::min<uint64_t>(misplaced_.load(), per_shard);
    misplaced_ -= told;
    told_ += told;
  }
  uint64_t MisplacedSessions() const override { return misplaced_.load(); }
  uint64_t RezoneGoawaysSent() const override { return told_.load(); }
  bool Draining() const override { return false; }
  int waves() const { return waves_.load(); }

 private:
  std::atomic<uint64_t> misplaced_;
  std::atomic<uint64_t> told_{0};
  std::atomic<int> waves_{0};
  const bool leave_;  // false: cameras told never leave
};

class ZoneReloaderTest : public ::testing::Test {
 protected:
  ZoneReloaderTest() : audit_(dir_.path() + "/audit.log", "test-server", "zone-a") {
    WriteFile(map_path(), ZoneMap("127.0.0.0/8", 100));
  }
  std::string map_path() const { return dir_.path() + "/zones.toml"; }
  ZoneReloaderOptions Options() const {
    return ZoneReloaderOptions{.zone_map = map_path(),
                               .zone = "zone-a",
                               .listen = "127.0.0.1:0",
                               .wave_per_shard = 2,
                               .wave_interval = absl::Milliseconds(5)};
  }
  std::string Audit() const { return ReadAll(dir_.path() + "/audit.log"); }

  TempDir dir_;
  AuditLog audit_;
};

TEST_F(ZoneReloaderTest, LoadsTheZoneAndAdmitsByIt) {
  absl::StatusOr<std::unique_ptr<ZoneReloader>> zones = ZoneReloader::Load(Options(), audit_);
  ASSERT_TRUE(zones.ok()) << zones.status();
  ASSERT_NE((*zones)->admission(), nullptr);
  EXPECT_FALSE((*zones)->digest().empty());
}

TEST_F(ZoneReloaderTest, AZoneMissingFromTheMapRefusesTheStart) {
  ZoneReloaderOptions options = Options();
  options.zone = "zone-x";
  absl::StatusOr<std::unique_ptr<ZoneReloader>> zones = ZoneReloader::Load(options, audit_);
  EXPECT_TRUE(absl::IsFailedPrecondition(zones.status())) << zones.status();
}

TEST_F(ZoneReloaderTest, AHostOutsideTheSubnetsIsRefusedOnlyWhenAsked) {
  WriteFile(map_path(), ZoneMap("10.99.0.0/16", 100));
  EXPECT_TRUE(ZoneReloader::Load(Options(), audit_).ok());
  ZoneReloaderOptions options = Options();
  options.refuse_outside_subnets = true;
  absl::StatusOr<std::unique_ptr<ZoneReloader>> zones = ZoneReloader::Load(options, audit_);
  EXPECT_TRUE(absl::IsFailedPrecondition(zones.status())) << zones.status();
}

TEST_F(ZoneReloaderTest, ABadMapIsRefusedAndAuditedAndTheOldOneStays) {
  absl::StatusOr<std::unique_ptr<ZoneReloader>> zones = ZoneReloader::Load(Options(), audit_);
  ASSERT_TRUE(zones.ok()) << zones.status();
  const std::string digest = (*zones)->digest();
  WriteFile(map_path(), "[[zone]\nnot toml");
  EXPECT_FALSE((*zones)->Reload().ok());
  EXPECT_EQ((*zones)->digest(), digest);
  EXPECT_THAT(Audit(), HasSubstr("zone_map_reload_refused"));
}

TEST_F(ZoneReloaderTest, AChangedMapMovesCamerasInWavesUntilNoneIsMisplaced) {
  absl::StatusOr<std::unique_ptr<ZoneReloader>> zones = ZoneReloader::Load(Options(), audit_);
  ASSERT_TRUE(zones.ok()) << zones.status();
  FakeTarget target(/*misplaced=*/5);
  (*zones)->StartMoving(target);
  WriteFile(map_path(), ZoneMap("127.0.0.0/8", 200));
  ASSERT_TRUE((*zones)->Reload().ok());
  const absl::Time deadline = absl::Now() + absl::Seconds(10);
  while (!absl::StrContains(Audit(), "rezone_finished") && absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(5));
  }
  EXPECT_EQ(target.RezoneGoawaysSent(), 5u);
  EXPECT_GE(target.waves(), 3);  // two cameras a wave
  EXPECT_THAT(Audit(), HasSubstr("zone_map_reloaded"));
  EXPECT_THAT(Audit(), HasSubstr("\"cameras_moved\":5"));
}

TEST_F(ZoneReloaderTest, BeforeStartMovingAReloadOnlyReplacesTheMap) {
  absl::StatusOr<std::unique_ptr<ZoneReloader>> zones = ZoneReloader::Load(Options(), audit_);
  ASSERT_TRUE(zones.ok()) << zones.status();
  const std::string digest = (*zones)->digest();
  WriteFile(map_path(), ZoneMap("127.0.0.0/8", 200));
  (*zones)->ReloadIfChanged();
  EXPECT_NE((*zones)->digest(), digest);
  EXPECT_THAT(Audit(), Not(HasSubstr("rezone_started")));
}

TEST_F(ZoneReloaderTest, StopMovingEndsAMoverWithoutWaitingForItsWave) {
  ZoneReloaderOptions options = Options();
  options.wave_interval = absl::Minutes(10);
  absl::StatusOr<std::unique_ptr<ZoneReloader>> zones = ZoneReloader::Load(options, audit_);
  ASSERT_TRUE(zones.ok()) << zones.status();
  FakeTarget target(/*misplaced=*/5, /*leave=*/false);
  (*zones)->StartMoving(target);
  WriteFile(map_path(), ZoneMap("127.0.0.0/8", 200));
  ASSERT_TRUE((*zones)->Reload().ok());
  const absl::Time stopping = absl::Now();
  (*zones)->StopMoving();
  EXPECT_LT(absl::Now() - stopping, absl::Seconds(5));
  EXPECT_THAT(Audit(), HasSubstr("rezone_finished"));
  // Stopped for good: a later change only replaces the map.
  const int waves = target.waves();
  WriteFile(map_path(), ZoneMap("127.0.0.0/8", 300));
  ASSERT_TRUE((*zones)->Reload().ok());
  EXPECT_EQ(target.waves(), waves);
}

TEST_F(ZoneReloaderTest, AnUnchangedFileIsNotReread) {
  absl::StatusOr<std::unique_ptr<ZoneReloader>> zones = ZoneReloader::Load(Options(), audit_);
  ASSERT_TRUE(zones.ok()) << zones.status();
  (*zones)->ReloadIfChanged();
  EXPECT_EQ(Audit(), "");
}

}  // namespace
}  // namespace ingest
