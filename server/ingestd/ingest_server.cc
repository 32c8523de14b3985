#include "server/ingestd/ingest_server.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/build_info.h"
#include "common/descriptor_limit.h"
#include "common/json_log.h"
#include "common/process_usage.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "proto/frame.h"
#include "server/admin/drain_token.h"
#include "server/config/connection_capacity.h"
#include "server/ingestd/component_options.h"
#include "server/store_config/store_from_config.h"

namespace ingest {
namespace {

// How long Start() waits for the shards to set up their rings.
constexpr absl::Duration kShardSetUpTimeout = absl::Seconds(5);

// Wrong credentials or a missing bucket are configuration mistakes: an error
// that refuses the start, loudly. An unreachable store is an outage: OK to
// serve (the spool absorbs it), with `outage` set for readiness to report.
absl::Status CheckStoreAtStart(ObjectStore& store, const std::string& description, absl::Status& outage) {
  absl::Status access = store.CheckAccess();
  if (access.ok()) return access;
  if (absl::IsUnavailable(access) || absl::IsDeadlineExceeded(access)) {
    log::Error("store_unreachable_at_start", {{"store", description}, {"error", ToStd(access.message())}});
    outage = access;
    return absl::OkStatus();
  }
  return absl::Status(access.code(), absl::StrCat("store ", description, ": ", access.message()));
}

// What the previous run made durable is durable now: re-sent segments are
// recognised as duplicates, cameras are told where to resume, and a re-send
// can still be compared with what was stored.
void SeedRegistry(const RecoveryReport& recovery, CameraRegistry& registry) {
  for (const auto& [camera, seq] : recovery.max_seq_by_camera) registry.Get(camera).SeedDurable(seq);
  for (const auto& [camera, recent] : recovery.recent_by_camera) {
    CameraState& state = registry.Get(camera);
    for (const SpoolSegmentSummary& s : recent) {
      state.Remember(s.seq, SegmentFingerprint{.payload_crc = s.payload_crc,
                                               .payload_bytes = s.payload_bytes,
                                               .capture_start_us = s.capture_start_us,
                                               .duration_us = s.duration_us,
                                               .keyframe = (s.flags & camproto::kSegmentFlagKeyframe) != 0});
    }
  }
}

}  // namespace

IngestServer::~IngestServer() { (void)Stop(); }

absl::StatusOr<std::unique_ptr<IngestServer>> IngestServer::Start(const IngestConfig& config) {
  std::unique_ptr<IngestServer> server(new IngestServer(config));
  RETURN_IF_ERROR(server->Init());
  return server;
}

void IngestServer::SetStartupStep(std::string_view step) {
  absl::MutexLock lock(&startup_mu_);
  startup_step_ = std::string(step);
}

absl::Status IngestServer::Init() {
  // The admin port comes up first, so a long spool recovery is visible as
  // live-but-not-ready instead of a refused health check.
  RETURN_IF_ERROR(StartAdmin());
  SetStartupStep("loading the zone map");
  if (!config_.server.zone_map.empty()) {
    ASSIGN_OR_RETURN(zones_, ZoneReloader::Load(ZoneReloaderOptionsFrom(config_), *audit_));
  }
  SetStartupStep("loading TLS certificates");
  RETURN_IF_ERROR(PrepareDevCertificates(config_));
  ASSIGN_OR_RETURN(tls_, TlsReloader::Load(ServerTlsFilesFrom(config_.tls), *audit_));
  SetStartupStep("recovering the spool");
  RETURN_IF_ERROR(RecoverSpool());
  SetStartupStep("checking the store");
  RETURN_IF_ERROR(OpenStoreAndSealer());
  limiter_ =
      std::make_unique<ConnectionLimiter>(config_.server.max_connections, config_.server.max_connections_per_source);
  SetStartupStep("opening camera listeners");
  ASSIGN_OR_RETURN(listeners_, CameraListeners::Open(config_.server.listen, config_.server.shards));
  if (!config_.server.https_listen.empty()) {
    SetStartupStep("opening HTTPS ingest listeners");
    ASSIGN_OR_RETURN(https_listeners_, CameraListeners::Open(config_.server.https_listen, config_.server.shards));
  }
  RETURN_IF_ERROR(StartShards());
  tls_->StartWatching();
  if (zones_ != nullptr) zones_->StartMoving(*this);
  started_up_.store(true, std::memory_order_release);
  SetStartupStep("serving");
  log::Info("ingestd_serving", {{"version", BuildVersion()},
                                {"commit", BuildCommit()},
                                {"listen", config_.server.listen},
                                {"admin_port", admin_->port()},
                                {"port", port()},
                                {"https_port", static_cast<int>(https_port())},
                                {"shards", config_.server.shards},
                                {"max_connections", config_.server.max_connections},
                                {"cameras_per_shard", ShardCapacityFor(config_.server, RingFileLimit()).cameras},
                                {"zone", config_.server.zone},
                                {"server_id", config_.server.id},
                                {"store", store_description_}});
  return absl::OkStatus();
}

absl::Status IngestServer::StartAdmin() {
  ASSIGN_OR_RETURN(std::string token, ReadDrainToken(config_.drain.token_file));
  audit_ = std::make_unique<AuditLog>(config_.server.state_dir + "/audit.log", config_.server.id, config_.server.zone);
  drain_ = std::make_unique<DrainController>(config_.drain, *this, *audit_);
  AdminDrainHooks hooks;
  hooks.state = [this] { return drain_->Progress().ToJson(); };
  hooks.start = [this](bool fast) {
    if (!started_up()) return std::string("{\"state\":\"starting\"}\n");
    drain_->Trigger(DrainController::kApiTrigger, fast);
    return drain_->Progress().ToJson();
  };
  auto snapshot = [this] { return AdminView(); };
  ASSIGN_OR_RETURN(admin_,
                   AdminServer::Start(AdminServerOptionsFrom(config_, std::move(token)), snapshot, std::move(hooks)));
  return absl::OkStatus();
}

absl::Status IngestServer::RecoverSpool() {
  ASSIGN_OR_RETURN(catalog_, SpoolCatalog::Open(SpoolCatalogOptionsFrom(config_), &recovery_));
  SeedRegistry(recovery_, registry_);
  log::Info("spool_recovered", {{"files", recovery_.files},
                                {"records", recovery_.records},
                                {"valid_bytes", recovery_.valid_bytes},
                                {"truncated_bytes", recovery_.truncated_bytes},
                                {"cameras", recovery_.max_seq_by_camera.size()}});
  return absl::OkStatus();
}

absl::Status IngestServer::OpenStoreAndSealer() {
  ASSIGN_OR_RETURN(OpenedStore opened, OpenStoreFromConfig(config_.store));
  absl::Status outage;
  RETURN_IF_ERROR(CheckStoreAtStart(*opened.store, opened.description, outage));
  store_description_ = std::move(opened.description);
  store_ = std::move(opened.store);
  sealer_ = std::make_unique<BatchSealer>(BatchSealerOptionsFrom(config_), catalog_.get(), store_.get());
  if (!outage.ok()) sealer_->ReportStoreUnreachable(outage);
  SetStartupStep("reading the batch journal");
  RETURN_IF_ERROR(sealer_->Open());
  // What the store holds according to the journal is persisted (and durable).
  for (const auto& [camera, seq] : sealer_->recovered_committed()) {
    CameraState& state = registry_.Get(camera);
    state.SeedDurable(seq);
    state.RaisePersisted(seq);
  }
  sealer_->set_on_persisted(
      [this](const std::string& camera, uint64_t seq) { registry_.Get(camera).RaisePersisted(seq); });
  sealer_->Start();
  return absl::OkStatus();
}

absl::Status IngestServer::StartShards() {
  // Each ring's direct-descriptor table may be as large as the soft limit.
  RETURN_IF_ERROR(RaiseDescriptorSoftLimit());
  std::vector<ShardOptions> options;
  for (int i = 0; i < config_.server.shards; ++i) {
    options.push_back(ShardOptionsFrom(config_, i, listeners_->fd(i), listeners_->family()));
    if (https_listeners_ != nullptr) {
      options.back().https_listen_fd = https_listeners_->fd(i);
      options.back().https_listen_family = https_listeners_->family();
    }
  }
  shards_.Start(options,
                ShardShared{.catalog = catalog_.get(),
                            .registry = &registry_,
                            .limiter = limiter_.get(),
                            .next_session_id = &next_session_id_,
                            .admission = zones_ != nullptr ? zones_->admission() : nullptr,
                            .tls = tls_->serving(),
                            .revocations = tls_->revocation_events()},
                [this] { ended_.Notify(); });
  // Serving means every ring is up; a shard that failed to set up says why.
  absl::Status serving = shards_.AwaitServing(kShardSetUpTimeout);
  if (!serving.ok()) (void)Stop();
  return serving;
}

absl::Status IngestServer::Stop() {
  if (stopped_.exchange(true)) return absl::OkStatus();
  ended_.Notify();
  // A drain in progress runs to its end (it is bounded by its deadline).
  if (drain_ != nullptr) drain_->AwaitDone();
  if (zones_ != nullptr) zones_->StopMoving();
  StopAndFlush(absl::InfiniteFuture());
  if (tls_ != nullptr) tls_->StopWatching();
  // Readiness has reported "shutting down" since the first line; the admin
  // endpoints stay up until everything is flushed.
  if (admin_ != nullptr) admin_->Stop();
  IngestStats stats = Stats();
  log::Info("ingestd_stopped",
            {{"segments_accepted", stats.segments_accepted}, {"spool_bytes_live", stats.spool_bytes_live}});
  return shards_.FirstError();
}

DrainFlushResult IngestServer::StopAndFlush(absl::Time deadline) {
  absl::MutexLock lock(&flush_mu_);
  DrainFlushResult result;
  if (flushed_) return result;
  flushed_ = true;
  shards_.StopAndJoin();
  if (sealer_ != nullptr) {
    const BatchSealerStats before = sealer_->stats();
    result.complete = sealer_->Stop(/*flush_all=*/true, deadline);
    const BatchSealerStats after = sealer_->stats();
    result.bytes_flushed = after.batch_bytes_written - before.batch_bytes_written;
    result.segments_flushed = after.segments_persisted - before.segments_persisted;
    result.segments_left = after.pending_segments + after.unindexed_segments;
  }
  // Nothing is served any more: the process may exit.
  ended_.Notify();
  return result;
}

absl::Status IngestServer::Wait() {
  ended_.WaitForNotification();
  return shards_.FirstError();
}

uint64_t IngestServer::SumWhenStarted(std::atomic<uint64_t> ShardCounters::*counter) const {
  return started_up() ? shards_.Sum(counter) : 0;
}

uint64_t IngestServer::CamerasConnected() const { return SumWhenStarted(&ShardCounters::connections_open); }

uint64_t IngestServer::GoawaysSent() const { return SumWhenStarted(&ShardCounters::goaways_sent); }

uint64_t IngestServer::AcceptedWhileDraining() const {
  return SumWhenStarted(&ShardCounters::connections_accepted_while_draining);
}

void IngestServer::MarkDraining() { shards_.MarkDraining(); }

void IngestServer::CloseListeners() {
  shards_.StopAccepting();
  if (listeners_ != nullptr) listeners_->Shutdown();
  if (https_listeners_ != nullptr) https_listeners_->Shutdown();
  log::Info("listeners_closed", {{"port", port()}});
}

void IngestServer::RequestGoaways(uint32_t cameras) { shards_.RequestGoaways(cameras); }

void IngestServer::RequestRezoneGoaways(uint32_t per_shard) { shards_.RequestRezoneGoaways(per_shard); }

uint64_t IngestServer::MisplacedSessions() const { return shards_.MisplacedSessions(); }

uint64_t IngestServer::RezoneGoawaysSent() const { return shards_.Sum(&ShardCounters::rezone_goaways); }

bool IngestServer::Draining() const { return drain_ != nullptr && drain_->draining(); }

absl::Status IngestServer::ReloadTls(std::string_view trigger) {
  if (tls_ == nullptr) return absl::FailedPreconditionError("TLS is not set up yet");
  return tls_->Reload(trigger);
}

void IngestServer::ReloadTlsIfChanged() {
  if (tls_ != nullptr) tls_->ReloadIfChanged();
}

absl::Status IngestServer::ReloadZoneMap() {
  if (zones_ == nullptr) return absl::FailedPreconditionError("no server.zone_map configured");
  return zones_->Reload();
}

void IngestServer::ReloadZoneMapIfChanged() {
  if (zones_ != nullptr) zones_->ReloadIfChanged();
}

AdminSnapshot IngestServer::AdminView() const {
  AdminViewInput input;
  input.config = &config_;
  input.started = started_;
  input.process = SelfUsage();  // the admin thread, not a shard's
  if (!started_up()) {
    absl::MutexLock lock(&startup_mu_);
    input.startup_step = startup_step_;
    return BuildAdminSnapshot(input, absl::Now());
  }
  input.started_up = true;
  input.drain = drain_->Progress();
  input.shards = shards_.Views();
  input.sealer = sealer_->stats();
  input.store_requests = store_->request_stats();
  input.spool_bytes_live = catalog_->total_bytes();
  input.spool_disk_free_bytes = catalog_->disk_free_bytes();
  input.cameras_known = registry_.size();
  input.stopping = stopped_.load();
  if (zones_ != nullptr) {
    input.zone_map_digest = zones_->digest();
    input.misplaced_sessions = MisplacedSessions();
  }
  input.tls = tls_->Status();
  return BuildAdminSnapshot(input, absl::Now());
}

IngestStats IngestServer::Stats() const {
  IngestStats stats;
  for (const auto& shard : shards_.shards()) {
    const ShardCounters& c = shard->counters();
#define INGEST_SUM_COUNTER(name) stats.name += c.name.load(std::memory_order_relaxed);
    INGEST_SHARD_COUNTERS(INGEST_SUM_COUNTER)
#undef INGEST_SUM_COUNTER
  }
  if (sealer_ != nullptr) stats.sealer = sealer_->stats();
  if (store_ != nullptr) stats.store = store_->request_stats().value_or(ObjectStoreStats{});
  if (catalog_ != nullptr) stats.spool_bytes_live = catalog_->total_bytes();
  stats.cameras_known = registry_.size();
  return stats;
}

}  // namespace ingest
