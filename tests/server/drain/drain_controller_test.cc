// The drain's phases against a scripted server: readiness first, listeners
// after the announce delay, GOAWAY in waves at the configured rate, the flush
// bounded by the deadline, a second trigger that hurries, the exit code, and
// the audit lines.
#include "server/drain/drain_controller.h"

#include <algorithm>
#include <atomic>
#include <fstream>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::testing::HasSubstr;

// Cameras that leave as soon as they are told (unless `stubborn`).
class ScriptedServer : public DrainTarget {
 public:
  explicit ScriptedServer(uint64_t cameras) : cameras_(cameras) {}

  uint64_t CamerasConnected() const override { return cameras_.load(); }
  uint64_t GoawaysSent() const override { return told_.load(); }
  uint64_t AcceptedWhileDraining() const override { return 3; }
  void MarkDraining() override { marked_ = true; }
  void CloseListeners() override { closed_after_ = absl::ToInt64Milliseconds(absl::Now() - created_); }
  void RequestGoaways(uint32_t cameras) override {
    absl::MutexLock lock(&mu_);
    waves_.push_back(cameras);
    const uint64_t untold = cameras_.load() - std::min(cameras_.load(), told_.load() - left_.load());
    const uint64_t now_told = std::min<uint64_t>(cameras, untold);
    told_ += now_told;
    if (!stubborn) {
      cameras_ -= now_told;
      left_ += now_told;
    }
  }
  DrainFlushResult StopAndFlush(absl::Time deadline) override {
    flush_deadline_ms_ = absl::ToUnixMillis(deadline);
    return {.complete = flush_complete,
            .bytes_flushed = 1234,
            .segments_flushed = 7,
            .segments_left = flush_complete ? 0u : 5u};
  }

  std::vector<uint32_t> waves() {
    absl::MutexLock lock(&mu_);
    return waves_;
  }

  bool stubborn = false;
  bool flush_complete = true;
  const absl::Time created_ = absl::Now();
  std::atomic<bool> marked_{false};
  std::atomic<int64_t> closed_after_{-1};      // ms after construction
  std::atomic<int64_t> flush_deadline_ms_{0};  // Unix ms

 private:
  std::atomic<uint64_t> cameras_;
  std::atomic<uint64_t> told_{0};
  std::atomic<uint64_t> left_{0};
  absl::Mutex mu_;
  std::vector<uint32_t> waves_;
};

bool WaitDone(const DrainController& drain, absl::Duration limit) {
  const absl::Time until = absl::Now() + limit;
  while (!drain.done() && absl::Now() < until) absl::SleepFor(absl::Milliseconds(10));
  return drain.done();
}

std::vector<std::string> AuditEvents(const std::string& path) {
  std::vector<std::string> events;
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);) {
    const size_t at = line.find("\"event\":\"");
    if (at == std::string::npos) continue;
    const size_t from = at + 9;
    events.push_back(line.substr(from, line.find('"', from) - from));
  }
  return events;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

TEST(DrainControllerTest, AnnouncesThenClosesListenersThenMovesCamerasInWavesThenFlushes) {
  testing::TempDir dir;
  AuditLog audit(dir.path() + "/audit.log", "ingest-a", "zone-1");
  ScriptedServer server(/*cameras=*/50);
  DrainConfig config{.announce_delay_ms = 300, .goaway_per_second = 100, .deadline_ms = 20000};
  DrainController drain(config, server, audit);
  EXPECT_FALSE(drain.draining());
  EXPECT_THAT(drain.Progress().ToJson(), HasSubstr("\"state\":\"serving\""));

  const int64_t triggered_ms = absl::ToInt64Milliseconds(absl::Now() - server.created_);
  drain.Trigger("SIGTERM");
  // Readiness must fail before Trigger returns.
  EXPECT_TRUE(drain.draining());
  EXPECT_TRUE(server.marked_.load());
  EXPECT_THAT(drain.Progress().ToJson(), HasSubstr("\"state\":\"announced\",\"trigger\":\"SIGTERM\""));

  ASSERT_TRUE(WaitDone(drain, absl::Seconds(10)));
  EXPECT_GE(server.closed_after_.load() - triggered_ms, 300);
  // 100 per second in 100 ms waves: 10 cameras per wave, five waves for 50.
  std::vector<uint32_t> waves = server.waves();
  ASSERT_GE(waves.size(), 5u);
  for (uint32_t wave : waves) EXPECT_EQ(wave, 10u);
  EXPECT_EQ(server.CamerasConnected(), 0u);
  EXPECT_EQ(server.flush_deadline_ms_.load(), absl::ToUnixMillis(drain.Progress().started + absl::Milliseconds(20000)));

  DrainProgress done = drain.Progress();
  EXPECT_EQ(done.outcome, "complete");
  EXPECT_EQ(done.exit_code, 0);
  EXPECT_EQ(done.cameras_at_start, 50u);
  EXPECT_THAT(done.ToJson(), HasSubstr("\"state\":\"done\""));
  EXPECT_THAT(done.ToJson(), HasSubstr("\"outcome\":\"complete\",\"exit_code\":0"));

  const std::string log = ReadAll(audit.path());
  EXPECT_THAT(AuditEvents(audit.path()),
              ::testing::ElementsAre("drain_started", "drain_listeners_closed", "drain_cameras_moved", "drain_flushed",
                                     "drain_finished"));
  EXPECT_THAT(log, HasSubstr("\"server_id\":\"ingest-a\",\"zone\":\"zone-1\",\"trigger\":\"SIGTERM\""));
  EXPECT_THAT(log, HasSubstr("\"accepted_while_announced\":3"));
  EXPECT_THAT(log, HasSubstr("\"cameras_moved\":50,\"goaways_sent\":50,\"cameras_left\":0"));
  EXPECT_THAT(log, HasSubstr("\"bytes_flushed\":1234,\"segments_flushed\":7,\"segments_left\":0"));
  EXPECT_THAT(log, HasSubstr("\"outcome\":\"complete\""));
}

TEST(DrainControllerTest, SecondTriggerSkipsTheAnnounceDelayAndToldEveryoneAtOnce) {
  testing::TempDir dir;
  AuditLog audit(dir.path() + "/audit.log", "a", "z");
  ScriptedServer server(/*cameras=*/500);
  DrainController drain(DrainConfig{.announce_delay_ms = 60000, .goaway_per_second = 10, .deadline_ms = 120000}, server,
                        audit);
  drain.Trigger("SIGTERM");
  absl::SleepFor(absl::Milliseconds(50));
  EXPECT_EQ(drain.phase(), DrainPhase::kAnnounced);
  drain.Trigger("SIGTERM");
  ASSERT_TRUE(WaitDone(drain, absl::Seconds(10)));
  std::vector<uint32_t> waves = server.waves();
  ASSERT_FALSE(waves.empty());
  EXPECT_GE(waves.front(), 500u);
  EXPECT_TRUE(drain.Progress().fast);
  EXPECT_THAT(AuditEvents(audit.path()), ::testing::Contains("drain_hurried"));
  EXPECT_EQ(drain.Progress().exit_code, 0);
}

TEST(DrainControllerTest, ASignalAfterAnApiDrainOrARetriedPostDoesNotHurry) {
  testing::TempDir dir;
  AuditLog audit(dir.path() + "/audit.log", "a", "z");
  ScriptedServer server(/*cameras=*/5);
  DrainController drain(DrainConfig{.announce_delay_ms = 400, .goaway_per_second = 100, .deadline_ms = 120000}, server,
                        audit);
  drain.Trigger(DrainController::kApiTrigger);
  drain.Trigger(DrainController::kApiTrigger);
  drain.Trigger("SIGTERM");
  EXPECT_FALSE(drain.Progress().fast);
  EXPECT_EQ(drain.phase(), DrainPhase::kAnnounced);
  drain.Trigger(DrainController::kApiTrigger, /*fast=*/true);
  EXPECT_TRUE(drain.Progress().fast);
  ASSERT_TRUE(WaitDone(drain, absl::Seconds(10)));
}

TEST(DrainControllerTest, CamerasThatNeverLeaveAreLeftToTheFlushAtThreeQuartersOfTheDeadline) {
  testing::TempDir dir;
  AuditLog audit(dir.path() + "/audit.log", "a", "z");
  ScriptedServer server(/*cameras=*/20);
  server.stubborn = true;
  DrainController drain(DrainConfig{.announce_delay_ms = 0, .goaway_per_second = 1000, .deadline_ms = 2000}, server,
                        audit);
  const absl::Time triggered = absl::Now();
  drain.Trigger("api");
  ASSERT_TRUE(WaitDone(drain, absl::Seconds(10)));
  EXPECT_GE(absl::Now() - triggered, absl::Milliseconds(1500));
  EXPECT_THAT(ReadAll(audit.path()), HasSubstr("\"cameras_moved\":0,\"goaways_sent\":20,\"cameras_left\":20"));
}

TEST(DrainControllerTest, AFlushCutShortByTheDeadlineExitsOne) {
  testing::TempDir dir;
  AuditLog audit(dir.path() + "/audit.log", "a", "z");
  ScriptedServer server(/*cameras=*/0);
  server.flush_complete = false;
  DrainController drain(DrainConfig{.announce_delay_ms = 0, .deadline_ms = 5000}, server, audit);
  drain.Trigger("SIGTERM");
  ASSERT_TRUE(WaitDone(drain, absl::Seconds(10)));
  EXPECT_EQ(drain.Progress().outcome, "deadline_exceeded");
  EXPECT_EQ(drain.Progress().exit_code, 1);
  EXPECT_THAT(ReadAll(audit.path()), HasSubstr("\"segments_left\":5"));
  EXPECT_THAT(ReadAll(audit.path()), HasSubstr("\"outcome\":\"deadline_exceeded\",\"duration_ms\":"));
}

}  // namespace
}  // namespace ingest
