// How many camera connections the shards can hold, known before any ring is
// set up: each shard's io_uring keeps its sockets in a direct-descriptor
// table, which the kernel caps at the descriptor limit (common/
// descriptor_limit.h). A server.max_connections the shards cannot hold is
// refused at start (explicit server.shards) or met with more shards
// (server.shards = 0), never found out as accept errors at 3 a.m.
//
//   ShardCapacity capacity = ShardCapacityFor(config.server, RingFileLimit());
//   ring options: .registered_files = capacity.ring_files
//   shard admits at most capacity.cameras; the rest get REJECT SERVER_FULL
#ifndef SERVER_CONFIG_CONNECTION_CAPACITY_H_
#define SERVER_CONFIG_CONNECTION_CAPACITY_H_

#include <cstdint>

#include "absl/status/status.h"

namespace ingest {

struct ServerConfig;

// Table slots each shard keeps beyond its cameras, so a connection over a
// limit can still be accepted and refused (REJECT SERVER_FULL, or closed)
// instead of waiting in the kernel's accept queue for a slot.
inline constexpr uint32_t kRingSlotsForRefusals = 64;

struct ShardCapacity {
  uint32_t ring_files = 0;  // the ring's direct-descriptor table
  uint32_t cameras = 0;     // connections the shard admits: ring_files - kRingSlotsForRefusals
};

// One shard's table: its share of max_connections plus an eighth (the
// kernel spreads connections over the shards' listeners by a hash, not
// evenly) plus the refusal slots, at most `ring_file_limit`.
ShardCapacity ShardCapacityFor(const ServerConfig& server, uint32_t ring_file_limit);

// The fewest shards whose rings together hold max_connections.
int ShardsToHold(uint32_t max_connections, uint32_t ring_file_limit);

// An error naming the numbers when server.shards rings cannot hold
// server.max_connections.
absl::Status CheckShardsHoldMaxConnections(const ServerConfig& server, uint32_t ring_file_limit);

}  // namespace ingest

#endif  // SERVER_CONFIG_CONNECTION_CAPACITY_H_
