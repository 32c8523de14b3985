// Test support for ingestd against the real S3 test server (radosgw): the
// configuration that points a server at a bucket, credentials in the
// environment the way an operator would provide them, and an independent
// count of what the batch objects hold.
//
//   auto s3 = S3TestServer::Start();
//   ASSERT_TRUE((*s3)->CreateBucket("rec").ok());
//   UseS3Credentials((*s3)->access_key(), (*s3)->secret_key());
//   auto server = StartTestServer(dir.path(), S3StoreSettings(**s3, "rec", "zone-a"));
#ifndef TESTS_SUPPORT_S3_INGEST_ENV_H_
#define TESTS_SUPPORT_S3_INGEST_ENV_H_

#include <stdlib.h>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/batch/batch_object.h"
#include "server/config/ingest_config.h"
#include "server/store_config/store_from_config.h"
#include "tests/support/s3_test_server.h"

namespace ingest::testing {

// Credentials from the environment only: no shared files, no instance
// metadata (nothing may leave loopback).
inline void UseS3Credentials(const std::string& access_key, const std::string& secret_key) {
  setenv("AWS_ACCESS_KEY_ID", access_key.c_str(), 1);
  setenv("AWS_SECRET_ACCESS_KEY", secret_key.c_str(), 1);
  unsetenv("AWS_SESSION_TOKEN");
  unsetenv("AWS_PROFILE");
  setenv("AWS_CONFIG_FILE", "/dev/null", 1);
  setenv("AWS_SHARED_CREDENTIALS_FILE", "/dev/null", 1);
  setenv("AWS_EC2_METADATA_DISABLED", "true", 1);
}

// Uploads go UNSIGNED-PAYLOAD with x-amz-checksum-crc32c, as they do to AWS
// over https (payload_signing "auto"): the test gateway listens on plain
// http, where "auto" would sign the bodies instead, so the tests ask for
// "unsigned" to have radosgw check the requests production sends.
inline constexpr char kS3TestPayloadSigning[] = "unsigned";

inline void FillS3StoreConfig(StoreConfig& store, const S3TestServer& s3, const std::string& bucket,
                              const std::string& prefix) {
  store.url = absl::StrCat("s3://", bucket, "/", prefix);
  store.endpoint = s3.endpoint();
  store.region = s3.region();
  store.path_style = true;
  store.payload_signing = kS3TestPayloadSigning;
  store.use_instance_metadata = false;
}

// A StartTestServer tweak that stores into s3://bucket/prefix on `s3`.
inline std::function<void(IngestConfig&)> S3StoreSettings(const S3TestServer& s3, const std::string& bucket,
                                                          const std::string& prefix,
                                                          std::function<void(IngestConfig&)> more = {}) {
  return [&s3, bucket, prefix, more](IngestConfig& config) {
    FillS3StoreConfig(config.store, s3, bucket, prefix);
    if (more) more(config);
  };
}

// The same flags for an ingestd child process.
inline std::vector<std::string> S3StoreFlags(const S3TestServer& s3, const std::string& bucket,
                                             const std::string& prefix) {
  return {absl::StrCat("--store=s3://", bucket, "/", prefix), absl::StrCat("--s3_endpoint=", s3.endpoint()),
          absl::StrCat("--s3_region=", s3.region()), "--s3_path_style=true",
          absl::StrCat("--s3_payload_signing=", kS3TestPayloadSigning)};
}

inline std::unique_ptr<ObjectStore> OpenS3TestStore(const S3TestServer& s3, const std::string& bucket,
                                                    const std::string& prefix) {
  StoreConfig config;
  FillS3StoreConfig(config, s3, bucket, prefix);
  absl::StatusOr<OpenedStore> opened = OpenStoreFromConfig(config);
  EXPECT_TRUE(opened.ok()) << opened.status();
  return opened.ok() ? std::move(opened->store) : nullptr;
}

// How often each (camera, seq) occurs across every batch object of the zone,
// read from the batch objects' own indexes (not from the camera indexes).
inline std::map<std::pair<std::string, uint64_t>, int> CountBatchedSegments(ObjectStore& store,
                                                                            const std::string& zone) {
  std::map<std::pair<std::string, uint64_t>, int> counts;
  absl::StatusOr<std::vector<ObjectInfo>> batches = store.List(zone + "/batches/");
  EXPECT_TRUE(batches.ok()) << batches.status();
  if (!batches.ok()) return counts;
  for (const ObjectInfo& object : *batches) {
    absl::StatusOr<std::vector<uint8_t>> tail =
        store.GetRange(object.key, object.size - kBatchTrailerBytes, kBatchTrailerBytes);
    EXPECT_TRUE(tail.ok()) << object.key << ": " << tail.status();
    if (!tail.ok()) continue;
    absl::StatusOr<BatchTrailer> trailer = DecodeBatchTrailer(*tail, object.size);
    EXPECT_TRUE(trailer.ok()) << object.key << ": " << trailer.status();
    if (!trailer.ok()) continue;
    absl::StatusOr<std::vector<uint8_t>> index_bytes =
        store.GetRange(object.key, trailer->index_offset, trailer->index_bytes);
    EXPECT_TRUE(index_bytes.ok()) << object.key;
    if (!index_bytes.ok()) continue;
    absl::StatusOr<std::vector<SegmentLocation>> index = DecodeBatchIndex(*index_bytes, *trailer);
    EXPECT_TRUE(index.ok()) << object.key << ": " << index.status();
    if (!index.ok()) continue;
    for (const SegmentLocation& e : *index) ++counts[{e.camera, e.seq}];
  }
  return counts;
}

// A fixture with a fresh radosgw, a bucket kBucket, and its credentials in
// the environment; skips when radosgw is not installed.
class S3IngestTest : public ::testing::Test {
 protected:
  static constexpr char kBucket[] = "recordings";

  void SetUp() override {
    if (!S3TestServer::Available()) GTEST_SKIP() << "radosgw / AWS CLI not installed (scripts/setup.sh installs them)";
    absl::StatusOr<std::unique_ptr<S3TestServer>> s3 = S3TestServer::Start();
    ASSERT_TRUE(s3.ok()) << s3.status();
    s3_ = std::move(*s3);
    ASSERT_TRUE(s3_->CreateBucket(kBucket).ok());
    UseS3Credentials(s3_->access_key(), s3_->secret_key());
  }

  std::unique_ptr<S3TestServer> s3_;
};

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_S3_INGEST_ENV_H_
