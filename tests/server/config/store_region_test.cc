// store.region and store.sts_region left empty: an S3-compatible store signs
// for "us-east-1", AWS S3 needs the region spelled out, and STS follows the
// store's region.
#include "gtest/gtest.h"
#include "server/config/ingest_config.h"
#include "tests/server/config/config_test_util.h"

namespace ingest {
namespace {

struct StoreSettings {
  std::string url{};
  std::string endpoint{};
  std::string region{};
  std::string sts_region{};
};

IngestConfig Resolved(const StoreSettings& store) {
  IngestConfig config;
  config.tls.dev_certs = true;
  config.store.url = store.url;
  config.store.endpoint = store.endpoint;
  config.store.region = store.region;
  config.store.sts_region = store.sts_region;
  EXPECT_TRUE(ResolveDefaults(config).ok());
  return config;
}

TEST(StoreRegionTest, BothDefaultToEmpty) {
  EXPECT_EQ(StoreConfig{}.region, "");
  EXPECT_EQ(StoreConfig{}.sts_region, "");
}

TEST(StoreRegionTest, S3CompatibleStoreSignsForUsEast1) {
  IngestConfig config = Resolved({.url = "s3://recordings/zone-a", .endpoint = "http://127.0.0.1:9000"});
  EXPECT_EQ(config.store.region, "us-east-1");
  EXPECT_EQ(config.store.sts_region, "us-east-1");
  EXPECT_TRUE(ValidateConfig(config).ok()) << ValidateConfig(config);
}

TEST(StoreRegionTest, AwsS3WithoutARegionIsAConfigurationError) {
  IngestConfig config = Resolved({.url = "s3://recordings/zone-a"});
  EXPECT_EQ(config.store.region, "");
  absl::Status status = ValidateConfig(config);
  EXPECT_TRUE(HasError(status, "", "store.region is required for AWS S3 (e.g. \"eu-west-1\")"));
}

TEST(StoreRegionTest, StsRegionFollowsTheStoreRegionUnlessSet) {
  IngestConfig follows = Resolved({.url = "s3://recordings/zone-a", .region = "eu-west-1"});
  EXPECT_EQ(follows.store.region, "eu-west-1");
  EXPECT_EQ(follows.store.sts_region, "eu-west-1");
  EXPECT_TRUE(ValidateConfig(follows).ok()) << ValidateConfig(follows);

  IngestConfig kept = Resolved({.url = "s3://recordings/zone-a", .region = "eu-west-1", .sts_region = "us-west-2"});
  EXPECT_EQ(kept.store.sts_region, "us-west-2");
}

TEST(StoreRegionTest, LocalStoreNeedsNoRegion) {
  IngestConfig config = Resolved({});
  EXPECT_EQ(config.store.region, "");
  EXPECT_TRUE(ValidateConfig(config).ok()) << ValidateConfig(config);
}

}  // namespace
}  // namespace ingest
