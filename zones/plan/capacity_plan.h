// Capacity planning, as pure arithmetic: from a camera count, a bitrate mix
// and a bench result to the servers each zone needs (with headroom for losing
// a server or an availability zone), zones, load-balancer connections, S3
// requests and their monthly cost, upload bandwidth and spool size. No I/O;
// `zonectl plan` (plan_command.h) reads the inputs and prints the result.
//
//   PlanOptions options;
//   options.cameras = 180'000;
//   options.mix = *ParseBitrateMix("1000:1");
//   ASSIGN_OR_RETURN(CapacityPlan plan, ComputePlan(options, bench, EvenZones(180'000, 13'000)));
//   plan.monthly_put_cost_usd;  // ~22,200
//   plan.index_intervals;       // index PUTs and their cost against the wait, per interval
//
// The model, every figure of which the report shows:
// - A camera sends its mean bitrate; a server's bytes come in once (cameras),
//   are written to and read back from the spool once, and go out once (S3).
// - Server capacity is the smallest of: CPU (the bench's cores per MB/s,
//   ingest plus upload, scaled to the instance's cores, one bench core = one
//   instance vCPU), memory (per-camera memory from the bench plus a fixed
//   reserve for shard and upload buffers and the system), network (each
//   direction), spool disk throughput, and connections (server.max_connections
//   and the io_uring direct-descriptor tables, one per shard, each capped by
//   RLIMIT_NOFILE), and any cap the bench or the zone map states.
// - A zone needs the most servers of three requirements, each keeping every
//   server at or under the target utilisation: all servers up; one server
//   lost (N+1); one availability zone lost, servers spread evenly over the
//   AZs (the largest AZ holds ceil(n / azs)).
// - One batch PUT per server per seal_bytes or seal_age, whichever comes
//   first; index PUTs per camera-hour as the sealer writes them
//   (index_freshness.h: 7 at the default 600 s), for every camera.
// - The index trade-off: for the planned index interval and a few others,
//   index PUTs and their cost against how long a persisted segment waits
//   before it can be found by time range.
#ifndef ZONES_PLAN_CAPACITY_PLAN_H_
#define ZONES_PLAN_CAPACITY_PLAN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "zones/plan/bench_result.h"
#include "zones/plan/bitrate_mix.h"
#include "zones/plan/index_freshness.h"

namespace ingest::zones {

// The server each zone runs, as assumed; defaults follow deploy/ (the
// Terraform's c6in.2xlarge, its spool volume) and ingestd's configuration.
struct InstanceSpec {
  double cores = 8;  // vCPUs; ingestd runs one shard per core
  double memory_gib = 16;
  double network_gbps = 5;                            // sustained, in each direction
  double spool_disk_mib_per_s = 500;                  // the spool volume's throughput, reads plus writes
  uint32_t max_connections = 50'000;                  // server.max_connections
  uint64_t nofile = 65'536;                           // RLIMIT_NOFILE (LimitNOFILE in deploy/systemd)
  uint64_t shard_memory_bytes = uint64_t{256} << 20;  // spool.shard_memory_bytes
  uint64_t system_memory_bytes = uint64_t{1} << 30;   // the OS, agents, page cache floor
};

// How recordings are batched into the object store and what requests cost.
struct StoreSettings {
  uint64_t seal_bytes = uint64_t{16} << 20;  // store.seal_bytes
  double seal_age_ms = 10'000;               // store.seal_age_ms
  uint32_t index_interval_s = 600;           // store.index_interval_s (the server's default)
  uint32_t upload_threads = 4;               // store.upload_threads
  double put_price_per_1000 = 0.005;         // USD per 1,000 PUT requests
  double hours_per_month = 730;
};

struct PlanOptions {
  uint64_t cameras = 0;
  BitrateMix mix;
  uint32_t cameras_per_zone = 13'000;
  InstanceSpec instance;
  StoreSettings store;
  double target_utilisation = 0.8;               // of a server's capacity, in every state planned for
  uint32_t azs = 3;                              // availability zones a zone's servers spread over; 1 = none to lose
  double outage_s = 3600;                        // S3 outage the spool must absorb
  uint64_t spool_max_bytes = uint64_t{8} << 30;  // spool.max_bytes, compared with what the outage needs
};

enum class CapacityBound { kCpu, kMemory, kNetwork, kSpoolDisk, kConnections, kBenchCap, kZoneMapCap };
const char* CapacityBoundName(CapacityBound bound);

// What one server holds and why.
struct ServerCapacity {
  double camera_bytes_per_s = 0;     // mean of the mix
  double ingest_cores_per_mb_s = 0;  // from the bench (the worse run)
  double upload_cores_per_mb_s = 0;  // from the bench; 0 if not measured
  uint32_t shards = 0;
  double memory_per_camera_bytes = 0;
  double memory_reserve_bytes = 0;
  uint64_t descriptor_table_per_shard = 0;  // as ingestd sizes it, before the RLIMIT_NOFILE cap

  uint64_t by_cpu = 0;
  uint64_t by_memory = 0;
  uint64_t by_network = 0;
  uint64_t by_spool_disk = 0;
  uint64_t by_connections = 0;
  std::optional<uint64_t> by_bench_cap;

  uint64_t cameras = 0;  // the smallest of the above
  CapacityBound bound = CapacityBound::kCpu;
};

// The cameras one zone must hold. `capacity_per_server`, from a zone map,
// caps the derived capacity.
struct ZoneDemand {
  std::string id;
  uint64_t cameras = 0;
  std::optional<uint32_t> capacity_per_server;
};

struct ZonePlan {
  std::string id;
  uint64_t cameras = 0;
  uint64_t capacity_per_server = 0;  // cameras at 100 %
  CapacityBound bound = CapacityBound::kCpu;
  uint64_t cameras_per_server_at_target = 0;  // floor(capacity x target utilisation)

  uint64_t servers_all_up = 0;
  uint64_t servers_n_plus_1 = 0;
  std::optional<uint64_t> servers_az_loss;  // absent with one AZ: losing it loses the zone
  uint64_t servers = 0;                     // the largest requirement
  uint64_t servers_in_largest_az = 0;

  double utilisation_all_up = 0;
  double utilisation_one_server_lost = 0;
  std::optional<double> utilisation_one_az_lost;

  uint64_t nlb_connections = 0;  // one TCP connection per camera
  double ingest_bytes_per_s = 0;
  double bytes_per_s_per_server = 0;
  double batch_puts_per_s = 0;
  double index_puts_per_s = 0;
  double spool_bytes_for_outage = 0;  // per server, all servers up
  double spool_max_covers_s = 0;      // how long spool.max_bytes lasts at that rate
};

// Index intervals the plan compares with the planned one.
inline constexpr uint32_t kIndexIntervalsCompared[] = {60, 300, 600, 1800, 3600};

// One interval of the index trade-off, priced for this plan. Batch PUTs do
// not depend on the interval.
struct IndexIntervalCost {
  IndexFreshness per_camera;
  bool planned = false;  // options.store.index_interval_s
  double puts_per_camera_month = 0;
  double largest_zone_puts_per_month = 0;
  double largest_zone_cost_usd_per_month = 0;
  double puts_per_month = 0;               // all zones
  double cost_usd_per_month = 0;           // all zones, index PUTs only
  double all_puts_cost_usd_per_month = 0;  // all zones, batch plus index PUTs
};

struct CapacityPlan {
  PlanOptions options;
  ServerCapacity capacity;
  std::vector<ZonePlan> zones;
  size_t largest_zone = 0;  // index into zones: the first with the most cameras

  uint64_t cameras = 0;
  uint64_t servers = 0;
  uint64_t nlb_connections = 0;
  double ingest_bytes_per_s = 0;  // also the upload rate to S3
  double batch_puts_per_s = 0;
  double index_puts_per_s = 0;
  double puts_per_s = 0;
  double puts_per_camera_hour = 0;
  double monthly_put_cost_usd = 0;
  IndexFreshness index;                            // at the planned interval
  std::vector<IndexIntervalCost> index_intervals;  // kIndexIntervalsCompared and the planned one, ascending
  std::vector<std::string> warnings;               // limits the plan runs into, in plain words
};

// InvalidArgument naming the flag ("--target_utilisation must be in (0, 1],
// got 1.5") for any option out of range.
absl::Status ValidatePlanOptions(const PlanOptions& options);

// Validates the options and derives one server's capacity.
absl::StatusOr<ServerCapacity> DeriveServerCapacity(const PlanOptions& options, const BenchResult& bench);

// `zones` must hold options.cameras in total (a zone map may leave pinned
// cameras out; then the sum is what the map hashes).
absl::StatusOr<CapacityPlan> ComputePlan(const PlanOptions& options, const BenchResult& bench,
                                         const std::vector<ZoneDemand>& zones);

// ceil(cameras / cameras_per_zone) zones named zone-1, zone-2, ... with the
// cameras spread evenly (sizes differ by at most one), as rendezvous hashing
// over equal-weight zones does.
std::vector<ZoneDemand> EvenZones(uint64_t cameras, uint32_t cameras_per_zone);

// The three headroom requirements for `cameras` at `per_server` cameras per
// server (already at the target utilisation); exposed for tests.
struct HeadroomServers {
  uint64_t all_up = 0;
  uint64_t n_plus_1 = 0;
  std::optional<uint64_t> az_loss;
};
HeadroomServers ServersForHeadroom(uint64_t cameras, uint64_t per_server, uint32_t azs);

}  // namespace ingest::zones

#endif  // ZONES_PLAN_CAPACITY_PLAN_H_
