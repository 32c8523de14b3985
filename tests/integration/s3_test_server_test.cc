// The S3 test server harness itself (tests/support/s3_test_server.h): the
// RADOS Gateway comes up on loopback, the AWS CLI stores and reads objects
// through it, it rejects a wrong signature, an unknown key and anonymous
// access, and a gateway restart keeps the objects and the endpoint. Prints
// the start and stop times and the daemons' memory. Skipped where Ceph is
// not installed.
#include "tests/support/s3_test_server.h"

#include <fstream>
#include <iostream>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "tests/support/ingestd_process.h"

namespace ingest::testing {
namespace {

constexpr char kBucket[] = "harness-bucket";

// Random, incompressible bytes (fixed seed: a failure reproduces).
std::string TestBytes(size_t size) {
  std::mt19937_64 rng(20240601);
  std::string bytes(size, '\0');
  for (char& c : bytes) c = static_cast<char>(rng());
  return bytes;
}

uint16_t PortOf(const std::string& endpoint) {
  int port = 0;
  EXPECT_TRUE(absl::SimpleAtoi(endpoint.substr(endpoint.rfind(':') + 1), &port)) << endpoint;
  return static_cast<uint16_t>(port);
}

class S3TestServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!S3TestServer::Available()) GTEST_SKIP() << "radosgw/ceph/awscli not installed";
    const absl::Time start = absl::Now();
    absl::StatusOr<std::unique_ptr<S3TestServer>> server = S3TestServer::Start();
    start_time_ = absl::Now() - start;
    ASSERT_TRUE(server.ok()) << server.status();
    s3_ = std::move(*server);
  }

  // Stores `bytes` as kBucket/`key` with `aws s3 cp` of a file.
  void PutWithAwsCli(const std::string& key, const std::string& bytes) {
    const std::string file =
        absl::StrCat(s3_->dir(), "/upload-", absl::StrReplaceAll(key, {{"/", "_"}}));
    {
      std::ofstream out(file, std::ios::binary);
      out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
      ASSERT_TRUE(out.good()) << file;
    }
    absl::StatusOr<std::string> put = s3_->RunAwsCli(
        {"s3", "cp", "--no-progress", file, absl::StrCat("s3://", kBucket, "/", key)});
    ASSERT_TRUE(put.ok()) << put.status();
  }

  absl::StatusOr<std::string> GetWithAwsCli(const std::string& key) {
    return s3_->RunAwsCli({"s3", "cp", absl::StrCat("s3://", kBucket, "/", key), "-"});
  }

  absl::Duration start_time_;
  std::unique_ptr<S3TestServer> s3_;
};

TEST_F(S3TestServerTest, StartsOnLoopbackAndStopsEverything) {
  EXPECT_TRUE(absl::StartsWith(s3_->endpoint(), "http://127.0.0.1:")) << s3_->endpoint();
  EXPECT_TRUE(PortAccepts(PortOf(s3_->endpoint())));
  EXPECT_EQ(s3_->access_key().size(), 20u);
  EXPECT_EQ(s3_->secret_key().size(), 40u);
  EXPECT_EQ(s3_->region(), "us-east-1");
  std::cout << "[  figures ] start " << absl::FormatDuration(start_time_) << "\n";
  uint64_t total = 0;
  for (const char* daemon : {"mon", "osd", "rgw"}) {
    absl::StatusOr<uint64_t> rss = s3_->DaemonRssBytes(daemon);
    ASSERT_TRUE(rss.ok()) << rss.status();
    total += *rss;
    std::cout << "[  figures ] " << daemon << " RSS " << (*rss >> 20) << " MiB\n";
  }
  std::cout << "[  figures ] all three RSS " << (total >> 20) << " MiB\n";

  const absl::Time stop = absl::Now();
  absl::Status stopped = s3_->Stop();
  std::cout << "[  figures ] stop " << absl::FormatDuration(absl::Now() - stop) << "\n";
  ASSERT_TRUE(stopped.ok()) << stopped;
  EXPECT_FALSE(PortAccepts(PortOf(s3_->endpoint())));
  for (const char* daemon : {"mon", "osd", "rgw"}) {
    EXPECT_FALSE(s3_->DaemonRssBytes(daemon).ok()) << daemon << " still running";
  }
  EXPECT_TRUE(s3_->Stop().ok()) << "a second Stop is a no-op";
}

TEST_F(S3TestServerTest, AwsCliPutsListsAndGets) {
  ASSERT_TRUE(s3_->CreateBucket(kBucket).ok());
  const std::string bytes = TestBytes(300 * 1024 + 7);
  ASSERT_NO_FATAL_FAILURE(PutWithAwsCli("dir/object.bin", bytes));

  absl::StatusOr<std::string> listing =
      s3_->RunAwsCli({"s3api", "list-objects-v2", "--bucket", kBucket, "--query",
                      "Contents[].[Key,Size]", "--output", "text"});
  ASSERT_TRUE(listing.ok()) << listing.status();
  EXPECT_EQ(*listing, absl::StrCat("dir/object.bin\t", bytes.size(), "\n"));

  absl::StatusOr<std::string> got = GetWithAwsCli("dir/object.bin");
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_TRUE(*got == bytes) << "read back " << got->size() << " bytes, stored " << bytes.size();
}

TEST_F(S3TestServerTest, WrongCredentialsAreRejected) {
  // The right keys work: the bucket is created with them.
  ASSERT_TRUE(s3_->CreateBucket(kBucket).ok());
  const std::vector<std::string> list = {"--debug", "s3api", "list-objects-v2", "--bucket",
                                         kBucket};

  // The CLI hides RGW's error code (it exits 255 on the empty message);
  // its --debug log shows the reply body.
  std::string wrong_secret = s3_->secret_key();
  wrong_secret[0] = wrong_secret[0] == 'A' ? 'B' : 'A';
  absl::StatusOr<S3TestServer::CommandResult> result =
      s3_->RunAwsCliAs(s3_->access_key(), wrong_secret, list);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NE(result->exit_code, 0);
  EXPECT_TRUE(absl::StrContains(result->err, "<Code>SignatureDoesNotMatch</Code>"))
      << result->err.substr(0, 4000);

  result = s3_->RunAwsCliAs("AKUNKNOWN0000000000", s3_->secret_key(), list);
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_NE(result->exit_code, 0);
  EXPECT_TRUE(absl::StrContains(result->err, "<Code>InvalidAccessKeyId</Code>"))
      << result->err.substr(0, 4000);

  // Anonymous: no signature at all.
  absl::StatusOr<std::string> anonymous =
      s3_->RunAwsCli({"--no-sign-request", "s3api", "list-objects-v2", "--bucket", kBucket});
  EXPECT_FALSE(anonymous.ok());
}

TEST_F(S3TestServerTest, GatewayRestartKeepsObjectsAndEndpoint) {
  ASSERT_TRUE(s3_->CreateBucket(kBucket).ok());
  const std::string bytes = TestBytes(64 * 1024);
  ASSERT_NO_FATAL_FAILURE(PutWithAwsCli("kept.bin", bytes));
  const std::string endpoint = s3_->endpoint();

  absl::Time t = absl::Now();
  absl::Status s = s3_->StopGateway();
  std::cout << "[  figures ] stop-gateway " << absl::FormatDuration(absl::Now() - t) << "\n";
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_FALSE(PortAccepts(PortOf(endpoint)));
  absl::StatusOr<std::string> during = GetWithAwsCli("kept.bin");
  ASSERT_FALSE(during.ok());
  EXPECT_TRUE(absl::StrContains(during.status().message(), "Could not connect")) << during.status();
  EXPECT_TRUE(s3_->StopGateway().ok()) << "a second StopGateway is a no-op";

  t = absl::Now();
  s = s3_->StartGateway();
  std::cout << "[  figures ] start-gateway " << absl::FormatDuration(absl::Now() - t) << "\n";
  ASSERT_TRUE(s.ok()) << s;
  EXPECT_EQ(s3_->endpoint(), endpoint);
  absl::StatusOr<std::string> after = GetWithAwsCli("kept.bin");
  ASSERT_TRUE(after.ok()) << after.status();
  EXPECT_TRUE(*after == bytes);
}

}  // namespace
}  // namespace ingest::testing
