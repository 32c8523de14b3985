#include "server/s3/retry_policy.h"

#include <algorithm>
#include <chrono>
#include <exception>
#include <string_view>

namespace ingest {
namespace {

uint64_t RandomSeed() {
  uint64_t seed =
      static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  try {
    std::random_device device;
    seed ^= (static_cast<uint64_t>(device()) << 32) ^ device();
  } catch (const std::exception&) {
    // No entropy source: the clock alone still spreads clients apart.
  }
  return seed;
}

}  // namespace

bool IsThrottlingErrorCode(std::string_view code) {
  static constexpr std::string_view kCodes[] = {
      "SlowDown",  // S3
      "Throttling",
      "ThrottlingException",
      "ThrottledException",
      "RequestThrottledException",
      "TooManyRequestsException",
      "ProvisionedThroughputExceededException",
      "TransactionInProgressException",
      "RequestLimitExceeded",
      "BandwidthLimitExceeded",
      "LimitExceededException",
      "RequestThrottled",
      "PriorRequestNotComplete",
      "EC2ThrottledException",
      "TooManyRequests",  // some S3-compatible stores
  };
  for (std::string_view throttling : kCodes) {
    if (code == throttling) return true;
  }
  return false;
}

bool IsS3Throttling(int http_status, std::string_view s3_code) {
  if (IsThrottlingErrorCode(s3_code) || http_status == 429) return true;
  return http_status == 503 && s3_code.empty();
}

absl::Status ValidateRetryOptions(const RetryOptions& options) {
  if (options.max_attempts < 1 || options.max_attempts > 100) {
    return absl::InvalidArgumentError("retry max_attempts must be 1..100");
  }
  if (options.base_delay < absl::ZeroDuration() || options.max_delay < options.base_delay ||
      options.max_delay > absl::Minutes(10)) {
    return absl::InvalidArgumentError("retry delays must satisfy 0 <= base <= max <= 10 min");
  }
  return absl::OkStatus();
}

absl::Duration BackoffCeiling(const RetryOptions& options, int retry) {
  absl::Duration ceiling = options.base_delay;
  for (int i = 0; i < retry && ceiling < options.max_delay; ++i) ceiling *= 2;
  return std::min(ceiling, options.max_delay);
}

bool IsRetryableStatus(const absl::Status& status) { return absl::IsUnavailable(status); }

absl::StatusCode S3ErrorToStatusCode(int http_status, std::string_view s3_code) {
  // Codes first: some mean the same whatever status carries them.
  if (s3_code == "AccessDenied" || s3_code == "InvalidAccessKeyId" ||
      s3_code == "SignatureDoesNotMatch" || s3_code == "ExpiredToken" ||
      s3_code == "InvalidToken" || s3_code == "TokenRefreshRequired" ||
      s3_code == "AuthorizationHeaderMalformed" || s3_code == "RequestTimeTooSkewed" ||
      s3_code == "AccountProblem" || s3_code == "AllAccessDisabled") {
    return absl::StatusCode::kPermissionDenied;
  }
  if (s3_code == "NoSuchBucket") return absl::StatusCode::kFailedPrecondition;
  if (s3_code == "NoSuchKey" || s3_code == "NoSuchUpload") return absl::StatusCode::kNotFound;
  if (s3_code == "BadDigest" || s3_code == "InvalidDigest" ||
      s3_code == "XAmzContentSHA256Mismatch") {
    return absl::StatusCode::kDataLoss;
  }
  if (s3_code == "RequestTimeout" || s3_code == "OperationAborted" || s3_code == "InternalError" ||
      s3_code == "ServiceUnavailable" || IsThrottlingErrorCode(s3_code)) {
    return absl::StatusCode::kUnavailable;
  }
  if (s3_code == "InvalidRange") return absl::StatusCode::kOutOfRange;

  if (http_status == 401 || http_status == 403) return absl::StatusCode::kPermissionDenied;
  if (http_status == 404) return absl::StatusCode::kNotFound;
  if (http_status == 416) return absl::StatusCode::kOutOfRange;
  if (http_status == 429) return absl::StatusCode::kUnavailable;
  if (http_status == 501) return absl::StatusCode::kUnimplemented;
  if (http_status >= 500 && http_status <= 599) return absl::StatusCode::kUnavailable;
  if (http_status >= 300 && http_status <= 399) return absl::StatusCode::kFailedPrecondition;
  if (http_status == 409 || http_status == 412) return absl::StatusCode::kFailedPrecondition;
  if (http_status >= 400 && http_status <= 499) return absl::StatusCode::kInvalidArgument;
  return absl::StatusCode::kUnknown;
}

RetryPolicy::RetryPolicy(RetryOptions options)
    : options_(std::move(options)),
      rng_(options_.jitter_seed != 0 ? options_.jitter_seed : RandomSeed()) {}

bool RetryPolicy::ShouldRetry(const absl::Status& status, int attempts_made) const {
  return IsRetryableStatus(status) && attempts_made < options_.max_attempts;
}

absl::Duration RetryPolicy::Delay(int retry) {
  const int64_t ceiling_ns = absl::ToInt64Nanoseconds(BackoffCeiling(options_, retry));
  if (ceiling_ns <= 0) return absl::ZeroDuration();
  absl::MutexLock lock(&mu_);
  std::uniform_int_distribution<int64_t> uniform(0, ceiling_ns);
  return absl::Nanoseconds(uniform(rng_));
}

void RetryPolicy::Sleep(absl::Duration delay) const {
  if (options_.sleep) {
    options_.sleep(delay);
  } else {
    absl::SleepFor(delay);
  }
}

}  // namespace ingest
