// ZoneAdmission: which cameras this server takes under a zone map. Its own
// zone's cameras are admitted, another zone's are sent there with that zone's
// endpoint and the rule that placed them, cameras no rule places are refused
// with the reason; no map admits everyone; a reload is seen by the next
// decision, also while other threads decide.
#include "server/session/zone_admission.h"

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "zones/zone_map.h"

namespace ingest {
namespace {

using Kind = AdmissionDecision::Kind;

// Zone "here" pins cam-1 and the prefix "h-"; zone "there" pins cam-2 and
// the range t-000..t-999; `default_rule` decides the rest.
std::shared_ptr<const zones::ZoneMap> TwoZones(const std::string& default_rule = "none") {
  const std::string toml =
      absl::StrCat("[map]\ndefault = \"", default_rule, "\"\n",
                   "[[zone]]\nid = \"here\"\nsubnets = [\"10.1.0.0/24\"]\nendpoint = \"here.example.com:7443\"\n"
                   "capacity_per_server = 100\n[zone.store]\nbucket = \"b\"\nregion = \"r\"\n"
                   "[zone.cameras]\nids = [\"cam-1\"]\nprefixes = [\"h-\"]\n",
                   "[[zone]]\nid = \"there\"\nsubnets = [\"10.2.0.0/24\"]\nendpoint = \"there.example.com:7443\"\n"
                   "capacity_per_server = 100\n[zone.store]\nbucket = \"b\"\nregion = \"r\"\n"
                   "[zone.cameras]\nids = [\"cam-2\"]\nranges = [[\"t-000\", \"t-999\"]]\n");
  absl::StatusOr<zones::ZoneMap> map = zones::ZoneMap::Parse(toml, "zones.toml");
  EXPECT_TRUE(map.ok()) << map.status();
  if (!map.ok()) return nullptr;
  return std::make_shared<const zones::ZoneMap>(*std::move(map));
}

TEST(ZoneAdmissionDecide, WithoutAMapEveryCameraIsAdmitted) {
  ZoneAdmission admission("here", nullptr);
  for (const char* camera : {"cam-1", "cam-2", "anything", ""}) {
    const AdmissionDecision d = admission.Decide(camera);
    EXPECT_EQ(d.kind, Kind::kAdmit) << camera;
    EXPECT_EQ(d.zone_id, "");
    EXPECT_EQ(d.endpoint, "");
    EXPECT_TRUE(admission.BelongsHere(camera)) << camera;
  }
  EXPECT_EQ(admission.map(), nullptr);
  EXPECT_EQ(admission.my_zone(), "here");
}

TEST(ZoneAdmissionDecide, ThisZonesCamerasAreAdmitted) {
  ZoneAdmission admission("here", TwoZones());
  for (const char* camera : {"cam-1", "h-7", "h-"}) {
    EXPECT_EQ(admission.Decide(camera).kind, Kind::kAdmit) << camera;
    EXPECT_TRUE(admission.BelongsHere(camera)) << camera;
  }
}

TEST(ZoneAdmissionDecide, AnotherZonesCameraIsRedirectedToThatZonesEndpoint) {
  ZoneAdmission admission("here", TwoZones());
  AdmissionDecision d = admission.Decide("cam-2");
  EXPECT_EQ(d.kind, Kind::kRedirect);
  EXPECT_EQ(d.zone_id, "there");
  EXPECT_EQ(d.endpoint, "there.example.com:7443");
  EXPECT_EQ(d.reason, "camera id listed by zone there");
  EXPECT_FALSE(admission.BelongsHere("cam-2"));

  d = admission.Decide("t-500");
  EXPECT_EQ(d.kind, Kind::kRedirect);
  EXPECT_EQ(d.zone_id, "there");
  EXPECT_NE(d.reason.find("id range t-000..t-999"), std::string::npos) << d.reason;
}

TEST(ZoneAdmissionDecide, ACameraNoRulePlacesIsRejectedWithTheReason) {
  ZoneAdmission admission("here", TwoZones("none"));
  const AdmissionDecision d = admission.Decide("stranger-1");
  EXPECT_EQ(d.kind, Kind::kReject);
  EXPECT_EQ(d.zone_id, "");
  EXPECT_EQ(d.endpoint, "");
  EXPECT_NE(d.reason.find("default is none"), std::string::npos) << d.reason;
  EXPECT_FALSE(admission.BelongsHere("stranger-1"));
}

TEST(ZoneAdmissionDecide, UnderTheHashRuleEveryCameraHasAZone) {
  ZoneAdmission here("here", TwoZones("hash"));
  ZoneAdmission there("there", TwoZones("hash"));
  int admitted_here = 0;
  for (int i = 0; i < 200; ++i) {
    const std::string camera = absl::StrCat("hashed-", i);
    const AdmissionDecision a = here.Decide(camera);
    const AdmissionDecision b = there.Decide(camera);
    ASSERT_NE(a.kind, Kind::kReject) << camera;
    // Exactly one of the two zones takes it, and the other points there.
    ASSERT_NE(a.kind == Kind::kAdmit, b.kind == Kind::kAdmit) << camera;
    if (a.kind == Kind::kAdmit) {
      ++admitted_here;
      EXPECT_EQ(b.zone_id, "here");
      EXPECT_EQ(b.endpoint, "here.example.com:7443");
    } else {
      EXPECT_EQ(a.zone_id, "there");
    }
  }
  // Two equal zones share the hashed cameras (far from all-or-nothing).
  EXPECT_GT(admitted_here, 50);
  EXPECT_LT(admitted_here, 150);
}

TEST(ZoneAdmissionReload, TheNextDecisionFollowsTheReplacedMap) {
  ZoneAdmission admission("here", TwoZones("none"));
  EXPECT_EQ(admission.Decide("stranger-1").kind, Kind::kReject);
  std::shared_ptr<const zones::ZoneMap> old_map = admission.map();

  admission.Replace(nullptr);
  EXPECT_EQ(admission.Decide("stranger-1").kind, Kind::kAdmit);
  EXPECT_EQ(admission.Decide("cam-2").kind, Kind::kAdmit);

  admission.Replace(old_map);
  EXPECT_EQ(admission.map(), old_map);
  EXPECT_EQ(admission.Decide("cam-2").kind, Kind::kRedirect);
}

TEST(ZoneAdmissionReload, DecisionsWhileTheMapIsReplacedSeeOneMapOrTheOther) {
  std::shared_ptr<const zones::ZoneMap> none = TwoZones("none");
  std::shared_ptr<const zones::ZoneMap> hash = TwoZones("hash");
  ZoneAdmission admission("here", none);
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  std::vector<std::thread> deciders;
  for (int t = 0; t < 2; ++t) {
    deciders.emplace_back([&] {
      while (!stop.load()) {
        // Pinned cameras decide the same way under both maps.
        if (admission.Decide("cam-1").kind != Kind::kAdmit) bad.fetch_add(1);
        if (admission.Decide("cam-2").kind != Kind::kRedirect) bad.fetch_add(1);
        // A hashed camera is placed by whichever map the decision saw.
        const AdmissionDecision stranger = admission.Decide("stranger-1");
        if (stranger.kind == Kind::kRedirect && stranger.zone_id != "there") bad.fetch_add(1);
        if (stranger.kind == Kind::kReject && stranger.reason.empty()) bad.fetch_add(1);
      }
    });
  }
  for (int i = 0; i < 2000; ++i) admission.Replace(i % 2 == 0 ? hash : none);
  stop.store(true);
  for (std::thread& t : deciders) t.join();
  EXPECT_EQ(bad.load(), 0);
}

}  // namespace
}  // namespace ingest
