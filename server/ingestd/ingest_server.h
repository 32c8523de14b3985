// The ingestd process as an object: the admin port, the zone map, TLS, the
// spool catalog (recovered on start), the object store and the sealer, the
// camera listeners and one Shard per core. main() builds it from the
// configuration; integration tests run it in-process on 127.0.0.1 with
// port 0.
//
//   ASSIGN_OR_RETURN(auto server, IngestServer::Start(config));
//   uint16_t port = server->port();
//   ...
//   server->Stop();   // GOAWAY to cameras, flush commits, seal everything
#ifndef SERVER_INGESTD_INGEST_SERVER_H_
#define SERVER_INGESTD_INGEST_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/admin/admin_server.h"
#include "server/batch/batch_sealer.h"
#include "server/config/ingest_config.h"
#include "server/drain/audit_log.h"
#include "server/drain/drain_controller.h"
#include "server/ingestd/camera_listeners.h"
#include "server/ingestd/pollable_notification.h"
#include "server/ingestd/shard_group.h"
#include "server/ingestd/tls_reloader.h"
#include "server/ingestd/zone_reloader.h"
#include "server/session/camera_registry.h"
#include "server/session/connection_limiter.h"
#include "server/shard/admin_view.h"
#include "server/shard/shard_counters.h"
#include "server/spool/spool_catalog.h"
#include "server/store/object_store.h"

namespace ingest {

// A point-in-time view across shards, for stats lines and tests.
struct IngestStats {
#define INGEST_DECLARE_TOTAL(name) uint64_t name = 0;
  INGEST_SHARD_COUNTERS(INGEST_DECLARE_TOTAL)
#undef INGEST_DECLARE_TOTAL
  BatchSealerStats sealer;
  ObjectStoreStats store;  // zero unless the store sends requests (S3)
  uint64_t spool_bytes_live = 0;
  uint64_t cameras_known = 0;
};

class IngestServer final : public DrainTarget, public RezoneTarget {
 public:
  // `config` must have gone through ResolveDefaults and ValidateConfig.
  // Recovers the spool, binds the listeners and returns once every shard is
  // serving.
  static absl::StatusOr<std::unique_ptr<IngestServer>> Start(const IngestConfig& config);
  ~IngestServer() override;

  uint16_t port() const { return listeners_ != nullptr ? listeners_->port() : 0; }
  // The admin HTTP port (healthz, readyz, metrics, status).
  // The HTTPS ingest listener's port (0 when server.https_listen is off).
  uint16_t https_port() const { return https_listeners_ != nullptr ? https_listeners_->port() : 0; }
  uint16_t admin_port() const { return admin_ != nullptr ? admin_->port() : 0; }
  // What the admin endpoints report now.
  AdminSnapshot AdminView() const;
  const IngestConfig& config() const { return config_; }
  IngestStats Stats() const;
  ObjectStore& store() { return *store_; }
  const BatchSealer& sealer() const { return *sealer_; }
  const RecoveryReport& recovery() const { return recovery_; }

  // Starts a graceful drain (see DrainController), or hurries the running
  // one. Thread-safe; returns at once.
  void Drain(std::string_view trigger, bool fast = false) { drain_->Trigger(trigger, fast); }
  const DrainController& drain() const { return *drain_; }

  // Stops now: waits for a running drain to finish; otherwise asks shards to
  // say GOAWAY and flush, joins them, then seals everything durable into the
  // store. Idempotent. Returns the first shard error.
  absl::Status Stop();

  // TlsReloader::Reload: rebuilds the TLS set-up from the tls.* files on the
  // calling thread, never a shard's; each shard then closes the open
  // sessions of cameras it revokes (ERROR REVOKED). Shown in /status.
  absl::Status ReloadTls(std::string_view trigger);
  // Reloads once a TLS file changed and settled (the TLS watcher thread
  // calls it every second).
  void ReloadTlsIfChanged();
  // Re-reads server.zone_map (SIGHUP, or a change of the file): a bad map is
  // refused and the old one stays. Cameras that now belong to another zone
  // are moved in waves (drain.goaway_per_second), each once its spooled data
  // is in the store: GOAWAY (rezoned), and their next HELLO is redirected.
  // FailedPrecondition without a zone map.
  absl::Status ReloadZoneMap();
  // Reloads if the zone map file changed since it was last read (called
  // every second by ingestd). Errors are logged, the old map kept.
  void ReloadZoneMapIfChanged();

  // Blocks until the server has ended (see ended()); returns the first shard
  // error.
  absl::Status Wait();
  // True once the server no longer serves: a shard stopped on its own, or
  // the shards were stopped (Stop(), or the flush at the end of a drain).
  bool ended() const { return ended_.HasBeenNotified(); }
  // Readable once ended(), for poll() beside other descriptors (-1 if the
  // kernel gave no eventfd; then check ended() now and then).
  int ended_fd() const { return ended_.fd(); }
  // True once any shard has stopped on its own (fatal error).
  bool failed() const { return shards_.failed(); }

  // DrainTarget
  uint64_t CamerasConnected() const override;
  uint64_t GoawaysSent() const override;
  uint64_t AcceptedWhileDraining() const override;
  void MarkDraining() override;
  void CloseListeners() override;
  void RequestGoaways(uint32_t cameras) override;
  DrainFlushResult StopAndFlush(absl::Time deadline) override;
  // RezoneTarget
  void RequestRezoneGoaways(uint32_t per_shard) override;
  // Sessions that no longer belong to this zone and are not yet told.
  uint64_t MisplacedSessions() const override;
  uint64_t RezoneGoawaysSent() const override;
  bool Draining() const override;

 private:
  explicit IngestServer(const IngestConfig& config) : config_(config) {}
  absl::Status Init();
  absl::Status StartAdmin();
  absl::Status RecoverSpool();
  absl::Status OpenStoreAndSealer();
  absl::Status StartShards();
  void SetStartupStep(std::string_view step);
  bool started_up() const { return started_up_.load(std::memory_order_acquire); }
  // Only after Init: a shard counter summed, 0 while starting.
  uint64_t SumWhenStarted(std::atomic<uint64_t> ShardCounters::*counter) const;

  IngestConfig config_;
  PollableNotification ended_;
  std::atomic<bool> stopped_{false};
  const absl::Time started_ = absl::Now();
  // Until set, the admin endpoints report only the start-up step: the shards,
  // sealer and store are still being built on the starting thread.
  std::atomic<bool> started_up_{false};
  mutable absl::Mutex startup_mu_;
  std::string startup_step_ ABSL_GUARDED_BY(startup_mu_) = "starting";
  absl::Mutex flush_mu_;
  bool flushed_ ABSL_GUARDED_BY(flush_mu_) = false;

  // Declared in the order they are built: each is destroyed before what it
  // uses.
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<ZoneReloader> zones_;  // null without a zone map
  std::unique_ptr<TlsReloader> tls_;
  std::unique_ptr<SpoolCatalog> catalog_;
  RecoveryReport recovery_;
  CameraRegistry registry_;
  std::unique_ptr<ObjectStore> store_;
  std::string store_description_;
  std::unique_ptr<BatchSealer> sealer_;
  std::unique_ptr<ConnectionLimiter> limiter_;
  std::atomic<uint64_t> next_session_id_{1};
  std::unique_ptr<CameraListeners> listeners_;
  std::unique_ptr<CameraListeners> https_listeners_;  // null unless server.https_listen
  ShardGroup shards_;
  std::unique_ptr<DrainController> drain_;
  std::unique_ptr<AdminServer> admin_;
};

}  // namespace ingest

#endif  // SERVER_INGESTD_INGEST_SERVER_H_
