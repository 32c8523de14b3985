// Temporary credentials for an IAM role (possibly in another account) from
// STS AssumeRole, requested with the credentials of a base provider
// (environment, profile, instance metadata, or another assumed role). Cached
// and refreshed before they expire; while a refresh fails the old
// credentials are served until they expire.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<AssumeRoleCredentialsProvider> role,
//                    AssumeRoleCredentialsProvider::Create(
//                        base, {.role_arn = "arn:aws:iam::123456789012:role/ingest-writer"}));
//   ASSIGN_OR_RETURN(AwsCredentials credentials, role->Get());
#ifndef SERVER_S3_ASSUME_ROLE_CREDENTIALS_H_
#define SERVER_S3_ASSUME_ROLE_CREDENTIALS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/s3/aws_credentials.h"
#include "server/s3/http_client.h"
#include "server/s3/refreshing_credentials.h"

namespace ingest {

struct AssumeRoleOptions {
  std::string role_arn{};  // required
  std::string role_session_name = "ingestd";
  std::string external_id{};   // optional
  std::string sts_endpoint{};  // "" = https://sts.<sts_region>.amazonaws.com
  std::string sts_region = "us-east-1";
  absl::Duration duration = absl::Hours(1);  // 15 min .. 12 h, whole seconds
  absl::Duration refresh_before_expiry = absl::Minutes(5);
  absl::Duration connect_timeout = absl::Seconds(5);
  absl::Duration io_timeout = absl::Seconds(10);
  std::string ca_file{};     // https: extra trust anchors; empty = system store
  CredentialsClock clock{};  // null = absl::Now; also the signing time
};

class AssumeRoleCredentialsProvider : public CredentialsProvider {
 public:
  // Checks the options (ARN shape, session name and external id characters
  // and lengths as STS defines them, duration, region, endpoint URL) and
  // that `base` is set; sends nothing. InvalidArgument naming the option.
  static absl::StatusOr<std::unique_ptr<AssumeRoleCredentialsProvider>> Create(
      std::shared_ptr<CredentialsProvider> base, AssumeRoleOptions options);
  ~AssumeRoleCredentialsProvider() override;

  // The role's credentials, fetched on first use and refreshed as
  // RefreshingCredentials::Get describes. Errors, each starting with
  // "assume role ARN": the base provider's error (its code kept);
  // PermissionDenied for AccessDenied with STS's message; Unauthenticated
  // when STS rejects the base credentials (InvalidClientTokenId,
  // SignatureDoesNotMatch, ExpiredToken); Unavailable for 5xx, throttling
  // and network errors; InvalidArgument for a malformed answer.
  absl::StatusOr<AwsCredentials> Get() override;

  // "assume role ARN via BASE" where BASE is the base provider's Describe().
  std::string Describe() const override;

  // For metrics and tests.
  uint64_t sts_requests() const { return sts_requests_.load(std::memory_order_relaxed); }
  uint64_t refresh_failures() const { return cache_.failures(); }

 private:
  AssumeRoleCredentialsProvider(std::shared_ptr<CredentialsProvider> base,
                                AssumeRoleOptions options, HttpEndpoint endpoint);

  // One AssumeRole call. Called by cache_ only, so never concurrently.
  absl::StatusOr<AwsCredentials> Fetch();

  const std::shared_ptr<CredentialsProvider> base_;
  const AssumeRoleOptions options_;
  const CredentialsClock clock_;
  HttpClient client_;
  std::atomic<uint64_t> sts_requests_{0};
  RefreshingCredentials cache_;
};

// The provider's reading of STS's answer to AssumeRole, on its own (tests and
// the fuzz target call it without a service): the credentials of a 200
// AssumeRoleResponse, or the error Get() describes for any other status or a
// malformed answer, without the "assume role ARN" prefix.
absl::StatusOr<AwsCredentials> ParseAssumeRoleResponse(int http_status, std::string_view xml);

}  // namespace ingest

#endif  // SERVER_S3_ASSUME_ROLE_CREDENTIALS_H_
