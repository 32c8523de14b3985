// Regression (found by tests/fuzz/aws_json_fuzz.cc): absl::ParseTime reads
// "infinite-future" and "infinite-past" as times, so an instance metadata or
// STS answer with such an Expiration gave credentials that were never
// refreshed. Both are refused now, wherever a timestamp is read.
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "server/s3/assume_role_credentials.h"
#include "server/s3/instance_metadata_credentials.h"
#include "server/s3/refreshing_credentials.h"

namespace ingest {
namespace {

TEST(AwsTimestampRegressionTest, InfiniteTimesAreNotTimestamps) {
  for (const char* text : {"infinite-future", "infinite-past", " infinite-future "}) {
    absl::StatusOr<absl::Time> time = ParseAwsTimestamp(text);
    EXPECT_EQ(time.status().code(), absl::StatusCode::kInvalidArgument) << text;
  }
  EXPECT_TRUE(ParseAwsTimestamp("2026-11-22T16:20:45Z").ok());
}

TEST(AwsTimestampRegressionTest, InstanceMetadataCredentialsNeverExpiringAreRefused) {
  const std::string answer =
      R"({"Code": "Success", "AccessKeyId": "ASIAIOSFODNN7EXAMPLE", "SecretAccessKey": "secret",)"
      R"( "Token": "token", "Expiration": "infinite-future"})";
  absl::StatusOr<AwsCredentials> credentials = ParseImdsCredentials("web", answer);
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(credentials.status().message().find("Expiration"), absl::string_view::npos) << credentials.status();
}

TEST(AwsTimestampRegressionTest, AssumeRoleCredentialsNeverExpiringAreRefused) {
  const std::string answer =
      "<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>ASIAIOSFODNN7EXAMPLE</AccessKeyId>"
      "<SecretAccessKey>secret</SecretAccessKey><SessionToken>token</SessionToken>"
      "<Expiration>infinite-future</Expiration></Credentials></AssumeRoleResult></AssumeRoleResponse>";
  absl::StatusOr<AwsCredentials> credentials = ParseAssumeRoleResponse(200, answer);
  EXPECT_EQ(credentials.status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ingest
