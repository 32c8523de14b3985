// `zonectl plan` end to end through its entry points: exit codes, the table
// and the JSON for good flags, and a clear message for every bad one.
#include "tests/support/build_paths.h"
#include "zones/plan/plan_command.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "common/json_value.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"
#include "zones/plan/plan_cli.h"

namespace ingest::zones {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string BenchPath() {
  return (std::filesystem::path(ingest::testing::SourceDir()) / "bench/results/ingest-2026-11-22.json")
      .lexically_normal()
      .string();
}

struct PlanRun {
  int code;
  std::string out;
  std::string err;
};

PlanRun Plan(std::vector<std::string> flags) {
  flags.insert(flags.begin(), "plan");
  std::ostringstream out, err;
  int code = RunPlan(flags, out, err);
  return {code, out.str(), err.str()};
}

TEST(PlanCommandTest, PrintsThePlanWithItsAssumptions) {
  PlanRun r = Plan({"--cameras", "180000", "--bench", BenchPath()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_THAT(r.out, HasSubstr("Capacity plan: 180,000 cameras, bitrate mix 1000:1"));
  EXPECT_THAT(r.out, HasSubstr("8 vCPUs, 16 GiB"));
  EXPECT_THAT(r.out, HasSubstr("=> 2,097 cameras per server, bound by spool disk"));
  EXPECT_THAT(r.out, HasSubstr("Zones: 14"));
  EXPECT_THAT(r.out, HasSubstr("Servers in total: 168"));
  EXPECT_THAT(r.out, HasSubstr("+ 350 index (7.0 per camera-hour at store.index_interval_s 600 s"));
  EXPECT_THAT(r.out, HasSubstr("33.8 PUT per camera-hour; $22,221 per month"));
  EXPECT_THAT(r.out, HasSubstr("500 targets per AZ per NLB"));
  EXPECT_THAT(r.out, HasSubstr("io_uring direct descriptors"));
  EXPECT_THAT(r.out, HasSubstr("Spool for a 1 h S3 outage"));
}

TEST(PlanCommandTest, JsonIsOneValidDocument) {
  PlanRun r =
      Plan({"--cameras=180000", "--bench=" + BenchPath(), "--bitrate-mix=1000:0.7,2000:0.25,4000:0.05", "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  absl::StatusOr<JsonValue> doc = ParseJson(r.out);
  ASSERT_TRUE(doc.ok()) << doc.status() << "\n" << r.out;
  EXPECT_EQ(doc->Find("cameras")->number(), 180'000);
  EXPECT_EQ(doc->Find("mean_kbps")->number(), 1400);
  const JsonValue* totals = doc->Find("totals");
  ASSERT_NE(totals, nullptr);
  EXPECT_EQ(totals->Find("zones")->number(), 14);
  EXPECT_GT(totals->Find("servers")->number(), 0);
  EXPECT_EQ(doc->Find("server_capacity")->Find("bound")->string(), "spool disk");
  EXPECT_EQ(doc->Find("zones")->items().size(), 14u);
}

TEST(PlanCommandTest, FlagsChangeThePlan) {
  PlanRun r = Plan({"--cameras", "26000", "--bench", BenchPath(), "--azs", "1", "--spool_disk_mib_per_s", "4000",
                    "--instance_network_gbps", "25", "--target_utilisation", "0.5", "--seal_bytes", "32MiB"});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("bound by CPU"));
  EXPECT_THAT(r.out, HasSubstr("no AZ requirement: --azs 1"));
  EXPECT_THAT(r.out, HasSubstr("one per 32 MiB"));
  EXPECT_THAT(r.out, HasSubstr("at or under 50%"));
}

TEST(PlanCommandTest, IndexTradeOffTable) {
  PlanRun r = Plan({"--cameras", "180000", "--bench", BenchPath()});
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("Index: how soon a persisted segment can be found by time range"));
  // interval, PUT per camera-hour and camera-month, per month in the largest
  // zone and all zones, the same in dollars, all PUTs in dollars, waits.
  EXPECT_THAT(r.out, HasSubstr("       60 s     61.0     44,530      573M     8,015M    $2,863    $40,077     $57,699"
                               "      1 min      30 s\n"));
  EXPECT_THAT(r.out, HasSubstr("  *   600 s      7.0      5,110     65.7M       920M      $329     $4,599     $22,221"
                               "     10 min     5 min\n"));
  EXPECT_THAT(r.out, HasSubstr("     3600 s      2.0      1,460     18.8M       263M       $94     $1,314     $18,936"
                               "        1 h    30 min\n"));
  EXPECT_THAT(r.out, HasSubstr("zone: zone-1, the largest (12,858 cameras)"));
  EXPECT_THAT(r.out, HasSubstr("Model: every camera records without pause"));
}

TEST(PlanCommandTest, IndexIntervalFlagPlansAndMarksThatInterval) {
  PlanRun text = Plan({"--cameras", "180000", "--bench", BenchPath(), "--index-interval-s", "900"});
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_THAT(text.out, HasSubstr("+ 250 index (5.0 per camera-hour at store.index_interval_s 900 s"));
  EXPECT_THAT(text.out, HasSubstr("  *   900 s      5.0"));
  EXPECT_THAT(text.out, HasSubstr("\n      600 s      7.0"));  // no longer marked

  // The JSON carries the same rows and marks the same one.
  PlanRun json = Plan({"--cameras", "180000", "--bench", BenchPath(), "--index_interval_s=900", "--json"});
  ASSERT_EQ(json.code, 0) << json.err;
  absl::StatusOr<JsonValue> doc = ParseJson(json.out);
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->Find("assumptions")->Find("index_interval_s")->number(), 900);
  const JsonValue* index = doc->Find("index");
  ASSERT_NE(index, nullptr);
  EXPECT_EQ(index->Find("planned_interval_s")->number(), 900);
  EXPECT_EQ(index->Find("zone")->string(), "zone-1");
  EXPECT_EQ(index->Find("zone_cameras")->number(), 12'858);
  EXPECT_EQ(index->Find("hour_grace_s")->number(), 120);
  const std::vector<JsonValue>& rows = index->Find("intervals")->items();
  const double expected_s[] = {60, 300, 600, 900, 1800, 3600};
  ASSERT_EQ(rows.size(), std::size(expected_s));
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_EQ(rows[i].Find("interval_s")->number(), expected_s[i]);
    EXPECT_EQ(rows[i].Find("planned")->boolean(), expected_s[i] == 900);
  }
  const JsonValue& planned = rows[3];
  EXPECT_EQ(planned.Find("writes_per_camera_hour")->number(), 4);
  EXPECT_EQ(planned.Find("puts_per_camera_hour")->number(), 5);
  EXPECT_EQ(planned.Find("worst_delay_s")->number(), 900);
  EXPECT_EQ(planned.Find("typical_delay_s")->number(), 450);
  EXPECT_EQ(doc->Find("totals")->Find("index_puts_per_camera_hour")->number(), 5);
  EXPECT_NEAR(planned.Find("all_puts_cost_usd_per_month")->number(),
              doc->Find("totals")->Find("monthly_put_cost_usd")->number(), 1e-6);
}

TEST(PlanCommandTest, HelpExitsZero) {
  PlanRun r = Plan({"--help"});
  EXPECT_EQ(r.code, 0);
  EXPECT_THAT(r.out, HasSubstr("usage: zonectl plan"));
  EXPECT_EQ(Plan({"-h"}).code, 0);
}

TEST(PlanCommandTest, UsageErrorsExitTwoWithTheReason) {
  const std::string bench = BenchPath();
  struct Case {
    std::vector<std::string> flags;
    const char* error;
  };
  const Case cases[] = {
      {{}, "--cameras: missing"},
      {{"--cameras", "1000"}, "--bench: missing"},
      {{"--bench", bench}, "--cameras: missing"},
      {{"--cameras", "-5", "--bench", bench}, "--cameras: \"-5\" is not a whole number"},
      {{"--cameras", "1e5", "--bench", bench}, "--cameras: \"1e5\" is not a whole number"},
      {{"--cameras", "0", "--bench", bench}, "--cameras must be in [1, 1000000000]"},
      {{"--cameras", "99999999999", "--bench", bench}, "--cameras: 99999999999 is more than 1000000000"},
      {{"--cameras", "1000", "--bench", bench, "--cameras", "2000"}, "--cameras: given twice"},
      {{"--cameras", "1000", "--bench"}, "--bench: needs a value"},
      {{"--cameras=", "--bench", bench}, "--cameras: \"\" is not a whole number"},
      {{"--cameras", "1000", "--bench", bench, "--frobnicate", "3"}, "unknown flag --frobnicate"},
      {{"--cameras", "1000", "--bench", bench, "extra"}, "unexpected argument \"extra\""},
      {{"--cameras", "1000", "--bench", bench, "--bitrate_mix", "1000:0.5"}, "shares sum to 0.5, not 1"},
      {{"--cameras", "1000", "--bench", bench, "--target_utilisation", "nan"}, "\"nan\" is not a number"},
      {{"--cameras", "1000", "--bench", bench, "--target_utilisation", "1.2"},
       "--target_utilisation must be in (0, 1]"},
      {{"--cameras", "1000", "--bench", bench, "--azs", "0"}, "--azs must be in [1, 32]"},
      {{"--cameras", "1000", "--bench", bench, "--seal_bytes", "16MB"}, "--seal_bytes: \"16MB\" is not a size"},
      {{"--cameras", "1000", "--bench", bench, "--seal_bytes", "1KiB"}, "--seal_bytes must be in [1 MiB, 5 GiB]"},
      {{"--cameras", "1000", "--bench", bench, "--instance_cores", "-8"}, "--instance_cores must be in (0, 1024]"},
      {{"--cameras", "1000", "--bench", bench, "--put_price_per_1000", "-1"}, "--put_price_per_1000 must be in"},
      {{"--cameras", "1000", "--bench", bench, "--json=maybe"}, "--json: \"maybe\" is not true or false"},
      {{"--cameras", "1000", "--bench", bench, "--index_interval_s", "0"}, "--index_interval_s must be in [1, 86400]"},
      {{"--cameras", "1000", "--bench", bench, "--index_interval_s", "1.5"},
       "--index_interval_s: \"1.5\" is not a whole number"},
      {{"--cameras", "1000", "--bench", bench, "--index_interval_s", "86401"},
       "--index_interval_s: 86401 is more than 86400"},
      {{"--cameras", "1000", "--bench", bench, "--zone_map="}, "--zone_map: needs a file"},
  };
  for (const Case& c : cases) {
    PlanRun r = Plan(c.flags);
    EXPECT_EQ(r.code, 2) << c.error;
    EXPECT_THAT(r.err, HasSubstr(c.error));
    EXPECT_THAT(r.err, HasSubstr("usage: zonectl plan")) << c.error;
    EXPECT_EQ(r.out, "") << c.error;
  }
}

TEST(PlanCommandTest, BadInputFilesExitOne) {
  testing::TempDir dir;
  std::string broken = dir.path() + "/broken.json";
  std::ofstream(broken) << "{\"schema_version\": 1,";
  std::string negative = dir.path() + "/negative.json";
  {
    std::ifstream in(BenchPath());
    std::stringstream text;
    text << in.rdbuf();
    std::string doc = text.str();
    doc.replace(doc.find("\"server_cpu_cores\": 0.45"), 24, "\"server_cpu_cores\": -0.45");
    std::ofstream(negative) << doc;
  }
  struct Case {
    std::vector<std::string> flags;
    const char* error;
  };
  const Case cases[] = {
      {{"--cameras", "1000", "--bench", dir.path() + "/missing.json"}, "missing.json: cannot open"},
      {{"--cameras", "1000", "--bench", broken}, "broken.json: line 1, column 22: unexpected end of input"},
      {{"--cameras", "1000", "--bench", negative}, "negative.json: server_cpu_cores: must be in (0, 1024], got -0.45"},
      {{"--cameras", "1000", "--bench", BenchPath(), "--zone_map", dir.path() + "/no-map.toml"}, "no-map.toml"},
  };
  for (const Case& c : cases) {
    PlanRun r = Plan(c.flags);
    EXPECT_EQ(r.code, 1) << c.error;
    EXPECT_THAT(r.err, HasSubstr(c.error));
    EXPECT_THAT(r.err, Not(HasSubstr("usage:"))) << c.error;
    EXPECT_EQ(r.out, "");
  }
}

TEST(PlanCommandTest, ZoneMapGivesTheZonesAndTheirCaps) {
  testing::TempDir dir;
  std::string map = dir.path() + "/zones.toml";
  std::ofstream(map) << R"([[zone]]
id = "eu-west-1a"
subnets = ["10.0.1.0/24"]
endpoint = "cams-a.example.com:7443"
capacity_per_server = 1000
[zone.store]
bucket = "recordings"
region = "eu-west-1"

[[zone]]
id = "eu-west-1b"
subnets = ["10.0.2.0/24"]
endpoint = "cams-b.example.com:7443"
capacity_per_server = 1000
weight = 3.0
[zone.store]
bucket = "recordings"
region = "eu-west-1"
)";
  PlanRun r = Plan({"--cameras", "8000", "--bench", BenchPath(), "--zone_map", map, "--json"});
  ASSERT_EQ(r.code, 0) << r.err;
  absl::StatusOr<JsonValue> doc = ParseJson(r.out);
  ASSERT_TRUE(doc.ok()) << doc.status();
  const std::vector<JsonValue>& zones = doc->Find("zones")->items();
  ASSERT_EQ(zones.size(), 2u);
  EXPECT_EQ(zones[0].Find("id")->string(), "eu-west-1a");
  EXPECT_EQ(zones[0].Find("cameras")->number(), 2000);  // weight 1 of 4
  EXPECT_EQ(zones[1].Find("cameras")->number(), 6000);  // weight 3 of 4
  EXPECT_EQ(zones[1].Find("capacity_per_server")->number(), 1000);
  EXPECT_EQ(zones[1].Find("bound")->string(), "zone map capacity_per_server");
  EXPECT_EQ(zones[1].Find("servers")->number(), 12);  // 6,000 / 800 = 7.5 -> 8; AZ loss: ceil(8 x 3 / 2)
}

TEST(PlanCommandTest, RunPlanCommandWritesToStdout) {
  // The entry point zonectl calls: same exit codes; output to the process's
  // stdout, captured here through a pipe.
  std::string bench = BenchPath();
  std::vector<std::string> args = {"plan", "--cameras", "1000", "--bench", bench, "--json"};
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());

  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  fflush(stdout);
  int saved = dup(STDOUT_FILENO);
  dup2(pipe_fds[1], STDOUT_FILENO);
  close(pipe_fds[1]);
  int code = RunPlanCommand(static_cast<int>(argv.size()), argv.data());
  std::cout.flush();
  fflush(stdout);
  dup2(saved, STDOUT_FILENO);
  close(saved);
  std::string captured;
  char buf[4096];
  ssize_t n;
  while ((n = read(pipe_fds[0], buf, sizeof(buf))) > 0) captured.append(buf, static_cast<size_t>(n));
  close(pipe_fds[0]);

  EXPECT_EQ(code, 0);
  absl::StatusOr<JsonValue> doc = ParseJson(captured);
  ASSERT_TRUE(doc.ok()) << doc.status() << captured;
  EXPECT_EQ(doc->Find("cameras")->number(), 1000);

  std::vector<std::string> bad = {"plan", "--cameras", "lots"};
  std::vector<char*> bad_argv;
  for (std::string& a : bad) bad_argv.push_back(a.data());
  EXPECT_EQ(RunPlanCommand(static_cast<int>(bad_argv.size()), bad_argv.data()), 2);
}

}  // namespace
}  // namespace ingest::zones
