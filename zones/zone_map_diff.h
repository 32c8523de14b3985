// Counting what a change of the zone map does to a population of cameras:
// how many stay, how many move, and from which zone to which. `zonectl diff`
// prints it; a re-zoning wave can be sized from it before the map ships.
//
//   ZoneMapDiffer differ(old_map, new_map);
//   for (const std::string& id : cameras) differ.Add(id);
//   ZoneMapDiff diff = differ.Finish();   // diff.moved of diff.cameras
#ifndef ZONES_ZONE_MAP_DIFF_H_
#define ZONES_ZONE_MAP_DIFF_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "zones/zone_map.h"

namespace ingest::zones {

// A zone id, or "" for "no zone" (the camera is unknown under that map).
struct ZoneMove {
  std::string from;
  std::string to;
  uint64_t cameras = 0;
};

struct ZoneMapDiff {
  uint64_t cameras = 0;
  uint64_t moved = 0;                          // placed in a different zone (or known <-> unknown)
  std::vector<ZoneMove> moves;                 // most cameras first, then by from/to
  std::map<std::string, uint64_t> old_counts;  // cameras per zone under each map ("" = unknown)
  std::map<std::string, uint64_t> new_counts;
};

class ZoneMapDiffer {
 public:
  // Both maps must outlive the differ.
  ZoneMapDiffer(const ZoneMap& old_map, const ZoneMap& new_map) : old_map_(old_map), new_map_(new_map) {}

  void Add(std::string_view camera_id);
  ZoneMapDiff Finish() const;

 private:
  const ZoneMap& old_map_;
  const ZoneMap& new_map_;
  uint64_t cameras_ = 0;
  // Zone ids are interned as (old zone, new zone) pointer pairs while adding,
  // so a million cameras cost no string work.
  std::map<std::pair<const Zone*, const Zone*>, uint64_t> pairs_;
};

}  // namespace ingest::zones

#endif  // ZONES_ZONE_MAP_DIFF_H_
