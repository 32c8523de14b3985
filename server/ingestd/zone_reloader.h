// The zone map of a running server: loaded at start (with the check that
// this host sits in the zone's subnets), reloaded on SIGHUP or when the file
// changes, and after a reload that moves cameras to other zones, a mover
// thread that tells them GOAWAY (rezoned) in waves until none is left.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<ZoneReloader> zones,
//                    ZoneReloader::Load(ZoneReloaderOptionsFrom(config), audit));
//   ShardShared{.admission = zones->admission(), ...};
//   zones->StartMoving(server);    // once the shards serve
//   zones->Reload();               // SIGHUP
//   zones->ReloadIfChanged();      // every second
//   zones->StopMoving();           // on stop
#ifndef SERVER_INGESTD_ZONE_RELOADER_H_
#define SERVER_INGESTD_ZONE_RELOADER_H_

#include <cstdint>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/drain/audit_log.h"
#include "server/session/zone_admission.h"

namespace ingest {

// The server as the mover sees it (like DrainTarget for a drain).
// Implemented by IngestServer; thread-safe.
class RezoneTarget {
 public:
  virtual ~RezoneTarget() = default;
  // Tells up to `per_shard` more cameras on each shard that no longer belong
  // to this zone GOAWAY (rezoned), each once its spooled data is stored.
  virtual void RequestRezoneGoaways(uint32_t per_shard) = 0;
  // Sessions that no longer belong to this zone and are not yet told.
  virtual uint64_t MisplacedSessions() const = 0;
  // GOAWAYs (rezoned) sent since start.
  virtual uint64_t RezoneGoawaysSent() const = 0;
  // True once a drain has begun: it moves every camera anyway.
  virtual bool Draining() const = 0;
};

struct ZoneReloaderOptions {
  std::string zone_map;  // the file
  std::string zone;      // this server's zone in it
  std::string listen;    // server.listen: where the host addresses come from (HostAddresses)
  // Refuse to start when no host address lies in the zone's subnets
  // (otherwise warn).
  bool refuse_outside_subnets = false;
  // Cameras told per shard in each wave, one wave per wave_interval.
  uint32_t wave_per_shard = 1;
  absl::Duration wave_interval = absl::Milliseconds(100);
};

class ZoneReloader {
 public:
  // Loads the map (errors: LoadZoneMapFor's) and checks this host's
  // addresses against the zone's subnets (FailedPrecondition when refused).
  // `audit` outlives the reloader.
  static absl::StatusOr<std::unique_ptr<ZoneReloader>> Load(ZoneReloaderOptions options, AuditLog& audit);
  // Stops the mover.
  ~ZoneReloader();
  ZoneReloader(const ZoneReloader&) = delete;
  ZoneReloader& operator=(const ZoneReloader&) = delete;

  // What the shards admit cameras by; replaced on each reload.
  const ZoneAdmission* admission() const { return admission_.get(); }
  std::string digest() const { return admission_->map()->digest(); }

  // Re-reads the file: a bad map is refused (audited) and the old one stays.
  // A changed map is audited and, once StartMoving() was called, its
  // misplaced cameras are moved (one mover at a time; a running one already
  // consults the new map).
  absl::Status Reload();
  // Reloads if the file changed since it was last read. Errors are logged.
  void ReloadIfChanged();

  // From now on reloads move cameras through `target`, which must outlive
  // StopMoving().
  void StartMoving(RezoneTarget& target);
  // Ends a running mover within a wave and joins it; later reloads only
  // replace the map. Idempotent.
  void StopMoving();

 private:
  ZoneReloader(ZoneReloaderOptions options, AuditLog& audit) : options_(std::move(options)), audit_(audit) {}
  absl::Status SetUp();
  void StartMover(std::string digest);
  void RunMover(RezoneTarget& target, const std::string& digest);
  // Waits one wave; false once StopMoving() was called.
  bool AwaitWave();

  const ZoneReloaderOptions options_;
  AuditLog& audit_;
  std::unique_ptr<ZoneAdmission> admission_;
  absl::Mutex reload_mu_;                          // serializes reloads
  std::string stamp_ ABSL_GUARDED_BY(reload_mu_);  // FileStamp when last read

  absl::Mutex mover_mu_;
  RezoneTarget* target_ ABSL_GUARDED_BY(mover_mu_) = nullptr;  // null: no moving
  bool stopping_ ABSL_GUARDED_BY(mover_mu_) = false;
  bool mover_running_ ABSL_GUARDED_BY(mover_mu_) = false;
  std::thread mover_ ABSL_GUARDED_BY(mover_mu_);
};

}  // namespace ingest

#endif  // SERVER_INGESTD_ZONE_RELOADER_H_
