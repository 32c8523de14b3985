// Helpers shared by the configuration tests.
//
//   IngestConfig c = ConfigWithEveryFieldChanged();
//   EXPECT_TRUE(HasError(status, "ingestd.toml:3: ", "spool.commit_interval_ms"));
#ifndef TESTS_SERVER_CONFIG_CONFIG_TEST_UTIL_H_
#define TESTS_SERVER_CONFIG_CONFIG_TEST_UTIL_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "server/config/ingest_config.h"

namespace ingest {

// A config in which every field differs from its default, and which is
// itself valid (so it can also go through ValidateConfig).
inline IngestConfig ConfigWithEveryFieldChanged() {
  IngestConfig c;
  c.server = {.id = "ingest-7",
              .zone = "eu-west-2a",
              .listen = "[::1]:0",
              .admin_listen = "127.0.0.2:9191",
              .shards = 3,
              .max_connections = 1234,
              .max_connections_per_source = 12,
              .state_dir = "/tmp/state \"quoted\" \\ dir"};
  c.tls = {.cert_file = "/etc/ingestd/server.crt",
           .key_file = "/etc/ingestd/server.key",
           .camera_ca_file = "/etc/ingestd/cameras.pem",
           .ticket_keys_file = "/etc/ingestd/tickets.key",
           .crl_file = "/etc/ingestd/cameras.crl",
           .camera_deny_list_file = "/etc/ingestd/denied-cameras.txt",
           .allow_tls12 = true,
           .handshake_timeout_ms = 2500,
           .max_handshakes_in_progress = 77,
           .dev_certs = true};
  c.protocol = {.hello_timeout_ms = 3000,
                .idle_timeout_ms = 45000,
                .keepalive_interval_ms = 5000,
                .max_segment_bytes = (2u << 20) + 123,
                .ack_window_bytes = 16u << 20,
                .max_capture_age_s = 7 * 86400,
                .max_capture_lead_s = 600,
                .stream_segment_ms = 2500};
  c.spool = {.dir = "/srv/spool\tüñí",
             .commit_interval_ms = 7,
             .commit_bytes = 512u << 10,
             .file_bytes = 128u << 20,
             .max_bytes = 3ull << 40,
             .shard_memory_bytes = 100001u << 10,
             .direct_io = false};
  c.store = {.url = "s3://bucket/prefix",
             .seal_bytes = 5u << 20,
             .seal_age_ms = 20000,
             .index_interval_s = 300,
             .upload_threads = 7,
             .endpoint = "https://s3.example.net:8443",
             .region = "eu-west-3",
             .path_style = true,
             .ca_file = "/etc/ingestd/s3-ca.pem",
             .payload_signing = "signed",
             .profile = "recorder",
             .use_instance_metadata = false,
             .imds_endpoint = "http://127.0.0.1:8111",
             .role_arn = "arn:aws:iam::123456789012:role/zone-a-writer",
             .role_session_name = "ingestd-zone-a",
             .external_id = "zone-a",
             .sts_endpoint = "https://sts.eu-west-3.amazonaws.com",
             .sts_region = "eu-west-3"};
  c.log = {.level = "debug", .connection_errors_per_second = 0.1};
  return c;
}

// True (with a message on failure) if `status` is InvalidArgument and its
// message starts with `prefix` (e.g. "ingestd.toml:3: ") and names `key`.
inline ::testing::AssertionResult HasError(const absl::Status& status, std::string_view prefix,
                                           std::string_view key) {
  if (status.code() != absl::StatusCode::kInvalidArgument) {
    return ::testing::AssertionFailure() << "expected InvalidArgument, got " << status;
  }
  std::string message(status.message());
  if (message.rfind(prefix, 0) != 0) {
    return ::testing::AssertionFailure() << "\"" << message << "\" does not start with \"" << prefix << "\"";
  }
  if (message.find(key) == std::string::npos) {
    return ::testing::AssertionFailure() << "\"" << message << "\" does not name " << key;
  }
  return ::testing::AssertionSuccess() << message;
}

}  // namespace ingest

#endif  // TESTS_SERVER_CONFIG_CONFIG_TEST_UTIL_H_
