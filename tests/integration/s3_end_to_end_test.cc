// Cameras stream through ingestd into a real S3 server that verifies
// signatures (radosgw). Afterwards the AWS CLI lists and downloads the
// objects on its own, and our reader reproduces every camera's bytes from
// both the bucket and the downloaded copy, with the bodies sent
// UNSIGNED-PAYLOAD + x-amz-checksum-crc32c and, over plain http by default,
// signed. Wrong credentials refuse to start.
#include <filesystem>
#include <string>

#include "gtest/gtest.h"
#include "server/store/local_dir_store.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/s3_ingest_env.h"

namespace ingest::testing {
namespace {

constexpr char kPrefix[] = "zone-a";

using S3EndToEndTest = S3IngestTest;

TEST_F(S3EndToEndTest, EveryCameraReadsBackByteExactFromTheBucketAndFromTheAwsCliDownload) {
  TempDir dir;
  auto server = StartTestServer(dir.path(), S3StoreSettings(*s3_, kBucket, kPrefix, [](IngestConfig& config) {
    config.store.seal_bytes = 256 << 10;  // several batches in a short run
  }));
  ASSERT_NE(server, nullptr);
  FleetOptions fleet = TestFleet(*server, dir.path(), /*cameras=*/24);
  fleet.wait_for = camproto::DurabilityLevel::kPersisted;
  absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->all_acked) << "every segment must get ACK(persisted) from S3";
  const IngestStats stats = server->Stats();
  EXPECT_GT(stats.sealer.batches_written, 1u);
  EXPECT_GT(stats.store.requests, 0u);
  EXPECT_EQ(stats.sealer.store_errors, 0u);
  ASSERT_TRUE(server->Stop().ok());

  // Independent reader 1: the AWS CLI lists the bucket ...
  absl::StatusOr<std::string> listing = s3_->RunAwsCli({"s3", "ls", "--recursive", absl::StrCat("s3://", kBucket, "/")});
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_NE(listing->find(absl::StrCat(kPrefix, "/dev/batches/")), std::string::npos) << *listing;
  EXPECT_NE(listing->find(absl::StrCat(kPrefix, "/dev/index/cam-")), std::string::npos) << *listing;
  // ... and downloads everything; the download is a store our reader can read.
  const std::string download = dir.path() + "/download";
  absl::StatusOr<std::string> copied = s3_->RunAwsCli(
      {"s3", "cp", "--recursive", "--only-show-errors", absl::StrCat("s3://", kBucket, "/", kPrefix), download});
  ASSERT_TRUE(copied.ok()) << copied.status();
  LocalDirStore downloaded(download);

  std::unique_ptr<ObjectStore> bucket = OpenS3TestStore(*s3_, kBucket, kPrefix);
  ASSERT_NE(bucket, nullptr);
  for (const CameraReport& camera : report->cameras) {
    ExportStats from_bucket;
    EXPECT_EQ(StoredSha256(*bucket, "dev", camera.id, &from_bucket), camera.sha256_hex) << camera.id;
    EXPECT_EQ(from_bucket.segments, camera.segments) << camera.id;
    EXPECT_EQ(StoredSha256(downloaded, "dev", camera.id), camera.sha256_hex) << camera.id;
  }
  // Each (camera, seq) is in exactly one batch object.
  for (const auto& [segment, count] : CountBatchedSegments(*bucket, "dev")) {
    EXPECT_EQ(count, 1) << segment.first << " seq " << segment.second;
  }
}

// The tests above upload with payload_signing "unsigned" (what "auto" picks
// for AWS over https). Over this gateway's plain http "auto" signs every
// body's SHA-256 instead; that path must work end to end too.
TEST_F(S3EndToEndTest, TheDefaultOverPlainHttpSignsThePayloadAndReadsBackByteExact) {
  TempDir dir;
  auto server = StartTestServer(dir.path(), S3StoreSettings(*s3_, kBucket, kPrefix, [](IngestConfig& config) {
    config.store.payload_signing = StoreConfig{}.payload_signing;
    ASSERT_EQ(config.store.payload_signing, "auto");
    config.store.seal_bytes = 256 << 10;
  }));
  ASSERT_NE(server, nullptr);
  FleetOptions fleet = TestFleet(*server, dir.path(), /*cameras=*/6);
  fleet.wait_for = camproto::DurabilityLevel::kPersisted;
  absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
  ASSERT_TRUE(report.ok()) << report.status();
  EXPECT_TRUE(report->all_acked);
  EXPECT_EQ(server->Stats().sealer.store_errors, 0u);
  ASSERT_TRUE(server->Stop().ok());
  std::unique_ptr<ObjectStore> bucket = OpenS3TestStore(*s3_, kBucket, kPrefix);
  ASSERT_NE(bucket, nullptr);
  for (const CameraReport& camera : report->cameras) {
    EXPECT_EQ(StoredSha256(*bucket, "dev", camera.id), camera.sha256_hex) << camera.id;
  }
}

TEST_F(S3EndToEndTest, WrongSecretKeyRefusesToStartWithTheS3Error) {
  UseS3Credentials(s3_->access_key(), "not-the-secret-key-at-all-0000000000000");
  TempDir dir;
  absl::StatusOr<std::unique_ptr<IngestServer>> server =
      IngestServer::Start(TestConfig(dir.path(), S3StoreSettings(*s3_, kBucket, kPrefix)));
  ASSERT_FALSE(server.ok());
  EXPECT_TRUE(absl::IsPermissionDenied(server.status()) || absl::IsUnauthenticated(server.status()))
      << server.status();
  EXPECT_NE(server.status().message().find("SignatureDoesNotMatch"), absl::string_view::npos) << server.status();
}

TEST_F(S3EndToEndTest, MissingBucketRefusesToStart) {
  TempDir dir;
  absl::StatusOr<std::unique_ptr<IngestServer>> server =
      IngestServer::Start(TestConfig(dir.path(), S3StoreSettings(*s3_, "no-such-bucket", kPrefix)));
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("NoSuchBucket"), absl::string_view::npos) << server.status();
}

}  // namespace
}  // namespace ingest::testing
