// The override flags and ApplyFlagOverrides. Both live in this one file on
// purpose: a binary that calls ApplyFlagOverrides links this object, and with
// it every flag definition, so the flags can never be dropped by the linker.
#include "server/config/ingest_flags.h"

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/config/config_fields.h"
#include "server/config/ingest_config.h"

// [server]
ABSL_FLAG(std::optional<std::string>, server_id, std::nullopt, "Overrides server.id: this server's name (default: hostname).");
ABSL_FLAG(std::optional<std::string>, zone, std::nullopt, "Overrides server.zone: the zone this server records for.");
ABSL_FLAG(std::optional<std::string>, zone_map, std::nullopt, "Overrides server.zone_map: the zone map file.");
ABSL_FLAG(std::optional<std::string>, zone_subnet_check, std::nullopt, "Overrides server.zone_subnet_check: warn or refuse.");
ABSL_FLAG(std::optional<std::string>, admin_listen, std::nullopt, "Overrides server.admin_listen: the admin HTTP address.");
ABSL_FLAG(std::optional<std::string>, https_listen, std::nullopt, "Overrides server.https_listen: where encoders push over HTTPS (empty = off).");
ABSL_FLAG(std::optional<std::string>, listen, std::nullopt, "Overrides server.listen: \"ip:port\" or \"[ipv6]:port\" cameras connect to.");
ABSL_FLAG(std::optional<int64_t>, shards, std::nullopt, "Overrides server.shards: event-loop threads (0 = one per core).");
ABSL_FLAG(std::optional<int64_t>, max_connections, std::nullopt, "Overrides server.max_connections.");
ABSL_FLAG(std::optional<int64_t>, max_connections_per_source, std::nullopt, "Overrides server.max_connections_per_source: per remote IP.");
ABSL_FLAG(std::optional<std::string>, state_dir, std::nullopt, "Overrides server.state_dir: where spool, dir: store and dev certificates default.");
// [tls]
ABSL_FLAG(std::optional<std::string>, tls_cert, std::nullopt, "Overrides tls.cert_file: server certificate chain (PEM).");
ABSL_FLAG(std::optional<std::string>, tls_key, std::nullopt, "Overrides tls.key_file: server private key (PEM).");
ABSL_FLAG(std::optional<std::string>, camera_ca, std::nullopt, "Overrides tls.camera_ca_file: CA(s) signing camera certificates (PEM).");
ABSL_FLAG(std::optional<std::string>, ticket_keys, std::nullopt, "Overrides tls.ticket_keys_file: session-ticket keys shared in a zone.");
ABSL_FLAG(std::optional<std::string>, crl_file, std::nullopt, "Overrides tls.crl_file: CRL(s) of the camera CA(s) (PEM).");
ABSL_FLAG(std::optional<std::string>, camera_deny_list, std::nullopt, "Overrides tls.camera_deny_list_file: camera ids refused, one per line.");
ABSL_FLAG(std::optional<std::string>, encoder_credentials, std::nullopt, "Overrides tls.encoder_credentials_file: encoder tokens and signed-URL keys.");
ABSL_FLAG(std::optional<bool>, allow_tls12, std::nullopt, "Overrides tls.allow_tls12 (give a value: --allow_tls12=true).");
ABSL_FLAG(std::optional<bool>, openssl_record_layer, std::nullopt,
          "Overrides tls.openssl_record_layer (give a value: --openssl_record_layer=true).");
ABSL_FLAG(std::optional<int64_t>, handshake_timeout_ms, std::nullopt, "Overrides tls.handshake_timeout_ms.");
ABSL_FLAG(std::optional<int64_t>, max_handshakes_in_progress, std::nullopt,
          "Overrides tls.max_handshakes_in_progress: per shard.");
ABSL_FLAG(std::optional<bool>, dev_certs, std::nullopt, "Overrides tls.dev_certs: generate development certificates (--dev_certs=true).");
// [protocol]
ABSL_FLAG(std::optional<int64_t>, hello_timeout_ms, std::nullopt, "Overrides protocol.hello_timeout_ms.");
ABSL_FLAG(std::optional<int64_t>, idle_timeout_ms, std::nullopt, "Overrides protocol.idle_timeout_ms.");
ABSL_FLAG(std::optional<int64_t>, keepalive_interval_ms, std::nullopt, "Overrides protocol.keepalive_interval_ms.");
ABSL_FLAG(std::optional<std::string>, max_segment_bytes, std::nullopt, "Overrides protocol.max_segment_bytes (e.g. 4MiB).");
ABSL_FLAG(std::optional<std::string>, ack_window_bytes, std::nullopt, "Overrides protocol.ack_window_bytes (e.g. 8MiB).");
ABSL_FLAG(std::optional<int64_t>, max_capture_age_s, std::nullopt, "Overrides protocol.max_capture_age_s.");
ABSL_FLAG(std::optional<int64_t>, max_capture_lead_s, std::nullopt, "Overrides protocol.max_capture_lead_s.");
ABSL_FLAG(std::optional<int64_t>, stream_segment_ms, std::nullopt, "Overrides protocol.stream_segment_ms.");
// [spool]
ABSL_FLAG(std::optional<std::string>, spool_dir, std::nullopt, "Overrides spool.dir (default <state_dir>/spool).");
ABSL_FLAG(std::optional<int64_t>, commit_interval_ms, std::nullopt, "Overrides spool.commit_interval_ms.");
ABSL_FLAG(std::optional<std::string>, commit_bytes, std::nullopt, "Overrides spool.commit_bytes (e.g. 1MiB).");
ABSL_FLAG(std::optional<std::string>, spool_file_bytes, std::nullopt, "Overrides spool.file_bytes (e.g. 64MiB).");
ABSL_FLAG(std::optional<std::string>, spool_max_bytes, std::nullopt, "Overrides spool.max_bytes (e.g. 8GiB).");
ABSL_FLAG(std::optional<std::string>, shard_memory_bytes, std::nullopt, "Overrides spool.shard_memory_bytes (e.g. 256MiB).");
ABSL_FLAG(std::optional<bool>, spool_direct_io, std::nullopt, "Overrides spool.direct_io (--spool_direct_io=false: buffered spool writes).");
// [store]
ABSL_FLAG(std::optional<std::string>, store, std::nullopt, "Overrides store.url: dir:<path> or s3://bucket/prefix.");
ABSL_FLAG(std::optional<std::string>, seal_bytes, std::nullopt, "Overrides store.seal_bytes (e.g. 8MiB).");
ABSL_FLAG(std::optional<int64_t>, seal_age_ms, std::nullopt, "Overrides store.seal_age_ms.");
ABSL_FLAG(std::optional<std::string>, s3_endpoint, std::nullopt, "Overrides store.endpoint (S3 endpoint URL).");
ABSL_FLAG(std::optional<std::string>, s3_region, std::nullopt, "Overrides store.region.");
ABSL_FLAG(std::optional<bool>, s3_path_style, std::nullopt, "Overrides store.path_style.");
ABSL_FLAG(std::optional<std::string>, s3_profile, std::nullopt, "Overrides store.profile (credentials profile).");
ABSL_FLAG(std::optional<std::string>, s3_role_arn, std::nullopt, "Overrides store.role_arn (role to assume).");
ABSL_FLAG(std::optional<int64_t>, index_interval_s, std::nullopt, "Overrides store.index_interval_s.");
ABSL_FLAG(std::optional<int64_t>, upload_threads, std::nullopt, "Overrides store.upload_threads.");
ABSL_FLAG(std::optional<std::string>, s3_ca_file, std::nullopt, "Overrides store.ca_file.");
ABSL_FLAG(std::optional<std::string>, s3_payload_signing, std::nullopt,
          "Overrides store.payload_signing: auto, unsigned or signed.");
ABSL_FLAG(std::optional<bool>, s3_use_instance_metadata, std::nullopt, "Overrides store.use_instance_metadata.");
ABSL_FLAG(std::optional<std::string>, s3_imds_endpoint, std::nullopt, "Overrides store.imds_endpoint.");
ABSL_FLAG(std::optional<std::string>, s3_role_session_name, std::nullopt, "Overrides store.role_session_name.");
ABSL_FLAG(std::optional<std::string>, s3_external_id, std::nullopt, "Overrides store.external_id.");
ABSL_FLAG(std::optional<std::string>, s3_sts_endpoint, std::nullopt, "Overrides store.sts_endpoint.");
ABSL_FLAG(std::optional<std::string>, s3_sts_region, std::nullopt, "Overrides store.sts_region.");
// [log]
ABSL_FLAG(std::optional<int64_t>, drain_announce_delay_ms, std::nullopt, "Overrides drain.announce_delay_ms.");
ABSL_FLAG(std::optional<int64_t>, drain_goaway_per_second, std::nullopt, "Overrides drain.goaway_per_second.");
ABSL_FLAG(std::optional<int64_t>, drain_reconnect_after_min_ms, std::nullopt, "Overrides drain.reconnect_after_min_ms.");
ABSL_FLAG(std::optional<int64_t>, drain_reconnect_after_max_ms, std::nullopt, "Overrides drain.reconnect_after_max_ms.");
ABSL_FLAG(std::optional<int64_t>, drain_deadline_ms, std::nullopt, "Overrides drain.deadline_ms.");
ABSL_FLAG(std::optional<std::string>, drain_token_file, std::nullopt, "Overrides drain.token_file.");
ABSL_FLAG(std::optional<std::string>, log_level, std::nullopt, "Overrides log.level: debug, info, warn or error.");
ABSL_FLAG(std::optional<double>, connection_errors_per_second, std::nullopt, "Overrides log.connection_errors_per_second.");

namespace ingest {
namespace {

using config_internal::ConfigField;

absl::Status Set(const ConfigField& field, IngestConfig& config, const std::string& value) {
  return config_internal::SetFieldString(field, config, value);
}
absl::Status Set(const ConfigField& field, IngestConfig& config, int64_t value) {
  return config_internal::SetFieldInteger(field, config, value);
}
absl::Status Set(const ConfigField& field, IngestConfig& config, bool value) {
  return config_internal::SetFieldBool(field, config, value);
}
absl::Status Set(const ConfigField& field, IngestConfig& config, double value) {
  return config_internal::SetFieldDouble(field, config, value);
}

template <typename T>
absl::Status Override(const absl::Flag<std::optional<T>>& flag, std::string_view field_name,
                      IngestConfig& config) {
  std::optional<T> value = absl::GetFlag(flag);
  if (!value.has_value()) return absl::OkStatus();
  std::string flag_name(absl::GetFlagReflectionHandle(flag).Name());
  const ConfigField* field = config_internal::FindConfigField(field_name);
  if (field == nullptr) {
    return absl::InternalError(absl::StrCat("flag --", flag_name, " names no config field ",
                                            std::string(field_name)));
  }
  absl::Status status = Set(*field, config, *value);
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat("flag --", flag_name, ": ", std::string(status.message())));
}

}  // namespace

std::vector<char*> NormalizeFlagSpelling(int argc, char** argv, std::vector<std::string>& storage) {
  storage.reserve(argc);
  std::vector<char*> out;
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) == 0) {
      size_t end = arg.find('=');
      if (end == std::string::npos) end = arg.size();
      for (size_t j = 2; j < end; ++j) {
        if (arg[j] == '-') arg[j] = '_';
      }
      // Optional booleans (set only when given) still read as switches.
      if (end == arg.size()) {
        absl::CommandLineFlag* flag = absl::FindCommandLineFlag(arg.substr(2));
        if (flag != nullptr && flag->IsOfType<std::optional<bool>>()) arg += "=true";
      }
    }
    storage.push_back(std::move(arg));
    out.push_back(storage.back().data());
  }
  return out;
}

absl::Status ApplyFlagOverrides(IngestConfig& config) {
  RETURN_IF_ERROR(Override(FLAGS_server_id, "server.id", config));
  RETURN_IF_ERROR(Override(FLAGS_zone, "server.zone", config));
  RETURN_IF_ERROR(Override(FLAGS_listen, "server.listen", config));
  RETURN_IF_ERROR(Override(FLAGS_admin_listen, "server.admin_listen", config));
  RETURN_IF_ERROR(Override(FLAGS_https_listen, "server.https_listen", config));
  RETURN_IF_ERROR(Override(FLAGS_zone_map, "server.zone_map", config));
  RETURN_IF_ERROR(Override(FLAGS_zone_subnet_check, "server.zone_subnet_check", config));
  RETURN_IF_ERROR(Override(FLAGS_shards, "server.shards", config));
  RETURN_IF_ERROR(Override(FLAGS_max_connections, "server.max_connections", config));
  RETURN_IF_ERROR(Override(FLAGS_max_connections_per_source, "server.max_connections_per_source", config));
  RETURN_IF_ERROR(Override(FLAGS_state_dir, "server.state_dir", config));
  RETURN_IF_ERROR(Override(FLAGS_tls_cert, "tls.cert_file", config));
  RETURN_IF_ERROR(Override(FLAGS_tls_key, "tls.key_file", config));
  RETURN_IF_ERROR(Override(FLAGS_camera_ca, "tls.camera_ca_file", config));
  RETURN_IF_ERROR(Override(FLAGS_ticket_keys, "tls.ticket_keys_file", config));
  RETURN_IF_ERROR(Override(FLAGS_crl_file, "tls.crl_file", config));
  RETURN_IF_ERROR(Override(FLAGS_camera_deny_list, "tls.camera_deny_list_file", config));
  RETURN_IF_ERROR(Override(FLAGS_encoder_credentials, "tls.encoder_credentials_file", config));
  RETURN_IF_ERROR(Override(FLAGS_allow_tls12, "tls.allow_tls12", config));
  RETURN_IF_ERROR(Override(FLAGS_openssl_record_layer, "tls.openssl_record_layer", config));
  RETURN_IF_ERROR(Override(FLAGS_handshake_timeout_ms, "tls.handshake_timeout_ms", config));
  RETURN_IF_ERROR(Override(FLAGS_max_handshakes_in_progress, "tls.max_handshakes_in_progress", config));
  RETURN_IF_ERROR(Override(FLAGS_dev_certs, "tls.dev_certs", config));
  RETURN_IF_ERROR(Override(FLAGS_hello_timeout_ms, "protocol.hello_timeout_ms", config));
  RETURN_IF_ERROR(Override(FLAGS_idle_timeout_ms, "protocol.idle_timeout_ms", config));
  RETURN_IF_ERROR(Override(FLAGS_keepalive_interval_ms, "protocol.keepalive_interval_ms", config));
  RETURN_IF_ERROR(Override(FLAGS_max_segment_bytes, "protocol.max_segment_bytes", config));
  RETURN_IF_ERROR(Override(FLAGS_ack_window_bytes, "protocol.ack_window_bytes", config));
  RETURN_IF_ERROR(Override(FLAGS_max_capture_age_s, "protocol.max_capture_age_s", config));
  RETURN_IF_ERROR(Override(FLAGS_max_capture_lead_s, "protocol.max_capture_lead_s", config));
  RETURN_IF_ERROR(Override(FLAGS_stream_segment_ms, "protocol.stream_segment_ms", config));
  RETURN_IF_ERROR(Override(FLAGS_spool_dir, "spool.dir", config));
  RETURN_IF_ERROR(Override(FLAGS_commit_interval_ms, "spool.commit_interval_ms", config));
  RETURN_IF_ERROR(Override(FLAGS_commit_bytes, "spool.commit_bytes", config));
  RETURN_IF_ERROR(Override(FLAGS_spool_file_bytes, "spool.file_bytes", config));
  RETURN_IF_ERROR(Override(FLAGS_spool_max_bytes, "spool.max_bytes", config));
  RETURN_IF_ERROR(Override(FLAGS_shard_memory_bytes, "spool.shard_memory_bytes", config));
  RETURN_IF_ERROR(Override(FLAGS_spool_direct_io, "spool.direct_io", config));
  RETURN_IF_ERROR(Override(FLAGS_store, "store.url", config));
  RETURN_IF_ERROR(Override(FLAGS_seal_bytes, "store.seal_bytes", config));
  RETURN_IF_ERROR(Override(FLAGS_seal_age_ms, "store.seal_age_ms", config));
  RETURN_IF_ERROR(Override(FLAGS_s3_endpoint, "store.endpoint", config));
  RETURN_IF_ERROR(Override(FLAGS_s3_region, "store.region", config));
  RETURN_IF_ERROR(Override(FLAGS_s3_path_style, "store.path_style", config));
  RETURN_IF_ERROR(Override(FLAGS_s3_profile, "store.profile", config));
  RETURN_IF_ERROR(Override(FLAGS_s3_role_arn, "store.role_arn", config));
  RETURN_IF_ERROR(Override(FLAGS_index_interval_s, "store.index_interval_s", config));
  RETURN_IF_ERROR(Override(FLAGS_upload_threads, "store.upload_threads", config));
  RETURN_IF_ERROR(Override(FLAGS_s3_ca_file, "store.ca_file", config));
  RETURN_IF_ERROR(Override(FLAGS_s3_payload_signing, "store.payload_signing", config));
  RETURN_IF_ERROR(Override(FLAGS_s3_use_instance_metadata, "store.use_instance_metadata", config));
  RETURN_IF_ERROR(Override(FLAGS_s3_imds_endpoint, "store.imds_endpoint", config));
  RETURN_IF_ERROR(Override(FLAGS_s3_role_session_name, "store.role_session_name", config));
  RETURN_IF_ERROR(Override(FLAGS_s3_external_id, "store.external_id", config));
  RETURN_IF_ERROR(Override(FLAGS_s3_sts_endpoint, "store.sts_endpoint", config));
  RETURN_IF_ERROR(Override(FLAGS_s3_sts_region, "store.sts_region", config));
  RETURN_IF_ERROR(Override(FLAGS_drain_announce_delay_ms, "drain.announce_delay_ms", config));
  RETURN_IF_ERROR(Override(FLAGS_drain_goaway_per_second, "drain.goaway_per_second", config));
  RETURN_IF_ERROR(Override(FLAGS_drain_reconnect_after_min_ms, "drain.reconnect_after_min_ms", config));
  RETURN_IF_ERROR(Override(FLAGS_drain_reconnect_after_max_ms, "drain.reconnect_after_max_ms", config));
  RETURN_IF_ERROR(Override(FLAGS_drain_deadline_ms, "drain.deadline_ms", config));
  RETURN_IF_ERROR(Override(FLAGS_drain_token_file, "drain.token_file", config));
  RETURN_IF_ERROR(Override(FLAGS_log_level, "log.level", config));
  RETURN_IF_ERROR(Override(FLAGS_connection_errors_per_second, "log.connection_errors_per_second", config));
  return absl::OkStatus();
}

}  // namespace ingest
