// The TLS set-up of a running server: loaded at start, rebuilt from the
// tls.* files on SIGHUP or when one of them changes, and the shards'
// revocations written to the audit log. A watcher thread does the periodic
// part.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<TlsReloader> tls,
//                    TlsReloader::Load(ServerTlsFilesFrom(config.tls), audit));
//   ShardShared{.tls = tls->serving(), .revocations = tls->revocation_events(), ...};
//   tls->StartWatching();        // once the shards serve
//   tls->Reload("SIGHUP");
//   tls->StopWatching();         // on stop, after the shards
#ifndef SERVER_INGESTD_TLS_RELOADER_H_
#define SERVER_INGESTD_TLS_RELOADER_H_

#include <memory>
#include <string>
#include <string_view>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "server/config/ingest_config.h"
#include "server/drain/audit_log.h"
#include "server/shard/admin_view.h"
#include "server/shard/revocation_events.h"
#include "server/tls/server_tls.h"

namespace ingest {

class TlsReloader {
 public:
  // Loads `files` (errors: LoadServerTls's). `audit` outlives the reloader.
  static absl::StatusOr<std::unique_ptr<TlsReloader>> Load(ServerTlsFiles files, AuditLog& audit);
  // Stops the watcher.
  ~TlsReloader();
  TlsReloader(const TlsReloader&) = delete;
  TlsReloader& operator=(const TlsReloader&) = delete;

  // What new handshakes use; the shards read it every loop turn.
  const ServingTls* serving() const { return serving_.get(); }
  // Where the shards report the sessions and handshakes they refuse.
  RevocationEvents* revocation_events() { return &revocation_events_; }

  // Rebuilds the whole set-up from the files (certificate, key and their
  // match, camera CA bundle, CRLs, deny list, ticket keys — re-read if a
  // ticket keys file is set, else kept) on the calling thread, and only if
  // all of it is valid makes it the one new handshakes use; established
  // sessions carry on with theirs. A refused reload (bad or mismatched file,
  // or a certificate not valid now) leaves the old set-up serving; either
  // way the result is audited and counted. `trigger` says why: "SIGHUP",
  // "file_changed", ...
  absl::Status Reload(std::string_view trigger);
  // Reloads once a file changed since it was last read and then stayed the
  // same for one more call (a certificate and key replaced one after the
  // other are read together).
  void ReloadIfChanged();

  // Starts the watcher thread: every 250 ms the shards' revocations are
  // audited, every second ReloadIfChanged().
  void StartWatching();
  // Stops and joins the watcher, then audits the revocations left.
  // Idempotent.
  void StopWatching();

  // The serving set-up and the reload record, for /status and /metrics.
  TlsView Status() const;

 private:
  TlsReloader(ServerTlsFiles files, AuditLog& audit) : files_(std::move(files)), audit_(audit) {}
  absl::Status SetUp();
  std::string FileStamps() const;
  void RunWatcher();
  void AuditRevocations();
  void RecordRefusal(std::string_view trigger, const absl::Status& status, const ServerTls& previous)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RecordReload(std::string_view trigger, const ServerTls& tls, const ServerTls& previous, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  const ServerTlsFiles files_;
  AuditLog& audit_;
  std::unique_ptr<ServingTls> serving_;
  RevocationEvents revocation_events_;
  // Serializes reloads (SIGHUP and the watcher) and guards their record.
  mutable absl::Mutex mu_;
  TlsView status_ ABSL_GUARDED_BY(mu_);
  std::string stamps_loaded_ ABSL_GUARDED_BY(mu_);  // of the files serving now
  std::string stamps_seen_ ABSL_GUARDED_BY(mu_);    // at the previous check
  // Cameras whose refused handshakes are already in the audit log since the
  // last reload (a revoked camera retries every few seconds).
  absl::flat_hash_set<std::string> audited_refusals_ ABSL_GUARDED_BY(mu_);

  absl::Mutex watcher_mu_;
  bool watcher_stop_ ABSL_GUARDED_BY(watcher_mu_) = false;
  std::thread watcher_;
};

// Fills empty TLS file paths from the development certificates under
// <state_dir>/dev-certs, generating them on first run (config.tls.dev_certs).
absl::Status PrepareDevCertificates(IngestConfig& config);

}  // namespace ingest

#endif  // SERVER_INGESTD_TLS_RELOADER_H_
