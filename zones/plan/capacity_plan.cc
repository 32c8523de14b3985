#include "zones/plan/capacity_plan.h"

#include <algorithm>
#include <cmath>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"

namespace ingest::zones {
namespace {

constexpr double kMiB = 1 << 20;
constexpr double kGiB = 1 << 30;
// ingestd's memory bound (docs/runbook.md, "Memory bound"), the terms not
// set by configuration: per shard, its provided receive buffers (1,024 x 16
// KiB) and io_uring rings; per upload thread, the local store's 1 MiB O_DIRECT
// bounce buffer; per process, code, libraries, thread stacks and bookkeeping.
constexpr double kReceiveBytesPerShard = 18 * kMiB;
constexpr double kBytesPerUploadThread = 1 * kMiB;
constexpr double kProcessBaseBytes = 32 * kMiB;
// ingestd sizes each shard's direct-descriptor table to its share of
// server.max_connections plus slack, within these bounds (server/ingestd/component_options.cc).
constexpr uint64_t kMinDescriptorTable = 256;
constexpr uint64_t kMaxDescriptorTable = 20'000;
constexpr uint64_t kDescriptorSlack = 64;
// Published AWS quotas (Service Quotas, Elastic Load Balancing; all adjustable).
constexpr uint64_t kNlbsPerRegion = 50;
constexpr uint64_t kTargetsPerAzPerNlb = 500;
constexpr uint64_t kTargetsPerTargetGroup = 1'000;
// An absurdly large plan is a typo, not a fleet.
constexpr uint64_t kMaxCameras = 1'000'000'000;

absl::Status Bad(std::string_view flag, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", ToAbsl(flag), " ", ToAbsl(problem)));
}

absl::Status CheckRange(std::string_view flag, double value, double min, double max) {
  if (!std::isfinite(value) || value <= min || value > max) {
    return Bad(flag, absl::StrFormat("must be in (%.15g, %.15g], got %.15g", min, max, value));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status ValidatePlanOptions(const PlanOptions& o) {
  if (o.cameras == 0 || o.cameras > kMaxCameras) {
    return Bad("cameras", absl::StrCat("must be in [1, ", kMaxCameras, "], got ", o.cameras));
  }
  if (o.mix.entries.empty()) return Bad("bitrate_mix", "is empty");
  if (o.cameras_per_zone == 0) return Bad("cameras_per_zone", "must be at least 1");
  const InstanceSpec& i = o.instance;
  RETURN_IF_ERROR(CheckRange("instance_cores", i.cores, 0, 1024));
  if (i.cores < 1) return Bad("instance_cores", absl::StrCat("must be at least 1, got ", i.cores));
  RETURN_IF_ERROR(CheckRange("instance_memory_gib", i.memory_gib, 0, 65'536));
  RETURN_IF_ERROR(CheckRange("instance_network_gbps", i.network_gbps, 0, 10'000));
  RETURN_IF_ERROR(CheckRange("spool_disk_mib_per_s", i.spool_disk_mib_per_s, 0, 1'000'000));
  if (i.max_connections == 0) return Bad("max_connections", "must be at least 1");
  if (i.nofile == 0) return Bad("nofile", "must be at least 1");
  const StoreSettings& s = o.store;
  if (s.seal_bytes < (uint64_t{1} << 20) || s.seal_bytes > (uint64_t{5} << 30)) {
    return Bad("seal_bytes", absl::StrCat("must be in [1 MiB, 5 GiB] (one PUT), got ", s.seal_bytes));
  }
  RETURN_IF_ERROR(CheckRange("seal_age_ms", s.seal_age_ms, 0, 86'400'000));
  if (s.index_interval_s < 1 || s.index_interval_s > 86'400) {
    return Bad("index_interval_s",
               absl::StrCat("must be in [1, 86400] s (store.index_interval_s), got ", s.index_interval_s));
  }
  if (s.upload_threads == 0) return Bad("upload_threads", "must be at least 1");
  if (!std::isfinite(s.put_price_per_1000) || s.put_price_per_1000 < 0 || s.put_price_per_1000 > 1000) {
    return Bad("put_price_per_1000", absl::StrCat("must be in [0, 1000] USD, got ", s.put_price_per_1000));
  }
  RETURN_IF_ERROR(CheckRange("hours_per_month", s.hours_per_month, 0, 744));
  RETURN_IF_ERROR(CheckRange("target_utilisation", o.target_utilisation, 0, 1));
  if (o.azs == 0 || o.azs > 32) return Bad("azs", absl::StrCat("must be in [1, 32], got ", o.azs));
  if (!std::isfinite(o.outage_s) || o.outage_s < 0 || o.outage_s > 30 * 86'400) {
    return Bad("outage_s", absl::StrCat("must be in [0, 2592000] (30 days), got ", o.outage_s));
  }
  if (o.spool_max_bytes == 0) return Bad("spool_max_bytes", "must be at least 1");
  return absl::OkStatus();
}

namespace {

uint64_t FloorCameras(double x) {
  if (!(x > 0)) return 0;
  return x >= static_cast<double>(kMaxCameras) * 10 ? kMaxCameras * 10 : static_cast<uint64_t>(std::floor(x));
}

uint64_t CeilDiv(uint64_t a, uint64_t b) { return (a + b - 1) / b; }

// The index trade-off: the planned interval and kIndexIntervalsCompared,
// each priced for the plan's cameras; batch PUTs stay as planned.
std::vector<IndexIntervalCost> CompareIndexIntervals(const CapacityPlan& plan) {
  const StoreSettings& store = plan.options.store;
  std::vector<uint32_t> intervals(std::begin(kIndexIntervalsCompared), std::end(kIndexIntervalsCompared));
  if (std::find(intervals.begin(), intervals.end(), store.index_interval_s) == intervals.end()) {
    intervals.insert(std::upper_bound(intervals.begin(), intervals.end(), store.index_interval_s),
                     store.index_interval_s);
  }
  const double price_per_put = store.put_price_per_1000 / 1000;
  const double batch_puts_per_month = plan.batch_puts_per_s * 3600 * store.hours_per_month;
  const double largest_zone_cameras = static_cast<double>(plan.zones[plan.largest_zone].cameras);
  std::vector<IndexIntervalCost> rows;
  for (uint32_t interval : intervals) {
    IndexIntervalCost row;
    row.per_camera = ModelIndexWrites(interval);
    row.planned = interval == store.index_interval_s;
    row.puts_per_camera_month = row.per_camera.puts_per_camera_hour * store.hours_per_month;
    row.largest_zone_puts_per_month = row.puts_per_camera_month * largest_zone_cameras;
    row.largest_zone_cost_usd_per_month = row.largest_zone_puts_per_month * price_per_put;
    row.puts_per_month = row.puts_per_camera_month * static_cast<double>(plan.cameras);
    row.cost_usd_per_month = row.puts_per_month * price_per_put;
    row.all_puts_cost_usd_per_month = (batch_puts_per_month + row.puts_per_month) * price_per_put;
    rows.push_back(row);
  }
  return rows;
}

}  // namespace

const char* CapacityBoundName(CapacityBound bound) {
  switch (bound) {
    case CapacityBound::kCpu:
      return "CPU";
    case CapacityBound::kMemory:
      return "memory";
    case CapacityBound::kNetwork:
      return "network";
    case CapacityBound::kSpoolDisk:
      return "spool disk";
    case CapacityBound::kConnections:
      return "connections";
    case CapacityBound::kBenchCap:
      return "bench max_cameras_per_server";
    case CapacityBound::kZoneMapCap:
      return "zone map capacity_per_server";
  }
  return "?";
}

HeadroomServers ServersForHeadroom(uint64_t cameras, uint64_t per_server, uint32_t azs) {
  HeadroomServers h;
  if (cameras == 0 || per_server == 0) {
    if (azs > 1) h.az_loss = 0;
    return h;
  }
  h.all_up = CeilDiv(cameras, per_server);
  h.n_plus_1 = h.all_up + 1;
  if (azs > 1) {
    // After losing the largest AZ, n - ceil(n / azs) = floor(n (azs-1) / azs)
    // servers remain; the least n with that >= all_up:
    h.az_loss = CeilDiv(h.all_up * azs, azs - 1);
  }
  return h;
}

absl::StatusOr<ServerCapacity> DeriveServerCapacity(const PlanOptions& options, const BenchResult& bench) {
  RETURN_IF_ERROR(ValidatePlanOptions(options));
  const InstanceSpec& inst = options.instance;
  ServerCapacity c;
  c.camera_bytes_per_s = options.mix.MeanBytesPerSecond();
  double camera_mb_per_s = c.camera_bytes_per_s / 1e6;

  c.ingest_cores_per_mb_s = bench.IngestCoresPerMBps();
  c.upload_cores_per_mb_s = bench.UploadCoresPerMBps();
  c.by_cpu = FloorCameras(inst.cores / ((c.ingest_cores_per_mb_s + c.upload_cores_per_mb_s) * camera_mb_per_s));

  c.shards = static_cast<uint32_t>(std::floor(inst.cores));
  c.memory_per_camera_bytes = bench.idle_kb_per_camera * 1000;
  // The sealer keeps up to 2 x upload_threads batches of seal_bytes in memory
  // (server/ingestd/component_options.cc: max_batches_in_flight).
  c.memory_reserve_bytes =
      c.shards * (static_cast<double>(inst.shard_memory_bytes) + kReceiveBytesPerShard) +
      options.store.upload_threads * (2 * static_cast<double>(options.store.seal_bytes) + kBytesPerUploadThread) +
      kProcessBaseBytes + static_cast<double>(inst.system_memory_bytes);
  double memory_bytes = inst.memory_gib * kGiB;
  if (memory_bytes <= c.memory_reserve_bytes) {
    return Bad("instance_memory_gib",
               absl::StrCat(inst.memory_gib, " GiB leaves nothing for cameras after the fixed reserve of ",
                            c.memory_reserve_bytes / kGiB, " GiB (shard and upload buffers, system)"));
  }
  c.by_memory = FloorCameras((memory_bytes - c.memory_reserve_bytes) / c.memory_per_camera_bytes);

  // Instance bandwidth is specified per direction: camera bytes come in,
  // the same bytes go out to S3.
  c.by_network = FloorCameras(inst.network_gbps * 1e9 / 8 / c.camera_bytes_per_s);
  // Every byte is written to the spool once and read back once for sealing.
  c.by_spool_disk = FloorCameras(inst.spool_disk_mib_per_s * kMiB / (2 * c.camera_bytes_per_s));

  uint64_t per_shard_share = CeilDiv(inst.max_connections, c.shards);
  c.descriptor_table_per_shard =
      std::min(std::max(per_shard_share + kDescriptorSlack, kMinDescriptorTable), kMaxDescriptorTable);
  c.by_connections =
      std::min<uint64_t>(inst.max_connections, c.shards * std::min(c.descriptor_table_per_shard, inst.nofile));
  if (bench.max_cameras_per_server) c.by_bench_cap = *bench.max_cameras_per_server;

  struct Candidate {
    uint64_t cameras;
    CapacityBound bound;
  };
  std::vector<Candidate> candidates = {{c.by_cpu, CapacityBound::kCpu},
                                       {c.by_memory, CapacityBound::kMemory},
                                       {c.by_network, CapacityBound::kNetwork},
                                       {c.by_spool_disk, CapacityBound::kSpoolDisk},
                                       {c.by_connections, CapacityBound::kConnections}};
  if (c.by_bench_cap) candidates.push_back({*c.by_bench_cap, CapacityBound::kBenchCap});
  const Candidate& least =
      *std::min_element(candidates.begin(), candidates.end(),
                        [](const Candidate& a, const Candidate& b) { return a.cameras < b.cameras; });
  c.cameras = least.cameras;
  c.bound = least.bound;
  if (c.cameras == 0) {
    return absl::InvalidArgumentError(absl::StrCat("a server holds no camera of this mix (bound by ",
                                                   CapacityBoundName(c.bound), "); check the bench and the flags"));
  }
  return c;
}

std::vector<ZoneDemand> EvenZones(uint64_t cameras, uint32_t cameras_per_zone) {
  std::vector<ZoneDemand> zones;
  if (cameras == 0 || cameras_per_zone == 0) return zones;
  uint64_t count = CeilDiv(cameras, cameras_per_zone);
  uint64_t base = cameras / count;
  uint64_t larger = cameras % count;  // this many zones take one camera more
  for (uint64_t i = 0; i < count; ++i) {
    zones.push_back(
        {.id = absl::StrCat("zone-", i + 1), .cameras = base + (i < larger ? 1 : 0), .capacity_per_server = {}});
  }
  return zones;
}

absl::StatusOr<CapacityPlan> ComputePlan(const PlanOptions& options, const BenchResult& bench,
                                         const std::vector<ZoneDemand>& zones) {
  CapacityPlan plan;
  plan.options = options;
  ASSIGN_OR_RETURN(plan.capacity, DeriveServerCapacity(options, bench));
  if (zones.empty()) return absl::InvalidArgumentError("no zones to plan");
  const StoreSettings& store = options.store;
  double seal_bytes = static_cast<double>(store.seal_bytes);
  double min_seals_per_s = 1000 / store.seal_age_ms;
  plan.index = ModelIndexWrites(store.index_interval_s);

  for (const ZoneDemand& demand : zones) {
    ZonePlan z;
    z.id = demand.id;
    z.cameras = demand.cameras;
    z.capacity_per_server = plan.capacity.cameras;
    z.bound = plan.capacity.bound;
    if (demand.capacity_per_server) {
      if (*demand.capacity_per_server > plan.capacity.cameras) {
        plan.warnings.push_back(absl::StrCat("zone ", z.id, ": the zone map's capacity_per_server ",
                                             *demand.capacity_per_server, " exceeds the ", plan.capacity.cameras,
                                             " cameras the bench supports (", CapacityBoundName(plan.capacity.bound),
                                             "); planned with ", plan.capacity.cameras));
      } else {
        z.capacity_per_server = *demand.capacity_per_server;
        z.bound = CapacityBound::kZoneMapCap;
      }
    }
    z.cameras_per_server_at_target =
        FloorCameras(static_cast<double>(z.capacity_per_server) * options.target_utilisation + 1e-9);
    if (z.cameras_per_server_at_target == 0) {
      return absl::InvalidArgumentError(absl::StrCat("zone ", z.id, ": a server holds ", z.capacity_per_server,
                                                     " cameras, less than one at --target_utilisation ",
                                                     options.target_utilisation));
    }
    HeadroomServers h = ServersForHeadroom(z.cameras, z.cameras_per_server_at_target, options.azs);
    z.servers_all_up = h.all_up;
    z.servers_n_plus_1 = h.n_plus_1;
    z.servers_az_loss = h.az_loss;
    z.servers = std::max({h.all_up, h.n_plus_1, h.az_loss.value_or(0)});
    z.servers_in_largest_az = CeilDiv(z.servers, options.azs);

    double capacity = static_cast<double>(z.capacity_per_server);
    if (z.servers > 0) {
      z.utilisation_all_up = z.cameras / (z.servers * capacity);
      z.utilisation_one_server_lost = z.servers > 1 ? z.cameras / ((z.servers - 1) * capacity) : 0;
      if (options.azs > 1) {
        uint64_t left = z.servers - z.servers_in_largest_az;
        z.utilisation_one_az_lost = left > 0 ? z.cameras / (left * capacity) : 0;
      }
    }

    z.nlb_connections = z.cameras;
    z.ingest_bytes_per_s = z.cameras * plan.capacity.camera_bytes_per_s;
    if (z.servers > 0 && z.cameras > 0) {
      z.bytes_per_s_per_server = z.ingest_bytes_per_s / z.servers;
      z.batch_puts_per_s = z.servers * std::max(z.bytes_per_s_per_server / seal_bytes, min_seals_per_s);
      z.spool_bytes_for_outage = z.bytes_per_s_per_server * options.outage_s;
      z.spool_max_covers_s = static_cast<double>(options.spool_max_bytes) / z.bytes_per_s_per_server;
    }
    z.index_puts_per_s = z.cameras * plan.index.puts_per_camera_hour / 3600;

    plan.cameras += z.cameras;
    plan.servers += z.servers;
    plan.nlb_connections += z.nlb_connections;
    plan.ingest_bytes_per_s += z.ingest_bytes_per_s;
    plan.batch_puts_per_s += z.batch_puts_per_s;
    plan.index_puts_per_s += z.index_puts_per_s;

    if (z.servers_in_largest_az > kTargetsPerAzPerNlb) {
      plan.warnings.push_back(absl::StrCat("zone ", z.id, ": ", z.servers_in_largest_az,
                                           " servers in one AZ exceed the NLB quota of ", kTargetsPerAzPerNlb,
                                           " targets per AZ per load balancer (adjustable)"));
    }
    if (z.servers > kTargetsPerTargetGroup) {
      plan.warnings.push_back(absl::StrCat("zone ", z.id, ": ", z.servers, " servers exceed the quota of ",
                                           kTargetsPerTargetGroup, " targets per target group (adjustable)"));
    }
    plan.zones.push_back(std::move(z));
  }
  // One warning, for the busiest server, rather than one per zone.
  const ZonePlan& worst = *std::max_element(
      plan.zones.begin(), plan.zones.end(),
      [](const ZonePlan& a, const ZonePlan& b) { return a.bytes_per_s_per_server < b.bytes_per_s_per_server; });
  if (worst.cameras > 0 && worst.spool_bytes_for_outage > static_cast<double>(options.spool_max_bytes)) {
    plan.warnings.push_back(absl::StrFormat(
        "spool.max_bytes (%.4g GiB) lasts %.0f s at the busiest server's %.4g MB/s (zone %s); a %.0f s S3 outage "
        "needs %.4g GiB per server: raise spool.max_bytes and the spool volume",
        static_cast<double>(options.spool_max_bytes) / kGiB, worst.spool_max_covers_s,
        worst.bytes_per_s_per_server / 1e6, worst.id, options.outage_s, worst.spool_bytes_for_outage / kGiB));
  }
  plan.puts_per_s = plan.batch_puts_per_s + plan.index_puts_per_s;
  plan.puts_per_camera_hour = plan.cameras > 0 ? plan.puts_per_s * 3600 / plan.cameras : 0;
  plan.monthly_put_cost_usd = plan.puts_per_s * 3600 * store.hours_per_month * store.put_price_per_1000 / 1000;
  plan.largest_zone =
      static_cast<size_t>(std::max_element(plan.zones.begin(), plan.zones.end(),
                                           [](const ZonePlan& a, const ZonePlan& b) { return a.cameras < b.cameras; }) -
                          plan.zones.begin());
  plan.index_intervals = CompareIndexIntervals(plan);

  if (zones.size() > kNlbsPerRegion) {
    plan.warnings.push_back(absl::StrCat(zones.size(), " zones need ", zones.size(),
                                         " NLBs, over the default quota of ", kNlbsPerRegion,
                                         " NLBs per Region (adjustable)"));
  }
  uint64_t table_limit = plan.capacity.descriptor_table_per_shard;
  if (table_limit > options.instance.nofile) {
    plan.warnings.push_back(absl::StrCat("ingestd asks for ", table_limit,
                                         " direct descriptors per shard, more than RLIMIT_NOFILE ",
                                         options.instance.nofile, ": the kernel refuses the table; raise LimitNOFILE"));
  }
  return plan;
}

}  // namespace ingest::zones
