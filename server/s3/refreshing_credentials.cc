#include "server/s3/refreshing_credentials.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json_log.h"
#include "common/std_string_view.h"

namespace ingest {

absl::Status CheckCredentialText(std::string_view what, std::string_view value, size_t max_bytes) {
  if (value.empty()) return absl::InvalidArgumentError(absl::StrCat(ToAbsl(what), " is empty"));
  if (value.size() > max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(what), " is ", value.size(), " bytes, over the limit of ", max_bytes));
  }
  for (char c : value) {
    if (c <= ' ' || c > '~') {
      return absl::InvalidArgumentError(
          absl::StrCat(ToAbsl(what), " contains a space, control or non-ASCII character"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCredentials(std::string_view source, const AwsCredentials& credentials) {
  absl::Status status =
      CheckCredentialText("access key id", credentials.access_key_id, kMaxAccessKeyIdBytes);
  if (status.ok()) {
    status = CheckCredentialText("secret access key", credentials.secret_access_key,
                                 kMaxSecretAccessKeyBytes);
  }
  if (status.ok() && !credentials.session_token.empty()) {
    status = CheckCredentialText("session token", credentials.session_token, kMaxSessionTokenBytes);
  }
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(ToAbsl(source), ": ", status.message()));
}

absl::StatusOr<absl::Time> ParseAwsTimestamp(std::string_view text) {
  if (text.empty() || text.size() > 64) {
    return absl::InvalidArgumentError(
        absl::StrCat("timestamp of ", text.size(), " bytes is not ISO 8601"));
  }
  absl::Time time;
  std::string error;
  if (!absl::ParseTime(absl::RFC3339_full, ToAbsl(text), &time, &error)) {
    return absl::InvalidArgumentError(
        absl::StrCat("timestamp \"", ToAbsl(text), "\" is not ISO 8601: ", error));
  }
  // absl::ParseTime also takes the words "infinite-future" and
  // "infinite-past"; an Expiration of either would make credentials that are
  // never refreshed (or always stale), and no AWS service writes them.
  if (time == absl::InfiniteFuture() || time == absl::InfinitePast()) {
    return absl::InvalidArgumentError(absl::StrCat("timestamp \"", ToAbsl(text), "\" is not ISO 8601"));
  }
  return time;
}

RefreshingCredentials::RefreshingCredentials(std::string source, Fetch fetch,
                                             CredentialsClock clock, RefreshPolicy policy)
    : source_(std::move(source)),
      fetch_(std::move(fetch)),
      clock_(clock ? std::move(clock) : CredentialsClock([] { return absl::Now(); })),
      policy_(policy) {}

absl::StatusOr<AwsCredentials> RefreshingCredentials::Get() {
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_();
  if (cached_ && now < next_refresh_) return *cached_;
  if (refreshing_) {
    if (cached_ && now < cached_->expiration) return *cached_;
    // Wait for the fetch in flight and take its outcome rather than start
    // another one: a burst of callers against a dead source costs one
    // timeout, not one each.
    const uint64_t generation = generation_;
    auto done = [this, generation]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
      return !refreshing_ || generation_ != generation;
    };
    mu_.Await(absl::Condition(&done));
    now = clock_();
    if (cached_ && now < cached_->expiration) return *cached_;
    if (!last_error_.ok()) return last_error_;
    // The fetch succeeded but its credentials expired meanwhile; fetch again.
  }

  refreshing_ = true;
  mu_.Unlock();
  absl::StatusOr<AwsCredentials> fetched = fetch_();
  mu_.Lock();
  refreshing_ = false;
  ++generation_;
  ++fetches_;
  now = clock_();
  if (fetched.ok() && fetched->expiration <= now) {
    fetched = absl::FailedPreconditionError(
        absl::StrCat(source_, ": the credentials it returned expired at ",
                     absl::FormatTime(fetched->expiration, absl::UTCTimeZone())));
  }
  if (fetched.ok()) {
    last_error_ = absl::OkStatus();
    cached_ = *std::move(fetched);
    const absl::Time expiration = cached_->expiration;
    next_refresh_ = std::max(expiration - policy_.refresh_before_expiry,
                             std::min(now + policy_.min_reuse, expiration));
    return *cached_;
  }

  ++failures_;
  last_error_ = fetched.status();
  if (cached_ && now < cached_->expiration) {
    next_refresh_ = std::min(now + policy_.retry_after_failure, cached_->expiration);
    const std::string expires = absl::FormatTime(cached_->expiration, absl::UTCTimeZone());
    log::Warn("aws_credentials_refresh_failed", {{"source", source_},
                                                 {"error", ToStd(last_error_.message())},
                                                 {"serving_cached_until", expires}});
    return *cached_;
  }
  cached_.reset();
  log::Warn("aws_credentials_fetch_failed",
            {{"source", source_}, {"error", ToStd(last_error_.message())}});
  return last_error_;
}

uint64_t RefreshingCredentials::fetches() const {
  absl::MutexLock lock(&mu_);
  return fetches_;
}

uint64_t RefreshingCredentials::failures() const {
  absl::MutexLock lock(&mu_);
  return failures_;
}

}  // namespace ingest
