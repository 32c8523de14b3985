// What the admin endpoints report about a running ingestd: liveness (every
// shard's loop turned recently), the readiness checks, the Prometheus metrics
// and the /status document. Built on the admin server's thread from
// lock-free counters and snapshots, so a scrape never touches a shard's loop.
//
//   AdminSnapshot snapshot = BuildAdminSnapshot(input, absl::Now());
#ifndef SERVER_SHARD_ADMIN_VIEW_H_
#define SERVER_SHARD_ADMIN_VIEW_H_

#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "common/process_usage.h"
#include "server/admin/admin_server.h"
#include "server/batch/batch_sealer.h"
#include "server/config/ingest_config.h"
#include "server/drain/drain_controller.h"
#include "server/shard/shard_counters.h"
#include "server/store/object_store.h"

namespace ingest {

// A shard loop that has not turned for this long is not alive (it turns at
// least every 100 ms).
inline constexpr absl::Duration kShardLivenessDeadline = absl::Seconds(5);
// Readiness fails once the spool holds this share of spool.max_bytes.
inline constexpr double kSpoolHighWater = 0.9;

struct ShardView {
  const ShardCounters* counters = nullptr;
  bool serving = false;
  absl::Time last_turn;  // MonotonicNow() clock
};

// The serving TLS set-up and its reloads (IngestServer::ReloadTls).
struct TlsView {
  bool loaded = false;
  std::string certificate_subject;
  std::string certificate_serial;
  absl::Time certificate_not_after;
  absl::Time camera_ca_not_after;  // earliest in the bundle
  uint64_t camera_cas = 0;
  uint64_t denied_cameras = 0;
  uint64_t crls = 0;
  uint64_t revoked_serials = 0;
  uint64_t reloads = 0;          // successful, since start
  uint64_t reload_failures = 0;  // refused, since start
  absl::Time loaded_at;          // when the serving set-up was read
  // The last reload attempt (none yet: at is InfinitePast).
  absl::Time last_reload_at = absl::InfinitePast();
  std::string last_reload_trigger;
  bool last_reload_ok = true;
  std::string last_reload_error;
};

struct AdminViewInput {
  const IngestConfig* config = nullptr;
  std::vector<ShardView> shards;
  BatchSealerStats sealer;
  // The store's request counters (ObjectStore::request_stats()), shown as
  // the ingest_s3_* metrics; none for the local directory.
  std::optional<ObjectStoreStats> store_requests;
  uint64_t spool_bytes_live = 0;
  uint64_t spool_disk_free_bytes = UINT64_MAX;
  uint64_t cameras_known = 0;
  bool stopping = false;
  absl::Time started;
  // False while the server is still starting: then only startup_step is set
  // and every other field is empty.
  bool started_up = false;
  std::string startup_step;
  DrainProgress drain;
  std::string zone_map_digest;  // empty without a zone map
  uint64_t misplaced_sessions = 0;
  TlsView tls;
  ProcessUsage process;  // set while starting too
};

AdminSnapshot BuildAdminSnapshot(const AdminViewInput& input, absl::Time now);

}  // namespace ingest

#endif  // SERVER_SHARD_ADMIN_VIEW_H_
