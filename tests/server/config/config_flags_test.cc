// Command-line flags override file values, and only the flags that were given.
#include "absl/flags/flag.h"
#include "gtest/gtest.h"
#include "server/config/ingest_config.h"
#include "server/config/ingest_flags.h"
#include "tests/server/config/config_test_util.h"

namespace ingest {
namespace {

class ConfigFlagsTest : public ::testing::Test {
 protected:
  // Flags are process-wide: leave every one unset for the next test.
  void TearDown() override {
    absl::SetFlag(&FLAGS_server_id, std::nullopt);
    absl::SetFlag(&FLAGS_zone, std::nullopt);
    absl::SetFlag(&FLAGS_listen, std::nullopt);
    absl::SetFlag(&FLAGS_admin_listen, std::nullopt);
    absl::SetFlag(&FLAGS_shards, std::nullopt);
    absl::SetFlag(&FLAGS_max_connections, std::nullopt);
    absl::SetFlag(&FLAGS_max_connections_per_source, std::nullopt);
    absl::SetFlag(&FLAGS_state_dir, std::nullopt);
    absl::SetFlag(&FLAGS_tls_cert, std::nullopt);
    absl::SetFlag(&FLAGS_tls_key, std::nullopt);
    absl::SetFlag(&FLAGS_camera_ca, std::nullopt);
    absl::SetFlag(&FLAGS_ticket_keys, std::nullopt);
    absl::SetFlag(&FLAGS_allow_tls12, std::nullopt);
    absl::SetFlag(&FLAGS_handshake_timeout_ms, std::nullopt);
    absl::SetFlag(&FLAGS_max_handshakes_in_progress, std::nullopt);
    absl::SetFlag(&FLAGS_dev_certs, std::nullopt);
    absl::SetFlag(&FLAGS_hello_timeout_ms, std::nullopt);
    absl::SetFlag(&FLAGS_idle_timeout_ms, std::nullopt);
    absl::SetFlag(&FLAGS_keepalive_interval_ms, std::nullopt);
    absl::SetFlag(&FLAGS_max_segment_bytes, std::nullopt);
    absl::SetFlag(&FLAGS_ack_window_bytes, std::nullopt);
    absl::SetFlag(&FLAGS_max_capture_age_s, std::nullopt);
    absl::SetFlag(&FLAGS_max_capture_lead_s, std::nullopt);
    absl::SetFlag(&FLAGS_stream_segment_ms, std::nullopt);
    absl::SetFlag(&FLAGS_spool_dir, std::nullopt);
    absl::SetFlag(&FLAGS_commit_interval_ms, std::nullopt);
    absl::SetFlag(&FLAGS_commit_bytes, std::nullopt);
    absl::SetFlag(&FLAGS_spool_file_bytes, std::nullopt);
    absl::SetFlag(&FLAGS_spool_max_bytes, std::nullopt);
    absl::SetFlag(&FLAGS_shard_memory_bytes, std::nullopt);
    absl::SetFlag(&FLAGS_spool_direct_io, std::nullopt);
    absl::SetFlag(&FLAGS_store, std::nullopt);
    absl::SetFlag(&FLAGS_seal_bytes, std::nullopt);
    absl::SetFlag(&FLAGS_seal_age_ms, std::nullopt);
    absl::SetFlag(&FLAGS_index_interval_s, std::nullopt);
    absl::SetFlag(&FLAGS_upload_threads, std::nullopt);
    absl::SetFlag(&FLAGS_s3_endpoint, std::nullopt);
    absl::SetFlag(&FLAGS_s3_region, std::nullopt);
    absl::SetFlag(&FLAGS_s3_path_style, std::nullopt);
    absl::SetFlag(&FLAGS_s3_ca_file, std::nullopt);
    absl::SetFlag(&FLAGS_s3_payload_signing, std::nullopt);
    absl::SetFlag(&FLAGS_s3_profile, std::nullopt);
    absl::SetFlag(&FLAGS_s3_use_instance_metadata, std::nullopt);
    absl::SetFlag(&FLAGS_s3_imds_endpoint, std::nullopt);
    absl::SetFlag(&FLAGS_s3_role_arn, std::nullopt);
    absl::SetFlag(&FLAGS_s3_role_session_name, std::nullopt);
    absl::SetFlag(&FLAGS_s3_external_id, std::nullopt);
    absl::SetFlag(&FLAGS_s3_sts_endpoint, std::nullopt);
    absl::SetFlag(&FLAGS_s3_sts_region, std::nullopt);
    absl::SetFlag(&FLAGS_log_level, std::nullopt);
    absl::SetFlag(&FLAGS_connection_errors_per_second, std::nullopt);
  }
};

TEST_F(ConfigFlagsTest, NoFlagsChangeNothing) {
  IngestConfig config = ConfigWithEveryFieldChanged();
  ASSERT_TRUE(ApplyFlagOverrides(config).ok());
  EXPECT_EQ(config, ConfigWithEveryFieldChanged());
}

TEST_F(ConfigFlagsTest, FlagsOverrideFileValuesAndLeaveTheRest) {
  absl::StatusOr<IngestConfig> config = ParseConfigToml(R"(
[server]
zone = "from-file"
listen = "127.0.0.1:7443"
[spool]
commit_interval_ms = 5
max_bytes = "1GiB"
[tls]
dev_certs = true
)", "ingestd.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  absl::SetFlag(&FLAGS_listen, "[::1]:9000");
  absl::SetFlag(&FLAGS_commit_interval_ms, 9);
  absl::SetFlag(&FLAGS_spool_max_bytes, "2GiB");
  absl::SetFlag(&FLAGS_dev_certs, false);  // an explicit false beats the file's true
  ASSERT_TRUE(ApplyFlagOverrides(*config).ok());
  EXPECT_EQ(config->server.listen, "[::1]:9000");
  EXPECT_EQ(config->spool.commit_interval_ms, 9u);
  EXPECT_EQ(config->spool.max_bytes, 2ull << 30);
  EXPECT_FALSE(config->tls.dev_certs);
  EXPECT_EQ(config->server.zone, "from-file");
}

TEST_F(ConfigFlagsTest, EveryFieldHasAFlag) {
  IngestConfig target = ConfigWithEveryFieldChanged();
  absl::SetFlag(&FLAGS_server_id, target.server.id);
  absl::SetFlag(&FLAGS_zone, target.server.zone);
  absl::SetFlag(&FLAGS_listen, target.server.listen);
  absl::SetFlag(&FLAGS_admin_listen, target.server.admin_listen);
  absl::SetFlag(&FLAGS_shards, target.server.shards);
  absl::SetFlag(&FLAGS_max_connections, target.server.max_connections);
  absl::SetFlag(&FLAGS_max_connections_per_source, target.server.max_connections_per_source);
  absl::SetFlag(&FLAGS_state_dir, target.server.state_dir);
  absl::SetFlag(&FLAGS_tls_cert, target.tls.cert_file);
  absl::SetFlag(&FLAGS_tls_key, target.tls.key_file);
  absl::SetFlag(&FLAGS_camera_ca, target.tls.camera_ca_file);
  absl::SetFlag(&FLAGS_ticket_keys, target.tls.ticket_keys_file);
  absl::SetFlag(&FLAGS_crl_file, target.tls.crl_file);
  absl::SetFlag(&FLAGS_camera_deny_list, target.tls.camera_deny_list_file);
  absl::SetFlag(&FLAGS_allow_tls12, target.tls.allow_tls12);
  absl::SetFlag(&FLAGS_handshake_timeout_ms, target.tls.handshake_timeout_ms);
  absl::SetFlag(&FLAGS_max_handshakes_in_progress, target.tls.max_handshakes_in_progress);
  absl::SetFlag(&FLAGS_dev_certs, target.tls.dev_certs);
  absl::SetFlag(&FLAGS_hello_timeout_ms, target.protocol.hello_timeout_ms);
  absl::SetFlag(&FLAGS_idle_timeout_ms, target.protocol.idle_timeout_ms);
  absl::SetFlag(&FLAGS_keepalive_interval_ms, target.protocol.keepalive_interval_ms);
  absl::SetFlag(&FLAGS_max_segment_bytes, std::to_string(target.protocol.max_segment_bytes));
  absl::SetFlag(&FLAGS_ack_window_bytes, "16MiB");
  absl::SetFlag(&FLAGS_max_capture_age_s, target.protocol.max_capture_age_s);
  absl::SetFlag(&FLAGS_max_capture_lead_s, target.protocol.max_capture_lead_s);
  absl::SetFlag(&FLAGS_stream_segment_ms, target.protocol.stream_segment_ms);
  absl::SetFlag(&FLAGS_spool_dir, target.spool.dir);
  absl::SetFlag(&FLAGS_commit_interval_ms, target.spool.commit_interval_ms);
  absl::SetFlag(&FLAGS_commit_bytes, "512KiB");
  absl::SetFlag(&FLAGS_spool_file_bytes, "128MiB");
  absl::SetFlag(&FLAGS_spool_max_bytes, "3TiB");
  absl::SetFlag(&FLAGS_shard_memory_bytes, "100001KiB");
  absl::SetFlag(&FLAGS_spool_direct_io, target.spool.direct_io);
  absl::SetFlag(&FLAGS_store, target.store.url);
  absl::SetFlag(&FLAGS_seal_bytes, "5MiB");
  absl::SetFlag(&FLAGS_seal_age_ms, target.store.seal_age_ms);
  absl::SetFlag(&FLAGS_index_interval_s, target.store.index_interval_s);
  absl::SetFlag(&FLAGS_upload_threads, target.store.upload_threads);
  absl::SetFlag(&FLAGS_s3_endpoint, target.store.endpoint);
  absl::SetFlag(&FLAGS_s3_region, target.store.region);
  absl::SetFlag(&FLAGS_s3_path_style, target.store.path_style);
  absl::SetFlag(&FLAGS_s3_ca_file, target.store.ca_file);
  absl::SetFlag(&FLAGS_s3_payload_signing, target.store.payload_signing);
  absl::SetFlag(&FLAGS_s3_profile, target.store.profile);
  absl::SetFlag(&FLAGS_s3_use_instance_metadata, target.store.use_instance_metadata);
  absl::SetFlag(&FLAGS_s3_imds_endpoint, target.store.imds_endpoint);
  absl::SetFlag(&FLAGS_s3_role_arn, target.store.role_arn);
  absl::SetFlag(&FLAGS_s3_role_session_name, target.store.role_session_name);
  absl::SetFlag(&FLAGS_s3_external_id, target.store.external_id);
  absl::SetFlag(&FLAGS_s3_sts_endpoint, target.store.sts_endpoint);
  absl::SetFlag(&FLAGS_s3_sts_region, target.store.sts_region);
  absl::SetFlag(&FLAGS_log_level, target.log.level);
  absl::SetFlag(&FLAGS_connection_errors_per_second, target.log.connection_errors_per_second);

  IngestConfig config;
  ASSERT_TRUE(ApplyFlagOverrides(config).ok()) << ApplyFlagOverrides(config);
  EXPECT_EQ(config, target);
}

TEST_F(ConfigFlagsTest, BadFlagValuesNameTheFlagAndTheKey) {
  IngestConfig config;
  absl::SetFlag(&FLAGS_commit_interval_ms, 0);
  EXPECT_EQ(ApplyFlagOverrides(config).message(),
            "flag --commit_interval_ms: spool.commit_interval_ms: must be between 1 and 1000, got 0");
  absl::SetFlag(&FLAGS_commit_interval_ms, std::nullopt);

  absl::SetFlag(&FLAGS_spool_max_bytes, "8GB");
  EXPECT_TRUE(HasError(ApplyFlagOverrides(config), "flag --spool_max_bytes: ", "spool.max_bytes: bad size"));
  absl::SetFlag(&FLAGS_spool_max_bytes, std::nullopt);

  absl::SetFlag(&FLAGS_listen, "7443");
  EXPECT_TRUE(HasError(ApplyFlagOverrides(config), "flag --listen: ", "server.listen: bad address"));
  absl::SetFlag(&FLAGS_listen, std::nullopt);

  absl::SetFlag(&FLAGS_s3_payload_signing, "none");
  EXPECT_TRUE(HasError(ApplyFlagOverrides(config), "flag --s3_payload_signing: ",
                       "store.payload_signing: must be \"auto\", \"unsigned\" or \"signed\", got \"none\""));
  absl::SetFlag(&FLAGS_s3_payload_signing, std::nullopt);

  absl::SetFlag(&FLAGS_max_connections, int64_t{1} << 40);
  EXPECT_TRUE(HasError(ApplyFlagOverrides(config), "flag --max_connections: ", "server.max_connections"));
}

}  // namespace
}  // namespace ingest
