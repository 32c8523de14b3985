#include "zones/zone_map_diff.h"

#include <algorithm>
#include <tuple>

namespace ingest::zones {
namespace {

std::string IdOf(const Zone* zone) { return zone == nullptr ? "" : zone->id; }

}  // namespace

void ZoneMapDiffer::Add(std::string_view camera_id) {
  ++cameras_;
  ++pairs_[{old_map_.Place(camera_id).zone, new_map_.Place(camera_id).zone}];
}

ZoneMapDiff ZoneMapDiffer::Finish() const {
  ZoneMapDiff diff;
  diff.cameras = cameras_;
  for (const auto& [pair, count] : pairs_) {
    std::string from = IdOf(pair.first);
    std::string to = IdOf(pair.second);
    diff.old_counts[from] += count;
    diff.new_counts[to] += count;
    if (from == to) continue;
    diff.moved += count;
    diff.moves.push_back({from, to, count});
  }
  std::sort(diff.moves.begin(), diff.moves.end(), [](const ZoneMove& a, const ZoneMove& b) {
    return std::tie(b.cameras, a.from, a.to) < std::tie(a.cameras, b.from, b.to);
  });
  return diff;
}

}  // namespace ingest::zones
