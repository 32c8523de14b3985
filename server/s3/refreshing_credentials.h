// What the providers of temporary credentials (instance metadata, STS
// AssumeRole) share: a cache that refreshes shortly before expiry, one
// refresh at a time, and keeps serving the old credentials while a refresh
// fails and they are still valid. Also the small checks every source applies
// to credential text and AWS timestamps.
//
//   RefreshingCredentials cache("instance metadata", [this] { return FetchFromImds(); },
//                               options.clock, {.refresh_before_expiry = absl::Minutes(5)});
//   absl::StatusOr<AwsCredentials> credentials = cache.Get();
#ifndef SERVER_S3_REFRESHING_CREDENTIALS_H_
#define SERVER_S3_REFRESHING_CREDENTIALS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/s3/aws_credentials.h"

namespace ingest {

// A source of the current time; null means absl::Now. Tests inject their own
// to move through expiry without sleeping.
using CredentialsClock = std::function<absl::Time()>;

// Upper bounds for credential text from any outside source (environment,
// files, HTTP responses). Generous next to AWS's own sizes (20-character key
// ids, 40-character secrets, session tokens of a few KiB).
inline constexpr size_t kMaxAccessKeyIdBytes = 256;
inline constexpr size_t kMaxSecretAccessKeyBytes = 1024;
inline constexpr size_t kMaxSessionTokenBytes = 16 << 10;

// OK if `value` is 1..max_bytes of printable ASCII without spaces, which is
// what keys and tokens are and what can safely go into an HTTP header.
// InvalidArgument naming `what` (never echoing the value) otherwise.
absl::Status CheckCredentialText(std::string_view what, std::string_view value, size_t max_bytes);

// Checks all three fields of `credentials` (session token only if set), with
// `source` (for example "AWS_SECRET_ACCESS_KEY" or "/root/.aws/credentials:3")
// in the error.
absl::Status CheckCredentials(std::string_view source, const AwsCredentials& credentials);

// Parses an ISO 8601 / RFC 3339 timestamp as AWS services write them
// ("2026-05-17T15:09:54Z", "2026-07-15T23:28:33.359Z", "...+00:00").
absl::StatusOr<absl::Time> ParseAwsTimestamp(std::string_view text);

struct RefreshPolicy {
  // Credentials are refreshed once they expire within this long.
  absl::Duration refresh_before_expiry = absl::Minutes(5);
  // After a failed refresh while the old credentials are still valid, the
  // next attempt waits this long (so an unreachable source is not asked on
  // every request).
  absl::Duration retry_after_failure = absl::Seconds(10);
  // Fresh credentials that already expire within refresh_before_expiry are
  // reused for this long (never past their expiry) rather than refetched on
  // every Get().
  absl::Duration min_reuse = absl::Seconds(10);
};

class RefreshingCredentials {
 public:
  using Fetch = std::function<absl::StatusOr<AwsCredentials>()>;

  // `source` names the provider in logs; `fetch` gets new credentials (it may
  // block; it is never called by two threads at once); `clock` may be null.
  RefreshingCredentials(std::string source, Fetch fetch, CredentialsClock clock,
                        RefreshPolicy policy);
  RefreshingCredentials(const RefreshingCredentials&) = delete;
  RefreshingCredentials& operator=(const RefreshingCredentials&) = delete;

  // The cached credentials while they are fresh; otherwise fetches new ones.
  // While one thread fetches, others with still-valid cached credentials get
  // those at once and the rest wait for the fetch's outcome. A failed fetch
  // is logged and counted; the old credentials are served until they expire,
  // after which the fetch's error is returned. Fetched credentials that are
  // already expired count as a failed fetch (FailedPrecondition).
  absl::StatusOr<AwsCredentials> Get();

  uint64_t fetches() const;   // attempts, successful or not
  uint64_t failures() const;  // failed attempts

 private:
  const std::string source_;
  const Fetch fetch_;
  const CredentialsClock clock_;
  const RefreshPolicy policy_;

  mutable absl::Mutex mu_;
  std::optional<AwsCredentials> cached_ ABSL_GUARDED_BY(mu_);
  absl::Time next_refresh_ ABSL_GUARDED_BY(mu_) = absl::InfinitePast();
  bool refreshing_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t generation_ ABSL_GUARDED_BY(mu_) = 0;  // completed fetches
  absl::Status last_error_ ABSL_GUARDED_BY(mu_);
  uint64_t fetches_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t failures_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ingest

#endif  // SERVER_S3_REFRESHING_CREDENTIALS_H_
