// The ingestd process as an object: TLS context, spool catalog (recovered on
// start), camera registry, one Shard per core, the sealer thread and the
// object store. main() builds it from the configuration; integration tests
// run it in-process on 127.0.0.1 with port 0.
//
//   ASSIGN_OR_RETURN(auto server, IngestServer::Start(config));
//   uint16_t port = server->port();
//   ...
//   server->Stop();   // GOAWAY to cameras, flush commits, seal everything
#ifndef SERVER_SHARD_INGEST_SERVER_H_
#define SERVER_SHARD_INGEST_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/ssl_ptr.h"
#include "server/admin/admin_server.h"
#include "server/batch/batch_sealer.h"
#include "server/config/ingest_config.h"
#include "server/drain/audit_log.h"
#include "server/drain/drain_controller.h"
#include "server/s3/s3_store.h"
#include "server/session/camera_registry.h"
#include "server/session/connection_limiter.h"
#include "server/session/zone_admission.h"
#include "server/shard/admin_view.h"
#include "server/shard/revocation_events.h"
#include "server/shard/shard.h"
#include "server/spool/spool_catalog.h"
#include "server/store/object_store.h"
#include "server/tls/server_tls.h"

namespace ingest {

// A point-in-time view across shards, for stats lines and tests.
struct IngestStats {
#define INGEST_DECLARE_TOTAL(name) uint64_t name = 0;
  INGEST_SHARD_COUNTERS(INGEST_DECLARE_TOTAL)
#undef INGEST_DECLARE_TOTAL
  BatchSealerStats sealer;
  S3ClientStats s3;  // zero unless the store is S3
  uint64_t spool_bytes_live = 0;
  uint64_t cameras_known = 0;
};

class IngestServer final : public DrainTarget {
 public:
  // `config` must have gone through ResolveDefaults and ValidateConfig.
  // Recovers the spool, binds the listeners and returns once every shard is
  // serving.
  static absl::StatusOr<std::unique_ptr<IngestServer>> Start(const IngestConfig& config);
  ~IngestServer() override;

  uint16_t port() const { return port_; }
  // The admin HTTP port (healthz, readyz, metrics, status).
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

  // DrainTarget
  uint64_t CamerasConnected() const override;
  uint64_t GoawaysSent() const override;
  uint64_t AcceptedWhileDraining() const override;
  void MarkDraining() override;
  void CloseListeners() override;
  void RequestGoaways(uint32_t cameras) override;
  DrainFlushResult StopAndFlush(absl::Time deadline) override;
  // Rebuilds the whole TLS set-up from the tls.* files (certificate, key and
  // their match, camera CA bundle, CRLs, deny list, ticket keys — re-read if
  // tls.ticket_keys_file is set, else kept) on the calling thread, never a
  // shard's, and only if all of it is valid makes it the one new handshakes
  // use; established sessions carry on with theirs. Each shard then closes
  // the open sessions of cameras it revokes (ERROR REVOKED). A refused
  // reload (bad or mismatched file, or a certificate not valid now) leaves
  // the old set-up serving; either way the result is audited, counted and
  // shown in /status. `trigger` says why: "SIGHUP", "file_changed", ...
  absl::Status ReloadTls(std::string_view trigger);
  // Reloads once a TLS file changed since it was last read and then stayed
  // the same for one more call (a certificate and key replaced one after the
  // other are read together). The TLS watcher thread calls it every second.
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
  // Sessions that no longer belong to this zone and are not yet told.
  uint64_t MisplacedSessions() const;
  // Blocks until a shard fails or Stop() is called from another thread.
  absl::Status Wait();
  // True once any shard has stopped on its own (fatal error).
  bool failed() const { return failed_.load(); }

 private:
  explicit IngestServer(const IngestConfig& config);
  absl::Status Init();
  absl::Status StartAdmin();
  absl::Status OpenListeners();
  void SetStartupStep(std::string_view step);
  absl::Status SetUpZone();
  void RunRezone(std::string map_digest);
  uint64_t SumOverShards(std::atomic<uint64_t> ShardCounters::*counter) const;
  absl::Status SetUpTls();
  ServerTlsFiles TlsFiles() const;
  std::string TlsFileStamps() const;
  // Every second: a changed TLS file is reloaded; every 250 ms: the shards'
  // revocations are written to the audit log.
  void RunTlsWatcher();
  void AuditRevocations();
  TlsView TlsStatus() const;

  IngestConfig config_;
  std::unique_ptr<ServingTls> serving_tls_;
  RevocationEvents revocation_events_;
  // Serializes reloads (SIGHUP and the watcher) and guards their record.
  mutable absl::Mutex tls_mu_;
  TlsView tls_status_ ABSL_GUARDED_BY(tls_mu_);
  std::string tls_stamps_loaded_ ABSL_GUARDED_BY(tls_mu_);  // of the files serving now
  std::string tls_stamps_seen_ ABSL_GUARDED_BY(tls_mu_);    // at the previous check
  // Cameras whose refused handshakes are already in the audit log since the
  // last reload (a revoked camera retries every few seconds).
  absl::flat_hash_set<std::string> audited_refusals_ ABSL_GUARDED_BY(tls_mu_);
  std::thread tls_watcher_;
  absl::Mutex tls_watcher_mu_;
  bool tls_watcher_stop_ ABSL_GUARDED_BY(tls_watcher_mu_) = false;
  std::unique_ptr<SpoolCatalog> catalog_;
  RecoveryReport recovery_;
  std::unique_ptr<ObjectStore> store_;
  S3Store* s3_store_ = nullptr;  // store_ when it is S3
  std::string store_description_;
  std::unique_ptr<BatchSealer> sealer_;
  CameraRegistry registry_;
  std::unique_ptr<ConnectionLimiter> limiter_;
  std::atomic<uint64_t> next_session_id_{1};
  std::vector<int> listen_fds_;
  int listen_family_ = 0;
  uint16_t port_ = 0;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::thread> threads_;
  std::vector<absl::Status> shard_results_;
  std::atomic<bool> failed_{false};
  std::atomic<bool> stopped_{false};
  absl::Time started_ = absl::Now();
  // Until set, the admin endpoints report only the start-up step: the shards,
  // sealer and store are still being built on the starting thread.
  std::atomic<bool> started_up_{false};
  mutable absl::Mutex startup_mu_;
  std::string startup_step_ ABSL_GUARDED_BY(startup_mu_) = "starting";
  absl::Mutex flush_mu_;
  bool flushed_ ABSL_GUARDED_BY(flush_mu_) = false;
  std::unique_ptr<AuditLog> audit_;
  std::unique_ptr<ZoneAdmission> admission_;  // null without a zone map
  absl::Mutex zone_mu_;
  std::string zone_map_stamp_ ABSL_GUARDED_BY(zone_mu_);  // inode, size, mtime when last read
  std::thread rezone_thread_;
  std::atomic<bool> rezone_running_{false};
  std::unique_ptr<DrainController> drain_;
  std::unique_ptr<AdminServer> admin_;
};

// Fills empty TLS file paths from the development certificates under
// <state_dir>/dev-certs, generating them on first run (config.tls.dev_certs).
absl::Status PrepareDevCertificates(IngestConfig& config);

}  // namespace ingest

#endif  // SERVER_SHARD_INGEST_SERVER_H_
