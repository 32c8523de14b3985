// When and how long the S3 client waits before trying a request again:
// exponential backoff with full jitter (AWS's recommended scheme, which
// spreads the retries of many clients hit by the same outage), and which S3
// errors are worth retrying at all. The sleep is injectable so tests never
// wait for real.
//
//   RetryPolicy policy({.max_attempts = 6});
//   for (int attempt = 1;; ++attempt) {
//     absl::Status status = TryOnce();
//     if (!policy.ShouldRetry(status, attempt)) return status;
//     policy.Sleep(policy.Delay(attempt - 1));
//   }
#ifndef SERVER_S3_RETRY_POLICY_H_
#define SERVER_S3_RETRY_POLICY_H_

#include <cstdint>
#include <functional>
#include <random>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ingest {

struct RetryOptions {
  // Attempts in all, the first included: 1 means never retry.
  int max_attempts = 6;
  // The ceiling of the first wait; each later ceiling doubles, up to max_delay.
  absl::Duration base_delay = absl::Milliseconds(100);
  absl::Duration max_delay = absl::Seconds(20);
  // Waits between attempts; empty means absl::SleepFor. Tests record instead.
  std::function<void(absl::Duration)> sleep{};
  // Seeds the jitter; 0 picks a random seed.
  uint64_t jitter_seed = 0;
};

// InvalidArgument unless 1 <= max_attempts <= 100 and
// 0 <= base_delay <= max_delay <= 10 min.
absl::Status ValidateRetryOptions(const RetryOptions& options);

// The largest wait before retry number `retry` (0 = the wait after the first
// failed attempt): min(max_delay, base_delay * 2^retry), without overflow.
absl::Duration BackoffCeiling(const RetryOptions& options, int retry);

// Whether a failed S3 request with this status may succeed if sent again:
// only Unavailable, which the client uses for network errors, timeouts, 5xx,
// throttling and S3's RequestTimeout. Everything else (bad credentials, no
// such bucket or key, a digest mismatch, a bad request) fails the same way
// again.
bool IsRetryableStatus(const absl::Status& status);

// True for the error codes AWS services send to ask a client to slow down:
// S3's SlowDown, STS's Throttling, EC2's RequestLimitExceeded and the rest of
// the list the AWS SDKs retry as throttling (botocore's
// _THROTTLED_ERROR_CODES). Exact, case-sensitive codes: never message text.
bool IsThrottlingErrorCode(std::string_view code);

// Whether a failed S3 reply means "too many requests": a throttling code
// (above), any 429, or a 503 without a code (a HEAD reply has no body to
// carry one; S3 throttles with 503 SlowDown). A 503 with another code
// (ServiceUnavailable, ...) is a server error, not throttling.
bool IsS3Throttling(int http_status, std::string_view s3_code);

// The absl::StatusCode an S3 error reply stands for, from its HTTP status and
// the <Code> of its XML body ("" when there is none, e.g. for HEAD):
//   PermissionDenied   401, 403 (AccessDenied, InvalidAccessKeyId,
//                      SignatureDoesNotMatch, RequestTimeTooSkewed, ...) and
//                      credential errors sent with other statuses
//                      (ExpiredToken, InvalidToken, AuthorizationHeaderMalformed).
//                      Wrong and missing credentials are deliberately one code.
//   NotFound           404 NoSuchKey, NoSuchUpload, and a bare 404
//   FailedPrecondition 404 NoSuchBucket, 3xx (wrong region or endpoint), 412, 409
//   DataLoss           BadDigest, InvalidDigest, XAmzContentSHA256Mismatch
//   OutOfRange         416 (InvalidRange)
//   Unavailable        5xx (but 501), 429, SlowDown, Throttling*, RequestTimeout,
//                      OperationAborted, InternalError, ServiceUnavailable
//   Unimplemented      501
//   InvalidArgument    any other 4xx
//   Unknown            any other status
absl::StatusCode S3ErrorToStatusCode(int http_status, std::string_view s3_code);

// Thread-safe.
class RetryPolicy {
 public:
  explicit RetryPolicy(RetryOptions options);

  // Whether to try again after `attempts_made` attempts (1 after the first)
  // ended in `status`: retryable per IsRetryableStatus and attempts left.
  bool ShouldRetry(const absl::Status& status, int attempts_made) const;

  // A wait drawn uniformly from [0, BackoffCeiling(options, retry)].
  absl::Duration Delay(int retry);

  // Waits `delay` with the injected sleep function (or for real).
  void Sleep(absl::Duration delay) const;

  const RetryOptions& options() const { return options_; }

 private:
  const RetryOptions options_;
  absl::Mutex mu_;
  std::mt19937_64 rng_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ingest

#endif  // SERVER_S3_RETRY_POLICY_H_
