#include "zones/plan/zone_demand_from_map.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace ingest::zones {

absl::StatusOr<std::vector<ZoneDemand>> ZoneDemandsFromMap(const ZoneMap& map, uint64_t cameras) {
  if (map.default_rule() == DefaultRule::kNone) {
    return absl::InvalidArgumentError(
        "the zone map's default rule is \"none\": every camera is pinned, and pins cannot be counted from the "
        "map; plan each zone with --cameras and --cameras_per_zone instead");
  }
  double weight_sum = 0;
  for (const Zone& zone : map.zones()) {
    if (zone.hash) weight_sum += zone.weight;
  }
  if (weight_sum <= 0) {
    return absl::InvalidArgumentError(
        "the zone map has no zone with hash = true, so the planner cannot share cameras among its zones");
  }
  std::vector<ZoneDemand> demands;
  std::vector<double> remainders;
  uint64_t given = 0;
  for (const Zone& zone : map.zones()) {
    ZoneDemand d{.id = zone.id, .cameras = 0, .capacity_per_server = zone.capacity_per_server};
    double exact = zone.hash ? static_cast<double>(cameras) * zone.weight / weight_sum : 0;
    d.cameras = static_cast<uint64_t>(std::floor(exact));
    given += d.cameras;
    remainders.push_back(zone.hash ? exact - std::floor(exact) : -1);
    demands.push_back(std::move(d));
  }
  // Largest remainders take the cameras rounding left over, so the shares
  // add up to exactly `cameras`.
  std::vector<size_t> order(demands.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return remainders[a] > remainders[b]; });
  for (size_t i = 0; given < cameras && i < order.size(); ++i) {
    if (remainders[order[i]] < 0) break;
    ++demands[order[i]].cameras;
    ++given;
  }
  return demands;
}

}  // namespace ingest::zones
