// camera-bench's scenarios end to end against real servers: what each one
// promises to measure is there in the result (a storm's duration, a drain's
// gaps, slow cameras kept out of the latency target), the result document
// is what RESULT_SCHEMA.md says, and a capacity result is what zonectl plan
// reads.
#include <unistd.h>

#include <filesystem>
#include <string>

#include "bench/camera_bench/bench_run.h"
#include "bench/camera_bench/capacity_search.h"
#include "bench/camera_bench/result_json.h"
#include "bench/camera_bench/run_verdict.h"
#include "bench/camera_bench/scenario.h"
#include "bench/camera_bench/spool_disk_probe.h"
#include "common/json_value.h"
#include "gtest/gtest.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/ingestd_process.h"
#include "zones/plan/bench_result.h"

namespace ingest::testing {
namespace {

using bench::BenchParams;
using bench::BenchPlan;
using bench::BenchRun;

// Small and quick: 16 KiB segments every 250 ms.
BenchParams SmallParams(const IngestServer& server, const std::string& state_dir, int cameras) {
  BenchParams p;
  p.targets = {{"127.0.0.1", server.port()}};
  p.admin = HostPort{"127.0.0.1", server.admin_port()};
  p.certs_dir = state_dir + "/dev-certs";
  p.cameras = cameras;
  p.segment_ms = 250;
  p.segment_bytes = 16 * 1024;
  p.duration_s = 2;
  p.connect_rate = 500;
  p.max_duration_s = 60;
  return p;
}

BenchRun MustRun(std::string_view scenario, const BenchParams& params) {
  absl::StatusOr<BenchPlan> plan = bench::MakePlan(scenario, params);
  EXPECT_TRUE(plan.ok()) << plan.status();
  if (!plan.ok()) return {};
  absl::StatusOr<BenchRun> run = bench::RunBench(*plan, {});
  EXPECT_TRUE(run.ok()) << run.status();
  return run.ok() ? *std::move(run) : BenchRun{};
}

TEST(CameraBenchTest, SteadyRunResultHasEverySectionOfTheSchema) {
  TempDir dir;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  BenchRun run = MustRun("steady", SmallParams(*server, dir.path(), 12));
  const bench::RunVerdict verdict = bench::JudgeRun(run, {.ack_p99_ms = 10'000, .spool_disk_mb_per_s = std::nullopt});
  EXPECT_TRUE(verdict.ok) << verdict.why;
  EXPECT_TRUE(run.total.all_acked);
  EXPECT_EQ(run.connected_peak, 12);
  ASSERT_TRUE(run.ramp.has_value());
  EXPECT_FALSE(run.series.empty());
  EXPECT_FALSE(run.server.version.empty()) << "from /status";

  absl::StatusOr<JsonValue> doc = ParseJson(bench::RunResultJson(run, verdict, "camera-bench run steady"));
  ASSERT_TRUE(doc.ok()) << doc.status();
  for (const char* member : {"tool", "schema_version", "kind", "title", "started_at", "command", "parameters",
                             "machine", "server", "summary", "series", "histograms", "verdict"}) {
    EXPECT_NE(doc->Find(member), nullptr) << member;
  }
  EXPECT_EQ(*doc->FindString("kind"), "run");
  const JsonValue& series = *doc->Find("series");
  const size_t seconds = series.Find("t_s")->items().size();
  EXPECT_EQ(seconds, run.series.size());
  for (const auto& [name, column] : series.members()) EXPECT_EQ(column.items().size(), seconds) << name;
  const JsonValue& summary = *doc->Find("summary");
  EXPECT_EQ(summary.Find("segments_acked")->number(), static_cast<double>(run.total.segments_acked));
  EXPECT_TRUE(summary.Find("ack_spooled_ms")->Find("p99")->is_number());
  EXPECT_FALSE(doc->Find("histograms")->Find("ack_spooled_ms")->items().empty());
}

TEST(CameraBenchTest, StormCutsEveryConnectionAndTimesTheReturn) {
  TempDir dir;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  for (bool resume : {true, false}) {
    BenchParams params = SmallParams(*server, dir.path(), 40);
    params.idle = true;
    params.storm = true;
    params.hold_s = 0.5;
    params.connect_rate = 1e6;
    params.max_handshakes = 0;
    params.resume = resume;
    BenchRun run = MustRun("storm", params);
    EXPECT_TRUE(run.storm_completed) << "resume " << resume;
    ASSERT_TRUE(run.storm.has_value());
    EXPECT_GT(*run.storm, absl::ZeroDuration());
    EXPECT_EQ(run.total.reconnects, 40u);
    EXPECT_EQ(run.total.gaps.count(), 40u);
    if (resume) {
      EXPECT_GE(run.total.handshakes_resumed, 40u) << "every reconnect offers its ticket";
    } else {
      EXPECT_EQ(run.total.handshakes_resumed, 0u);
    }
    EXPECT_EQ(run.total.protocol_errors + run.total.connect_failures, 0u);
  }
}

TEST(CameraBenchTest, SlowCamerasAreMeasuredButNotHeldToTheTarget) {
  TempDir dir;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  BenchParams params = SmallParams(*server, dir.path(), 20);
  params.slow_share = 0.5;
  params.read_pause_ms = 300;
  params.send_piece_bytes = 512;
  params.send_piece_ms = 20;  // 25 KB/s: a 16 KiB segment takes 0.65 s to leave
  BenchRun run = MustRun("slow", params);
  EXPECT_TRUE(run.total.all_acked);
  ASSERT_EQ(run.groups.size(), 3u);
  const bench::GroupResult* senders = nullptr;
  for (const bench::GroupResult& group : run.groups) {
    if (group.name == "slow-senders") senders = &group;
  }
  ASSERT_NE(senders, nullptr);
  EXPECT_FALSE(senders->latency_judged);
  // Their pace alone makes every segment take at least 0.64 s to leave (the
  // histogram reads within 6%): a floor, whatever the machine. That the
  // verdict leaves them out is run_verdict_test's, without timing.
  EXPECT_GT(senders->report.ack_spooled.Quantile(0.5), absl::Milliseconds(500));
  for (const bench::GroupResult& group : run.groups) {
    EXPECT_EQ(group.latency_judged, group.name != "slow-readers" && group.name != "slow-senders") << group.name;
    EXPECT_TRUE(group.report.all_acked) << group.name;
  }
}

TEST(CameraBenchTest, DrainMovesCamerasToTheNextServerAndMeasuresTheirGaps) {
  TempDir dir;
  const std::string a_dir = dir.path() + "/a";
  const std::string b_dir = dir.path() + "/b";
  const uint16_t a_port = PickFreePort();
  const uint16_t a_admin = PickFreePort();
  const uint16_t b_port = PickFreePort();
  IngestdProcess a(a_dir, a_port, {absl::StrCat("--admin_listen=127.0.0.1:", a_admin)});
  ASSERT_TRUE(a.Start());
  // Both servers trust the same camera CA: B starts from A's certificates.
  std::filesystem::create_directories(b_dir);
  std::filesystem::copy(a_dir + "/dev-certs", b_dir + "/dev-certs", std::filesystem::copy_options::recursive);
  IngestdProcess b(b_dir, b_port);
  ASSERT_TRUE(b.Start());

  BenchParams params;
  params.targets = {{"127.0.0.1", a_port}, {"127.0.0.1", b_port}};
  params.admin = HostPort{"127.0.0.1", a_admin};
  params.certs_dir = a_dir + "/dev-certs";
  params.cameras = 20;
  params.segment_ms = 250;
  params.segment_bytes = 16 * 1024;
  params.duration_s = 6;
  params.drain_at_s = 1.5;
  params.max_duration_s = 90;
  BenchRun run = MustRun("drain", params);
  EXPECT_TRUE(run.total.all_acked);
  ASSERT_FALSE(run.notes.empty());
  EXPECT_NE(run.notes.front().find("HTTP 202"), std::string::npos) << run.notes.front();
  EXPECT_EQ(run.total.goaways, 10u) << "the cameras that started on A";
  EXPECT_EQ(run.total.gaps.count(), 10u);
  EXPECT_EQ(run.total.open_gaps, 0u) << "every camera found B";
  EXPECT_EQ(run.total.protocol_errors, 0u);
}

TEST(CameraBenchTest, CapacityResultIsWhatZonectlPlanReads) {
  TempDir dir;
  // A real process, so the bench sees its CPU and memory in /proc.
  const uint16_t port = PickFreePort();
  const uint16_t admin = PickFreePort();
  IngestdProcess server(dir.path(), port, {absl::StrCat("--admin_listen=127.0.0.1:", admin)});
  ASSERT_TRUE(server.Start());
  BenchParams base;
  base.targets = {{"127.0.0.1", port}};
  base.admin = HostPort{"127.0.0.1", admin};
  base.certs_dir = dir.path() + "/dev-certs";
  base.segment_ms = 250;
  base.segment_bytes = 16 * 1024;
  base.bitrate_kbps = 524;  // 16 KiB per 250 ms
  base.max_duration_s = 60;
  absl::StatusOr<bench::CapacityResult> result = bench::SearchCapacity(
      {.base = base, .ack_p99_ms = 10'000, .start_cameras = 5, .max_cameras = 10, .step_s = 1.5, .refine_steps = 0,
       .hooks = {}, .spool_disk_mb_per_s = 123.0});
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->answer_cameras, 10);
  EXPECT_EQ(result->binding_resource, "search_limit");
  ASSERT_EQ(result->steps.size(), 2u);
  ASSERT_TRUE(result->answer_run.has_value());
  EXPECT_TRUE(result->answer_run->server.pid.has_value()) << "found by its listening port";
  EXPECT_TRUE(result->answer_run->server_cpu_s.has_value());

  const std::string json = bench::CapacityResultJson(*result, "camera-bench capacity ...");
  absl::StatusOr<zones::BenchResult> plan_input = zones::ParseBenchResult(json, "capacity.json");
  ASSERT_TRUE(plan_input.ok()) << plan_input.status();
  EXPECT_EQ(plan_input->cameras, 10u);
  EXPECT_EQ(plan_input->spool_disk_mb_per_s, 123.0);
  EXPECT_GT(plan_input->server_cpu_cores, 0);

  // A plain run's result has no plan_input: the planner says what it needs.
  absl::StatusOr<zones::BenchResult> from_run =
      zones::ParseBenchResult(bench::RunResultJson(*result->answer_run, result->steps.back().verdict, "x"), "run.json");
  ASSERT_FALSE(from_run.ok());
  EXPECT_NE(from_run.status().message().find("plan_input"), absl::string_view::npos);
}

TEST(CameraBenchTest, PlansSplitTheCamerasExactlyAndRefuseBadParameters) {
  BenchParams p;
  p.targets = {{"127.0.0.1", 7443}};
  p.cameras = 101;
  p.bitrate_mix = "1000:60,4000:20,256:20";
  p.slow_share = 0.1;
  p.idle_share = 0.1;
  absl::StatusOr<BenchPlan> plan = bench::MakePlan("mixed", p);
  ASSERT_TRUE(plan.ok()) << plan.status();
  int total = 0;
  int next = 1;
  for (const bench::CameraGroup& group : plan->groups) {
    EXPECT_EQ(group.fleet.first_camera, next) << group.name;
    next += group.fleet.cameras;
    total += group.fleet.cameras;
  }
  EXPECT_EQ(total, 101);
  EXPECT_EQ(plan->groups.size(), 6u);

  for (auto bad : std::vector<std::function<void(BenchParams&)>>{
           [](BenchParams& q) { q.cameras = 0; },
           [](BenchParams& q) { q.bitrate_mix = "1000"; },
           [](BenchParams& q) { q.bitrate_mix = "1000:-1"; },
           [](BenchParams& q) { q.slow_share = 0.7; q.idle_share = 0.7; },
           [](BenchParams& q) { q.targets.clear(); },
           [](BenchParams& q) { q.wait_for = "sometime"; },
           [](BenchParams& q) { q.connect_rate = 0; },
           [](BenchParams& q) { q.targets = {{"10.0.0.1", 7443}}; },  // off loopback without allow_remote
       }) {
    BenchParams q = p;
    bad(q);
    EXPECT_FALSE(bench::MakePlan("mixed", q).ok());
  }
}

TEST(CameraBenchTest, DiskProbeWritesDurablyAndCleansUp) {
  TempDir dir;
  absl::StatusOr<bench::DiskThroughput> disk = bench::MeasureSpoolDisk(
      dir.path(), {.write_bytes = 64 * 1024,
                   .writes_per_sync = 1,
                   .max_bytes = 4 << 20,
                   .max_time = absl::Seconds(5),
                   .competing_mb_per_s = 0});
  ASSERT_TRUE(disk.ok()) << disk.status();
  EXPECT_GT(disk->mb_per_s, 0);
  EXPECT_GT(disk->writes, 0u);
  EXPECT_GT(disk->commit_p50, absl::ZeroDuration());
  EXPECT_LE(disk->commit_p50, disk->commit_p99);
  EXPECT_LE(disk->commit_p99, disk->commit_max);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "the probe file is gone";
  EXPECT_FALSE(bench::MeasureSpoolDisk(dir.path() + "/missing", {}).ok());
}

TEST(CameraBenchTest, DiskProbeBesideACompetingWriterLeavesNothingBehind) {
  TempDir dir;
  absl::StatusOr<bench::DiskThroughput> disk = bench::MeasureSpoolDisk(
      dir.path(), {.write_bytes = 64 * 1024,
                   .writes_per_sync = 4,
                   .max_bytes = 8 << 20,
                   .max_time = absl::Seconds(5),
                   .competing_mb_per_s = 50});
  ASSERT_TRUE(disk.ok()) << disk.status();
  EXPECT_EQ(disk->writes, 128u);
  EXPECT_LE(disk->commit_p50, disk->commit_max);
  EXPECT_TRUE(std::filesystem::is_empty(dir.path())) << "probe and competing files are gone";
}

}  // namespace
}  // namespace ingest::testing
