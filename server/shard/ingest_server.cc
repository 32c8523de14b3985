#include "server/shard/ingest_server.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/build_info.h"
#include "common/json_log.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "server/admin/drain_token.h"
#include "server/config/host_port.h"
#include "server/s3/store_from_config.h"
#include "server/shard/admin_view.h"
#include "server/shard/zone_setup.h"
#include "server/tls/dev_certs.h"
#include "server/tls/tls_server_context.h"

namespace ingest {
namespace {

// Wrong credentials or a missing bucket are configuration mistakes: an error
// that refuses the start, loudly. An unreachable store is an outage: OK to
// serve (the spool absorbs it), with `outage` set for readiness to report.
absl::Status CheckStoreAtStart(const OpenedStore& opened, absl::Status& outage) {
  absl::Status access = opened.CheckAccess();
  if (access.ok()) return access;
  if (absl::IsUnavailable(access) || absl::IsDeadlineExceeded(access)) {
    log::Error("store_unreachable_at_start", {{"store", opened.description}, {"error", ToStd(access.message())}});
    outage = access;
    return absl::OkStatus();
  }
  return absl::Status(access.code(), absl::StrCat("store ", opened.description, ": ", access.message()));
}

}  // namespace

absl::Status PrepareDevCertificates(IngestConfig& config) {
  if (!config.tls.dev_certs) return absl::OkStatus();
  std::string dir = config.server.state_dir + "/dev-certs";
  RETURN_IF_ERROR(MakeDevCertificates(DevCertOptions{.out_dir = dir, .camera_count = 0}));
  DevCertPaths paths = DevCertPathsIn(dir);
  if (config.tls.cert_file.empty()) config.tls.cert_file = paths.server_cert;
  if (config.tls.key_file.empty()) config.tls.key_file = paths.server_key;
  if (config.tls.camera_ca_file.empty()) config.tls.camera_ca_file = paths.camera_ca_cert;
  if (config.tls.ticket_keys_file.empty()) config.tls.ticket_keys_file = paths.ticket_keys;
  return absl::OkStatus();
}

IngestServer::IngestServer(const IngestConfig& config) : config_(config) {}

IngestServer::~IngestServer() {
  (void)Stop();
  // A reload racing with Stop() may have started one more (short) mover.
  if (rezone_thread_.joinable()) rezone_thread_.join();
  for (int fd : listen_fds_) ::close(fd);
}

absl::StatusOr<std::unique_ptr<IngestServer>> IngestServer::Start(const IngestConfig& config) {
  std::unique_ptr<IngestServer> server(new IngestServer(config));
  RETURN_IF_ERROR(server->Init());
  return server;
}

absl::Status IngestServer::OpenListeners() {
  ASSIGN_OR_RETURN(HostPort listen, ParseHostPort(config_.server.listen));
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(listen.host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat("server.listen '", config_.server.listen, "': ", gai_strerror(rc)));
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
  socklen_t addr_len = found->ai_addrlen;
  listen_family_ = found->ai_family;
  freeaddrinfo(found);
  uint16_t port = listen.port;
  for (int i = 0; i < config_.server.shards; ++i) {
    int fd = ::socket(listen_family_, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
    listen_fds_.push_back(fd);
    int one = 1;
    // One listener per shard on the same port: the kernel spreads new
    // connections across shards with no shared accept queue.
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    if (listen_family_ == AF_INET6) {
      reinterpret_cast<sockaddr_in6&>(addr).sin6_port = htons(port);
    } else {
      reinterpret_cast<sockaddr_in&>(addr).sin_port = htons(port);
    }
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
      return absl::UnavailableError(absl::StrCat("bind ", config_.server.listen, ": ", std::strerror(errno)));
    }
    if (::listen(fd, 4096) != 0) {
      return absl::UnavailableError(absl::StrCat("listen: ", std::strerror(errno)));
    }
    if (port == 0) {
      sockaddr_storage bound{};
      socklen_t len = sizeof(bound);
      getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
      port = ntohs(listen_family_ == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                              : reinterpret_cast<sockaddr_in&>(bound).sin_port);
    }
  }
  port_ = port;
  return absl::OkStatus();
}

void IngestServer::SetStartupStep(std::string_view step) {
  absl::MutexLock lock(&startup_mu_);
  startup_step_ = std::string(step);
}

absl::Status IngestServer::StartAdmin() {
  ASSIGN_OR_RETURN(std::string token, ReadDrainToken(config_.drain.token_file));
  audit_ = std::make_unique<AuditLog>(config_.server.state_dir + "/audit.log", config_.server.id, config_.server.zone);
  drain_ = std::make_unique<DrainController>(config_.drain, *this, *audit_);
  ASSIGN_OR_RETURN(admin_, AdminServer::Start(
                               AdminServerOptions{.listen = config_.server.admin_listen, .drain_token = token},
                               [this] { return AdminView(); },
                               AdminDrainHooks{.state = [this] { return drain_->Progress().ToJson(); },
                                               .start =
                                                   [this](bool fast) {
                                                     if (!started_up_.load()) {
                                                       return std::string("{\"state\":\"starting\"}\n");
                                                     }
                                                     drain_->Trigger(DrainController::kApiTrigger, fast);
                                                     return drain_->Progress().ToJson();
                                                   }}));
  return absl::OkStatus();
}

namespace {

// Identifies a version of a file cheaply: a rename over it or a rewrite
// changes one of these.
std::string FileStamp(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return "";
  return absl::StrCat(st.st_ino, ":", st.st_size, ":", st.st_mtim.tv_sec, ".", st.st_mtim.tv_nsec);
}

}  // namespace

absl::Status IngestServer::SetUpZone() {
  if (config_.server.zone_map.empty()) return absl::OkStatus();
  const std::string stamp = FileStamp(config_.server.zone_map);
  ASSIGN_OR_RETURN(std::shared_ptr<const zones::ZoneMap> map, LoadZoneMapFor(config_));
  const zones::Zone& zone = *map->Find(config_.server.zone);
  absl::Status placed = CheckAddressesInZone(zone, HostAddresses(config_.server.listen));
  if (!placed.ok()) {
    if (config_.server.zone_subnet_check == "refuse") return placed;
    log::Warn("zone_subnet_mismatch", {{"zone", zone.id}, {"error", ToStd(placed.message())}});
  }
  {
    absl::MutexLock lock(&zone_mu_);
    zone_map_stamp_ = stamp;
  }
  log::Info("zone_map_loaded", {{"file", config_.server.zone_map},
                                {"digest", map->digest()},
                                {"zones", map->zones().size()},
                                {"zone", zone.id},
                                {"endpoint", zone.endpoint}});
  admission_ = std::make_unique<ZoneAdmission>(config_.server.zone, std::move(map));
  return absl::OkStatus();
}

absl::Status IngestServer::ReloadZoneMap() {
  if (admission_ == nullptr) return absl::FailedPreconditionError("no server.zone_map configured");
  absl::MutexLock lock(&zone_mu_);
  zone_map_stamp_ = FileStamp(config_.server.zone_map);
  absl::StatusOr<std::shared_ptr<const zones::ZoneMap>> map = LoadZoneMapFor(config_);
  if (!map.ok()) {
    audit_->Write("zone_map_reload_refused",
                  {{"file", config_.server.zone_map}, {"error", ToStd(map.status().message())}});
    return map.status();
  }
  const std::string old_digest = admission_->map()->digest();
  if ((*map)->digest() == old_digest) return absl::OkStatus();
  const std::string new_digest = (*map)->digest();
  admission_->Replace(*std::move(map));
  audit_->Write("zone_map_reloaded",
                {{"file", config_.server.zone_map}, {"old_digest", old_digest}, {"new_digest", new_digest}});
  // One mover at a time; a running one already consults the new map.
  if (!started_up_.load() || stopped_.load() || rezone_running_.exchange(true)) return absl::OkStatus();
  if (rezone_thread_.joinable()) rezone_thread_.join();
  rezone_thread_ = std::thread([this, new_digest] { RunRezone(new_digest); });
  return absl::OkStatus();
}

void IngestServer::ReloadZoneMapIfChanged() {
  if (admission_ == nullptr) return;
  {
    absl::MutexLock lock(&zone_mu_);
    if (FileStamp(config_.server.zone_map) == zone_map_stamp_) return;
  }
  absl::Status reloaded = ReloadZoneMap();
  if (!reloaded.ok()) log::Error("zone_map_reload_failed", {{"error", reloaded.ToString()}});
}

uint64_t IngestServer::MisplacedSessions() const {
  uint64_t sum = 0;
  for (const auto& shard : shards_) sum += shard->misplaced_sessions();
  return sum;
}

void IngestServer::RunRezone(std::string map_digest) {
  const absl::Time started = absl::Now();
  const uint64_t told_before = SumOverShards(&ShardCounters::rezone_goaways);
  const uint32_t wave =
      std::max<uint32_t>(1, config_.drain.goaway_per_second / 10 / static_cast<uint32_t>(shards_.size()));
  audit_->Write("rezone_started", {{"digest", map_digest}});
  // Two quiet waves in a row (nobody misplaced) end it; a drain or a stop
  // ends it too, since they move every camera anyway.
  int quiet_waves = 0;
  while (quiet_waves < 2 && !stopped_.load() && !drain_->draining()) {
    for (auto& shard : shards_) shard->RequestRezoneGoaways(wave);
    absl::SleepFor(DrainController::kWave);
    quiet_waves = MisplacedSessions() == 0 ? quiet_waves + 1 : 0;
  }
  audit_->Write("rezone_finished", {{"digest", map_digest},
                                    {"cameras_moved", SumOverShards(&ShardCounters::rezone_goaways) - told_before},
                                    {"cameras_left", MisplacedSessions()},
                                    {"elapsed_ms", absl::ToInt64Milliseconds(absl::Now() - started)}});
  rezone_running_.store(false);
}

absl::Status IngestServer::Init() {
  // The admin port comes up first, so a long spool recovery is visible as
  // live-but-not-ready instead of a refused health check.
  RETURN_IF_ERROR(StartAdmin());
  SetStartupStep("loading the zone map");
  RETURN_IF_ERROR(SetUpZone());
  SetStartupStep("loading TLS certificates");
  RETURN_IF_ERROR(PrepareDevCertificates(config_));
  RETURN_IF_ERROR(SetUpTls());
  SetStartupStep("recovering the spool");
  ASSIGN_OR_RETURN(catalog_, SpoolCatalog::Open(SpoolCatalogOptions{.dir = config_.spool.dir,
                                                                    .shard_count = config_.server.shards,
                                                                    .file_bytes = config_.spool.file_bytes,
                                                                    .min_free_bytes = config_.spool.min_free_bytes},
                                                &recovery_));
  // What the previous run made durable is durable now: re-sent segments are
  // recognised as duplicates, and cameras are told where to resume.
  for (const auto& [camera, seq] : recovery_.max_seq_by_camera) registry_.Get(camera).SeedDurable(seq);
  // ... and a re-send can still be compared with what was stored.
  for (const auto& [camera, recent] : recovery_.recent_by_camera) {
    CameraState& state = registry_.Get(camera);
    for (const SpoolSegmentSummary& s : recent) {
      state.Remember(s.seq, SegmentFingerprint{.payload_crc = s.payload_crc,
                                               .payload_bytes = s.payload_bytes,
                                               .capture_start_us = s.capture_start_us,
                                               .duration_us = s.duration_us,
                                               .keyframe = (s.flags & camproto::kSegmentFlagKeyframe) != 0});
    }
  }
  log::Info("spool_recovered", {{"files", recovery_.files},
                                {"records", recovery_.records},
                                {"valid_bytes", recovery_.valid_bytes},
                                {"truncated_bytes", recovery_.truncated_bytes},
                                {"cameras", recovery_.max_seq_by_camera.size()}});
  SetStartupStep("checking the store");
  ASSIGN_OR_RETURN(OpenedStore opened, OpenStoreFromConfig(config_.store));
  absl::Status outage;
  RETURN_IF_ERROR(CheckStoreAtStart(opened, outage));
  store_description_ = opened.description;
  s3_store_ = opened.s3;
  store_ = std::move(opened.store);
  sealer_ = std::make_unique<BatchSealer>(
      BatchSealerOptions{
          .zone = config_.server.zone,
          .instance = "",
          .journal_dir = config_.spool.dir + "/journal",
          .batch_bytes = config_.store.seal_bytes,
          .batch_age = absl::Milliseconds(config_.store.seal_age_ms),
          .index_interval = absl::Seconds(config_.store.index_interval_s),
          .upload_threads = static_cast<int>(config_.store.upload_threads),
          .max_batches_in_flight = 2 * static_cast<int>(config_.store.upload_threads),
          .probe_store = [s3 = s3_store_] { return s3 != nullptr ? s3->CheckAccess() : absl::OkStatus(); }},
      catalog_.get(), store_.get());
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
  limiter_ =
      std::make_unique<ConnectionLimiter>(config_.server.max_connections, config_.server.max_connections_per_source);
  SetStartupStep("opening camera listeners");
  RETURN_IF_ERROR(OpenListeners());

  const int shard_count = config_.server.shards;
  // The kernel caps a ring's direct-descriptor table at RLIMIT_NOFILE; with one
  // table per shard the process holds shards x that many sockets.
  uint32_t per_shard = (config_.server.max_connections + shard_count - 1) / shard_count;
  unsigned table = std::min<unsigned>(std::max<uint32_t>(per_shard + 64, 256), 20000);
  shard_results_.resize(shard_count);
  for (int i = 0; i < shard_count; ++i) {
    ShardOptions options{
        .index = i,
        .listen_fd = listen_fds_[i],
        .listen_family = listen_family_,
        .session = SessionLimits{.server_id = config_.server.id,
                                 .max_segment_bytes = config_.protocol.max_segment_bytes,
                                 .ack_window_bytes = config_.protocol.ack_window_bytes,
                                 .keepalive_interval_ms = config_.protocol.keepalive_interval_ms,
                                 .max_capture_age_us = int64_t{config_.protocol.max_capture_age_s} * 1'000'000,
                                 .max_capture_lead_us = int64_t{config_.protocol.max_capture_lead_s} * 1'000'000},
        .registered_files = table,
        .handshake_timeout = absl::Milliseconds(config_.tls.handshake_timeout_ms),
        .hello_timeout = absl::Milliseconds(config_.protocol.hello_timeout_ms),
        .idle_timeout = absl::Milliseconds(config_.protocol.idle_timeout_ms),
        .memory_budget_bytes = config_.spool.shard_memory_bytes,
        .spool_max_bytes = config_.spool.max_bytes,
        .writer = SpoolWriterOptions{.commit_interval = absl::Milliseconds(config_.spool.commit_interval_ms),
                                     .commit_bytes = config_.spool.commit_bytes,
                                     .file_bytes = config_.spool.file_bytes},
        .connection_errors_per_second = config_.log.connection_errors_per_second,
        .session_lines_per_second = config_.log.session_lines_per_second,
        .reconnect_after_min = absl::Milliseconds(config_.drain.reconnect_after_min_ms),
        .reconnect_after_max = absl::Milliseconds(config_.drain.reconnect_after_max_ms),
    };
    shards_.push_back(std::make_unique<Shard>(options, ShardShared{.catalog = catalog_.get(),
                                                                   .registry = &registry_,
                                                                   .limiter = limiter_.get(),
                                                                   .next_session_id = &next_session_id_,
                                                                   .admission = admission_.get(),
                                                                   .tls = serving_tls_.get(),
                                                                   .revocations = &revocation_events_}));
  }
  for (int i = 0; i < shard_count; ++i) {
    threads_.emplace_back([this, i] {
      shard_results_[i] = shards_[i]->Run();
      if (!shard_results_[i].ok()) {
        log::Error("shard_stopped", {{"shard", i}, {"error", shard_results_[i].ToString()}});
        failed_.store(true);
      }
    });
  }
  // Serving means every ring is up; a shard that failed to set up says why.
  for (int waited = 0; waited < 5000; ++waited) {
    bool all = true;
    for (auto& shard : shards_) all = all && shard->serving();
    if (all) break;
    if (failed_.load()) break;
    usleep(1000);
  }
  if (failed_.load()) {
    absl::Status first;
    (void)Stop();
    for (auto& s : shard_results_) {
      if (!s.ok()) return s;
    }
    return absl::InternalError("a shard failed to start");
  }
  tls_watcher_ = std::thread([this] { RunTlsWatcher(); });
  started_up_.store(true, std::memory_order_release);
  SetStartupStep("serving");
  log::Info("ingestd_serving", {{"version", BuildVersion()},
                                {"commit", BuildCommit()},
                                {"listen", config_.server.listen},
                                {"admin_port", admin_->port()},
                                {"port", port_},
                                {"shards", shard_count},
                                {"zone", config_.server.zone},
                                {"server_id", config_.server.id},
                                {"store", store_description_}});
  return absl::OkStatus();
}

absl::Status IngestServer::Stop() {
  if (stopped_.exchange(true)) return absl::OkStatus();
  // A drain in progress runs to its end (it is bounded by its deadline).
  if (drain_ != nullptr && drain_->draining()) {
    while (!drain_->done()) usleep(20 * 1000);
  }
  if (rezone_thread_.joinable()) rezone_thread_.join();
  StopAndFlush(absl::InfiniteFuture());
  {
    absl::MutexLock lock(&tls_watcher_mu_);
    tls_watcher_stop_ = true;
  }
  if (tls_watcher_.joinable()) tls_watcher_.join();
  if (audit_ != nullptr) AuditRevocations();  // what the shards did last
  // Readiness has reported "shutting down" since the first line; the admin
  // endpoints stay up until everything is flushed.
  if (admin_ != nullptr) admin_->Stop();
  IngestStats stats = Stats();
  log::Info("ingestd_stopped",
            {{"segments_accepted", stats.segments_accepted}, {"spool_bytes_live", stats.spool_bytes_live}});
  for (auto& s : shard_results_) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

DrainFlushResult IngestServer::StopAndFlush(absl::Time deadline) {
  absl::MutexLock lock(&flush_mu_);
  DrainFlushResult result;
  if (flushed_) return result;
  flushed_ = true;
  for (auto& shard : shards_) shard->RequestStop();
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  if (sealer_ == nullptr) return result;
  const BatchSealerStats before = sealer_->stats();
  result.complete = sealer_->Stop(/*flush_all=*/true, deadline);
  const BatchSealerStats after = sealer_->stats();
  result.bytes_flushed = after.batch_bytes_written - before.batch_bytes_written;
  result.segments_flushed = after.segments_persisted - before.segments_persisted;
  result.segments_left = after.pending_segments + after.unindexed_segments;
  return result;
}

uint64_t IngestServer::SumOverShards(std::atomic<uint64_t> ShardCounters::*counter) const {
  uint64_t sum = 0;
  for (const auto& shard : shards_) sum += (shard->counters().*counter).load(std::memory_order_relaxed);
  return sum;
}

uint64_t IngestServer::CamerasConnected() const {
  return started_up_.load(std::memory_order_acquire) ? SumOverShards(&ShardCounters::connections_open) : 0;
}

uint64_t IngestServer::GoawaysSent() const {
  return started_up_.load(std::memory_order_acquire) ? SumOverShards(&ShardCounters::goaways_sent) : 0;
}

uint64_t IngestServer::AcceptedWhileDraining() const {
  return started_up_.load(std::memory_order_acquire)
             ? SumOverShards(&ShardCounters::connections_accepted_while_draining)
             : 0;
}

void IngestServer::MarkDraining() {
  for (auto& shard : shards_) shard->MarkDraining();
}

void IngestServer::CloseListeners() {
  for (auto& shard : shards_) shard->StopAccepting();
  // Shutting a listening socket down ends the accept armed on it and resets
  // the connections waiting in its backlog; the port stays bound (nothing
  // else can take it) until the process exits.
  for (int fd : listen_fds_) ::shutdown(fd, SHUT_RDWR);
  log::Info("listeners_closed", {{"port", port_}});
}

void IngestServer::RequestGoaways(uint32_t cameras) {
  if (shards_.empty()) return;
  const uint32_t per_shard = std::max<uint32_t>(1, cameras / static_cast<uint32_t>(shards_.size()));
  for (auto& shard : shards_) shard->RequestGoaways(per_shard);
}

namespace {

std::string TimeText(absl::Time t) { return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone()); }

// What /status and /metrics say about `tls` (the reload record is kept).
void DescribeServing(const ServerTls& tls, absl::Time loaded_at, TlsView& view) {
  view.loaded = true;
  view.certificate_subject = tls.certificate_subject;
  view.certificate_serial = tls.certificate_serial;
  view.certificate_not_after = tls.certificate_not_after;
  view.camera_ca_not_after = tls.camera_ca_not_after;
  view.camera_cas = tls.camera_ca_count;
  view.denied_cameras = tls.revocation->denied_cameras();
  view.crls = tls.revocation->crl_count();
  view.revoked_serials = tls.revocation->revoked_serials();
  view.loaded_at = loaded_at;
}

}  // namespace

ServerTlsFiles IngestServer::TlsFiles() const {
  return ServerTlsFiles{.context = TlsServerOptions{.cert_file = config_.tls.cert_file,
                                                    .key_file = config_.tls.key_file,
                                                    .camera_ca_file = config_.tls.camera_ca_file,
                                                    .ticket_keys_file = config_.tls.ticket_keys_file,
                                                    .allow_tls12 = config_.tls.allow_tls12},
                        .crl_file = config_.tls.crl_file,
                        .camera_deny_list_file = config_.tls.camera_deny_list_file};
}

std::string IngestServer::TlsFileStamps() const {
  std::string stamps;
  for (const std::string* path : {&config_.tls.cert_file, &config_.tls.key_file, &config_.tls.camera_ca_file,
                                  &config_.tls.ticket_keys_file, &config_.tls.crl_file,
                                  &config_.tls.camera_deny_list_file}) {
    absl::StrAppend(&stamps, path->empty() ? "-" : FileStamp(*path), "|");
  }
  return stamps;
}

absl::Status IngestServer::SetUpTls() {
  const std::string stamps = TlsFileStamps();
  ASSIGN_OR_RETURN(std::shared_ptr<const ServerTls> tls, LoadServerTls(TlsFiles()));
  {
    absl::MutexLock lock(&tls_mu_);
    tls_stamps_loaded_ = tls_stamps_seen_ = stamps;
    DescribeServing(*tls, absl::Now(), tls_status_);
  }
  log::Info("tls_loaded", {{"certificate", tls->certificate_subject},
                           {"serial", tls->certificate_serial},
                           {"not_after", TimeText(tls->certificate_not_after)},
                           {"camera_cas", tls->camera_ca_count},
                           {"denied_cameras", tls->revocation->denied_cameras()},
                           {"crl_revoked_serials", tls->revocation->revoked_serials()}});
  serving_tls_ = std::make_unique<ServingTls>(std::move(tls));
  return absl::OkStatus();
}

absl::Status IngestServer::ReloadTls(std::string_view trigger) {
  if (serving_tls_ == nullptr) return absl::FailedPreconditionError("TLS is not set up yet");
  absl::MutexLock lock(&tls_mu_);
  const absl::Time now = absl::Now();
  // A refused file is not tried again until one of the files changes.
  tls_stamps_loaded_ = tls_stamps_seen_ = TlsFileStamps();
  tls_status_.last_reload_at = now;
  tls_status_.last_reload_trigger = std::string(trigger);
  const std::shared_ptr<const ServerTls> previous = serving_tls_->Get().tls;
  absl::StatusOr<std::shared_ptr<const ServerTls>> next = LoadServerTls(TlsFiles(), previous->ctx.get());
  absl::Status status = next.status();
  // Loading an expired certificate would make every camera refuse us; at
  // start-up that is `ingestd check`'s to catch, on a reload it is ours.
  if (status.ok() && !((*next)->certificate_not_before <= now && now <= (*next)->certificate_not_after)) {
    status = absl::InvalidArgumentError(absl::StrCat(
        "the certificate in ", config_.tls.cert_file, " (", (*next)->certificate_subject, ") is not valid now: ",
        TimeText((*next)->certificate_not_before), " .. ", TimeText((*next)->certificate_not_after)));
  }
  if (!status.ok()) {
    ++tls_status_.reload_failures;
    tls_status_.last_reload_ok = false;
    tls_status_.last_reload_error = std::string(status.message());
    audit_->Write("tls_reload_refused", {{"trigger", trigger},
                                         {"error", ToStd(status.message())},
                                         {"serving_certificate_serial", previous->certificate_serial}});
    return status;
  }
  const ServerTls& tls = **next;
  DescribeServing(tls, now, tls_status_);
  ++tls_status_.reloads;
  tls_status_.last_reload_ok = true;
  tls_status_.last_reload_error.clear();
  audited_refusals_.clear();
  audit_->Write("tls_reloaded", {{"trigger", trigger},
                                 {"certificate", tls.certificate_subject},
                                 {"certificate_serial", tls.certificate_serial},
                                 {"certificate_not_after", TimeText(tls.certificate_not_after)},
                                 {"previous_certificate_serial", previous->certificate_serial},
                                 {"camera_cas", tls.camera_ca_count},
                                 {"camera_ca_not_after", TimeText(tls.camera_ca_not_after)},
                                 {"denied_cameras", tls.revocation->denied_cameras()},
                                 {"crl_revoked_serials", tls.revocation->revoked_serials()}});
  // From here on new handshakes use it; each shard picks it up within a loop
  // turn and closes the sessions it revokes.
  serving_tls_->Replace(*std::move(next));
  return absl::OkStatus();
}

void IngestServer::ReloadTlsIfChanged() {
  {
    absl::MutexLock lock(&tls_mu_);
    const std::string stamps = TlsFileStamps();
    const bool settled = stamps == tls_stamps_seen_;
    tls_stamps_seen_ = stamps;
    if (stamps == tls_stamps_loaded_ || !settled) return;
  }
  absl::Status reloaded = ReloadTls("file_changed");
  if (!reloaded.ok()) log::Error("tls_reload_failed", {{"error", reloaded.ToString()}});
}

void IngestServer::RunTlsWatcher() {
  absl::Time next_check = absl::Now() + absl::Seconds(1);
  while (true) {
    {
      absl::MutexLock lock(&tls_watcher_mu_);
      tls_watcher_mu_.AwaitWithTimeout(absl::Condition(&tls_watcher_stop_), absl::Milliseconds(250));
      if (tls_watcher_stop_) return;
    }
    AuditRevocations();
    if (absl::Now() >= next_check) {
      ReloadTlsIfChanged();
      next_check = absl::Now() + absl::Seconds(1);
    }
  }
}

void IngestServer::AuditRevocations() {
  uint64_t dropped = 0;
  const std::vector<RevocationEvent> events = revocation_events_.Take(&dropped);
  for (const RevocationEvent& event : events) {
    if (!event.session_closed) {
      absl::MutexLock lock(&tls_mu_);
      if (!audited_refusals_.insert(absl::StrCat(event.camera, "/", event.serial)).second) continue;
    }
    audit_->Write(event.session_closed ? "camera_revoked_session_closed" : "camera_revoked_handshake_refused",
                  {{"camera", event.camera},
                   {"certificate_serial", event.serial},
                   {"peer", event.peer},
                   {"shard", event.shard},
                   {"reason", event.reason}});
  }
  if (dropped > 0) audit_->Write("camera_revocations_not_audited", {{"events", dropped}});
}

TlsView IngestServer::TlsStatus() const {
  absl::MutexLock lock(&tls_mu_);
  return tls_status_;
}

absl::Status IngestServer::Wait() {
  while (!failed_.load() && !stopped_.load()) usleep(100 * 1000);
  for (auto& s : shard_results_) {
    if (!s.ok()) return s;
  }
  return absl::OkStatus();
}

AdminSnapshot IngestServer::AdminView() const {
  AdminViewInput input;
  input.config = &config_;
  input.started = started_;
  if (!started_up_.load(std::memory_order_acquire)) {
    absl::MutexLock lock(&startup_mu_);
    input.startup_step = startup_step_;
    return BuildAdminSnapshot(input, absl::Now());
  }
  input.started_up = true;
  input.drain = drain_->Progress();
  for (const auto& shard : shards_) {
    input.shards.push_back(
        {.counters = &shard->counters(), .serving = shard->serving(), .last_turn = shard->last_turn()});
  }
  if (sealer_ != nullptr) input.sealer = sealer_->stats();
  S3ClientStats s3;
  if (s3_store_ != nullptr) {
    s3 = s3_store_->stats();
    input.s3 = &s3;
  }
  if (catalog_ != nullptr) {
    input.spool_bytes_live = catalog_->total_bytes();
    input.spool_disk_free_bytes = catalog_->disk_free_bytes();
  }
  input.cameras_known = registry_.size();
  input.stopping = stopped_.load();
  if (admission_ != nullptr) {
    input.zone_map_digest = admission_->map()->digest();
    input.misplaced_sessions = MisplacedSessions();
  }
  input.tls = TlsStatus();
  return BuildAdminSnapshot(input, absl::Now());
}

IngestStats IngestServer::Stats() const {
  IngestStats stats;
  for (const auto& shard : shards_) {
    const ShardCounters& c = shard->counters();
#define INGEST_SUM_COUNTER(name) stats.name += c.name.load(std::memory_order_relaxed);
    INGEST_SHARD_COUNTERS(INGEST_SUM_COUNTER)
#undef INGEST_SUM_COUNTER
  }
  if (sealer_ != nullptr) stats.sealer = sealer_->stats();
  if (s3_store_ != nullptr) stats.s3 = s3_store_->stats();
  if (catalog_ != nullptr) stats.spool_bytes_live = catalog_->total_bytes();
  stats.cameras_known = registry_.size();
  return stats;
}

}  // namespace ingest
