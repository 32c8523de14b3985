#include "zones/zone_map.h"

#include <openssl/evp.h>

#include <algorithm>
#include <cstdio>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/bounded_file.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "zones/rendezvous_hash.h"
#include "zones/zone_map_spec.h"

namespace ingest::zones {

using zone_map_internal::kMaxZoneMapBytes;
using zone_map_internal::ZoneMapSpec;

// Everything Place() needs, keyed by zone index (not pointers), so a copied
// ZoneMap shares the index and still answers with its own zones.
struct ZoneMap::Index {
  struct Range {
    std::string first;
    std::string last;
    uint32_t zone;
  };
  struct HashedZone {
    RendezvousZone rendezvous;
    uint32_t zone;
  };

  absl::flat_hash_map<std::string, uint32_t> zone_by_id;  // zone id -> index
  absl::flat_hash_map<std::string, uint32_t> zone_by_camera_id;
  std::vector<Range> ranges;  // sorted by first, disjoint
  absl::flat_hash_map<std::string, uint32_t> zone_by_prefix;
  std::vector<size_t> prefix_lengths;  // distinct, longest first
  std::vector<HashedZone> hashed;      // sorted by zone id: ties go to the lower id
  bool equal_weights = true;
};

namespace {

std::string Sha256Hex(std::string_view bytes) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EVP_Digest(bytes.data(), bytes.size(), digest, &length, EVP_sha256(), nullptr);
  std::string hex;
  hex.reserve(2 * length);
  for (unsigned int i = 0; i < length; ++i) absl::StrAppend(&hex, absl::Hex(digest[i], absl::kZeroPad2));
  return hex;
}

}  // namespace

const char* PlacementRuleName(PlacementRule rule) {
  switch (rule) {
    case PlacementRule::kCameraId:
      return "id";
    case PlacementRule::kCameraRange:
      return "range";
    case PlacementRule::kCameraPrefix:
      return "prefix";
    case PlacementRule::kHash:
      return "hash";
    case PlacementRule::kNone:
      return "none";
  }
  return "?";
}

const char* DefaultRuleName(DefaultRule rule) {
  switch (rule) {
    case DefaultRule::kHash:
      return "hash";
    case DefaultRule::kNone:
      return "none";
  }
  return "?";
}

absl::StatusOr<ZoneMap> ZoneMap::Parse(std::string_view toml, std::string_view source_name) {
  ASSIGN_OR_RETURN(ZoneMapSpec spec, zone_map_internal::ParseZoneMapToml(toml, source_name));
  RETURN_IF_ERROR(zone_map_internal::ValidateZoneMapSpec(spec));

  ZoneMap map;
  map.zones_ = std::move(spec.zones);
  map.default_rule_ = spec.default_rule;
  map.digest_ = Sha256Hex(toml);

  auto index = std::make_shared<Index>();
  for (uint32_t z = 0; z < map.zones_.size(); ++z) {
    const Zone& zone = map.zones_[z];
    index->zone_by_id.emplace(zone.id, z);
    for (const std::string& id : zone.camera_ids) index->zone_by_camera_id.emplace(id, z);
    for (const CameraRange& range : zone.camera_ranges) index->ranges.push_back({range.first, range.last, z});
    for (const std::string& prefix : zone.camera_prefixes) {
      index->zone_by_prefix.emplace(prefix, z);
      index->prefix_lengths.push_back(prefix.size());
    }
    if (zone.hash && map.default_rule_ == DefaultRule::kHash) {
      index->hashed.push_back({RendezvousZone::For(zone.id, zone.weight), z});
    }
  }
  std::sort(index->ranges.begin(), index->ranges.end(),
            [](const Index::Range& a, const Index::Range& b) { return a.first < b.first; });
  std::sort(index->prefix_lengths.begin(), index->prefix_lengths.end(), std::greater<>());
  index->prefix_lengths.erase(std::unique(index->prefix_lengths.begin(), index->prefix_lengths.end()),
                              index->prefix_lengths.end());
  std::sort(index->hashed.begin(), index->hashed.end(), [&](const Index::HashedZone& a, const Index::HashedZone& b) {
    return map.zones_[a.zone].id < map.zones_[b.zone].id;
  });
  for (const Index::HashedZone& h : index->hashed) {
    index->equal_weights = index->equal_weights && h.rendezvous.weight == index->hashed.front().rendezvous.weight;
  }
  map.index_ = std::move(index);
  return map;
}

absl::StatusOr<ZoneMap> ZoneMap::Load(const std::string& path) {
  absl::StatusOr<std::string> text = ReadBoundedFile(path, kMaxZoneMapBytes, "zone map");
  if (!text.ok()) return text.status();
  return Parse(*text, path);
}

const Zone* ZoneMap::Find(std::string_view zone_id) const {
  if (index_ == nullptr) return nullptr;
  auto it = index_->zone_by_id.find(ToAbsl(zone_id));
  return it == index_->zone_by_id.end() ? nullptr : &zones_[it->second];
}

Placement ZoneMap::Place(std::string_view camera_id) const {
  Placement placement;
  if (index_ == nullptr) {
    placement.reason = "no zone map loaded";
    return placement;
  }
  const Index& index = *index_;

  if (auto it = index.zone_by_camera_id.find(ToAbsl(camera_id)); it != index.zone_by_camera_id.end()) {
    placement.zone = &zones_[it->second];
    placement.rule = PlacementRule::kCameraId;
    placement.reason = absl::StrCat("camera id listed by zone ", placement.zone->id);
    return placement;
  }

  auto after = std::upper_bound(index.ranges.begin(), index.ranges.end(), camera_id,
                                [](std::string_view id, const Index::Range& r) { return id < r.first; });
  if (after != index.ranges.begin() && camera_id <= (after - 1)->last) {
    const Index::Range& range = *(after - 1);
    placement.zone = &zones_[range.zone];
    placement.rule = PlacementRule::kCameraRange;
    placement.reason = absl::StrCat("id range ", range.first, "..", range.last, " of zone ", placement.zone->id);
    return placement;
  }

  for (size_t length : index.prefix_lengths) {
    if (length > camera_id.size()) continue;
    auto it = index.zone_by_prefix.find(ToAbsl(camera_id.substr(0, length)));
    if (it == index.zone_by_prefix.end()) continue;
    placement.zone = &zones_[it->second];
    placement.rule = PlacementRule::kCameraPrefix;
    placement.reason = absl::StrCat("id prefix ", it->first, " of zone ", placement.zone->id);
    return placement;
  }

  if (index.hashed.empty()) {
    placement.reason = "no zone lists this camera id or a range or prefix holding it, and the map's default is none";
    return placement;
  }
  // With equal weights the highest hash has the highest score; comparing
  // hashes avoids the logarithm and any last-bit rounding differences of it.
  const Index::HashedZone* best = &index.hashed.front();
  uint64_t best_hash = best->rendezvous.HashCamera(camera_id);
  double best_score = index.equal_weights ? 0 : RendezvousScore(best_hash, best->rendezvous.weight);
  for (size_t i = 1; i < index.hashed.size(); ++i) {
    const Index::HashedZone& candidate = index.hashed[i];
    uint64_t hash = candidate.rendezvous.HashCamera(camera_id);
    if (index.equal_weights) {
      if (hash <= best_hash) continue;
    } else {
      double score = RendezvousScore(hash, candidate.rendezvous.weight);
      if (score <= best_score) continue;
      best_score = score;
    }
    best = &candidate;
    best_hash = hash;
  }
  placement.zone = &zones_[best->zone];
  placement.rule = PlacementRule::kHash;
  placement.reason = absl::StrCat("rendezvous hash over ", index.hashed.size(), " zones picks ", placement.zone->id);
  return placement;
}

std::vector<const Zone*> ZoneMap::ZonesContaining(std::string_view address) const {
  std::vector<const Zone*> result;
  for (const Zone& zone : zones_) {
    if (std::any_of(zone.subnets.begin(), zone.subnets.end(), [&](const Cidr& net) { return net.Contains(address); })) {
      result.push_back(&zone);
    }
  }
  return result;
}

}  // namespace ingest::zones
