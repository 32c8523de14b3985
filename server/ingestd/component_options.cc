#include "server/ingestd/component_options.h"

#include <algorithm>
#include <utility>

#include "common/descriptor_limit.h"
#include "server/config/connection_capacity.h"

namespace ingest {

SpoolCatalogOptions SpoolCatalogOptionsFrom(const IngestConfig& config) {
  return SpoolCatalogOptions{.dir = config.spool.dir,
                             .shard_count = config.server.shards,
                             .file_bytes = config.spool.file_bytes,
                             .min_free_bytes = config.spool.min_free_bytes,
                             .direct_io = config.spool.direct_io};
}

BatchSealerOptions BatchSealerOptionsFrom(const IngestConfig& config) {
  return BatchSealerOptions{.zone = config.server.zone,
                            .instance = "",
                            .journal_dir = config.spool.dir + "/journal",
                            .batch_bytes = config.store.seal_bytes,
                            .batch_age = absl::Milliseconds(config.store.seal_age_ms),
                            .index_interval = absl::Seconds(config.store.index_interval_s),
                            .upload_threads = static_cast<int>(config.store.upload_threads),
                            .max_batches_in_flight = 2 * static_cast<int>(config.store.upload_threads),
                            .probe_store = true};
}

namespace {

SessionLimits SessionLimitsFrom(const IngestConfig& config) {
  return SessionLimits{.server_id = config.server.id,
                       .max_segment_bytes = config.protocol.max_segment_bytes,
                       .ack_window_bytes = config.protocol.ack_window_bytes,
                       .keepalive_interval_ms = config.protocol.keepalive_interval_ms,
                       .max_capture_age_us = int64_t{config.protocol.max_capture_age_s} * 1'000'000,
                       .max_capture_lead_us = int64_t{config.protocol.max_capture_lead_s} * 1'000'000};
}

}  // namespace

ShardOptions ShardOptionsFrom(const IngestConfig& config, int index, int listen_fd, int listen_family) {
  const ShardCapacity capacity = ShardCapacityFor(config.server, RingFileLimit());
  HttpIngestLimits https;
  https.max_segment_bytes = config.protocol.max_segment_bytes;
  https.stream_min_segment_bytes = std::min<uint32_t>(1 << 20, config.protocol.max_segment_bytes);
  https.stream_segment_us = config.protocol.stream_segment_ms * 1000;
  return ShardOptions{
      .index = index,
      .listen_fd = listen_fd,
      .listen_family = listen_family,
      .https = https,
      .session = SessionLimitsFrom(config),
      .registered_files = capacity.ring_files,
      .max_cameras = capacity.cameras,
      .handshake_timeout = absl::Milliseconds(config.tls.handshake_timeout_ms),
      .max_handshakes_in_progress = config.tls.max_handshakes_in_progress,
      .hello_timeout = absl::Milliseconds(config.protocol.hello_timeout_ms),
      .idle_timeout = absl::Milliseconds(config.protocol.idle_timeout_ms),
      .memory_budget_bytes = config.spool.shard_memory_bytes,
      .spool_max_bytes = config.spool.max_bytes,
      .writer = SpoolWriterOptions{.commit_interval = absl::Milliseconds(config.spool.commit_interval_ms),
                                   .commit_bytes = config.spool.commit_bytes,
                                   .file_bytes = config.spool.file_bytes},
      .connection_errors_per_second = config.log.connection_errors_per_second,
      .session_lines_per_second = config.log.session_lines_per_second,
      .reconnect_after_min = absl::Milliseconds(config.drain.reconnect_after_min_ms),
      .reconnect_after_max = absl::Milliseconds(config.drain.reconnect_after_max_ms),
  };
}

AdminServerOptions AdminServerOptionsFrom(const IngestConfig& config, std::string drain_token) {
  return AdminServerOptions{.listen = config.server.admin_listen, .drain_token = std::move(drain_token)};
}

ServerTlsFiles ServerTlsFilesFrom(const TlsConfig& tls) {
  return ServerTlsFiles{.context = TlsServerOptions{.cert_file = tls.cert_file,
                                                    .key_file = tls.key_file,
                                                    .camera_ca_file = tls.camera_ca_file,
                                                    .ticket_keys_file = tls.ticket_keys_file,
                                                    .allow_tls12 = tls.allow_tls12,
                                                    .own_record_layer = !tls.openssl_record_layer},
                        .crl_file = tls.crl_file,
                        .camera_deny_list_file = tls.camera_deny_list_file,
                        .encoder_credentials_file = tls.encoder_credentials_file};
}

ZoneReloaderOptions ZoneReloaderOptionsFrom(const IngestConfig& config) {
  // The drain's pace, in waves of DrainController::kWave (a tenth of a
  // second), spread over the shards.
  const uint32_t shards = static_cast<uint32_t>(std::max(1, config.server.shards));
  return ZoneReloaderOptions{.zone_map = config.server.zone_map,
                             .zone = config.server.zone,
                             .listen = config.server.listen,
                             .refuse_outside_subnets = config.server.zone_subnet_check == "refuse",
                             .wave_per_shard = std::max<uint32_t>(1, config.drain.goaway_per_second / 10 / shards)};
}

}  // namespace ingest
