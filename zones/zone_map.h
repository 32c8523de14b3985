// The zone map: which zones exist, where their servers live, where their
// recordings go, and which zone each camera belongs to. Loaded from a TOML
// file (docs/zones.md has the format), validated as a whole: a bad map is an
// error naming file, line and field, and never replaces a good one.
//
//   ASSIGN_OR_RETURN(ZoneMap map, ZoneMap::Load("/etc/ingestd/zones.toml"));
//   Placement p = map.Place("cam-000042");
//   if (p.zone == nullptr) reject(p.reason); else if (p.zone->id != my_zone) redirect(p.zone->endpoint);
//
// Assignment, strongest first: a camera id listed by a zone; an id inside a
// zone's [first, last] range (byte-wise order); the longest matching id
// prefix; otherwise the default rule: rendezvous hashing over the zones that
// take part in it (hash = true), so adding a zone moves only about 1/(N+1)
// of the unpinned cameras and removing one moves only its own.
#ifndef ZONES_ZONE_MAP_H_
#define ZONES_ZONE_MAP_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "zones/cidr.h"

namespace ingest::zones {

// Where a zone's recordings go (the [store] settings of its servers).
struct ZoneStore {
  std::string bucket;
  std::string prefix;
  std::string region;
  std::string role_arn;  // assumed on top of the instance's credentials; may be empty
  std::string endpoint;  // S3 endpoint URL; empty = AWS for the region
};

struct CameraRange {
  std::string first;  // inclusive
  std::string last;   // inclusive
};

struct Zone {
  std::string id;
  std::vector<Cidr> subnets;  // where the zone's servers live
  std::string endpoint;       // camera-facing "host:port" (its load balancer)
  ZoneStore store;
  uint32_t capacity_per_server = 0;  // cameras one server of this zone takes
  bool hash = true;                  // takes part in the default rule
  double weight = 1.0;               // share of hashed cameras relative to other zones
  std::vector<std::string> camera_ids;
  std::vector<CameraRange> camera_ranges;
  std::vector<std::string> camera_prefixes;
};

// What happens to a camera no pin matches ([map] default in the file).
enum class DefaultRule {
  kHash,  // rendezvous hashing over the zones with hash = true
  kNone,  // the camera is unknown and is rejected
};
const char* DefaultRuleName(DefaultRule rule);  // "hash", "none"

// Why a camera is where it is.
enum class PlacementRule { kCameraId, kCameraRange, kCameraPrefix, kHash, kNone };
const char* PlacementRuleName(PlacementRule rule);

struct Placement {
  const Zone* zone = nullptr;  // null: no rule matches (the camera is unknown)
  PlacementRule rule = PlacementRule::kNone;
  std::string reason;  // e.g. "id range cam-000100..cam-000199 of zone z1"
};

// Immutable once parsed: any number of threads may call Place() on one map
// at once. Copies share the lookup index.
class ZoneMap {
 public:
  // Parses and validates. Errors read "<source_name>:<line>: <field>: <problem>"
  // (the line of the offending key or table): unknown keys or tables, wrong
  // types, bad CIDR, overlapping subnets (within or across zones), duplicate
  // zone ids, a camera id / range / prefix claimed by two zones, a range with
  // first > last, a missing or malformed endpoint, missing store bucket or
  // region, capacity_per_server 0, weight <= 0, no zone at all, default
  // "hash" with no zone taking part in it, text over 16 MiB.
  static absl::StatusOr<ZoneMap> Parse(std::string_view toml, std::string_view source_name);
  // Reads `path` and parses it, naming the file in errors. Files over 16 MiB
  // are refused.
  static absl::StatusOr<ZoneMap> Load(const std::string& path);

  const std::vector<Zone>& zones() const { return zones_; }
  DefaultRule default_rule() const { return default_rule_; }
  const Zone* Find(std::string_view zone_id) const;
  // Deterministic: the same map and id give the same answer on every host
  // and in every version (the hash is spelled out in rendezvous_hash.h, not
  // a library hash that may be seeded per process). Allocates nothing but
  // the reason string.
  Placement Place(std::string_view camera_id) const;
  // Zones whose subnets contain `address` (a numeric IPv4/IPv6 address).
  std::vector<const Zone*> ZonesContaining(std::string_view address) const;
  // Hex SHA-256 of the file's bytes, for logs and /status.
  const std::string& digest() const { return digest_; }

 private:
  std::vector<Zone> zones_;
  DefaultRule default_rule_ = DefaultRule::kHash;
  std::string digest_;
  // Lookup structures built at load (ids -> zone index, sorted ranges,
  // prefixes by length) so Place() is cheap on the HELLO path.
  struct Index;
  std::shared_ptr<const Index> index_;
};

}  // namespace ingest::zones

#endif  // ZONES_ZONE_MAP_H_
