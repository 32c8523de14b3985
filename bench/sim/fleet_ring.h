// One ring of a camera fleet: the cameras of `options` on one io_uring ring,
// run in the calling thread until they have recorded and been acknowledged
// (or the options' limits end the run). RunCameraFleet (camera_fleet.h)
// splits a fleet over several of these; call that, not this.
//
//   absl::StatusOr<FleetReport> ring = RunFleetRing(part_of_the_options);
#ifndef BENCH_SIM_FLEET_RING_H_
#define BENCH_SIM_FLEET_RING_H_

#include "absl/status/statusor.h"
#include "bench/sim/camera_fleet.h"

namespace ingest {

// The options' certificates must already exist (RunCameraFleet issues them).
absl::StatusOr<FleetReport> RunFleetRing(const FleetOptions& options);

}  // namespace ingest

#endif  // BENCH_SIM_FLEET_RING_H_
