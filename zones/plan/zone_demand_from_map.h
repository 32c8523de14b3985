// The zones of a zone map as demands for the capacity planner: the cameras
// the default rule hashes are shared among the zones that take part in it,
// in proportion to their weights, and each zone's capacity_per_server caps
// what the bench says a server holds. Cameras pinned by id, range or prefix
// cannot be counted from the map, so they are not in the shares; zones that
// only take pinned cameras are planned with none (the report says so).
//
//   ASSIGN_OR_RETURN(ZoneMap map, ZoneMap::Load(path));
//   ASSIGN_OR_RETURN(std::vector<ZoneDemand> zones, ZoneDemandsFromMap(map, 180'000));
#ifndef ZONES_PLAN_ZONE_DEMAND_FROM_MAP_H_
#define ZONES_PLAN_ZONE_DEMAND_FROM_MAP_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "zones/plan/capacity_plan.h"
#include "zones/zone_map.h"

namespace ingest::zones {

// InvalidArgument when the map's default rule is "none" or no zone takes
// part in hashing (there is nothing to share the cameras among).
absl::StatusOr<std::vector<ZoneDemand>> ZoneDemandsFromMap(const ZoneMap& map, uint64_t cameras);

}  // namespace ingest::zones

#endif  // ZONES_PLAN_ZONE_DEMAND_FROM_MAP_H_
