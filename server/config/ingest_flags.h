// Command-line flags that override the configuration file, one per field of
// IngestConfig. Every flag is optional-typed and unset by default, so only
// flags given on the command line override (an explicit "--shards=0" is told
// apart from no --shards at all). Booleans need a value: --dev_certs=true.
// Integer flags take any int64 so that an out-of-range value gets the same
// message as in the file; size flags take "64MiB" like the file does.
//
//   absl::ParseCommandLine(argc, argv);
//   RETURN_IF_ERROR(ApplyFlagOverrides(config));  // declared in ingest_config.h
//
// Tests set them with absl::SetFlag(&FLAGS_listen, "127.0.0.1:0").
#ifndef SERVER_CONFIG_INGEST_FLAGS_H_
#define SERVER_CONFIG_INGEST_FLAGS_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/declare.h"

// [server]
ABSL_DECLARE_FLAG(std::optional<std::string>, server_id);
ABSL_DECLARE_FLAG(std::optional<std::string>, zone);
ABSL_DECLARE_FLAG(std::optional<std::string>, admin_listen);
ABSL_DECLARE_FLAG(std::optional<std::string>, https_listen);
ABSL_DECLARE_FLAG(std::optional<std::string>, zone_map);
ABSL_DECLARE_FLAG(std::optional<std::string>, zone_subnet_check);
ABSL_DECLARE_FLAG(std::optional<std::string>, listen);
ABSL_DECLARE_FLAG(std::optional<int64_t>, shards);
ABSL_DECLARE_FLAG(std::optional<int64_t>, max_connections);
ABSL_DECLARE_FLAG(std::optional<int64_t>, max_connections_per_source);
ABSL_DECLARE_FLAG(std::optional<std::string>, state_dir);
// [tls]
ABSL_DECLARE_FLAG(std::optional<std::string>, tls_cert);
ABSL_DECLARE_FLAG(std::optional<std::string>, tls_key);
ABSL_DECLARE_FLAG(std::optional<std::string>, camera_ca);
ABSL_DECLARE_FLAG(std::optional<std::string>, ticket_keys);
ABSL_DECLARE_FLAG(std::optional<std::string>, crl_file);
ABSL_DECLARE_FLAG(std::optional<std::string>, camera_deny_list);
ABSL_DECLARE_FLAG(std::optional<std::string>, encoder_credentials);
ABSL_DECLARE_FLAG(std::optional<bool>, allow_tls12);
ABSL_DECLARE_FLAG(std::optional<bool>, openssl_record_layer);
ABSL_DECLARE_FLAG(std::optional<int64_t>, handshake_timeout_ms);
ABSL_DECLARE_FLAG(std::optional<int64_t>, max_handshakes_in_progress);
ABSL_DECLARE_FLAG(std::optional<bool>, dev_certs);
// [protocol]
ABSL_DECLARE_FLAG(std::optional<int64_t>, hello_timeout_ms);
ABSL_DECLARE_FLAG(std::optional<int64_t>, idle_timeout_ms);
ABSL_DECLARE_FLAG(std::optional<int64_t>, keepalive_interval_ms);
ABSL_DECLARE_FLAG(std::optional<std::string>, max_segment_bytes);
ABSL_DECLARE_FLAG(std::optional<std::string>, ack_window_bytes);
ABSL_DECLARE_FLAG(std::optional<int64_t>, max_capture_age_s);
ABSL_DECLARE_FLAG(std::optional<int64_t>, max_capture_lead_s);
ABSL_DECLARE_FLAG(std::optional<int64_t>, stream_segment_ms);
// [spool]
ABSL_DECLARE_FLAG(std::optional<std::string>, spool_dir);
ABSL_DECLARE_FLAG(std::optional<int64_t>, commit_interval_ms);
ABSL_DECLARE_FLAG(std::optional<std::string>, commit_bytes);
ABSL_DECLARE_FLAG(std::optional<std::string>, spool_file_bytes);
ABSL_DECLARE_FLAG(std::optional<std::string>, spool_max_bytes);
ABSL_DECLARE_FLAG(std::optional<std::string>, shard_memory_bytes);
ABSL_DECLARE_FLAG(std::optional<bool>, spool_direct_io);
// [store]
ABSL_DECLARE_FLAG(std::optional<std::string>, store);
ABSL_DECLARE_FLAG(std::optional<std::string>, seal_bytes);
ABSL_DECLARE_FLAG(std::optional<int64_t>, seal_age_ms);
ABSL_DECLARE_FLAG(std::optional<std::string>, s3_endpoint);
ABSL_DECLARE_FLAG(std::optional<std::string>, s3_region);
ABSL_DECLARE_FLAG(std::optional<bool>, s3_path_style);
ABSL_DECLARE_FLAG(std::optional<std::string>, s3_profile);
ABSL_DECLARE_FLAG(std::optional<std::string>, s3_role_arn);
ABSL_DECLARE_FLAG(std::optional<int64_t>, index_interval_s);
ABSL_DECLARE_FLAG(std::optional<int64_t>, upload_threads);
ABSL_DECLARE_FLAG(std::optional<std::string>, s3_ca_file);
ABSL_DECLARE_FLAG(std::optional<std::string>, s3_payload_signing);
ABSL_DECLARE_FLAG(std::optional<bool>, s3_use_instance_metadata);
ABSL_DECLARE_FLAG(std::optional<std::string>, s3_imds_endpoint);
ABSL_DECLARE_FLAG(std::optional<std::string>, s3_role_session_name);
ABSL_DECLARE_FLAG(std::optional<std::string>, s3_external_id);
ABSL_DECLARE_FLAG(std::optional<std::string>, s3_sts_endpoint);
ABSL_DECLARE_FLAG(std::optional<std::string>, s3_sts_region);
// [drain]
ABSL_DECLARE_FLAG(std::optional<int64_t>, drain_announce_delay_ms);
ABSL_DECLARE_FLAG(std::optional<int64_t>, drain_goaway_per_second);
ABSL_DECLARE_FLAG(std::optional<int64_t>, drain_reconnect_after_min_ms);
ABSL_DECLARE_FLAG(std::optional<int64_t>, drain_reconnect_after_max_ms);
ABSL_DECLARE_FLAG(std::optional<int64_t>, drain_deadline_ms);
ABSL_DECLARE_FLAG(std::optional<std::string>, drain_token_file);
// [log]
ABSL_DECLARE_FLAG(std::optional<std::string>, log_level);
ABSL_DECLARE_FLAG(std::optional<double>, connection_errors_per_second);

namespace ingest {

// absl flags are snake_case, operators type --max-connections: rewrites
// "--a-b" to "--a_b", and a bare optional boolean ("--dev_certs") to
// "--dev_certs=true". Call before absl::ParseCommandLine; `storage` keeps the
// rewritten strings alive.
std::vector<char*> NormalizeFlagSpelling(int argc, char** argv, std::vector<std::string>& storage);

}  // namespace ingest

#endif  // SERVER_CONFIG_INGEST_FLAGS_H_
