#include "server/s3/retry_policy.h"

#include <vector>

#include "gtest/gtest.h"

namespace ingest {
namespace {

TEST(RetryPolicyTest, CeilingDoublesUpToTheCap) {
  RetryOptions options{.base_delay = absl::Milliseconds(100), .max_delay = absl::Seconds(20)};
  EXPECT_EQ(BackoffCeiling(options, 0), absl::Milliseconds(100));
  EXPECT_EQ(BackoffCeiling(options, 1), absl::Milliseconds(200));
  EXPECT_EQ(BackoffCeiling(options, 4), absl::Milliseconds(1600));
  EXPECT_EQ(BackoffCeiling(options, 7), absl::Milliseconds(12800));
  EXPECT_EQ(BackoffCeiling(options, 8), absl::Seconds(20));
  EXPECT_EQ(BackoffCeiling(options, 1000000), absl::Seconds(20));  // no overflow
}

TEST(RetryPolicyTest, FullJitterStaysWithinBoundsAndSpreads) {
  RetryPolicy policy(
      {.base_delay = absl::Milliseconds(100), .max_delay = absl::Seconds(1), .jitter_seed = 42});
  for (int retry = 0; retry < 8; ++retry) {
    const absl::Duration ceiling = BackoffCeiling(policy.options(), retry);
    absl::Duration low = absl::InfiniteDuration();
    absl::Duration high = absl::ZeroDuration();
    for (int i = 0; i < 2000; ++i) {
      const absl::Duration d = policy.Delay(retry);
      ASSERT_GE(d, absl::ZeroDuration());
      ASSERT_LE(d, ceiling);
      low = std::min(low, d);
      high = std::max(high, d);
    }
    // Full jitter uses the whole interval, not just its top.
    EXPECT_LT(low, ceiling / 10) << retry;
    EXPECT_GT(high, ceiling * 9 / 10) << retry;
  }
}

TEST(RetryPolicyTest, SeededPoliciesAgreeAndZeroBaseNeverWaits) {
  RetryPolicy a({.jitter_seed = 7});
  RetryPolicy b({.jitter_seed = 7});
  for (int i = 0; i < 10; ++i) EXPECT_EQ(a.Delay(i), b.Delay(i));
  RetryPolicy zero({.base_delay = absl::ZeroDuration(), .max_delay = absl::ZeroDuration()});
  EXPECT_EQ(zero.Delay(3), absl::ZeroDuration());
}

TEST(RetryPolicyTest, OnlyUnavailableIsRetriedAndAttemptsAreCapped) {
  RetryPolicy policy({.max_attempts = 3});
  EXPECT_TRUE(policy.ShouldRetry(absl::UnavailableError("x"), 1));
  EXPECT_TRUE(policy.ShouldRetry(absl::UnavailableError("x"), 2));
  EXPECT_FALSE(policy.ShouldRetry(absl::UnavailableError("x"), 3));
  for (const absl::Status& status : {absl::PermissionDeniedError("x"), absl::NotFoundError("x"),
                                     absl::FailedPreconditionError("x"), absl::DataLossError("x"),
                                     absl::InvalidArgumentError("x"), absl::OutOfRangeError("x"),
                                     absl::ResourceExhaustedError("x"), absl::OkStatus()}) {
    EXPECT_FALSE(policy.ShouldRetry(status, 1)) << status;
  }
}

TEST(RetryPolicyTest, SleepUsesTheInjectedFunction) {
  std::vector<absl::Duration> slept;
  RetryPolicy policy({.sleep = [&](absl::Duration d) { slept.push_back(d); }});
  policy.Sleep(absl::Seconds(30));
  EXPECT_EQ(slept, (std::vector<absl::Duration>{absl::Seconds(30)}));
}

TEST(RetryPolicyTest, ValidatesOptions) {
  EXPECT_TRUE(ValidateRetryOptions({}).ok());
  EXPECT_FALSE(ValidateRetryOptions({.max_attempts = 0}).ok());
  EXPECT_FALSE(ValidateRetryOptions({.max_attempts = 1000}).ok());
  EXPECT_FALSE(
      ValidateRetryOptions({.base_delay = absl::Seconds(2), .max_delay = absl::Seconds(1)}).ok());
  EXPECT_FALSE(ValidateRetryOptions({.base_delay = absl::Seconds(-1)}).ok());
  EXPECT_FALSE(ValidateRetryOptions({.max_delay = absl::Hours(1)}).ok());
}

TEST(S3ErrorMappingTest, WhichRepliesAreRetried) {
  struct Case {
    int http;
    std::string_view code;
    absl::StatusCode want;
  };
  const std::vector<Case> cases = {
      {403, "InvalidAccessKeyId", absl::StatusCode::kPermissionDenied},
      {403, "SignatureDoesNotMatch", absl::StatusCode::kPermissionDenied},
      {403, "AccessDenied", absl::StatusCode::kPermissionDenied},
      {403, "", absl::StatusCode::kPermissionDenied},
      {400, "ExpiredToken", absl::StatusCode::kPermissionDenied},
      {400, "AuthorizationHeaderMalformed", absl::StatusCode::kPermissionDenied},
      {404, "NoSuchKey", absl::StatusCode::kNotFound},
      {404, "", absl::StatusCode::kNotFound},
      {404, "NoSuchUpload", absl::StatusCode::kNotFound},
      {404, "NoSuchBucket", absl::StatusCode::kFailedPrecondition},
      {301, "PermanentRedirect", absl::StatusCode::kFailedPrecondition},
      {400, "XAmzContentSHA256Mismatch", absl::StatusCode::kDataLoss},
      {400, "BadDigest", absl::StatusCode::kDataLoss},
      {400, "InvalidDigest", absl::StatusCode::kDataLoss},
      {400, "RequestTimeout", absl::StatusCode::kUnavailable},
      {400, "EntityTooSmall", absl::StatusCode::kInvalidArgument},
      {416, "InvalidRange", absl::StatusCode::kOutOfRange},
      {500, "InternalError", absl::StatusCode::kUnavailable},
      {502, "", absl::StatusCode::kUnavailable},
      {503, "SlowDown", absl::StatusCode::kUnavailable},
      {503, "ServiceUnavailable", absl::StatusCode::kUnavailable},
      {429, "", absl::StatusCode::kUnavailable},
      {400, "Throttling", absl::StatusCode::kUnavailable},
      {400, "ThrottlingException", absl::StatusCode::kUnavailable},
      {409, "OperationAborted", absl::StatusCode::kUnavailable},
      {409, "BucketAlreadyExists", absl::StatusCode::kFailedPrecondition},
      {412, "PreconditionFailed", absl::StatusCode::kFailedPrecondition},
      {501, "NotImplemented", absl::StatusCode::kUnimplemented},
      {100, "", absl::StatusCode::kUnknown},
  };
  for (const Case& c : cases) {
    const absl::StatusCode got = S3ErrorToStatusCode(c.http, c.code);
    EXPECT_EQ(got, c.want) << c.http << " " << c.code;
    EXPECT_EQ(IsRetryableStatus(absl::Status(got, "x")), c.want == absl::StatusCode::kUnavailable)
        << c.http << " " << c.code;
  }
}

TEST(RetryPolicyTest, ThrottlingIsAnErrorCodeOrA429OrABare503) {
  for (const char* code : {"SlowDown", "Throttling", "ThrottlingException", "ThrottledException",
                           "RequestLimitExceeded", "RequestThrottled", "BandwidthLimitExceeded",
                           "TooManyRequestsException", "TooManyRequests"}) {
    EXPECT_TRUE(IsThrottlingErrorCode(code)) << code;
    EXPECT_TRUE(IsS3Throttling(400, code)) << code;
    EXPECT_TRUE(IsS3Throttling(503, code)) << code;
  }
  // Codes, not words in them: exact and case-sensitive.
  for (const char* code : {"", "slowdown", "SlowDownPlease", "ThrottlingIsNotACode", "ServiceUnavailable",
                           "InternalError", "RequestTimeout", "AccessDenied"}) {
    EXPECT_FALSE(IsThrottlingErrorCode(code)) << code;
  }
  EXPECT_TRUE(IsS3Throttling(429, ""));
  EXPECT_TRUE(IsS3Throttling(429, "AnythingElse"));
  EXPECT_TRUE(IsS3Throttling(503, ""));  // HEAD: no body, no code
  EXPECT_FALSE(IsS3Throttling(503, "ServiceUnavailable"));
  EXPECT_FALSE(IsS3Throttling(500, "InternalError"));
  EXPECT_FALSE(IsS3Throttling(500, ""));
  EXPECT_FALSE(IsS3Throttling(400, "InvalidRequest"));
}

}  // namespace
}  // namespace ingest
