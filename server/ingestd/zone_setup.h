// Setting a server up from the zone map: loading it for this server's zone,
// taking the zone's store settings, and checking that the host really sits in
// one of the zone's subnets (a server started with the wrong --zone would
// take another zone's cameras and write into its prefix).
#ifndef SERVER_INGESTD_ZONE_SETUP_H_
#define SERVER_INGESTD_ZONE_SETUP_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "server/config/ingest_config.h"
#include "zones/zone_map.h"

namespace ingest {

// Loads config.server.zone_map; FailedPrecondition if config.server.zone is
// not one of its zones. Errors name the file (and line, for a bad map).
absl::StatusOr<std::shared_ptr<const zones::ZoneMap>> LoadZoneMapFor(const IngestConfig& config);
// The same for the map in file `zone_map` and the zone called `zone`.
absl::StatusOr<std::shared_ptr<const zones::ZoneMap>> LoadZoneMapFor(const std::string& zone_map,
                                                                     const std::string& zone);

// With store.url empty, the zone map says where the zone's recordings go.
void ApplyZoneStore(const zones::Zone& zone, StoreConfig& store);

// This host's addresses: the listen address if it is a specific one,
// otherwise every configured interface address.
std::vector<std::string> HostAddresses(const std::string& listen);

// OK if one of `addresses` lies in one of the zone's subnets; otherwise
// FailedPrecondition naming the addresses and the subnets.
absl::Status CheckAddressesInZone(const zones::Zone& zone, const std::vector<std::string>& addresses);

}  // namespace ingest

#endif  // SERVER_INGESTD_ZONE_SETUP_H_
