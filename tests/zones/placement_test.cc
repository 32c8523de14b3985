// Which zone a camera belongs to: pins before hashing, in a fixed order;
// the hash is stable (pinned golden values catch any change of it); and
// rendezvous hashing moves only the cameras it has to when zones come and go.
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "zones/camera_id_format.h"
#include "zones/rendezvous_hash.h"
#include "zones/zone_map.h"
#include "zones/zone_map_diff.h"

namespace ingest::zones {
namespace {

constexpr int kPopulation = 1'000'000;

struct ZoneSpec {
  std::string id{};
  double weight = 1.0;
  std::string extra{};    // more keys for the zone table (before [zone.store])
  std::string cameras{};  // the [zone.cameras] body, if any
};

// A map of `zones`, each on its own /24 so subnets never overlap.
ZoneMap MapOf(const std::vector<ZoneSpec>& zones, std::string_view header = "") {
  std::string toml(header);
  int n = 0;
  for (const ZoneSpec& zone : zones) {
    absl::StrAppend(&toml, "[[zone]]\nid = \"", zone.id, "\"\nsubnets = [\"10.1.", n++, ".0/24\"]\nendpoint = \"",
                    zone.id, ".example.com:7443\"\ncapacity_per_server = 100\nweight = ", zone.weight, "\n", zone.extra,
                    "[zone.store]\nbucket = \"b\"\nregion = \"r\"\n");
    if (!zone.cameras.empty()) absl::StrAppend(&toml, "[zone.cameras]\n", zone.cameras);
  }
  absl::StatusOr<ZoneMap> map = ZoneMap::Parse(toml, "test.toml");
  EXPECT_TRUE(map.ok()) << map.status() << "\n" << toml;
  return map.ok() ? std::move(*map) : ZoneMap();
}

std::vector<ZoneSpec> EqualZones(int count) {
  std::vector<ZoneSpec> zones;
  for (int i = 1; i <= count; ++i) zones.push_back({.id = absl::StrCat("zone-", i)});
  return zones;
}

// Camera ids cam-0000000 .. cam-0999999.
template <typename Visit>
void ForEachCamera(Visit visit) {
  CameraIdFormat format = *CameraIdFormat::Parse("cam-%07d");
  std::string id{};
  for (int n = 0; n < kPopulation; ++n) {
    format.FormatTo(static_cast<uint64_t>(n), id);
    visit(id);
  }
}

std::string ZoneOf(const ZoneMap& map, std::string_view camera) {
  Placement placement = map.Place(camera);
  return placement.zone == nullptr ? "" : placement.zone->id;
}

TEST(PlacementTest, IdsBeforeRangesBeforeLongestPrefixBeforeHash) {
  ZoneMap map = MapOf({{.id = "a",
                        .cameras = "ids = [\"cam-000150\", \"acme-7\"]\nranges = [[\"cam-000100\", \"cam-000199\"]]\n"
                                   "prefixes = [\"cam-0001\", \"acme-\"]\n"},
                       {.id = "b", .cameras = "prefixes = [\"acme-eu-\"]\n"},
                       {.id = "c", .extra = "hash = false\n", .cameras = "ranges = [[\"x\", \"y\"]]\n"}});

  Placement p = map.Place("cam-000150");
  ASSERT_NE(p.zone, nullptr);
  EXPECT_EQ(p.zone->id, "a");
  EXPECT_EQ(p.rule, PlacementRule::kCameraId);
  EXPECT_EQ(p.reason, "camera id listed by zone a");

  p = map.Place("cam-000151");
  EXPECT_EQ(p.rule, PlacementRule::kCameraRange);
  EXPECT_EQ(p.reason, "id range cam-000100..cam-000199 of zone a");

  p = map.Place("cam-0001999");  // past the range's last id, still under the prefix
  EXPECT_EQ(p.rule, PlacementRule::kCameraPrefix);
  EXPECT_EQ(p.reason, "id prefix cam-0001 of zone a");

  p = map.Place("acme-eu-3");
  ASSERT_NE(p.zone, nullptr);
  EXPECT_EQ(p.zone->id, "b");
  EXPECT_EQ(p.rule, PlacementRule::kCameraPrefix);
  EXPECT_EQ(p.reason, "id prefix acme-eu- of zone b");
  EXPECT_EQ(ZoneOf(map, "acme-us-3"), "a");
  EXPECT_EQ(ZoneOf(map, "acme-"), "a");
  EXPECT_EQ(map.Place("acme").rule, PlacementRule::kHash);

  p = map.Place("x-1");
  EXPECT_EQ(p.zone->id, "c");
  EXPECT_EQ(p.rule, PlacementRule::kCameraRange);
  EXPECT_EQ(ZoneOf(map, "y"), "c");
  EXPECT_EQ(map.Place("y-").rule, PlacementRule::kHash);  // "y-" sorts after "y"

  p = map.Place("cam-000099");
  ASSERT_NE(p.zone, nullptr);
  EXPECT_EQ(p.rule, PlacementRule::kHash);
  EXPECT_EQ(p.reason, absl::StrCat("rendezvous hash over 2 zones picks ", p.zone->id));
}

TEST(PlacementTest, HashedCamerasNeverLandInAZoneOutOfTheHash) {
  ZoneMap map = MapOf(
      {{.id = "a"}, {.id = "pinned-only", .extra = "hash = false\n", .cameras = "ids = [\"cam-1\"]\n"}, {.id = "c"}});
  for (int n = 0; n < 10'000; ++n) {
    Placement p = map.Place(absl::StrCat("cam-x", n));
    ASSERT_NE(p.zone, nullptr);
    ASSERT_NE(p.zone->id, "pinned-only");
  }
  EXPECT_EQ(ZoneOf(map, "cam-1"), "pinned-only");
}

TEST(PlacementTest, DefaultNoneLeavesUnpinnedCamerasUnknown) {
  ZoneMap map = MapOf({{.id = "a", .cameras = "prefixes = [\"acme-\"]\n"}}, "[map]\ndefault = \"none\"\n");
  EXPECT_EQ(ZoneOf(map, "acme-1"), "a");
  Placement p = map.Place("cam-000001");
  EXPECT_EQ(p.zone, nullptr);
  EXPECT_EQ(p.rule, PlacementRule::kNone);
  EXPECT_EQ(p.reason, "no zone lists this camera id or a range or prefix holding it, and the map's default is none");
  EXPECT_EQ(ZoneMap().Place("cam-000001").zone, nullptr);  // an empty (never loaded) map knows no camera
}

TEST(PlacementTest, RuleNames) {
  EXPECT_STREQ(PlacementRuleName(PlacementRule::kCameraId), "id");
  EXPECT_STREQ(PlacementRuleName(PlacementRule::kCameraRange), "range");
  EXPECT_STREQ(PlacementRuleName(PlacementRule::kCameraPrefix), "prefix");
  EXPECT_STREQ(PlacementRuleName(PlacementRule::kHash), "hash");
  EXPECT_STREQ(PlacementRuleName(PlacementRule::kNone), "none");
  EXPECT_STREQ(DefaultRuleName(DefaultRule::kHash), "hash");
  EXPECT_STREQ(DefaultRuleName(DefaultRule::kNone), "none");
}

// Golden values, computed independently from the definition in
// rendezvous_hash.h (FNV-1a 64 of zone id, '\0', camera id; then fmix64).
// If one of these changes, every deployed map places cameras differently:
// that is a migration, not a refactoring.
TEST(PlacementTest, HashIsPinned) {
  EXPECT_EQ(RendezvousZone::For("z1", 1).HashCamera("cam-0000001"), 0xe1b5976142c346c0ULL);
  EXPECT_EQ(RendezvousZone::For("z2", 1).HashCamera("cam-0000001"), 0x1fe0cff83bfd5e81ULL);
  EXPECT_EQ(RendezvousZone::For("euw1-a", 1).HashCamera("cam-000042"), 0xa5635015a5fe6373ULL);
  EXPECT_EQ(RendezvousZone::For("", 1).HashCamera(""), 0xb9034ad37056f5fbULL);
  EXPECT_EQ(RendezvousZone::For("a", 1).HashCamera("b"), 0xab78f5eca36d0e2bULL);
  // The separator keeps ("ab", "c") and ("a", "bc") apart.
  EXPECT_NE(RendezvousZone::For("ab", 1).HashCamera("c"), RendezvousZone::For("a", 1).HashCamera("bc"));
}

TEST(PlacementTest, PlacementsArePinned) {
  ZoneMap equal = MapOf({{.id = "z1"}, {.id = "z2"}, {.id = "z3"}});
  ZoneMap weighted = MapOf({{.id = "big", .weight = 2}, {.id = "small"}});
  // Listed in a different order: placement does not depend on file order.
  ZoneMap reordered = MapOf({{.id = "z3"}, {.id = "z1"}, {.id = "z2"}});
  const std::vector<std::string> want_equal = {"z1", "z1", "z3", "z1", "z3", "z3", "z2", "z2", "z3", "z3"};
  const std::vector<std::string> want_weighted = {"small", "big", "small", "small", "big",
                                                  "small", "big", "small", "big",   "small"};
  for (int n = 1; n <= 10; ++n) {
    std::string camera = CameraIdFormat::Parse("cam-%07d")->Format(static_cast<uint64_t>(n));
    EXPECT_EQ(ZoneOf(equal, camera), want_equal[n - 1]) << camera;
    EXPECT_EQ(ZoneOf(reordered, camera), want_equal[n - 1]) << camera;
    EXPECT_EQ(ZoneOf(weighted, camera), want_weighted[n - 1]) << camera;
  }
}

TEST(PlacementTest, RendezvousScoreFollowsTheHashAndTheWeight) {
  EXPECT_LT(RendezvousScore(1, 1.0), RendezvousScore(~uint64_t{0}, 1.0));
  EXPECT_LT(RendezvousScore(1ULL << 63, 1.0), RendezvousScore((1ULL << 63) + (1ULL << 12), 1.0));
  EXPECT_DOUBLE_EQ(RendezvousScore(1ULL << 63, 2.0), 2 * RendezvousScore(1ULL << 63, 1.0));
  EXPECT_GT(RendezvousScore(0, 1.0), 0);  // u never reaches 0 or 1
  EXPECT_TRUE(std::isfinite(RendezvousScore(~uint64_t{0}, 1.0)));
}

// Going from N to N+1 equal zones moves about 1/(N+1) of the cameras, each
// of them to the new zone, and leaves the zones balanced.
void ExpectAddingAZoneMovesItsShareOnly(int n) {
  std::vector<ZoneSpec> before_zones = EqualZones(n);
  std::vector<ZoneSpec> after_zones = EqualZones(n + 1);
  ZoneMap before = MapOf(before_zones);
  ZoneMap after = MapOf(after_zones);
  const std::string new_zone = after_zones.back().id;

  int moved = 0;
  int moved_elsewhere = 0;
  std::map<std::string, int> counts;
  ForEachCamera([&](const std::string& camera) {
    const Zone* old_zone = before.Place(camera).zone;
    const Zone* new_place = after.Place(camera).zone;
    ++counts[new_place->id];
    if (old_zone->id == new_place->id) return;
    ++moved;
    if (new_place->id != new_zone) ++moved_elsewhere;
  });

  const double expected = 1.0 / (n + 1);
  const double share = static_cast<double>(moved) / kPopulation;
  EXPECT_NEAR(share, expected, 0.1 * expected) << n << " -> " << n + 1 << " zones";
  EXPECT_EQ(moved_elsewhere, 0);
  for (const auto& [zone, count] : counts) {
    EXPECT_NEAR(static_cast<double>(count) / kPopulation, expected, 0.05 * expected) << zone;
  }
}

TEST(PlacementStabilityTest, ThreeToFourZones) { ExpectAddingAZoneMovesItsShareOnly(3); }
TEST(PlacementStabilityTest, NineToTenZones) { ExpectAddingAZoneMovesItsShareOnly(9); }

TEST(PlacementStabilityTest, RemovingAZoneMovesOnlyItsCameras) {
  std::vector<ZoneSpec> zones = EqualZones(5);
  ZoneMap before = MapOf(zones);
  const std::string removed = zones[2].id;  // from the middle: zones come and go anywhere in the list
  zones.erase(zones.begin() + 2);
  ZoneMap after = MapOf(zones);

  int moved = 0;
  int had_removed = 0;
  ForEachCamera([&](const std::string& camera) {
    std::string old_zone = ZoneOf(before, camera);
    std::string new_zone = ZoneOf(after, camera);
    if (old_zone == removed) ++had_removed;
    if (old_zone != new_zone) {
      ++moved;
      ASSERT_EQ(old_zone, removed) << camera << " moved from " << old_zone << " to " << new_zone;
    }
  });
  EXPECT_EQ(moved, had_removed);
  EXPECT_NEAR(static_cast<double>(moved) / kPopulation, 0.2, 0.02);
}

TEST(PlacementStabilityTest, WeightsSplitCamerasInProportion) {
  ZoneMap map = MapOf({{.id = "big", .weight = 2}, {.id = "small", .weight = 1}});
  int big = 0;
  ForEachCamera([&](const std::string& camera) { big += map.Place(camera).zone->id == "big"; });
  EXPECT_NEAR(static_cast<double>(big) / kPopulation, 2.0 / 3, 0.01);
}

TEST(PlacementStabilityTest, RaisingAWeightMovesCamerasOnlyToThatZone) {
  ZoneMap before = MapOf({{.id = "a"}, {.id = "b"}, {.id = "c"}});
  ZoneMap after = MapOf({{.id = "a"}, {.id = "b", .weight = 2}, {.id = "c"}});
  ZoneMapDiffer differ(before, after);
  ForEachCamera([&](const std::string& camera) { differ.Add(camera); });
  ZoneMapDiff diff = differ.Finish();
  EXPECT_EQ(diff.cameras, static_cast<uint64_t>(kPopulation));
  // b goes from 1/3 to 2/4 of the cameras.
  EXPECT_NEAR(static_cast<double>(diff.moved) / kPopulation, 0.5 - 1.0 / 3, 0.01);
  for (const ZoneMove& move : diff.moves) EXPECT_EQ(move.to, "b") << move.from << " -> " << move.to;
  EXPECT_NEAR(static_cast<double>(diff.new_counts["b"]) / kPopulation, 0.5, 0.01);
}

TEST(ZoneMapDiffTest, CountsMovesByZonePairAndUnknownCameras) {
  ZoneMap before = MapOf({{.id = "a", .cameras = "ids = [\"cam-1\", \"cam-2\", \"cam-3\"]\n"},
                          {.id = "b", .cameras = "ids = [\"cam-4\"]\n"}},
                         "[map]\ndefault = \"none\"\n");
  ZoneMap after = MapOf({{.id = "a", .cameras = "ids = [\"cam-1\"]\n"},
                         {.id = "b", .cameras = "ids = [\"cam-2\", \"cam-3\", \"cam-5\"]\n"}},
                        "[map]\ndefault = \"none\"\n");
  ZoneMapDiffer differ(before, after);
  for (std::string_view camera : {"cam-1", "cam-2", "cam-3", "cam-4", "cam-5", "cam-6"}) differ.Add(camera);
  ZoneMapDiff diff = differ.Finish();
  EXPECT_EQ(diff.cameras, 6u);
  EXPECT_EQ(diff.moved, 4u);
  ASSERT_EQ(diff.moves.size(), 3u);
  EXPECT_EQ(diff.moves[0].from, "a");  // the biggest move first
  EXPECT_EQ(diff.moves[0].to, "b");
  EXPECT_EQ(diff.moves[0].cameras, 2u);
  EXPECT_EQ(diff.moves[1].from, "");  // then by name; "" is an unknown camera
  EXPECT_EQ(diff.moves[1].to, "b");
  EXPECT_EQ(diff.moves[2].from, "b");
  EXPECT_EQ(diff.moves[2].to, "");
  EXPECT_EQ(diff.old_counts, (std::map<std::string, uint64_t>{{"", 2}, {"a", 3}, {"b", 1}}));
  EXPECT_EQ(diff.new_counts, (std::map<std::string, uint64_t>{{"", 2}, {"a", 1}, {"b", 3}}));
}

TEST(CameraIdFormatTest, FormatsLikePrintf) {
  EXPECT_EQ(CameraIdFormat::Parse("cam-%07d")->Format(42), "cam-0000042");
  EXPECT_EQ(CameraIdFormat::Parse("cam-%07d")->Format(123456789), "cam-123456789");
  EXPECT_EQ(CameraIdFormat::Parse("%d")->Format(0), "0");
  EXPECT_EQ(CameraIdFormat::Parse("x%4d-y")->Format(7), "x   7-y");
  EXPECT_EQ(CameraIdFormat::Parse("100%%-%d")->Format(5), "100%-5");
  EXPECT_EQ(CameraIdFormat::Parse("%020d")->Format(18446744073709551615ULL), "18446744073709551615");
}

TEST(CameraIdFormatTest, RefusesAnythingButOneDecimalConversion) {
  for (std::string_view pattern :
       {"cam", "", "%s", "%d%d", "%x", "%07", "%0d", "%123d", "%-5d", "%ld", "cam-%", "%%"}) {
    absl::StatusOr<CameraIdFormat> format = CameraIdFormat::Parse(pattern);
    EXPECT_FALSE(format.ok()) << pattern;
    if (!format.ok()) {
      EXPECT_NE(format.status().message().find("bad camera id format"), absl::string_view::npos);
    }
  }
}

}  // namespace
}  // namespace ingest::zones
