#include "server/ingestd/startup_config.h"

#include "common/status_macros.h"
#include "server/ingestd/zone_setup.h"

namespace ingest {

absl::StatusOr<IngestConfig> ReadConfigAndFlags(const std::string& path) {
  IngestConfig config;
  if (!path.empty()) {
    ASSIGN_OR_RETURN(config, LoadConfigFile(path));
  }
  RETURN_IF_ERROR(ApplyFlagOverrides(config));
  return config;
}

absl::StatusOr<std::shared_ptr<const zones::ZoneMap>> ApplyZoneMapStore(IngestConfig& config) {
  if (config.server.zone_map.empty()) return std::shared_ptr<const zones::ZoneMap>();
  ASSIGN_OR_RETURN(std::shared_ptr<const zones::ZoneMap> map, LoadZoneMapFor(config));
  ApplyZoneStore(*map->Find(config.server.zone), config.store);
  return map;
}

absl::StatusOr<IngestConfig> BuildStartupConfig(const std::string& path) {
  ASSIGN_OR_RETURN(IngestConfig config, ReadConfigAndFlags(path));
  RETURN_IF_ERROR(ApplyZoneMapStore(config).status());
  RETURN_IF_ERROR(ResolveDefaults(config));
  RETURN_IF_ERROR(ValidateConfig(config));
  return config;
}

}  // namespace ingest
