#include "server/config/connection_capacity.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "server/config/ingest_config.h"

namespace ingest {
namespace {

// Below this a table is not worth sizing down (a test server, a tiny config).
constexpr uint32_t kMinRingFiles = 256;

uint32_t CamerasPerFullRing(uint32_t ring_file_limit) {
  return ring_file_limit > kRingSlotsForRefusals ? ring_file_limit - kRingSlotsForRefusals : 0;
}

}  // namespace

ShardCapacity ShardCapacityFor(const ServerConfig& server, uint32_t ring_file_limit) {
  const uint64_t shards = static_cast<uint64_t>(std::max(server.shards, 1));
  const uint64_t share = (uint64_t{server.max_connections} + shards - 1) / shards;
  const uint64_t wanted = std::max<uint64_t>(share + share / 8 + kRingSlotsForRefusals, kMinRingFiles);
  const uint32_t ring_files = static_cast<uint32_t>(std::min<uint64_t>(wanted, ring_file_limit));
  return ShardCapacity{.ring_files = ring_files,
                       .cameras = ring_files > kRingSlotsForRefusals ? ring_files - kRingSlotsForRefusals : 0};
}

int ShardsToHold(uint32_t max_connections, uint32_t ring_file_limit) {
  const uint32_t per_ring = CamerasPerFullRing(ring_file_limit);
  if (per_ring == 0) return 1;
  return static_cast<int>((uint64_t{max_connections} + per_ring - 1) / per_ring);
}

absl::Status CheckShardsHoldMaxConnections(const ServerConfig& server, uint32_t ring_file_limit) {
  const ShardCapacity capacity = ShardCapacityFor(server, ring_file_limit);
  const uint64_t held = uint64_t{capacity.cameras} * static_cast<uint64_t>(std::max(server.shards, 1));
  if (held >= server.max_connections) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "server.max_connections: ", server.max_connections, " is more than ", server.shards, " shards can hold (",
      held, ": each shard's io_uring holds at most ", capacity.cameras,
      " camera sockets, the descriptor limit RLIMIT_NOFILE ", ring_file_limit, " less ", kRingSlotsForRefusals,
      " slots kept for refusals); set server.shards to at least ", ShardsToHold(server.max_connections, ring_file_limit),
      " (or 0 to size it), raise LimitNOFILE, or lower server.max_connections"));
}

}  // namespace ingest
