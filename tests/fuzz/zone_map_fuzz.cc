// Fuzzes the zone map from TOML text (zones/zone_map_toml.cc, the
// validation across zones and the placement index built from them).
//
// Checked on every input: no crash, exception or undefined behaviour; an
// error is InvalidArgument naming the source and line; a map that loads
// keeps its promises: every pinned id, both ends of every range and every
// prefix itself are placed in the zone that pins them (a camera claimed by
// two zones would have been refused), the default rule "hash" places every
// camera somewhere, placement is deterministic, and each zone contains the
// network address of each of its subnets.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "tests/fuzz/fuzz_check.h"
#include "zones/zone_map.h"

namespace ingest::zones {
namespace {

void CheckPlacedIn(const ZoneMap& map, std::string_view camera, const Zone& zone) {
  const Placement placement = map.Place(camera);
  FUZZ_CHECK_MSG(placement.zone == &zone,
                 std::string(camera) + " placed by: " + placement.reason + ", pinned by zone " + zone.id);
}

}  // namespace
}  // namespace ingest::zones

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ingest::zones;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ZoneMap> map = ZoneMap::Parse(text, "fuzz.toml");
  if (!map.ok()) {
    FUZZ_CHECK_MSG(absl::IsInvalidArgument(map.status()), map.status().ToString());
    FUZZ_CHECK_MSG(absl::StartsWith(map.status().message(), "fuzz.toml:"), map.status().ToString());
    return 0;
  }
  FUZZ_CHECK(!map->zones().empty());
  FUZZ_CHECK(map->digest().size() == 64);
  for (const Zone& zone : map->zones()) {
    FUZZ_CHECK(map->Find(zone.id) == &zone);
    for (const std::string& id : zone.camera_ids) {
      CheckPlacedIn(*map, id, zone);
      FUZZ_CHECK(map->Place(id).rule == PlacementRule::kCameraId);
    }
    for (const CameraRange& range : zone.camera_ranges) {
      FUZZ_CHECK(range.first <= range.last);
      CheckPlacedIn(*map, range.first, zone);
      CheckPlacedIn(*map, range.last, zone);
    }
    for (const std::string& prefix : zone.camera_prefixes) {
      CheckPlacedIn(*map, prefix, zone);
    }
    for (const Cidr& subnet : zone.subnets) {
      const std::string network = subnet.ToString().substr(0, subnet.ToString().find('/'));
      bool found = false;
      for (const Zone* containing : map->ZonesContaining(network)) found = found || containing == &zone;
      FUZZ_CHECK_MSG(found, subnet.ToString());
    }
  }

  // Cameras no rule names, taken from the input itself.
  for (size_t at = 0; at < text.size() && at < 256; at += 16) {
    const std::string_view camera = text.substr(at, 24);
    const Placement first = map->Place(camera);
    const Placement again = map->Place(camera);
    FUZZ_CHECK(first.zone == again.zone && first.rule == again.rule);
    if (map->default_rule() == DefaultRule::kHash) FUZZ_CHECK(first.zone != nullptr);
    FUZZ_CHECK(first.zone != nullptr || first.rule == PlacementRule::kNone);
  }
  return 0;
}
