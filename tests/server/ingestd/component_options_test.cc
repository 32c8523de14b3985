// Each component's options as built from the configuration: the keys land in
// the right fields and the derived values (descriptor tables, wave sizes)
// keep their bounds.
#include "server/ingestd/component_options.h"

#include "common/descriptor_limit.h"
#include "gtest/gtest.h"
#include "server/config/ingest_config.h"

namespace ingest {
namespace {

IngestConfig Resolved(int shards, uint32_t max_connections) {
  IngestConfig config;
  config.server.shards = shards;
  config.server.max_connections = max_connections;
  config.server.state_dir = "/var/lib/ingest";
  config.tls.dev_certs = true;
  EXPECT_TRUE(ResolveDefaults(config).ok());
  return config;
}

TEST(ComponentOptionsTest, ShardDescriptorTableIsItsShareOfConnectionsPlusSlackWithinBounds) {
  // A share of 12,500, an eighth more for the kernel's uneven spread, and the
  // slots kept for refusals.
  const ShardOptions four = ShardOptionsFrom(Resolved(4, 50000), 0, 3, AF_INET);
  EXPECT_EQ(four.registered_files, 12500u + 1562 + 64);
  EXPECT_EQ(four.max_cameras, 12500u + 1562);
  EXPECT_EQ(ShardOptionsFrom(Resolved(2, 100), 0, 3, AF_INET).registered_files, 256u);
  const ShardOptions capped = ShardOptionsFrom(Resolved(1, 1000000), 0, 3, AF_INET);
  EXPECT_EQ(capped.registered_files, RingFileLimit());
  EXPECT_EQ(capped.max_cameras, RingFileLimit() - 64);
}

TEST(ComponentOptionsTest, DefaultShardsAreEnoughRingsForMaxConnections) {
  const IngestConfig config = Resolved(0, 3 * RingFileLimit());
  EXPECT_GE(config.server.shards, 4);
  EXPECT_TRUE(ValidateConfig(config).ok()) << ValidateConfig(config);
  const ShardOptions options = ShardOptionsFrom(config, 0, 3, AF_INET);
  EXPECT_GE(uint64_t{options.max_cameras} * static_cast<uint64_t>(config.server.shards),
            config.server.max_connections);
}

TEST(ComponentOptionsTest, ShardTakesItsSocketAndTheProtocolLimits) {
  IngestConfig config = Resolved(2, 1000);
  config.protocol.max_capture_age_s = 7;
  config.protocol.max_capture_lead_s = 3;
  config.protocol.hello_timeout_ms = 1234;
  config.spool.commit_interval_ms = 9;
  config.drain.reconnect_after_min_ms = 1500;
  const ShardOptions options = ShardOptionsFrom(config, 1, 42, AF_INET6);
  EXPECT_EQ(options.index, 1);
  EXPECT_EQ(options.listen_fd, 42);
  EXPECT_EQ(options.listen_family, AF_INET6);
  EXPECT_EQ(options.session.server_id, config.server.id);
  EXPECT_EQ(options.session.max_capture_age_us, 7'000'000);
  EXPECT_EQ(options.session.max_capture_lead_us, 3'000'000);
  EXPECT_EQ(options.hello_timeout, absl::Milliseconds(1234));
  EXPECT_EQ(options.writer.commit_interval, absl::Milliseconds(9));
  EXPECT_EQ(options.reconnect_after_min, absl::Milliseconds(1500));
}

TEST(ComponentOptionsTest, SealerJournalsUnderTheSpoolAndProbesTheStore) {
  IngestConfig config = Resolved(2, 1000);
  config.store.upload_threads = 3;
  const BatchSealerOptions options = BatchSealerOptionsFrom(config);
  EXPECT_EQ(options.zone, config.server.zone);
  EXPECT_EQ(options.journal_dir, config.spool.dir + "/journal");
  EXPECT_EQ(options.upload_threads, 3);
  EXPECT_EQ(options.max_batches_in_flight, 6);
  EXPECT_TRUE(options.probe_store);
}

TEST(ComponentOptionsTest, SpoolCatalogHasOneFilePerShard) {
  const IngestConfig config = Resolved(3, 1000);
  const SpoolCatalogOptions options = SpoolCatalogOptionsFrom(config);
  EXPECT_EQ(options.dir, config.spool.dir);
  EXPECT_EQ(options.shard_count, 3);
  EXPECT_EQ(options.file_bytes, config.spool.file_bytes);
}

TEST(ComponentOptionsTest, RezoningMovesTheDrainsPaceSpreadOverShards) {
  IngestConfig config = Resolved(2, 1000);
  config.drain.goaway_per_second = 500;
  config.server.zone_subnet_check = "refuse";
  ZoneReloaderOptions options = ZoneReloaderOptionsFrom(config);
  EXPECT_EQ(options.wave_per_shard, 25u);  // 500/s in tenth-of-a-second waves, over 2 shards
  EXPECT_TRUE(options.refuse_outside_subnets);
  config.drain.goaway_per_second = 1;
  config.server.zone_subnet_check = "warn";
  options = ZoneReloaderOptionsFrom(config);
  EXPECT_EQ(options.wave_per_shard, 1u);
  EXPECT_FALSE(options.refuse_outside_subnets);
}

TEST(ComponentOptionsTest, TlsFilesAreTheTlsKeys) {
  TlsConfig tls;
  tls.cert_file = "c";
  tls.key_file = "k";
  tls.camera_ca_file = "ca";
  tls.ticket_keys_file = "t";
  tls.crl_file = "crl";
  tls.camera_deny_list_file = "deny";
  tls.allow_tls12 = true;
  const ServerTlsFiles files = ServerTlsFilesFrom(tls);
  EXPECT_EQ(files.context.cert_file, "c");
  EXPECT_EQ(files.context.key_file, "k");
  EXPECT_EQ(files.context.camera_ca_file, "ca");
  EXPECT_EQ(files.context.ticket_keys_file, "t");
  EXPECT_TRUE(files.context.allow_tls12);
  EXPECT_EQ(files.crl_file, "crl");
  EXPECT_EQ(files.camera_deny_list_file, "deny");
  EXPECT_TRUE(files.context.own_record_layer);  // the default
  tls.openssl_record_layer = true;
  EXPECT_FALSE(ServerTlsFilesFrom(tls).context.own_record_layer);
}

}  // namespace
}  // namespace ingest
