// ResolveDefaults fills derived values; ValidateConfig enforces ranges and
// the rules between keys.
#include <unistd.h>

#include <climits>

#include "gtest/gtest.h"
#include "server/config/ingest_config.h"
#include "tests/server/config/config_test_util.h"

namespace ingest {
namespace {

IngestConfig ResolvedDevConfig() {
  IngestConfig config;
  config.tls.dev_certs = true;
  EXPECT_TRUE(ResolveDefaults(config).ok());
  return config;
}

TEST(ConfigValidationTest, DefaultsAreValidAfterResolveDefaultsWithDevCerts) {
  IngestConfig config = ResolvedDevConfig();
  EXPECT_TRUE(ValidateConfig(config).ok()) << ValidateConfig(config);
}

TEST(ConfigValidationTest, ResolveDefaultsFillsDerivedValues) {
  IngestConfig config;
  config.server.state_dir = "/srv/ingest";
  ASSERT_TRUE(ResolveDefaults(config).ok());
  char host[HOST_NAME_MAX + 1] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  EXPECT_EQ(config.server.id, host);
  EXPECT_GE(config.server.shards, 1);
  EXPECT_LE(config.server.shards, 256);
  EXPECT_EQ(config.spool.dir, "/srv/ingest/spool");
  EXPECT_EQ(config.store.url, "dir:/srv/ingest/store");
}

TEST(ConfigValidationTest, PerSourceLimitFollowsALowerTotalUnlessSet) {
  // `--max-connections 500` alone must start, not trip over the per-source default.
  IngestConfig config;
  config.tls.dev_certs = true;
  config.server.max_connections = 500;
  ASSERT_TRUE(ResolveDefaults(config).ok());
  EXPECT_EQ(config.server.max_connections_per_source, 500u);
  EXPECT_TRUE(ValidateConfig(config).ok()) << ValidateConfig(config);

  IngestConfig roomy = ResolvedDevConfig();
  EXPECT_EQ(roomy.server.max_connections_per_source, 1000u);

  IngestConfig explicit_limit;
  explicit_limit.tls.dev_certs = true;
  explicit_limit.server.max_connections = 500;
  explicit_limit.server.max_connections_per_source = 600;
  ASSERT_TRUE(ResolveDefaults(explicit_limit).ok());
  EXPECT_TRUE(HasError(ValidateConfig(explicit_limit), "", "server.max_connections_per_source: must not exceed"));
}

TEST(ConfigValidationTest, ResolveDefaultsKeepsWhatIsSet) {
  IngestConfig config = ConfigWithEveryFieldChanged();
  IngestConfig before = config;
  ASSERT_TRUE(ResolveDefaults(config).ok());
  EXPECT_EQ(config, before);
  EXPECT_TRUE(ValidateConfig(config).ok()) << ValidateConfig(config);
}

TEST(ConfigValidationTest, UnresolvedDefaultsAreRejected) {
  IngestConfig config;
  config.tls.dev_certs = true;
  absl::Status status = ValidateConfig(config);
  EXPECT_TRUE(HasError(status, "", "server.id: must not be empty"));
  EXPECT_TRUE(HasError(status, "", "server.shards: must be between 1 and 256, got 0"));
  EXPECT_TRUE(HasError(status, "", "spool.dir"));
  EXPECT_TRUE(HasError(status, "", "store.url"));
}

TEST(ConfigValidationTest, TlsFilesAreRequiredUnlessDevCerts) {
  IngestConfig config = ResolvedDevConfig();
  config.tls.dev_certs = false;
  absl::Status status = ValidateConfig(config);
  EXPECT_TRUE(HasError(status, "tls.cert_file: required unless tls.dev_certs = true", "tls.cert_file"));
  EXPECT_TRUE(HasError(status, "", "tls.key_file: required"));
  EXPECT_TRUE(HasError(status, "", "tls.camera_ca_file: required"));
  EXPECT_EQ(status.message().find("ticket_keys_file"), absl::string_view::npos) << status;

  config.tls.cert_file = "server.crt";
  config.tls.key_file = "server.key";
  config.tls.camera_ca_file = "cameras.pem";
  EXPECT_TRUE(ValidateConfig(config).ok()) << ValidateConfig(config);
}

TEST(ConfigValidationTest, CrossFieldRules) {
  struct Case {
    const char* name;
    void (*mutate)(IngestConfig&);
    const char* expected;
  };
  const Case cases[] = {
      {"window below segment", [](IngestConfig& c) { c.protocol.ack_window_bytes = (4u << 20) - 1; },
       "protocol.ack_window_bytes: must be at least protocol.max_segment_bytes"},
      {"per-source above total", [](IngestConfig& c) { c.server.max_connections_per_source = 50001; },
       "server.max_connections_per_source: must not exceed server.max_connections"},
      {"keepalive not below idle", [](IngestConfig& c) { c.protocol.keepalive_interval_ms = 60000; },
       "protocol.keepalive_interval_ms: must be less than protocol.idle_timeout_ms"},
      {"shard memory below segment", [](IngestConfig& c) { c.spool.shard_memory_bytes = 2u << 20; },
       "spool.shard_memory_bytes: must be at least protocol.max_segment_bytes"},
      {"spool file below segment", [](IngestConfig& c) { c.spool.file_bytes = 2u << 20; },
       "spool.file_bytes: must be at least protocol.max_segment_bytes"},
      {"spool capacity below two files per shard",
       [](IngestConfig& c) {
         c.server.shards = 2;
         c.spool.max_bytes = 255u << 20;  // 2 shards x 2 files x 64 MiB = 256 MiB
       },
       "spool.max_bytes: must be at least 2 x server.shards x spool.file_bytes"},
      {"shards above 256", [](IngestConfig& c) { c.server.shards = 300; }, "server.shards"},
      {"store scheme unknown", [](IngestConfig& c) { c.store.url = "gs://bucket"; }, "store.url: unknown store"},
      {"s3 without bucket", [](IngestConfig& c) { c.store.url = "s3://"; }, "store.url"},
      {"listen not numeric", [](IngestConfig& c) { c.server.listen = "localhost:1"; }, "server.listen"},
      {"range checked too", [](IngestConfig& c) { c.spool.commit_interval_ms = 5000; },
       "spool.commit_interval_ms: must be between 1 and 1000, got 5000"},
      {"double range", [](IngestConfig& c) { c.log.connection_errors_per_second = -1; },
       "log.connection_errors_per_second"},
  };
  for (const Case& c : cases) {
    IngestConfig config = ResolvedDevConfig();
    c.mutate(config);
    EXPECT_TRUE(HasError(ValidateConfig(config), "", c.expected)) << c.name;
  }
}

TEST(ConfigValidationTest, ReportsEveryProblemAtOnce) {
  IngestConfig config = ResolvedDevConfig();
  config.server.zone = "";
  config.log.level = "loud";
  absl::Status status = ValidateConfig(config);
  EXPECT_TRUE(HasError(status, "", "server.zone"));
  EXPECT_TRUE(HasError(status, "", "log.level"));
}

}  // namespace
}  // namespace ingest
