// The configuration as ingestd builds it at start-up: the file (if any), the
// command-line flags over it, the zone map's store settings, derived
// defaults, validation. `ingestd check` takes the same steps one at a time so
// it can look at the files in between.
//
//   ASSIGN_OR_RETURN(IngestConfig config, BuildStartupConfig(absl::GetFlag(FLAGS_config)));
//
//   // step by step:
//   ASSIGN_OR_RETURN(IngestConfig config, ReadConfigAndFlags(path));
//   ASSIGN_OR_RETURN(std::shared_ptr<const zones::ZoneMap> map, ApplyZoneMapStore(config));
//   RETURN_IF_ERROR(ResolveDefaults(config));
//   RETURN_IF_ERROR(ValidateConfig(config));
#ifndef SERVER_INGESTD_STARTUP_CONFIG_H_
#define SERVER_INGESTD_STARTUP_CONFIG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/config/ingest_config.h"
#include "zones/zone_map.h"

namespace ingest {

// The file at `path` ("" = the built-in defaults) with the command-line
// flags applied over it.
absl::StatusOr<IngestConfig> ReadConfigAndFlags(const std::string& path);

// Loads server.zone_map, if set, and lets it say where the zone's recordings
// go unless [store] does (ApplyZoneStore). Returns the map, or null without
// one. Errors are LoadZoneMapFor's: the file, a bad line, or server.zone
// missing from the map.
absl::StatusOr<std::shared_ptr<const zones::ZoneMap>> ApplyZoneMapStore(IngestConfig& config);

// Every step above, then ResolveDefaults and ValidateConfig.
absl::StatusOr<IngestConfig> BuildStartupConfig(const std::string& path);

}  // namespace ingest

#endif  // SERVER_INGESTD_STARTUP_CONFIG_H_
