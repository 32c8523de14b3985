// The planner's arithmetic against hand-computed cases: the request figures
// docs/storage-layout.md and bench/README.md publish, each capacity bound,
// and the headroom requirements at their boundaries.
#include "zones/plan/capacity_plan.h"

#include <iterator>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ingest::zones {
namespace {

using ::testing::HasSubstr;

BenchResult Bench() {
  BenchResult b;
  b.date = "2026-11-22";
  b.machine = "test";
  b.machine_cores = 2;
  b.commands = {"bench/scripts/ingest_throughput.sh 1000 262144 1000 30"};
  b.cameras = 1000;
  b.bitrate_kbps = 1000;
  b.segment_bytes = 262144;
  b.throughput_mb_per_s = 117.9;
  b.server_cpu_cores = 0.45;
  b.idle_kb_per_camera = 34.2;
  b.closed_loop_mb_per_s = 211;
  b.closed_loop_cpu_cores = 1.0;
  b.upload_cpu_ms_per_put = 34;
  b.upload_put_bytes = 16 << 20;
  return b;
}

PlanOptions Options(uint64_t cameras, double kbps = 1000) {
  PlanOptions o;
  o.cameras = cameras;
  o.mix.entries = {{.kbps = kbps, .share = 1}};
  return o;
}

TEST(CapacityPlanTest, PublishedRequestsAndCostAt180000CamerasOneMbit) {
  PlanOptions o = Options(180'000);
  absl::StatusOr<CapacityPlan> plan = ComputePlan(o, Bench(), EvenZones(o.cameras, o.cameras_per_zone));
  ASSERT_TRUE(plan.ok()) << plan.status();
  // 450 MB per camera-hour / 16 MiB = 26.82 batch PUTs + 7 index PUTs. We
  // published 32.7 and $21,500 per month: 26.7 batch PUTs measured, plus 6
  // index PUTs counted as one per 10 minutes. The sealer writes 7 index
  // objects per camera-hour at 600 s (the write after each hour's end holds
  // two hours), so the planner stands at the measured 26.7 + 7.
  EXPECT_NEAR(plan->puts_per_camera_hour, 26.7 + 7, 33.7 * 0.03);
  EXPECT_NEAR(plan->puts_per_camera_hour, 450e6 / (16 << 20) + 7, 1e-6);
  EXPECT_NEAR(plan->monthly_put_cost_usd, 22'140, 22'140 * 0.03);  // 33.7 x 180,000 x 730 h at $0.005 / 1,000
  EXPECT_NEAR(plan->index_puts_per_s, 180'000 * 7 / 3600.0, 1e-9);
  EXPECT_DOUBLE_EQ(plan->index.puts_per_camera_hour, 7);
  EXPECT_DOUBLE_EQ(plan->ingest_bytes_per_s, 180'000 * 125'000.0);
  EXPECT_EQ(plan->nlb_connections, 180'000u);
  EXPECT_EQ(plan->zones.size(), 14u);  // ceil(180,000 / 13,000)
}

TEST(CapacityPlanTest, OnePutPerSegmentWouldCostWhatWePublished) {
  // docs/storage-layout.md: one PUT per 2 s segment = 1,800 per camera-hour,
  // $1,182,600 a month at 180,000 cameras. The same price arithmetic:
  StoreSettings s;
  double cost = 1800.0 * 180'000 * s.hours_per_month * s.put_price_per_1000 / 1000;
  EXPECT_NEAR(cost, 1'182'600, 1);
}

TEST(CapacityPlanTest, QuietServersSealOnAgeNotSize) {
  // 10 cameras at 1 Mbit/s on one server: 1.25 MB/s fills 16 MiB in 13 s,
  // so the 10 s age seals first: 0.1 batch PUT/s.
  PlanOptions o = Options(10);
  o.azs = 1;
  absl::StatusOr<CapacityPlan> plan = ComputePlan(o, Bench(), {{.id = "z", .cameras = 10, .capacity_per_server = {}}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  ASSERT_EQ(plan->zones[0].servers, 2u);  // N+1
  EXPECT_DOUBLE_EQ(plan->batch_puts_per_s, 2 * 0.1);
}

TEST(CapacityPlanTest, IndexIntervalsOfAnHourOrMoreStillPutTwoObjectsPerCameraHour) {
  // The hour rule writes once an hour, and that write holds two hours.
  PlanOptions o = Options(3600);
  o.store.index_interval_s = 7200;
  absl::StatusOr<CapacityPlan> plan = ComputePlan(o, Bench(), EvenZones(o.cameras, o.cameras_per_zone));
  ASSERT_TRUE(plan.ok()) << plan.status();
  EXPECT_DOUBLE_EQ(plan->index_puts_per_s, 2.0);
}

TEST(CapacityPlanTest, IndexTradeOffPricesEachInterval) {
  struct Case {
    uint32_t planned_s;
    std::vector<uint32_t> rows_s;
  };
  const Case cases[] = {
      {600, {60, 300, 600, 1800, 3600}},
      {900, {60, 300, 600, 900, 1800, 3600}},
      {30, {30, 60, 300, 600, 1800, 3600}},
      {86'400, {60, 300, 600, 1800, 3600, 86'400}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.planned_s);
    // Two zones of different sizes: the table prices the larger.
    PlanOptions o = Options(30'000);
    o.store.index_interval_s = c.planned_s;
    absl::StatusOr<CapacityPlan> plan = ComputePlan(o, Bench(),
                                                    {{.id = "small", .cameras = 10'000, .capacity_per_server = {}},
                                                     {.id = "large", .cameras = 20'000, .capacity_per_server = {}}});
    ASSERT_TRUE(plan.ok()) << plan.status();
    EXPECT_EQ(plan->zones[plan->largest_zone].id, "large");
    ASSERT_EQ(plan->index_intervals.size(), c.rows_s.size());
    const double batch_puts_per_month = plan->batch_puts_per_s * 3600 * 730;
    for (size_t i = 0; i < c.rows_s.size(); ++i) {
      const IndexIntervalCost& row = plan->index_intervals[i];
      const double per_hour = ModelIndexWrites(c.rows_s[i]).puts_per_camera_hour;
      EXPECT_EQ(row.per_camera.interval_s, c.rows_s[i]);
      EXPECT_EQ(row.planned, c.rows_s[i] == c.planned_s);
      EXPECT_DOUBLE_EQ(row.per_camera.puts_per_camera_hour, per_hour);
      EXPECT_DOUBLE_EQ(row.puts_per_camera_month, per_hour * 730);
      EXPECT_DOUBLE_EQ(row.largest_zone_puts_per_month, per_hour * 730 * 20'000);
      EXPECT_DOUBLE_EQ(row.largest_zone_cost_usd_per_month, per_hour * 730 * 20'000 * 0.005 / 1000);
      EXPECT_DOUBLE_EQ(row.puts_per_month, per_hour * 730 * 30'000);
      EXPECT_DOUBLE_EQ(row.cost_usd_per_month, per_hour * 730 * 30'000 * 0.005 / 1000);
      EXPECT_NEAR(row.all_puts_cost_usd_per_month, (batch_puts_per_month + per_hour * 730 * 30'000) * 0.005 / 1000,
                  1e-6);
      if (row.planned) {
        // The planned row is the plan's own index and total request cost.
        EXPECT_NEAR(row.puts_per_month, plan->index_puts_per_s * 3600 * 730, 1e-3);
        EXPECT_NEAR(row.all_puts_cost_usd_per_month, plan->monthly_put_cost_usd, 1e-6);
      }
    }
  }
}

TEST(CapacityPlanTest, IndexTradeOffAtTheDefaultsOfThePublishedPlan) {
  // 180,000 cameras: what docs/zones.md shows, by hand.
  PlanOptions o = Options(180'000);
  absl::StatusOr<CapacityPlan> plan = ComputePlan(o, Bench(), EvenZones(o.cameras, o.cameras_per_zone));
  ASSERT_TRUE(plan.ok()) << plan.status();
  struct Row {
    uint32_t interval_s;
    double puts_per_camera_hour;
    double zone_cost_usd;  // 12,858 cameras
    double cost_usd;       // 180,000 cameras
    double worst_s;
    double typical_s;
  };
  const Row rows[] = {
      {60, 61, 61.0 * 730 * 12'858 * 5e-6, 61.0 * 730 * 180'000 * 5e-6, 60, 30},     // $2,863, $40,077
      {300, 13, 13.0 * 730 * 12'858 * 5e-6, 13.0 * 730 * 180'000 * 5e-6, 300, 150},  // $610, $8,541
      {600, 7, 7.0 * 730 * 12'858 * 5e-6, 7.0 * 730 * 180'000 * 5e-6, 600, 300},     // $329, $4,599
      {1800, 3, 3.0 * 730 * 12'858 * 5e-6, 3.0 * 730 * 180'000 * 5e-6, 1800, 900},   // $141, $1,971
      {3600, 2, 2.0 * 730 * 12'858 * 5e-6, 2.0 * 730 * 180'000 * 5e-6, 3600, 1800},  // $94, $1,314
  };
  ASSERT_EQ(plan->index_intervals.size(), std::size(rows));
  for (size_t i = 0; i < std::size(rows); ++i) {
    SCOPED_TRACE(rows[i].interval_s);
    const IndexIntervalCost& row = plan->index_intervals[i];
    EXPECT_EQ(row.per_camera.interval_s, rows[i].interval_s);
    EXPECT_DOUBLE_EQ(row.per_camera.puts_per_camera_hour, rows[i].puts_per_camera_hour);
    EXPECT_NEAR(row.largest_zone_cost_usd_per_month, rows[i].zone_cost_usd, 1e-6);
    EXPECT_NEAR(row.cost_usd_per_month, rows[i].cost_usd, 1e-6);
    EXPECT_DOUBLE_EQ(row.per_camera.worst_delay_s, rows[i].worst_s);
    EXPECT_DOUBLE_EQ(row.per_camera.typical_delay_s, rows[i].typical_s);
  }
}

TEST(CapacityPlanTest, ServerCapacityBoundsByHand) {
  PlanOptions o = Options(1);
  absl::StatusOr<ServerCapacity> c = DeriveServerCapacity(o, Bench());
  ASSERT_TRUE(c.ok()) << c.status();
  double cores_per_camera = (1.0 / 211 + 0.034 / 16.777216) * 0.125;
  EXPECT_EQ(c->by_cpu, static_cast<uint64_t>(8 / cores_per_camera));
  // 500 MiB/s for a write and a read of 125,000 B/s per camera.
  EXPECT_EQ(c->by_spool_disk, static_cast<uint64_t>(500.0 * 1048576 / 250'000));  // 2,097
  EXPECT_EQ(c->by_network, 5'000u);                                               // 5 Gbit/s = 625 MB/s each way
  // 8 shards x (segment buffers + receive buffers and rings), 4 upload
  // threads x (2 batches + a bounce buffer), the process, the system.
  double reserve = 8 * (256.0 + 18) * 1048576 + 4 * (2 * 16.0 + 1) * 1048576 + 32 * 1048576.0 + 1073741824.0;
  EXPECT_DOUBLE_EQ(c->memory_reserve_bytes, reserve);
  EXPECT_EQ(c->by_memory, static_cast<uint64_t>((16.0 * 1073741824 - reserve) / 34'200));
  // 50,000 / 8 shards = 6,250 + 64 slack per table.
  EXPECT_EQ(c->descriptor_table_per_shard, 6'314u);
  EXPECT_EQ(c->by_connections, 50'000u);
  EXPECT_EQ(c->cameras, 2'097u);
  EXPECT_EQ(c->bound, CapacityBound::kSpoolDisk);
}

TEST(CapacityPlanTest, EachResourceCanBindTheServer) {
  PlanOptions o = Options(1);
  o.instance.spool_disk_mib_per_s = 100'000;
  o.instance.network_gbps = 1'000;
  EXPECT_EQ(DeriveServerCapacity(o, Bench())->bound, CapacityBound::kCpu);
  o.instance.cores = 64;
  // 64 shards x 19 MiB + uploads + process + system leave 3 GiB room for
  // ~20,000 cameras, fewer than the 50,000 connections.
  o.instance.memory_gib = 3;
  o.instance.shard_memory_bytes = 1 << 20;
  EXPECT_EQ(DeriveServerCapacity(o, Bench())->bound, CapacityBound::kMemory);
  o.instance.memory_gib = 512;
  o.instance.network_gbps = 1;
  EXPECT_EQ(DeriveServerCapacity(o, Bench())->bound, CapacityBound::kNetwork);
  o.instance.network_gbps = 1'000;
  o = Options(1, 10);  // 10 kbit/s cameras: connections run out first
  EXPECT_EQ(DeriveServerCapacity(o, Bench())->bound, CapacityBound::kConnections);
  o.instance.nofile = 1'000;  // tables capped at RLIMIT_NOFILE: 8 x 1,000
  absl::StatusOr<ServerCapacity> capped = DeriveServerCapacity(o, Bench());
  EXPECT_EQ(capped->by_connections, 8'000u);
  BenchResult capped_bench = Bench();
  capped_bench.max_cameras_per_server = 500;
  EXPECT_EQ(DeriveServerCapacity(o, capped_bench)->bound, CapacityBound::kBenchCap);
  EXPECT_EQ(DeriveServerCapacity(o, capped_bench)->cameras, 500u);
}

TEST(CapacityPlanTest, HeadroomAtTheBoundaries) {
  // 800 cameras per server at the target.
  HeadroomServers exact = ServersForHeadroom(8'000, 800, 3);
  EXPECT_EQ(exact.all_up, 10u);
  EXPECT_EQ(exact.n_plus_1, 11u);
  EXPECT_EQ(*exact.az_loss, 15u);  // 15 - ceil(15/3) = 10 left; 14 - 5 = 9 would not do
  HeadroomServers one_more = ServersForHeadroom(8'001, 800, 3);
  EXPECT_EQ(one_more.all_up, 11u);
  EXPECT_EQ(one_more.n_plus_1, 12u);
  EXPECT_EQ(*one_more.az_loss, 17u);  // 17 - 6 = 11 left; 16 - 6 = 10 would not do
  HeadroomServers two_azs = ServersForHeadroom(8'000, 800, 2);
  EXPECT_EQ(*two_azs.az_loss, 20u);  // a full copy in each AZ
  HeadroomServers one_az = ServersForHeadroom(8'000, 800, 1);
  EXPECT_FALSE(one_az.az_loss.has_value());
  HeadroomServers tiny = ServersForHeadroom(1, 800, 3);
  EXPECT_EQ(tiny.all_up, 1u);
  EXPECT_EQ(tiny.n_plus_1, 2u);
  EXPECT_EQ(*tiny.az_loss, 2u);  // two servers in two AZs: losing one leaves one
  HeadroomServers none = ServersForHeadroom(0, 800, 3);
  EXPECT_EQ(none.n_plus_1, 0u);
}

TEST(CapacityPlanTest, ZoneTakesTheLargestRequirementAndReportsUtilisation) {
  // A zone-map cap of 1,000 cameras per server at 80 %: 800 per server.
  PlanOptions o = Options(8'000);
  absl::StatusOr<CapacityPlan> plan =
      ComputePlan(o, Bench(), {{.id = "z1", .cameras = 8'000, .capacity_per_server = 1'000}});
  ASSERT_TRUE(plan.ok()) << plan.status();
  const ZonePlan& z = plan->zones[0];
  EXPECT_EQ(z.bound, CapacityBound::kZoneMapCap);
  EXPECT_EQ(z.cameras_per_server_at_target, 800u);
  EXPECT_EQ(z.servers_all_up, 10u);
  EXPECT_EQ(z.servers_n_plus_1, 11u);
  EXPECT_EQ(*z.servers_az_loss, 15u);
  EXPECT_EQ(z.servers, 15u);
  EXPECT_EQ(z.servers_in_largest_az, 5u);
  EXPECT_DOUBLE_EQ(z.utilisation_all_up, 8'000.0 / 15'000);
  EXPECT_DOUBLE_EQ(z.utilisation_one_server_lost, 8'000.0 / 14'000);
  EXPECT_DOUBLE_EQ(*z.utilisation_one_az_lost, 0.8);

  o.azs = 1;
  plan = ComputePlan(o, Bench(), {{.id = "z1", .cameras = 8'000, .capacity_per_server = 1'000}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->zones[0].servers, 11u);  // N+1 alone
  EXPECT_DOUBLE_EQ(plan->zones[0].utilisation_one_server_lost, 0.8);
}

TEST(CapacityPlanTest, ZoneMapPromisingMoreThanTheBenchIsWarnedAndCapped) {
  PlanOptions o = Options(8'000);
  absl::StatusOr<CapacityPlan> plan =
      ComputePlan(o, Bench(), {{.id = "z1", .cameras = 8'000, .capacity_per_server = 20'000}});
  ASSERT_TRUE(plan.ok());
  EXPECT_EQ(plan->zones[0].capacity_per_server, 2'097u);
  ASSERT_FALSE(plan->warnings.empty());
  EXPECT_THAT(plan->warnings[0], HasSubstr("capacity_per_server 20000 exceeds the 2097 cameras"));
}

TEST(CapacityPlanTest, SpoolForAnOutage) {
  PlanOptions o = Options(8'000);
  absl::StatusOr<CapacityPlan> plan =
      ComputePlan(o, Bench(), {{.id = "z1", .cameras = 8'000, .capacity_per_server = 1'000}});
  ASSERT_TRUE(plan.ok());
  const ZonePlan& z = plan->zones[0];
  double per_server = 8'000 * 125'000.0 / 15;
  EXPECT_DOUBLE_EQ(z.bytes_per_s_per_server, per_server);
  EXPECT_DOUBLE_EQ(z.spool_bytes_for_outage, per_server * 3600);
  EXPECT_DOUBLE_EQ(z.spool_max_covers_s, 8.0 * (1 << 30) / per_server);
  bool warned = false;
  for (const std::string& w : plan->warnings) warned |= w.find("spool.max_bytes") != std::string::npos;
  EXPECT_TRUE(warned);
}

TEST(CapacityPlanTest, EvenZonesSpreadCamerasWithinOne) {
  std::vector<ZoneDemand> zones = EvenZones(180'000, 13'000);
  ASSERT_EQ(zones.size(), 14u);
  uint64_t sum = 0;
  for (const ZoneDemand& z : zones) {
    sum += z.cameras;
    EXPECT_TRUE(z.cameras == 12'857 || z.cameras == 12'858) << z.cameras;
  }
  EXPECT_EQ(sum, 180'000u);
  EXPECT_EQ(EvenZones(13'000, 13'000).size(), 1u);
  EXPECT_EQ(EvenZones(13'001, 13'000).size(), 2u);
}

TEST(CapacityPlanTest, QuotaWarnings) {
  PlanOptions o = Options(51 * 100);
  o.cameras_per_zone = 100;
  absl::StatusOr<CapacityPlan> plan = ComputePlan(o, Bench(), EvenZones(o.cameras, o.cameras_per_zone));
  ASSERT_TRUE(plan.ok());
  bool nlbs = false;
  for (const std::string& w : plan->warnings) nlbs |= w.find("50 NLBs per Region") != std::string::npos;
  EXPECT_TRUE(nlbs);

  PlanOptions big = Options(2'000'000);
  big.cameras_per_zone = 2'000'000;
  plan = ComputePlan(big, Bench(), EvenZones(big.cameras, big.cameras_per_zone));
  ASSERT_TRUE(plan.ok());
  bool targets = false;
  for (const std::string& w : plan->warnings) targets |= w.find("targets per AZ") != std::string::npos;
  EXPECT_TRUE(targets);
}

TEST(CapacityPlanTest, OptionsOutOfRangeNameTheFlag) {
  struct Case {
    void (*change)(PlanOptions*);
    const char* error;
  };
  const Case cases[] = {
      {[](PlanOptions* o) { o->cameras = 0; }, "--cameras must be in [1, 1000000000]"},
      {[](PlanOptions* o) { o->mix.entries.clear(); }, "--bitrate_mix is empty"},
      {[](PlanOptions* o) { o->cameras_per_zone = 0; }, "--cameras_per_zone must be at least 1"},
      {[](PlanOptions* o) { o->instance.cores = 0.5; }, "--instance_cores must be at least 1"},
      {[](PlanOptions* o) { o->instance.cores = -8; }, "--instance_cores must be in (0, 1024]"},
      {[](PlanOptions* o) { o->instance.memory_gib = 0; }, "--instance_memory_gib must be in"},
      {[](PlanOptions* o) { o->instance.network_gbps = -1; }, "--instance_network_gbps must be in"},
      {[](PlanOptions* o) { o->instance.spool_disk_mib_per_s = 0; }, "--spool_disk_mib_per_s must be in"},
      {[](PlanOptions* o) { o->instance.max_connections = 0; }, "--max_connections must be at least 1"},
      {[](PlanOptions* o) { o->instance.nofile = 0; }, "--nofile must be at least 1"},
      {[](PlanOptions* o) { o->store.seal_bytes = 1000; }, "--seal_bytes must be in [1 MiB, 5 GiB]"},
      {[](PlanOptions* o) { o->store.seal_age_ms = 0; }, "--seal_age_ms must be in"},
      {[](PlanOptions* o) { o->store.index_interval_s = 0; }, "--index_interval_s must be in [1, 86400] s"},
      {[](PlanOptions* o) { o->store.index_interval_s = 86'401; }, "--index_interval_s must be in [1, 86400] s"},
      {[](PlanOptions* o) { o->store.upload_threads = 0; }, "--upload_threads must be at least 1"},
      {[](PlanOptions* o) { o->store.put_price_per_1000 = -0.005; }, "--put_price_per_1000 must be in [0, 1000]"},
      {[](PlanOptions* o) { o->store.hours_per_month = 1000; }, "--hours_per_month must be in (0, 744]"},
      {[](PlanOptions* o) { o->target_utilisation = 1.5; }, "--target_utilisation must be in (0, 1]"},
      {[](PlanOptions* o) { o->target_utilisation = 0; }, "--target_utilisation must be in (0, 1]"},
      {[](PlanOptions* o) { o->azs = 0; }, "--azs must be in [1, 32]"},
      {[](PlanOptions* o) { o->outage_s = -1; }, "--outage_s must be in [0, 2592000]"},
      {[](PlanOptions* o) { o->spool_max_bytes = 0; }, "--spool_max_bytes must be at least 1"},
  };
  for (const Case& c : cases) {
    PlanOptions o = Options(1000);
    c.change(&o);
    absl::Status status = ValidatePlanOptions(o);
    EXPECT_THAT(std::string(status.message()), HasSubstr(c.error));
  }
  PlanOptions small = Options(1000);
  small.instance.memory_gib = 2;  // less than the 3.3 GiB fixed reserve
  absl::StatusOr<ServerCapacity> c = DeriveServerCapacity(small, Bench());
  ASSERT_FALSE(c.ok());
  EXPECT_THAT(std::string(c.status().message()), HasSubstr("leaves nothing for cameras"));
}

}  // namespace
}  // namespace ingest::zones
