#include "server/shard/admin_view.h"

#include <array>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/build_info.h"
#include "common/json_string.h"
#include "common/monotonic_clock.h"
#include "server/admin/prometheus_text.h"

namespace ingest {
namespace {

uint64_t Total(const AdminViewInput& input, std::atomic<uint64_t> ShardCounters::*counter) {
  uint64_t sum = 0;
  for (const ShardView& shard : input.shards) sum += (shard.counters->*counter).load(std::memory_order_relaxed);
  return sum;
}

AdminCheck SpoolDiskCheck(const AdminViewInput& input) {
  const uint64_t stalled = Total(input, &ShardCounters::spool_write_stalled);
  if (stalled > 0) {
    return {"spool_disk_space", false,
            absl::StrCat("the spool's file system is full (no space left on device): ", stalled,
                         " shard(s) paused their cameras until uploads free space")};
  }
  const uint64_t min_free = input.config->spool.min_free_bytes;
  return {"spool_disk_space", input.spool_disk_free_bytes >= min_free,
          absl::StrCat(input.spool_disk_free_bytes, " bytes free on the spool's file system (spool.min_free_bytes ",
                       min_free, input.spool_disk_free_bytes >= min_free ? ")" : "; cameras paused)")};
}

std::vector<AdminCheck> ReadinessChecks(const AdminViewInput& input) {
  std::vector<AdminCheck> checks;
  // Start-up mirrors the drain: ready only once the spool is recovered, the
  // store checked and the listeners up.
  checks.push_back({"started", input.started_up, input.started_up ? "serving" : input.startup_step});
  if (!input.started_up) return checks;
  bool serving = !input.shards.empty();
  for (const ShardView& shard : input.shards) serving = serving && shard.serving;
  checks.push_back({"listening", serving, serving ? "every shard accepts cameras" : "a shard is not serving"});
  const bool draining = input.stopping || input.drain.phase != DrainPhase::kServing;
  checks.push_back({"not_draining", !draining,
                    input.drain.phase != DrainPhase::kServing
                        ? absl::StrCat("drain ", DrainPhaseName(input.drain.phase), " (", input.drain.trigger, ")")
                        : std::string(input.stopping ? "shutting down" : "serving")});
  const uint64_t high_water =
      static_cast<uint64_t>(kSpoolHighWater * static_cast<double>(input.config->spool.max_bytes));
  checks.push_back({"spool_below_high_water", input.spool_bytes_live < high_water,
                    absl::StrCat(input.spool_bytes_live, " of ", input.config->spool.max_bytes, " bytes")});
  checks.push_back(SpoolDiskCheck(input));
  checks.push_back({"store_writable", input.sealer.store_ok,
                    input.sealer.store_ok ? "last upload succeeded" : input.sealer.last_store_error});
  // Not ready from 95% full: the load balancer then sends new cameras
  // elsewhere while this server still has room for those already on their
  // way, rather than finding out from REJECT SERVER_FULL.
  const uint64_t open = Total(input, &ShardCounters::connections_open);
  const uint64_t max_connections = input.config->server.max_connections;
  const uint64_t ready_below = max_connections - max_connections / 20;
  checks.push_back({"below_capacity", open < ready_below,
                    absl::StrCat(open, " of ", max_connections, " connections (not ready from ", ready_below, ")")});
  return checks;
}

// Every metric family /metrics has, with what it means. The shard's counters
// and gauges carry theirs in server/shard/shard_counters.h.
struct ShardCounterFamily {
  std::atomic<uint64_t> ShardCounters::*value;
  CounterFamily family;
};
constexpr ShardCounterFamily kShardCounterFamilies[] = {
#define INGEST_COUNTER_FAMILY(name, help) {&ShardCounters::name, {"ingest_" #name "_total", help}},
    INGEST_SHARD_COUNTER_TABLE(INGEST_SHARD_NAME_AND_HELP, INGEST_COUNTER_FAMILY)
#undef INGEST_COUNTER_FAMILY
};
struct ShardGaugeFamily {
  std::atomic<uint64_t> ShardCounters::*value;
  GaugeFamily family;
};
constexpr ShardGaugeFamily kShardGaugeFamilies[] = {
#define INGEST_GAUGE_FAMILY(name, help) {&ShardCounters::name, {"ingest_" #name, help}},
    INGEST_SHARD_GAUGE_TABLE(INGEST_SHARD_NAME_AND_HELP, INGEST_GAUGE_FAMILY)
#undef INGEST_GAUGE_FAMILY
};

constexpr GaugeFamily kSecondsSinceLoopTurn{"ingest_shard_seconds_since_loop_turn",
                                            "Seconds since the shard's event loop last turned."};
constexpr CounterFamily kHttpsRequests{"ingest_https_requests_total",
                                       "HTTPS ingest requests by outcome (docs/https-ingest.md)."};
constexpr GaugeFamily kConnectionsByPhase{"ingest_connections", "Connections by phase (recounted every 100 ms)."};
constexpr GaugeFamily kSessionsStreaming{"ingest_sessions_streaming",
                                         "Cameras welcomed and streaming (recounted every 100 ms)."};
constexpr HistogramFamily kLoopTurn{"ingest_loop_turn_seconds", "Work done per event-loop turn (between two waits)."};
constexpr HistogramFamily kAckSpooled{
    "ingest_ack_spooled_seconds",
    "From a segment's last byte received to its spool commit being durable (the server's share of ACK spooled)."};
constexpr HistogramFamily kSpoolCommit{"ingest_spool_commit_seconds",
                                       "One group commit, from its writev to its fdatasync done (disk-full waits included)."};

constexpr CounterFamily kSegmentsPersisted{"ingest_segments_persisted_total",
                                           "Segments in the object store (ACK persisted)."};
constexpr CounterFamily kBatchesWritten{"ingest_batches_written_total", "Batch objects uploaded."};
constexpr CounterFamily kBatchBytesWritten{"ingest_batch_bytes_written_total", "Bytes of batch objects uploaded."};
constexpr CounterFamily kIndexObjectsWritten{"ingest_index_objects_written_total", "Camera index objects uploaded."};
constexpr CounterFamily kStoreErrors{"ingest_store_errors_total", "Failed object uploads (retried)."};
constexpr CounterFamily kDuplicatesSkipped{"ingest_spool_duplicates_skipped_total",
                                           "Spooled segments already in the store."};
constexpr CounterFamily kFilesReclaimed{"ingest_spool_files_reclaimed_total", "Spool files deleted after upload."};
constexpr CounterFamily kCorruptSegments{"ingest_corrupt_segments_total",
                                         "Spooled payloads whose CRC failed at upload time."};
constexpr GaugeFamily kPendingSegments{"ingest_pending_segments", "Spooled segments not yet in a batch."};
constexpr GaugeFamily kBatchesInFlight{"ingest_batches_in_flight", "Batches being uploaded or waiting to retry."};
constexpr GaugeFamily kUnindexedSegments{"ingest_unindexed_segments",
                                         "Persisted segments waiting for their camera index object."};
constexpr GaugeFamily kOldestPendingAge{"ingest_oldest_pending_segment_age_seconds",
                                        "Age of the oldest spooled segment not yet uploaded."};
constexpr GaugeFamily kStoreOk{"ingest_store_ok", "1 if the last upload succeeded."};

constexpr CounterFamily kS3Requests{"ingest_s3_requests_total", "S3 HTTP attempts."};
constexpr CounterFamily kS3Retries{"ingest_s3_retries_total", "S3 attempts after the first of an operation."};
constexpr CounterFamily kS3Errors{
    "ingest_s3_errors_total",
    "Failed S3 attempts by kind: network (no complete answer), throttled (429, 503 without a code, or an S3 "
    "throttling code such as SlowDown), server (other 5xx), auth, not_found, client (anything else)."};
constexpr CounterFamily kS3Bytes{"ingest_s3_bytes_total", "S3 request (up) and response (down) bodies."};
constexpr HistogramFamily kS3RequestSeconds{"ingest_s3_request_seconds", "S3 attempt latency."};

constexpr GaugeFamily kTlsCertificateExpiry{"ingest_tls_certificate_expiry_timestamp_seconds",
                                            "notAfter of the serving certificate (tls.cert_file), unix seconds."};
constexpr GaugeFamily kTlsCameraCaExpiry{
    "ingest_tls_camera_ca_expiry_timestamp_seconds",
    "Earliest notAfter in the camera CA bundle (tls.camera_ca_file), unix seconds."};
constexpr CounterFamily kTlsReloads{"ingest_tls_reloads_total",
                                    "TLS reloads that took effect (SIGHUP or a changed file)."};
constexpr CounterFamily kTlsReloadFailures{"ingest_tls_reload_failures_total",
                                           "TLS reloads refused (a bad file); the previous set-up stays."};
constexpr GaugeFamily kTlsLastReloadOk{"ingest_tls_last_reload_ok",
                                       "0 if the last TLS reload was refused (see /status tls.last_reload)."};
constexpr GaugeFamily kTlsLoaded{"ingest_tls_loaded_timestamp_seconds",
                                 "When the serving TLS files were read, unix seconds."};
constexpr GaugeFamily kTlsDeniedCameras{"ingest_tls_denied_cameras",
                                        "Camera ids on the deny list (tls.camera_deny_list_file)."};
constexpr GaugeFamily kTlsRevokedSerials{"ingest_tls_crl_revoked_serials",
                                         "Certificate serials revoked by the CRLs (tls.crl_file)."};

constexpr GaugeFamily kReady{"ingest_ready", "1 if every readiness check passes."};
constexpr GaugeFamily kLive{"ingest_live", "1 if every shard loop turned recently."};
constexpr GaugeFamily kStarting{"ingest_starting",
                                "1 while the server recovers its spool and opens its store and listeners."};
constexpr GaugeFamily kUptime{"ingest_uptime_seconds", "Seconds since the server started."};
constexpr GaugeFamily kSpoolBytes{"ingest_spool_bytes", "Bytes in spool files not yet reclaimed."};
constexpr GaugeFamily kSpoolDiskFree{"ingest_spool_disk_free_bytes",
                                     "Free bytes on the spool's file system (last measured)."};
// The standard process metrics, under their usual names so dashboards and
// load generators (camera-bench) read them without knowing ingestd.
constexpr CounterFamily kProcessCpu{"process_cpu_seconds_total", "CPU time of the process, user and system, in seconds."};
constexpr GaugeFamily kProcessResident{"process_resident_memory_bytes", "Resident memory of the process, in bytes."};
constexpr GaugeFamily kInfo{"ingest_info", "Always 1; labels say which server, build, zone and zone map this is."};
constexpr GaugeFamily kMisplacedSessions{"ingest_misplaced_sessions",
                                         "Cameras connected here that a reloaded zone map places elsewhere."};
constexpr GaugeFamily kSpoolMinFree{"ingest_spool_min_free_bytes",
                                    "Free space the spool leaves on its file system (spool.min_free_bytes)."};
constexpr GaugeFamily kSpoolMax{"ingest_spool_max_bytes", "Spool capacity (spool.max_bytes)."};
constexpr GaugeFamily kDraining{"ingest_draining", "1 once a drain has started."};
constexpr GaugeFamily kDrainPhase{"ingest_drain_phase",
                                  "0 serving, 1 announced, 2 moving cameras, 3 flushing, 4 done."};
constexpr GaugeFamily kCamerasKnown{"ingest_cameras_known", "Cameras seen since start (or recovered)."};

double Value(const std::atomic<uint64_t>& v) { return static_cast<double>(v.load(std::memory_order_relaxed)); }

void ShardMetrics(const AdminViewInput& input, PrometheusText& w) {
  for (size_t i = 0; i < input.shards.size(); ++i) {
    const ShardCounters& c = *input.shards[i].counters;
    const PrometheusLabels shard = {{"shard", absl::StrCat(i)}};
    for (const ShardCounterFamily& counter : kShardCounterFamilies) {
      w.Add(counter.family, Value(c.*counter.value), shard);
    }
    for (const ShardGaugeFamily& gauge : kShardGaugeFamilies) w.Add(gauge.family, Value(c.*gauge.value), shard);
    w.Add(kSecondsSinceLoopTurn, absl::ToDoubleSeconds(MonotonicNow() - input.shards[i].last_turn), shard);
    for (size_t p = 0; p < kConnectionPhaseNames.size(); ++p) {
      w.Add(kConnectionsByPhase, static_cast<double>(c.connections_by_phase[p].load(std::memory_order_relaxed)),
            {{"shard", absl::StrCat(i)}, {"state", kConnectionPhaseNames[p]}});
    }
    for (size_t e = 0; e < kHttpIngestEventCount; ++e) {
      w.Add(kHttpsRequests, static_cast<double>(c.https_requests[e].load(std::memory_order_relaxed)),
            {{"shard", absl::StrCat(i)},
             {"outcome", std::string(HttpIngestEventName(static_cast<HttpIngestEvent>(e)))}});
    }
    w.Add(kSessionsStreaming,
          static_cast<double>(c.connections_by_phase[static_cast<size_t>(ConnectionPhase::kStreaming)].load(
              std::memory_order_relaxed)),
          shard);
    w.Add(kLoopTurn, c.loop_turn.Snapshot(), shard);
    w.Add(kAckSpooled, c.ack_spooled.Snapshot(), shard);
    w.Add(kSpoolCommit, c.spool_commit.Snapshot(), shard);
  }
}

void SealerMetrics(const BatchSealerStats& s, PrometheusText& w) {
  w.Add(kSegmentsPersisted, static_cast<double>(s.segments_persisted));
  w.Add(kBatchesWritten, static_cast<double>(s.batches_written));
  w.Add(kBatchBytesWritten, static_cast<double>(s.batch_bytes_written));
  w.Add(kIndexObjectsWritten, static_cast<double>(s.index_objects_written));
  w.Add(kStoreErrors, static_cast<double>(s.store_errors));
  w.Add(kDuplicatesSkipped, static_cast<double>(s.duplicates_skipped));
  w.Add(kFilesReclaimed, static_cast<double>(s.files_reclaimed));
  w.Add(kCorruptSegments, static_cast<double>(s.corrupt_segments));
  w.Add(kPendingSegments, static_cast<double>(s.pending_segments));
  w.Add(kBatchesInFlight, static_cast<double>(s.batches_in_flight));
  w.Add(kUnindexedSegments, static_cast<double>(s.unindexed_segments));
  w.Add(kOldestPendingAge, absl::ToDoubleSeconds(s.oldest_pending_age));
  w.Add(kStoreOk, s.store_ok ? 1 : 0);
}

// Named after S3, the one store that sends requests, as dashboards and
// alerts know them.
void S3Metrics(const ObjectStoreStats& s, PrometheusText& w) {
  w.Add(kS3Requests, static_cast<double>(s.requests));
  w.Add(kS3Retries, static_cast<double>(s.retries));
  const std::array<std::pair<const char*, uint64_t>, 6> errors = {{{"network", s.network_errors},
                                                                   {"throttled", s.throttled},
                                                                   {"server", s.server_errors},
                                                                   {"auth", s.auth_errors},
                                                                   {"not_found", s.not_found},
                                                                   {"client", s.client_errors}}};
  for (const auto& [kind, value] : errors) w.Add(kS3Errors, static_cast<double>(value), {{"kind", kind}});
  w.Add(kS3Bytes, static_cast<double>(s.bytes_up), {{"direction", "up"}});
  w.Add(kS3Bytes, static_cast<double>(s.bytes_down), {{"direction", "down"}});
  w.Add(kS3RequestSeconds, s.latency);
}

double UnixSeconds(absl::Time t) { return static_cast<double>(absl::ToUnixSeconds(t)); }

void TlsMetrics(const TlsView& tls, PrometheusText& w) {
  if (!tls.loaded) return;
  w.Add(kTlsCertificateExpiry, UnixSeconds(tls.certificate_not_after));
  w.Add(kTlsCameraCaExpiry, UnixSeconds(tls.camera_ca_not_after));
  w.Add(kTlsReloads, static_cast<double>(tls.reloads));
  w.Add(kTlsReloadFailures, static_cast<double>(tls.reload_failures));
  w.Add(kTlsLastReloadOk, tls.last_reload_ok ? 1 : 0);
  w.Add(kTlsLoaded, UnixSeconds(tls.loaded_at));
  w.Add(kTlsDeniedCameras, static_cast<double>(tls.denied_cameras));
  w.Add(kTlsRevokedSerials, static_cast<double>(tls.revoked_serials));
}

std::string TimeJson(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return "null";
  return JsonString(absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone()));
}

std::string TlsStatusJson(const TlsView& tls, absl::Time now) {
  if (!tls.loaded) return "null";
  return absl::StrCat(
      "{\"certificate_subject\":", JsonString(tls.certificate_subject),
      ",\"certificate_serial\":", JsonString(tls.certificate_serial),
      ",\"certificate_not_after\":", TimeJson(tls.certificate_not_after),
      ",\"certificate_expiry_unix\":", absl::ToUnixSeconds(tls.certificate_not_after),
      ",\"certificate_days_left\":", absl::StrFormat("%.1f", absl::ToDoubleHours(tls.certificate_not_after - now) / 24),
      ",\"camera_ca_not_after\":", TimeJson(tls.camera_ca_not_after),
      ",\"camera_ca_expiry_unix\":", absl::ToUnixSeconds(tls.camera_ca_not_after),
      ",\"camera_cas\":", tls.camera_cas, ",\"denied_cameras\":", tls.denied_cameras, ",\"crls\":", tls.crls,
      ",\"crl_revoked_serials\":", tls.revoked_serials, ",\"loaded_at\":", TimeJson(tls.loaded_at),
      ",\"reloads\":", tls.reloads, ",\"reload_failures\":", tls.reload_failures, ",\"last_reload\":",
      tls.last_reload_at == absl::InfinitePast()
          ? std::string("null")
          : absl::StrCat("{\"at\":", TimeJson(tls.last_reload_at), ",\"trigger\":", JsonString(tls.last_reload_trigger),
                         ",\"ok\":", tls.last_reload_ok ? "true" : "false",
                         ",\"error\":", JsonString(tls.last_reload_error), "}"),
      "}");
}

std::string StatusJson(const AdminViewInput& input, const std::vector<AdminCheck>& checks, bool ready, absl::Time now) {
  const IngestConfig& config = *input.config;
  return absl::StrCat(
      "{\"server_id\":", JsonString(config.server.id), ",\"version\":", JsonString(BuildVersion()),
      ",\"commit\":", JsonString(BuildCommit()), ",\"zone\":", JsonString(config.server.zone),
      ",\"uptime_s\":", absl::ToInt64Seconds(now - input.started), ",\"ready\":", ready ? "true" : "false",
      ",\"draining\":", input.stopping || input.drain.phase != DrainPhase::kServing ? "true" : "false", ",\"drain\":",
      [&] {
        std::string drain = input.drain.ToJson();
        drain.pop_back();  // newline
        return drain;
      }(),
      ",\"cameras_connected\":", Total(input, &ShardCounters::connections_open),
      ",\"cameras_known\":", input.cameras_known, ",\"zone_map\":", JsonString(input.zone_map_digest),
      ",\"misplaced_sessions\":", input.misplaced_sessions, ",\"spool_bytes\":", input.spool_bytes_live,
      ",\"spool_max_bytes\":", config.spool.max_bytes,
      ",\"spool_disk_free_bytes\":", input.spool_disk_free_bytes, ",\"pending_segments\":", input.sealer.pending_segments,
      ",\"batches_in_flight\":", input.sealer.batches_in_flight,
      ",\"oldest_pending_age_s\":", absl::ToDoubleSeconds(input.sealer.oldest_pending_age),
      ",\"store\":", JsonString(config.store.url), ",\"store_ok\":", input.sealer.store_ok ? "true" : "false",
      ",\"tls\":", TlsStatusJson(input.tls, now),
      ",\"failed_checks\":[",
      [&] {
        std::string failed;
        for (const AdminCheck& check : checks) {
          if (!check.ok) absl::StrAppend(&failed, failed.empty() ? "" : ",", JsonString(check.name));
        }
        return failed;
      }(),
      "]}\n");
}

}  // namespace

AdminSnapshot BuildAdminSnapshot(const AdminViewInput& input, absl::Time now) {
  AdminSnapshot snapshot;
  if (!input.started_up) {
    snapshot.readiness = ReadinessChecks(input);
    PrometheusText w;
    w.Add(kReady, 0);
    w.Add(kLive, 1);
    w.Add(kStarting, 1);
    w.Add(kUptime, absl::ToDoubleSeconds(now - input.started));
    w.Add(kProcessCpu, input.process.cpu_seconds);
    w.Add(kProcessResident, static_cast<double>(input.process.resident_bytes));
    snapshot.metrics_text = w.Take();
    snapshot.status_json = absl::StrCat("{\"server_id\":", JsonString(input.config->server.id),
                                        ",\"zone\":", JsonString(input.config->server.zone),
                                        ",\"uptime_s\":", absl::ToInt64Seconds(now - input.started),
                                        ",\"ready\":false,\"starting\":", JsonString(input.startup_step), "}\n");
    return snapshot;
  }
  for (const ShardView& shard : input.shards) {
    snapshot.live = snapshot.live && shard.serving && MonotonicNow() - shard.last_turn < kShardLivenessDeadline;
  }
  snapshot.readiness = ReadinessChecks(input);
  bool ready = true;
  for (const AdminCheck& check : snapshot.readiness) ready = ready && check.ok;

  PrometheusText w;
  ShardMetrics(input, w);
  SealerMetrics(input.sealer, w);
  if (input.store_requests.has_value()) S3Metrics(*input.store_requests, w);
  TlsMetrics(input.tls, w);
  w.Add(kSpoolBytes, static_cast<double>(input.spool_bytes_live));
  w.Add(kSpoolDiskFree, static_cast<double>(input.spool_disk_free_bytes));
  w.Add(kInfo, 1,
        {{"server_id", input.config->server.id},
         {"zone", input.config->server.zone},
         {"version", BuildVersion()},
         {"commit", BuildCommit()},
         {"zone_map", input.zone_map_digest.substr(0, 12)}});
  w.Add(kMisplacedSessions, static_cast<double>(input.misplaced_sessions));
  w.Add(kSpoolMinFree, static_cast<double>(input.config->spool.min_free_bytes));
  w.Add(kSpoolMax, static_cast<double>(input.config->spool.max_bytes));
  w.Add(kStarting, 0);
  w.Add(kDraining, input.drain.phase != DrainPhase::kServing ? 1 : 0);
  w.Add(kDrainPhase, static_cast<double>(static_cast<int>(input.drain.phase)));
  w.Add(kCamerasKnown, static_cast<double>(input.cameras_known));
  w.Add(kReady, ready ? 1 : 0);
  w.Add(kLive, snapshot.live ? 1 : 0);
  w.Add(kUptime, absl::ToDoubleSeconds(now - input.started));
  w.Add(kProcessCpu, input.process.cpu_seconds);
  w.Add(kProcessResident, static_cast<double>(input.process.resident_bytes));
  snapshot.metrics_text = w.Take();
  snapshot.status_json = StatusJson(input, snapshot.readiness, ready, now);
  return snapshot;
}

}  // namespace ingest
