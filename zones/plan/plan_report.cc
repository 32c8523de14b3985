#include "zones/plan/plan_report.h"

#include <cmath>
#include <optional>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/json_string.h"

namespace ingest::zones {
namespace {

constexpr double kMiB = 1 << 20;
constexpr double kGiB = 1 << 30;
// AWS documentation, Network Load Balancers: quotas (Service Quotas) and the
// listener's TCP idle timeout (default 350 s, settable 60..6000 s).
constexpr char kNlbQuotas[] =
    "AWS quotas that apply (all adjustable): 50 NLBs per Region, 500 targets per AZ per NLB, 3,000 targets per "
    "NLB, 1,000 targets per target group. The published NLB quotas count load balancers and targets, not "
    "connections.";
constexpr char kNlbIdle[] =
    "An NLB closes a TCP flow idle for 350 s (the default); cameras send PING every 15 s "
    "(protocol.keepalive_interval_ms), well inside it.";

std::string Count(double n) { return FormatCount(static_cast<uint64_t>(std::llround(n))); }

std::string Percent(double fraction) { return absl::StrFormat("%.0f%%", fraction * 100); }

// Three significant digits, or whole and grouped from 100 up.
std::string Amount(double v) { return v >= 100 ? Count(v) : absl::StrFormat("%.3g", v); }

std::string Mb(double bytes_per_s) { return Amount(bytes_per_s / 1e6); }

std::string Gib(double bytes) { return Amount(bytes / kGiB); }

std::string Duration(double s) {
  if (s >= 3600) return absl::StrFormat("%.3g h", s / 3600);
  if (s >= 60) return absl::StrFormat("%.3g min", s / 60);
  return absl::StrFormat("%.3g s", s);
}

// Request counts: whole and grouped, in millions from ten million up.
std::string Requests(double n) { return n >= 1e7 ? absl::StrCat(Amount(n / 1e6), "M") : Count(n); }

std::string Dollars(double usd) { return absl::StrCat("$", usd >= 10 ? Count(usd) : absl::StrFormat("%.3g", usd)); }

// The index freshness/cost table: how soon a persisted segment can be found
// by time range against the index PUTs that buys, per interval.
void WriteIndexTradeOff(const CapacityPlan& plan, std::ostream& out) {
  const StoreSettings& store = plan.options.store;
  const ZonePlan& zone = plan.zones[plan.largest_zone];
  const std::string grace = Duration(kIndexHourGraceS);
  out << "Index: how soon a persisted segment can be found by time range, and what that costs\n"
      << "  ACK PERSISTED means the segment is in a batch object; ranges and export find it only through its "
         "camera's\n"
      << "  index objects. A camera's new entries are written once the oldest has waited store.index_interval_s, "
         "or\n"
      << "  " << grace
      << " after the capture hour it belongs to ended, whichever comes first (and at drain or shutdown). Each\n"
      << "  write puts one new object per capture hour it touches, holding only the entries since the camera's "
         "last\n"
      << "  write (nothing is rewritten); a camera with no new segments writes nothing.\n";
  // Columns in five groups: PUTs per camera, PUTs per month, their cost,
  // the cost of every PUT, and the wait.
  constexpr absl::string_view row_format = "  %1s %7s  %7s %10s  %8s %10s  %8s %10s  %10s  %9s %9s\n";
  out << absl::StrFormat("  %9s  %18s  %19s  %19s  %10s  %19s\n", "", "index PUT per", "index PUT per month",
                         "index $ per month", "all PUT $", "findable after ACK");
  out << absl::StrFormat(row_format, "", "interval", "cam-h", "cam-month", "zone", "all zones", "zone", "all zones",
                         "per month", "worst", "typical");
  for (const IndexIntervalCost& row : plan.index_intervals) {
    const IndexFreshness& f = row.per_camera;
    out << absl::StrFormat(row_format, row.planned ? "*" : "", absl::StrCat(f.interval_s, " s"),
                           absl::StrFormat("%.1f", f.puts_per_camera_hour), Count(row.puts_per_camera_month),
                           Requests(row.largest_zone_puts_per_month), Requests(row.puts_per_month),
                           Dollars(row.largest_zone_cost_usd_per_month), Dollars(row.cost_usd_per_month),
                           Dollars(row.all_puts_cost_usd_per_month), Duration(f.worst_delay_s),
                           Duration(f.typical_delay_s));
  }
  out << "  * planned (--index_interval_s). zone: " << zone.id << ", the largest (" << FormatCount(zone.cameras)
      << " cameras). $" << absl::StrFormat("%g", store.put_price_per_1000) << " per 1,000 PUT, "
      << absl::StrFormat("%g", store.hours_per_month) << " h a month.\n"
      << "  worst: the longest wait from ACK PERSISTED until the index object is written; typical: the mean over "
         "segments;\n"
      << "  add up to " << absl::StrFormat("%g", kSealerPassS)
      << " s for the sealer's next pass and the index PUT's own latency. Reading one camera-hour back takes\n"
      << "  1 LIST and one GET per index object (the PUTs per camera-hour).\n"
      << "  Model: every camera records without pause; a segment is ACKed PERSISTED about "
      << absl::StrFormat("%g", kAssumedPersistLagS) << " s after its capture\n"
      << "  starts. Each hour's end falls inside one write, which puts two objects, so a camera-hour costs one "
         "PUT\n"
      << "  more than it has writes. Counts are an upper bound: the server starts each interval when the previous\n"
      << "  write returns, or with the next segment persisted after that, so its windows run slightly longer (a few\n"
      << "  per cent fewer PUTs at 60 s). A camera that sends one segment and stops waits the full interval, or\n"
      << "  until " << grace << " after its hour ends. Failed and retried PUTs and restarts are not counted.\n\n";
}

// Consecutive zones with the same figures print as one row.
struct ZoneRow {
  const ZonePlan* first;
  const ZonePlan* last;
  size_t count;
};

bool SameRow(const ZonePlan& a, const ZonePlan& b) {
  return a.cameras == b.cameras && a.servers == b.servers && a.capacity_per_server == b.capacity_per_server &&
         a.servers_all_up == b.servers_all_up && a.servers_az_loss == b.servers_az_loss;
}

std::vector<ZoneRow> GroupZones(const std::vector<ZonePlan>& zones) {
  std::vector<ZoneRow> rows;
  for (const ZonePlan& z : zones) {
    if (!rows.empty() && SameRow(*rows.back().last, z)) {
      rows.back().last = &z;
      ++rows.back().count;
    } else {
      rows.push_back({&z, &z, 1});
    }
  }
  return rows;
}

std::string RowName(const ZoneRow& row) {
  if (row.count == 1) return row.first->id;
  if (row.count == 2) return absl::StrCat(row.first->id, ", ", row.last->id);
  return absl::StrCat(row.first->id, " .. ", row.last->id, " (", row.count, ")");
}

std::string JsonNumber(double v) {
  if (!std::isfinite(v)) return "null";
  if (v == std::floor(v) && std::fabs(v) < 1e15) return absl::StrFormat("%.0f", v);
  return absl::StrFormat("%.10g", v);
}

std::string JsonOptional(const std::optional<uint64_t>& v) { return v ? absl::StrCat(*v) : "null"; }
std::string JsonOptional(const std::optional<double>& v) { return v ? JsonNumber(*v) : "null"; }

}  // namespace

std::string FormatCount(uint64_t n) {
  std::string digits = absl::StrCat(n);
  std::string out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out.push_back(',');
    out.push_back(digits[i]);
  }
  return out;
}

void WritePlanText(const CapacityPlan& plan, const PlanSources& sources, std::ostream& out) {
  const PlanOptions& o = plan.options;
  const ServerCapacity& c = plan.capacity;
  const InstanceSpec& inst = o.instance;
  const StoreSettings& store = o.store;
  const BenchResult* bench = sources.bench;

  out << "Capacity plan: " << FormatCount(plan.cameras) << " cameras, bitrate mix " << o.mix.ToString() << " (mean "
      << Amount(o.mix.MeanKbps()) << " kbit/s = " << Mb(c.camera_bytes_per_s) << " MB/s per camera)\n\n";

  out << "Per-server capacity, on a server of " << absl::StrFormat("%g", inst.cores) << " vCPUs, "
      << absl::StrFormat("%g", inst.memory_gib) << " GiB, " << absl::StrFormat("%g", inst.network_gbps)
      << " Gbit/s each way and a " << absl::StrFormat("%.4g", inst.spool_disk_mib_per_s) << " MiB/s spool disk;\n";
  if (sources.spool_disk_measured) {
    out << "  assumed, not measured: vCPUs, memory, network (--instance_cores, --instance_memory_gib,\n"
           "  --instance_network_gbps); measured by the bench: the spool disk (fdatasync'd writes; "
           "--spool_disk_mib_per_s overrides);\n";
  } else {
    out << "  assumed, not measured: vCPUs, memory, network, spool disk (--instance_cores, --instance_memory_gib,\n"
           "  --instance_network_gbps, --spool_disk_mib_per_s; `camera-bench disk` measures a spool volume);\n";
  }
  out << "  one core of the bench machine counted as one vCPU.\n";
  if (bench != nullptr) {
    out << "  bench: " << sources.bench_path << ", measured " << bench->date << " on " << bench->machine << "\n";
  }
  double open_loop = bench != nullptr ? bench->server_cpu_cores / bench->throughput_mb_per_s : 0;
  std::string ingest_from = absl::StrFormat("%.3g cores per MB/s ingested", c.ingest_cores_per_mb_s);
  if (bench != nullptr && bench->closed_loop_mb_per_s) {
    double closed = *bench->closed_loop_cpu_cores / *bench->closed_loop_mb_per_s;
    ingest_from = absl::StrFormat(
        "%.3g cores per MB/s ingested (the worse of %.3g at %g cameras x %g kbit/s and %.3g "
        "closed loop)",
        c.ingest_cores_per_mb_s, open_loop, static_cast<double>(bench->cameras), bench->bitrate_kbps, closed);
  }
  std::string upload_from = c.upload_cores_per_mb_s > 0 ? absl::StrFormat(" + %.3g uploaded", c.upload_cores_per_mb_s)
                                                        : std::string(" (upload CPU not measured)");
  auto line = [&](std::string_view what, uint64_t cameras, const std::string& why) {
    out << absl::StrFormat("  %-12s %12s  %s\n", what, FormatCount(cameras), why);
  };
  out << absl::StrFormat("  %-12s %12s  %s\n", "resource", "cameras", "from");
  line("CPU", c.by_cpu, absl::StrCat(ingest_from, upload_from));
  line("memory", c.by_memory,
       absl::StrFormat("%.3g KB per camera after %s GiB reserved (%u shards x %g MiB buffers, %u uploads x (2 x %g + 1) "
                       "MiB, 32 MiB process, %s GiB system)",
                       c.memory_per_camera_bytes / 1000, Gib(c.memory_reserve_bytes), c.shards,
                       (static_cast<double>(inst.shard_memory_bytes) + 18 * kMiB) / kMiB, store.upload_threads,
                       static_cast<double>(store.seal_bytes) / kMiB,
                       Gib(static_cast<double>(inst.system_memory_bytes))));
  line("network", c.by_network, "camera bytes come in, the same bytes go out to S3; each direction has the bandwidth");
  line("spool disk", c.by_spool_disk, "every byte is written to the spool once and read back once");
  line("connections", c.by_connections,
       absl::StrCat("server.max_connections ", FormatCount(inst.max_connections),
                    "; cameras are io_uring direct "
                    "descriptors: ",
                    c.shards, " shards x ", FormatCount(std::min(c.descriptor_table_per_shard, inst.nofile)),
                    " (a table may not exceed RLIMIT_NOFILE, LimitNOFILE ", FormatCount(inst.nofile), ")"));
  if (c.by_bench_cap) line("bench cap", *c.by_bench_cap, "max_cameras_per_server in the bench result");
  out << "  => " << FormatCount(c.cameras) << " cameras per server, bound by " << CapacityBoundName(c.bound) << "\n\n";

  out << "Zones: " << plan.zones.size() << " (" << sources.zones_from << ")\n";
  out << "  Servers per zone: the most of three requirements, each keeping every server at or under "
      << Percent(o.target_utilisation) << " of its capacity (--target_utilisation):\n"
      << "  all servers up; one server lost (N+1); "
      << (o.azs == 1 ? std::string("no AZ requirement: --azs 1 puts a zone in one availability zone, so losing it "
                                   "loses the zone and its cameras need room in other zones.\n")
                     : absl::StrCat("one of ", o.azs, " availability zones lost (--azs; servers spread evenly).\n"));
  out << absl::StrFormat("  %-28s %9s %9s %7s %5s %8s %8s  %s\n", "zone", "cameras", "cap/srv", "all up", "N+1",
                         "AZ loss", "servers", "utilisation: all up / 1 lost / AZ lost");
  for (const ZoneRow& row : GroupZones(plan.zones)) {
    const ZonePlan& z = *row.first;
    std::string az = z.servers_az_loss ? FormatCount(*z.servers_az_loss) : "n/a";
    std::string util = absl::StrCat(Percent(z.utilisation_all_up), " / ", Percent(z.utilisation_one_server_lost), " / ",
                                    z.utilisation_one_az_lost ? Percent(*z.utilisation_one_az_lost) : "n/a");
    out << absl::StrFormat("  %-28s %9s %9s %7s %5s %8s %8s  %s\n", RowName(row), FormatCount(z.cameras),
                           FormatCount(z.capacity_per_server), FormatCount(z.servers_all_up),
                           FormatCount(z.servers_n_plus_1), az, FormatCount(z.servers), util);
  }
  out << "  Servers in total: " << FormatCount(plan.servers) << "\n\n";

  const ZonePlan& largest = plan.zones[plan.largest_zone];
  out << "Load balancers: one NLB per zone (TCP, TLS passes through): " << FormatCount(plan.zones.size()) << " NLBs; "
      << FormatCount(largest.nlb_connections) << " camera connections in the largest zone, "
      << FormatCount(plan.nlb_connections) << " in total (plus a reconnect wave while servers drain).\n"
      << "  " << kNlbQuotas << "\n  " << kNlbIdle << "\n\n";

  out << "S3 requests: " << Count(plan.puts_per_s) << " PUT/s = " << Count(plan.batch_puts_per_s) << " batch (one per "
      << absl::StrFormat("%g", static_cast<double>(store.seal_bytes) / kMiB) << " MiB or "
      << absl::StrFormat("%g", store.seal_age_ms / 1000) << " s per server, whichever first) + "
      << Count(plan.index_puts_per_s) << " index (" << absl::StrFormat("%.1f", plan.index.puts_per_camera_hour)
      << " per camera-hour at store.index_interval_s " << store.index_interval_s << " s; see Index below)\n"
      << "  " << absl::StrFormat("%.1f", plan.puts_per_camera_hour) << " PUT per camera-hour; $"
      << Count(plan.monthly_put_cost_usd) << " per month at $" << absl::StrFormat("%g", store.put_price_per_1000)
      << " per 1,000 PUT and " << absl::StrFormat("%g", store.hours_per_month)
      << " h (requests only: no storage, GET, LIST or transfer)\n\n";

  WriteIndexTradeOff(plan, out);

  out << "Upload to S3: " << Mb(plan.ingest_bytes_per_s) << " MB/s in total ("
      << absl::StrFormat("%.3g", plan.ingest_bytes_per_s * 8 / 1e9) << " Gbit/s); " << Mb(largest.ingest_bytes_per_s)
      << " MB/s from the largest zone, " << Mb(largest.bytes_per_s_per_server) << " MB/s per server\n";
  out << "Spool for a " << Duration(o.outage_s) << " S3 outage: " << Gib(largest.spool_bytes_for_outage)
      << " GiB per server (" << Mb(largest.bytes_per_s_per_server) << " MB/s x " << absl::StrFormat("%g", o.outage_s)
      << " s); spool.max_bytes " << Gib(static_cast<double>(o.spool_max_bytes)) << " GiB lasts "
      << Duration(largest.spool_max_covers_s) << "\n";

  if (!plan.warnings.empty()) {
    out << "\nWarnings:\n";
    for (const std::string& w : plan.warnings) out << "  - " << w << "\n";
  }
}

void WritePlanJson(const CapacityPlan& plan, const PlanSources& sources, std::ostream& out) {
  const PlanOptions& o = plan.options;
  const ServerCapacity& c = plan.capacity;
  const InstanceSpec& inst = o.instance;
  const StoreSettings& store = o.store;
  out << "{\n";
  out << "  \"cameras\": " << plan.cameras << ",\n";
  out << "  \"bitrate_mix\": " << JsonString(o.mix.ToString()) << ",\n";
  out << "  \"mean_kbps\": " << JsonNumber(o.mix.MeanKbps()) << ",\n";
  out << "  \"camera_bytes_per_s\": " << JsonNumber(c.camera_bytes_per_s) << ",\n";
  out << "  \"assumptions\": {\"instance_cores\": " << JsonNumber(inst.cores)
      << ", \"instance_memory_gib\": " << JsonNumber(inst.memory_gib)
      << ", \"instance_network_gbps\": " << JsonNumber(inst.network_gbps);
  if (!sources.spool_disk_measured) out << ", \"spool_disk_mib_per_s\": " << JsonNumber(inst.spool_disk_mib_per_s);
  out << ", \"max_connections\": " << inst.max_connections << ", \"nofile\": " << inst.nofile
      << ", \"shard_memory_bytes\": " << inst.shard_memory_bytes << ", \"seal_bytes\": " << store.seal_bytes
      << ", \"seal_age_ms\": " << JsonNumber(store.seal_age_ms) << ", \"index_interval_s\": " << store.index_interval_s
      << ", \"upload_threads\": " << store.upload_threads
      << ", \"put_price_per_1000\": " << JsonNumber(store.put_price_per_1000)
      << ", \"hours_per_month\": " << JsonNumber(store.hours_per_month)
      << ", \"target_utilisation\": " << JsonNumber(o.target_utilisation) << ", \"azs\": " << o.azs
      << ", \"outage_s\": " << JsonNumber(o.outage_s) << ", \"spool_max_bytes\": " << o.spool_max_bytes
      << ", \"cameras_per_zone\": " << o.cameras_per_zone << ", \"zones_from\": " << JsonString(sources.zones_from)
      << "},\n";
  if (sources.spool_disk_measured) {
    out << "  \"measured\": {\"spool_disk_mib_per_s\": " << JsonNumber(inst.spool_disk_mib_per_s)
        << ", \"from\": " << JsonString(sources.bench_path) << "},\n";
  }
  if (sources.bench != nullptr) {
    out << "  \"bench\": {\"file\": " << JsonString(sources.bench_path)
        << ", \"date\": " << JsonString(sources.bench->date) << ", \"machine\": " << JsonString(sources.bench->machine)
        << "},\n";
  }
  out << "  \"server_capacity\": {\"cameras\": " << c.cameras
      << ", \"bound\": " << JsonString(CapacityBoundName(c.bound)) << ", \"by_cpu\": " << c.by_cpu
      << ", \"by_memory\": " << c.by_memory << ", \"by_network\": " << c.by_network
      << ", \"by_spool_disk\": " << c.by_spool_disk << ", \"by_connections\": " << c.by_connections
      << ", \"by_bench_cap\": " << JsonOptional(c.by_bench_cap)
      << ", \"ingest_cores_per_mb_s\": " << JsonNumber(c.ingest_cores_per_mb_s)
      << ", \"upload_cores_per_mb_s\": " << JsonNumber(c.upload_cores_per_mb_s) << ", \"shards\": " << c.shards
      << ", \"memory_per_camera_bytes\": " << JsonNumber(c.memory_per_camera_bytes)
      << ", \"memory_reserve_bytes\": " << JsonNumber(c.memory_reserve_bytes)
      << ", \"descriptor_table_per_shard\": " << c.descriptor_table_per_shard << "},\n";
  out << "  \"zones\": [";
  for (size_t i = 0; i < plan.zones.size(); ++i) {
    const ZonePlan& z = plan.zones[i];
    out << (i == 0 ? "\n" : ",\n") << "    {\"id\": " << JsonString(z.id) << ", \"cameras\": " << z.cameras
        << ", \"capacity_per_server\": " << z.capacity_per_server
        << ", \"bound\": " << JsonString(CapacityBoundName(z.bound))
        << ", \"cameras_per_server_at_target\": " << z.cameras_per_server_at_target
        << ", \"servers_all_up\": " << z.servers_all_up << ", \"servers_n_plus_1\": " << z.servers_n_plus_1
        << ", \"servers_az_loss\": " << JsonOptional(z.servers_az_loss) << ", \"servers\": " << z.servers
        << ", \"servers_in_largest_az\": " << z.servers_in_largest_az
        << ", \"utilisation_all_up\": " << JsonNumber(z.utilisation_all_up)
        << ", \"utilisation_one_server_lost\": " << JsonNumber(z.utilisation_one_server_lost)
        << ", \"utilisation_one_az_lost\": " << JsonOptional(z.utilisation_one_az_lost)
        << ", \"nlb_connections\": " << z.nlb_connections
        << ", \"ingest_bytes_per_s\": " << JsonNumber(z.ingest_bytes_per_s)
        << ", \"bytes_per_s_per_server\": " << JsonNumber(z.bytes_per_s_per_server)
        << ", \"batch_puts_per_s\": " << JsonNumber(z.batch_puts_per_s)
        << ", \"index_puts_per_s\": " << JsonNumber(z.index_puts_per_s)
        << ", \"spool_bytes_for_outage\": " << JsonNumber(z.spool_bytes_for_outage)
        << ", \"spool_max_covers_s\": " << JsonNumber(z.spool_max_covers_s) << "}";
  }
  out << "\n  ],\n";
  out << "  \"totals\": {\"zones\": " << plan.zones.size() << ", \"servers\": " << plan.servers
      << ", \"nlbs\": " << plan.zones.size() << ", \"nlb_connections\": " << plan.nlb_connections
      << ", \"upload_bytes_per_s\": " << JsonNumber(plan.ingest_bytes_per_s)
      << ", \"batch_puts_per_s\": " << JsonNumber(plan.batch_puts_per_s)
      << ", \"index_puts_per_s\": " << JsonNumber(plan.index_puts_per_s)
      << ", \"puts_per_s\": " << JsonNumber(plan.puts_per_s)
      << ", \"puts_per_camera_hour\": " << JsonNumber(plan.puts_per_camera_hour)
      << ", \"index_puts_per_camera_hour\": " << JsonNumber(plan.index.puts_per_camera_hour)
      << ", \"monthly_put_cost_usd\": " << JsonNumber(plan.monthly_put_cost_usd) << "},\n";
  const ZonePlan& zone = plan.zones[plan.largest_zone];
  out << "  \"index\": {\"planned_interval_s\": " << store.index_interval_s
      << ", \"hour_grace_s\": " << JsonNumber(kIndexHourGraceS) << ", \"sealer_pass_s\": " << JsonNumber(kSealerPassS)
      << ", \"assumed_persist_lag_s\": " << JsonNumber(kAssumedPersistLagS) << ", \"zone\": " << JsonString(zone.id)
      << ", \"zone_cameras\": " << zone.cameras << ", \"intervals\": [";
  for (size_t i = 0; i < plan.index_intervals.size(); ++i) {
    const IndexIntervalCost& row = plan.index_intervals[i];
    const IndexFreshness& f = row.per_camera;
    out << (i == 0 ? "\n" : ",\n") << "    {\"interval_s\": " << f.interval_s
        << ", \"planned\": " << (row.planned ? "true" : "false")
        << ", \"writes_per_camera_hour\": " << JsonNumber(f.writes_per_camera_hour)
        << ", \"puts_per_camera_hour\": " << JsonNumber(f.puts_per_camera_hour)
        << ", \"puts_per_camera_month\": " << JsonNumber(row.puts_per_camera_month)
        << ", \"zone_puts_per_month\": " << JsonNumber(row.largest_zone_puts_per_month)
        << ", \"zone_cost_usd_per_month\": " << JsonNumber(row.largest_zone_cost_usd_per_month)
        << ", \"puts_per_month\": " << JsonNumber(row.puts_per_month)
        << ", \"cost_usd_per_month\": " << JsonNumber(row.cost_usd_per_month)
        << ", \"all_puts_cost_usd_per_month\": " << JsonNumber(row.all_puts_cost_usd_per_month)
        << ", \"worst_delay_s\": " << JsonNumber(f.worst_delay_s)
        << ", \"typical_delay_s\": " << JsonNumber(f.typical_delay_s) << "}";
  }
  out << "\n  ]},\n";
  out << "  \"warnings\": [";
  for (size_t i = 0; i < plan.warnings.size(); ++i) out << (i == 0 ? "" : ", ") << JsonString(plan.warnings[i]);
  out << "]\n}\n";
}

}  // namespace ingest::zones
