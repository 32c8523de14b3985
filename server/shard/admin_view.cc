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
  const uint64_t open = Total(input, &ShardCounters::connections_open);
  checks.push_back({"below_capacity", open < input.config->server.max_connections,
                    absl::StrCat(open, " of ", input.config->server.max_connections, " connections")});
  return checks;
}

void LoopTurnHistogram(const ShardCounters& c, const PrometheusLabels& shard, PrometheusText& w) {
  std::array<double, kLoopTurnBucketsUs.size()> bounds;
  std::array<uint64_t, kLoopTurnBucketsUs.size()> cumulative;
  uint64_t running = 0;
  for (size_t b = 0; b < kLoopTurnBucketsUs.size(); ++b) {
    bounds[b] = static_cast<double>(kLoopTurnBucketsUs[b]) / 1e6;
    running += c.loop_turn_buckets[b].load(std::memory_order_relaxed);
    cumulative[b] = running;
  }
  const uint64_t count = running + c.loop_turn_buckets.back().load(std::memory_order_relaxed);
  w.Histogram("ingest_loop_turn_seconds", "Work done per event-loop turn (between two waits).", bounds, cumulative,
              static_cast<double>(c.loop_turn_us_sum.load(std::memory_order_relaxed)) / 1e6, count, shard);
}

void ShardMetrics(const AdminViewInput& input, PrometheusText& w) {
  for (size_t i = 0; i < input.shards.size(); ++i) {
    const ShardCounters& c = *input.shards[i].counters;
    const PrometheusLabels shard = {{"shard", absl::StrCat(i)}};
#define INGEST_EXPORT_COUNTER(name)                                                                     \
  if (std::string_view(#name) == "connections_open") {                                                  \
    w.Gauge("ingest_connections_open", "Camera connections open now.",                                  \
            static_cast<double>(c.name.load(std::memory_order_relaxed)), shard);                        \
  } else if (std::string_view(#name) == "spool_write_stalled") {                                        \
    w.Gauge("ingest_spool_write_stalled", "1 while the shard's spool batch waits for disk space.",      \
            static_cast<double>(c.name.load(std::memory_order_relaxed)), shard);                        \
  } else {                                                                                              \
    w.Counter("ingest_" #name "_total", "Shard counter " #name " (see server/shard/shard_counters.h).", \
              static_cast<double>(c.name.load(std::memory_order_relaxed)), shard);                      \
  }
    INGEST_SHARD_COUNTERS(INGEST_EXPORT_COUNTER)
#undef INGEST_EXPORT_COUNTER
    w.Gauge("ingest_shard_seconds_since_loop_turn", "Seconds since the shard's event loop last turned.",
            absl::ToDoubleSeconds(MonotonicNow() - input.shards[i].last_turn), shard);
    for (size_t p = 0; p < kConnectionPhaseNames.size(); ++p) {
      w.Gauge("ingest_connections", "Connections by phase (recounted every 100 ms).",
              static_cast<double>(c.connections_by_phase[p].load(std::memory_order_relaxed)),
              {{"shard", absl::StrCat(i)}, {"state", kConnectionPhaseNames[p]}});
    }
    w.Gauge("ingest_sessions_streaming", "Cameras welcomed and streaming (recounted every 100 ms).",
            static_cast<double>(c.connections_by_phase[static_cast<size_t>(ConnectionPhase::kStreaming)].load(
                std::memory_order_relaxed)),
            shard);
    LoopTurnHistogram(c, shard, w);
  }
}

void SealerMetrics(const BatchSealerStats& s, PrometheusText& w) {
  w.Counter("ingest_segments_persisted_total", "Segments in the object store (ACK persisted).",
            static_cast<double>(s.segments_persisted));
  w.Counter("ingest_batches_written_total", "Batch objects uploaded.", static_cast<double>(s.batches_written));
  w.Counter("ingest_batch_bytes_written_total", "Bytes of batch objects uploaded.",
            static_cast<double>(s.batch_bytes_written));
  w.Counter("ingest_index_objects_written_total", "Camera index objects uploaded.",
            static_cast<double>(s.index_objects_written));
  w.Counter("ingest_store_errors_total", "Failed object uploads (retried).", static_cast<double>(s.store_errors));
  w.Counter("ingest_spool_duplicates_skipped_total", "Spooled segments already in the store.",
            static_cast<double>(s.duplicates_skipped));
  w.Counter("ingest_spool_files_reclaimed_total", "Spool files deleted after upload.",
            static_cast<double>(s.files_reclaimed));
  w.Counter("ingest_corrupt_segments_total", "Spooled payloads whose CRC failed at upload time.",
            static_cast<double>(s.corrupt_segments));
  w.Gauge("ingest_pending_segments", "Spooled segments not yet in a batch.", static_cast<double>(s.pending_segments));
  w.Gauge("ingest_batches_in_flight", "Batches being uploaded or waiting to retry.",
          static_cast<double>(s.batches_in_flight));
  w.Gauge("ingest_unindexed_segments", "Persisted segments waiting for their camera index object.",
          static_cast<double>(s.unindexed_segments));
  w.Gauge("ingest_oldest_pending_segment_age_seconds", "Age of the oldest spooled segment not yet uploaded.",
          absl::ToDoubleSeconds(s.oldest_pending_age));
  w.Gauge("ingest_store_ok", "1 if the last upload succeeded.", s.store_ok ? 1 : 0);
}

// Named after S3, the one store that sends requests, as dashboards and
// alerts know them.
void S3Metrics(const ObjectStoreStats& s, PrometheusText& w) {
  w.Counter("ingest_s3_requests_total", "S3 HTTP attempts.", static_cast<double>(s.requests));
  w.Counter("ingest_s3_retries_total", "S3 attempts after the first of an operation.", static_cast<double>(s.retries));
  const std::array<std::pair<const char*, uint64_t>, 6> errors = {{{"network", s.network_errors},
                                                                   {"throttled", s.throttled},
                                                                   {"server", s.server_errors},
                                                                   {"auth", s.auth_errors},
                                                                   {"not_found", s.not_found},
                                                                   {"client", s.client_errors}}};
  for (const auto& [kind, value] : errors) {
    w.Counter("ingest_s3_errors_total", "Failed S3 attempts by kind.", static_cast<double>(value), {{"kind", kind}});
  }
  w.Counter("ingest_s3_bytes_total", "S3 request and response bodies.", static_cast<double>(s.bytes_up),
            {{"direction", "up"}});
  w.Counter("ingest_s3_bytes_total", "S3 request and response bodies.", static_cast<double>(s.bytes_down),
            {{"direction", "down"}});
  std::vector<double> bounds;
  std::vector<uint64_t> cumulative;
  uint64_t running = 0;
  for (size_t i = 0; i < s.latency_bounds_ms.size(); ++i) {
    bounds.push_back(static_cast<double>(s.latency_bounds_ms[i]) / 1000.0);
    running += s.latency_counts[i];
    cumulative.push_back(running);
  }
  const uint64_t count = running + s.latency_counts.back();
  // The client keeps bucket counts only; the sum is estimated from bucket bounds.
  double sum = 0;
  for (size_t i = 0; i < s.latency_bounds_ms.size(); ++i)
    sum += bounds[i] * static_cast<double>(s.latency_counts[i]);
  w.Histogram("ingest_s3_request_seconds", "S3 attempt latency (sum estimated from bucket bounds).", bounds, cumulative,
              sum, count);
}

double UnixSeconds(absl::Time t) { return static_cast<double>(absl::ToUnixSeconds(t)); }

void TlsMetrics(const TlsView& tls, PrometheusText& w) {
  if (!tls.loaded) return;
  w.Gauge("ingest_tls_certificate_expiry_timestamp_seconds",
          "notAfter of the serving certificate (tls.cert_file), unix seconds.", UnixSeconds(tls.certificate_not_after));
  w.Gauge("ingest_tls_camera_ca_expiry_timestamp_seconds",
          "Earliest notAfter in the camera CA bundle (tls.camera_ca_file), unix seconds.",
          UnixSeconds(tls.camera_ca_not_after));
  w.Counter("ingest_tls_reloads_total", "TLS reloads that took effect (SIGHUP or a changed file).",
            static_cast<double>(tls.reloads));
  w.Counter("ingest_tls_reload_failures_total", "TLS reloads refused (a bad file); the previous set-up stays.",
            static_cast<double>(tls.reload_failures));
  w.Gauge("ingest_tls_last_reload_ok", "0 if the last TLS reload was refused (see /status tls.last_reload).",
          tls.last_reload_ok ? 1 : 0);
  w.Gauge("ingest_tls_loaded_timestamp_seconds", "When the serving TLS files were read, unix seconds.",
          UnixSeconds(tls.loaded_at));
  w.Gauge("ingest_tls_denied_cameras", "Camera ids on the deny list (tls.camera_deny_list_file).",
          static_cast<double>(tls.denied_cameras));
  w.Gauge("ingest_tls_crl_revoked_serials", "Certificate serials revoked by the CRLs (tls.crl_file).",
          static_cast<double>(tls.revoked_serials));
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
    w.Gauge("ingest_ready", "1 if every readiness check passes.", 0);
    w.Gauge("ingest_live", "1 if every shard loop turned recently.", 1);
    w.Gauge("ingest_starting", "1 while the server recovers its spool and opens its store and listeners.", 1);
    w.Gauge("ingest_uptime_seconds", "Seconds since the server started.", absl::ToDoubleSeconds(now - input.started));
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
  w.Gauge("ingest_spool_bytes", "Bytes in spool files not yet reclaimed.", static_cast<double>(input.spool_bytes_live));
  w.Gauge("ingest_spool_disk_free_bytes", "Free bytes on the spool's file system (last measured).",
          static_cast<double>(input.spool_disk_free_bytes));
  w.Gauge("ingest_info", "Always 1; labels say which server, build, zone and zone map this is.", 1,
          {{"server_id", input.config->server.id},
           {"zone", input.config->server.zone},
           {"version", BuildVersion()},
           {"commit", BuildCommit()},
           {"zone_map", input.zone_map_digest.substr(0, 12)}});
  w.Gauge("ingest_misplaced_sessions", "Cameras connected here that a reloaded zone map places elsewhere.",
          static_cast<double>(input.misplaced_sessions));
  w.Gauge("ingest_spool_min_free_bytes", "Free space the spool leaves on its file system (spool.min_free_bytes).",
          static_cast<double>(input.config->spool.min_free_bytes));
  w.Gauge("ingest_spool_max_bytes", "Spool capacity (spool.max_bytes).",
          static_cast<double>(input.config->spool.max_bytes));
  w.Gauge("ingest_starting", "1 while the server recovers its spool and opens its store and listeners.", 0);
  w.Gauge("ingest_draining", "1 once a drain has started.", input.drain.phase != DrainPhase::kServing ? 1 : 0);
  w.Gauge("ingest_drain_phase", "0 serving, 1 announced, 2 moving cameras, 3 flushing, 4 done.",
          static_cast<double>(static_cast<int>(input.drain.phase)));
  w.Gauge("ingest_cameras_known", "Cameras seen since start (or recovered).", static_cast<double>(input.cameras_known));
  w.Gauge("ingest_ready", "1 if every readiness check passes.", ready ? 1 : 0);
  w.Gauge("ingest_live", "1 if every shard loop turned recently.", snapshot.live ? 1 : 0);
  w.Gauge("ingest_uptime_seconds", "Seconds since the server started.", absl::ToDoubleSeconds(now - input.started));
  snapshot.metrics_text = w.Take();
  snapshot.status_json = StatusJson(input, snapshot.readiness, ready, now);
  return snapshot;
}

}  // namespace ingest
