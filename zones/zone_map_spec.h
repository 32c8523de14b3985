// The zone map as read from its file, before it is indexed: the zones, the
// default rule, and the line each element was written on, so checks that
// span zones (overlaps, a camera pinned twice) can name the line too.
// Internal to zones/: ZoneMap::Parse is the public entry point.
//
//   ASSIGN_OR_RETURN(ZoneMapSpec spec, ParseZoneMapToml(text, "zones.toml"));
//   RETURN_IF_ERROR(ValidateZoneMapSpec(spec));
#ifndef ZONES_ZONE_MAP_SPEC_H_
#define ZONES_ZONE_MAP_SPEC_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "zones/zone_map.h"

namespace ingest::zones::zone_map_internal {

// Bigger than any real map (100,000 pinned ids is a few MiB); anything larger
// is the wrong file.
inline constexpr size_t kMaxZoneMapBytes = size_t{16} << 20;

struct ZoneLines {
  int table = 0;  // the [[zone]] header
  int id = 0;
  int hash = 0;
  std::vector<int> subnets;
  std::vector<int> camera_ids;
  std::vector<int> camera_ranges;
  std::vector<int> camera_prefixes;
};

struct ZoneMapSpec {
  std::string source_name;
  DefaultRule default_rule = DefaultRule::kHash;
  int default_line = 1;  // [map] default, or the top of the file when left out
  std::vector<Zone> zones;
  std::vector<ZoneLines> lines;  // parallel to zones
};

// Reads the TOML text and checks every field on its own: unknown keys and
// tables, types, required fields, zone id characters, CIDR syntax, endpoint
// syntax, camera id syntax, range order, capacity and weight bounds.
absl::StatusOr<ZoneMapSpec> ParseZoneMapToml(std::string_view text, std::string_view source_name);

// The checks across fields and zones: at least one zone, unique zone ids, no
// overlapping subnets, no camera pinned to two zones (by id, range or prefix),
// and a hashed zone if the default rule is "hash".
absl::Status ValidateZoneMapSpec(const ZoneMapSpec& spec);

// "zone[euw1-a].subnets[1]": how errors name a zone's field.
std::string ZoneFieldName(const Zone& zone, size_t ordinal, std::string_view field);

// "<source>:<line>: <field>: <problem>" as InvalidArgument.
absl::Status ErrorAt(std::string_view source, int line, std::string_view field, std::string_view problem);

}  // namespace ingest::zones::zone_map_internal

#endif  // ZONES_ZONE_MAP_SPEC_H_
