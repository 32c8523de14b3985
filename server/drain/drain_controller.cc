#include "server/drain/drain_controller.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/json_string.h"
#include "common/thread_name.h"

namespace ingest {
namespace {

int64_t Ms(absl::Duration d) { return absl::ToInt64Milliseconds(d); }

}  // namespace

const char* DrainPhaseName(DrainPhase phase) {
  switch (phase) {
    case DrainPhase::kServing:
      return "serving";
    case DrainPhase::kAnnounced:
      return "announced";
    case DrainPhase::kMoving:
      return "moving";
    case DrainPhase::kFlushing:
      return "flushing";
    case DrainPhase::kDone:
      return "done";
  }
  return "?";
}

std::string DrainProgress::ToJson() const {
  std::string json = absl::StrCat("{\"state\":", JsonString(DrainPhaseName(phase)));
  if (phase != DrainPhase::kServing) {
    absl::StrAppend(&json, ",\"trigger\":", JsonString(trigger), ",\"fast\":", fast ? "true" : "false",
                    ",\"started\":", JsonString(absl::FormatTime("%Y-%m-%dT%H:%M:%E3SZ", started, absl::UTCTimeZone())),
                    ",\"elapsed_ms\":", Ms(elapsed), ",\"cameras_at_start\":", cameras_at_start);
  }
  absl::StrAppend(&json, ",\"cameras_connected\":", cameras_connected, ",\"goaways_sent\":", goaways_sent);
  if (phase == DrainPhase::kDone) {
    absl::StrAppend(&json, ",\"outcome\":", JsonString(outcome), ",\"exit_code\":", exit_code);
  }
  return json + "}\n";
}

DrainController::DrainController(const DrainConfig& config, DrainTarget& target, AuditLog& audit)
    : config_(config), target_(target), audit_(audit) {}

DrainController::~DrainController() {
  if (thread_.joinable()) thread_.join();
}

void DrainController::Trigger(std::string_view trigger, bool fast) {
  absl::MutexLock lock(&mu_);
  if (progress_.phase != DrainPhase::kServing) {
    // The same signal twice means "hurry"; a SIGTERM from the service
    // manager after a drain begun over HTTP (or a retried POST) does not.
    const bool hurry = fast || (trigger == progress_.trigger && trigger != kApiTrigger);
    if (hurry && !progress_.fast && progress_.phase != DrainPhase::kDone) {
      progress_.fast = true;
      audit_.Write("drain_hurried", {{"trigger", trigger},
                                     {"phase", DrainPhaseName(progress_.phase)},
                                     {"elapsed_ms", Ms(absl::Now() - progress_.started)}});
    }
    return;
  }
  progress_.phase = DrainPhase::kAnnounced;
  progress_.trigger = std::string(trigger);
  progress_.fast = fast;
  progress_.started = absl::Now();
  progress_.cameras_at_start = target_.CamerasConnected();
  // Readiness must fail before Trigger returns: a caller that polls /readyz
  // right after must already see it.
  target_.MarkDraining();
  thread_ = std::thread([this] {
    NameThisThread("drain");
    Run();
  });
}

DrainPhase DrainController::phase() const {
  absl::MutexLock lock(&mu_);
  return progress_.phase;
}

bool DrainController::fast() const {
  absl::MutexLock lock(&mu_);
  return progress_.fast;
}

DrainProgress DrainController::Progress() const {
  DrainProgress progress;
  {
    absl::MutexLock lock(&mu_);
    progress = progress_;
  }
  if (progress.phase != DrainPhase::kServing) progress.elapsed = absl::Now() - progress.started;
  progress.cameras_connected = target_.CamerasConnected();
  progress.goaways_sent = target_.GoawaysSent();
  return progress;
}

void DrainController::AwaitDone() const {
  absl::MutexLock lock(&mu_);
  auto finished = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return progress_.phase == DrainPhase::kServing || progress_.phase == DrainPhase::kDone;
  };
  mu_.Await(absl::Condition(&finished));
}

void DrainController::SetPhase(DrainPhase phase) {
  absl::MutexLock lock(&mu_);
  progress_.phase = phase;
}

bool DrainController::SleepUntil(absl::Time until) {
  absl::MutexLock lock(&mu_);
  auto hurried = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return progress_.fast; };
  mu_.AwaitWithDeadline(absl::Condition(&hurried), until);
  return progress_.fast;
}

void DrainController::Run() {
  DrainProgress start = Progress();
  const absl::Time deadline = start.started + absl::Milliseconds(config_.deadline_ms);
  // The last quarter of the deadline is kept for the upload.
  const absl::Time move_deadline = start.started + absl::Milliseconds(config_.deadline_ms) * 3 / 4;
  audit_.Write("drain_started", {{"trigger", start.trigger},
                                 {"fast", start.fast},
                                 {"cameras", start.cameras_at_start},
                                 {"announce_delay_ms", config_.announce_delay_ms},
                                 {"goaway_per_second", config_.goaway_per_second},
                                 {"deadline_ms", config_.deadline_ms}});

  SleepUntil(start.started + absl::Milliseconds(config_.announce_delay_ms));
  target_.CloseListeners();
  SetPhase(DrainPhase::kMoving);
  const uint64_t cameras_to_move = target_.CamerasConnected();
  const uint64_t goaways_before = target_.GoawaysSent();
  audit_.Write("drain_listeners_closed", {{"elapsed_ms", Ms(absl::Now() - start.started)},
                                          {"accepted_while_announced", target_.AcceptedWhileDraining()},
                                          {"cameras", cameras_to_move}});

  const uint32_t wave = std::max<uint32_t>(1, config_.goaway_per_second / 10);
  absl::Time everyone_told = absl::InfiniteFuture();
  uint64_t told_before_wave = target_.GoawaysSent();
  for (;;) {
    const absl::Time now = absl::Now();
    const bool hurry = fast();
    if (target_.CamerasConnected() == 0 || now >= move_deadline) break;
    if (everyone_told != absl::InfiniteFuture() &&
        now - everyone_told >= (hurry ? kFastStragglerGrace : kStragglerGrace)) {
      break;
    }
    target_.RequestGoaways(hurry ? std::numeric_limits<uint32_t>::max() / 2 : wave);
    SleepUntil(std::min(now + kWave, move_deadline));
    // A wave that found nobody left to tell means the rest were told and are
    // finishing their in-flight segments (or not leaving at all).
    const uint64_t told = target_.GoawaysSent();
    if (told == told_before_wave && everyone_told == absl::InfiniteFuture()) everyone_told = absl::Now();
    if (told != told_before_wave) everyone_told = absl::InfiniteFuture();
    told_before_wave = told;
  }
  const uint64_t cameras_left = target_.CamerasConnected();
  audit_.Write("drain_cameras_moved",
               {{"cameras_moved", cameras_to_move > cameras_left ? cameras_to_move - cameras_left : 0},
                {"goaways_sent", target_.GoawaysSent() - goaways_before},
                {"cameras_left", cameras_left},
                {"elapsed_ms", Ms(absl::Now() - start.started)}});

  SetPhase(DrainPhase::kFlushing);
  const DrainFlushResult flushed = target_.StopAndFlush(deadline);
  audit_.Write("drain_flushed", {{"bytes_flushed", flushed.bytes_flushed},
                                 {"segments_flushed", flushed.segments_flushed},
                                 {"segments_left", flushed.segments_left},
                                 {"elapsed_ms", Ms(absl::Now() - start.started)}});

  const std::string outcome = flushed.complete ? "complete" : "deadline_exceeded";
  const int exit_code = flushed.complete ? 0 : 1;
  {
    absl::MutexLock lock(&mu_);
    progress_.outcome = outcome;
    progress_.exit_code = exit_code;
  }
  audit_.Write("drain_finished",
               {{"outcome", outcome}, {"duration_ms", Ms(absl::Now() - start.started)}, {"exit_code", exit_code}});
  SetPhase(DrainPhase::kDone);
}

}  // namespace ingest
