// The verdict's naming of what ran out first, from the per-second figures of
// a run: the load generator is named when it, not the server, was the limit.
#include "bench/camera_bench/run_verdict.h"

#include "gtest/gtest.h"

namespace ingest::bench {
namespace {

// A passing-looking run of `seconds` seconds with these CPU figures.
BenchRun RunWith(double server_cores, double generator_cores, int rings = 1, int seconds = 20) {
  BenchRun run;
  run.machine.cores = 2;
  run.elapsed = absl::Seconds(seconds);
  run.ramp = absl::Seconds(1);
  run.total.all_acked = true;
  run.total.rings = rings;
  run.server_handshake_timeouts = 0;
  run.server.pid = 1234;
  for (int i = 1; i <= seconds; ++i) {
    SecondSample s;
    s.t_s = i;
    s.server_cpu_cores = server_cores;
    s.generator_cpu_cores = generator_cores;
    s.mb_per_s = 100;
    run.series.push_back(s);
  }
  GroupResult group{.name = "1000kbps", .cameras = 100, .report = {}, .latency_judged = true};
  group.report.ack_spooled.Record(absl::Milliseconds(5));
  run.groups.push_back(group);
  return run;
}

TEST(RunVerdictTest, PassingRunNamesNothing) {
  RunVerdict v = JudgeRun(RunWith(0.5, 0.3), {.ack_p99_ms = 500, .spool_disk_mb_per_s = std::nullopt});
  EXPECT_TRUE(v.ok) << v.why;
  EXPECT_EQ(v.binding_resource, "none");
}

TEST(RunVerdictTest, ASaturatedGeneratorThreadIsTheGenerator) {
  BenchRun run = RunWith(0.4, 0.97);
  RunVerdict v = JudgeRun(run, {.ack_p99_ms = 500, .spool_disk_mb_per_s = std::nullopt});
  EXPECT_EQ(v.binding_resource, "load_generator") << v.why;
}

TEST(RunVerdictTest, FullCoresGoToWhoeverTookMore) {
  EXPECT_EQ(JudgeRun(RunWith(1.3, 0.5, 2), {}).binding_resource, "server_cpu");
  EXPECT_EQ(JudgeRun(RunWith(0.7, 1.1, 2), {}).binding_resource, "load_generator");
}

TEST(RunVerdictTest, AFailedRunNamesTheResourceNearestItsLimit) {
  BenchRun run = RunWith(0.8, 0.7, 2);
  run.groups[0].report.ack_spooled.Record(absl::Seconds(3));  // p99 over the target
  run.groups[0].report.ack_spooled.Record(absl::Seconds(3));
  RunVerdict v = JudgeRun(run, {.ack_p99_ms = 500, .spool_disk_mb_per_s = 130});
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.binding_resource, "spool_disk") << v.why;  // 100 of 130 MB/s (77%) beats 75% of the cores
  EXPECT_NE(v.why.find("nearest its limit"), std::string::npos) << v.why;
}

TEST(RunVerdictTest, HandshakeTimeoutsWithoutAFullResourceAreHandshakes) {
  BenchRun run = RunWith(0.3, 0.2);
  run.server_handshake_timeouts = 120;
  RunVerdict v = JudgeRun(run, {});
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.binding_resource, "handshakes") << v.why;
}

TEST(RunVerdictTest, WithoutAnAdminAddressTimeoutsAreNotChecked) {
  BenchRun run = RunWith(0.3, 0.2);
  run.server_handshake_timeouts.reset();
  RunVerdict v = JudgeRun(run, {});
  EXPECT_TRUE(v.ok);
  EXPECT_NE(v.why.find("Not checked: the server's handshake timeouts"), std::string::npos) << v.why;
}

TEST(RunVerdictTest, SlowGroupsAreNotHeldToTheLatencyTarget) {
  BenchRun run = RunWith(0.3, 0.2);
  GroupResult slow{.name = "slow-senders", .cameras = 10, .report = {}, .latency_judged = false};
  slow.report.ack_spooled.Record(absl::Seconds(4));
  run.groups.push_back(slow);
  EXPECT_TRUE(JudgeRun(run, {.ack_p99_ms = 500, .spool_disk_mb_per_s = std::nullopt}).ok);
}

}  // namespace
}  // namespace ingest::bench
