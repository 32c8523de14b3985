#include "server/ingestd/zone_reloader.h"

#include <utility>

#include "common/json_log.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "server/ingestd/file_stamp.h"
#include "server/ingestd/zone_setup.h"

namespace ingest {

absl::StatusOr<std::unique_ptr<ZoneReloader>> ZoneReloader::Load(ZoneReloaderOptions options, AuditLog& audit) {
  std::unique_ptr<ZoneReloader> reloader(new ZoneReloader(std::move(options), audit));
  RETURN_IF_ERROR(reloader->SetUp());
  return reloader;
}

ZoneReloader::~ZoneReloader() { StopMoving(); }

absl::Status ZoneReloader::SetUp() {
  const std::string stamp = FileStamp(options_.zone_map);
  ASSIGN_OR_RETURN(std::shared_ptr<const zones::ZoneMap> map, LoadZoneMapFor(options_.zone_map, options_.zone));
  const zones::Zone& zone = *map->Find(options_.zone);
  absl::Status placed = CheckAddressesInZone(zone, HostAddresses(options_.listen));
  if (!placed.ok()) {
    if (options_.refuse_outside_subnets) return placed;
    log::Warn("zone_subnet_mismatch", {{"zone", zone.id}, {"error", ToStd(placed.message())}});
  }
  {
    absl::MutexLock lock(&reload_mu_);
    stamp_ = stamp;
  }
  log::Info("zone_map_loaded", {{"file", options_.zone_map},
                                {"digest", map->digest()},
                                {"zones", map->zones().size()},
                                {"zone", zone.id},
                                {"endpoint", zone.endpoint}});
  admission_ = std::make_unique<ZoneAdmission>(options_.zone, std::move(map));
  return absl::OkStatus();
}

absl::Status ZoneReloader::Reload() {
  absl::MutexLock lock(&reload_mu_);
  stamp_ = FileStamp(options_.zone_map);
  absl::StatusOr<std::shared_ptr<const zones::ZoneMap>> map = LoadZoneMapFor(options_.zone_map, options_.zone);
  if (!map.ok()) {
    audit_.Write("zone_map_reload_refused", {{"file", options_.zone_map}, {"error", ToStd(map.status().message())}});
    return map.status();
  }
  const std::string old_digest = admission_->map()->digest();
  if ((*map)->digest() == old_digest) return absl::OkStatus();
  const std::string new_digest = (*map)->digest();
  admission_->Replace(*std::move(map));
  audit_.Write("zone_map_reloaded",
               {{"file", options_.zone_map}, {"old_digest", old_digest}, {"new_digest", new_digest}});
  StartMover(new_digest);
  return absl::OkStatus();
}

void ZoneReloader::ReloadIfChanged() {
  {
    absl::MutexLock lock(&reload_mu_);
    if (FileStamp(options_.zone_map) == stamp_) return;
  }
  absl::Status reloaded = Reload();
  if (!reloaded.ok()) log::Error("zone_map_reload_failed", {{"error", reloaded.ToString()}});
}

void ZoneReloader::StartMoving(RezoneTarget& target) {
  absl::MutexLock lock(&mover_mu_);
  if (!stopping_) target_ = &target;
}

void ZoneReloader::StopMoving() {
  std::thread mover;
  {
    absl::MutexLock lock(&mover_mu_);
    stopping_ = true;
    target_ = nullptr;
    mover = std::move(mover_);
  }
  if (mover.joinable()) mover.join();
}

void ZoneReloader::StartMover(std::string digest) {
  std::thread finished;
  {
    absl::MutexLock lock(&mover_mu_);
    if (target_ == nullptr || mover_running_) return;
    mover_running_ = true;
    // The previous mover has ended (it cleared mover_running_ last).
    finished = std::move(mover_);
    mover_ = std::thread([this, &target = *target_, digest = std::move(digest)] { RunMover(target, digest); });
  }
  if (finished.joinable()) finished.join();
}

bool ZoneReloader::AwaitWave() {
  absl::MutexLock lock(&mover_mu_);
  mover_mu_.AwaitWithTimeout(absl::Condition(&stopping_), options_.wave_interval);
  return !stopping_;
}

void ZoneReloader::RunMover(RezoneTarget& target, const std::string& digest) {
  const absl::Time started = absl::Now();
  const uint64_t told_before = target.RezoneGoawaysSent();
  audit_.Write("rezone_started", {{"digest", digest}});
  // Two quiet waves in a row (nobody misplaced) end it; a drain or a stop
  // ends it too, since they move every camera anyway.
  int quiet_waves = 0;
  bool running = true;
  while (quiet_waves < 2 && running && !target.Draining()) {
    target.RequestRezoneGoaways(options_.wave_per_shard);
    running = AwaitWave();
    quiet_waves = target.MisplacedSessions() == 0 ? quiet_waves + 1 : 0;
  }
  audit_.Write("rezone_finished", {{"digest", digest},
                                   {"cameras_moved", target.RezoneGoawaysSent() - told_before},
                                   {"cameras_left", target.MisplacedSessions()},
                                   {"elapsed_ms", absl::ToInt64Milliseconds(absl::Now() - started)}});
  absl::MutexLock lock(&mover_mu_);
  mover_running_ = false;
}

}  // namespace ingest
