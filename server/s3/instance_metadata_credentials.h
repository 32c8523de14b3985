// Credentials of the IAM role attached to an EC2 instance, from the instance
// metadata service, IMDSv2 only: PUT /latest/api/token for a session token,
// then GET /latest/meta-data/iam/security-credentials/ (the role name) and
// .../security-credentials/ROLE (the credentials, as JSON). The token is
// reused until shortly before its TTL ends; a 401 fetches a new one once.
// Credentials are cached and refreshed before they expire.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<InstanceMetadataCredentialsProvider> imds,
//                    InstanceMetadataCredentialsProvider::Create({}));
//   ASSIGN_OR_RETURN(AwsCredentials credentials, imds->Get());
#ifndef SERVER_S3_INSTANCE_METADATA_CREDENTIALS_H_
#define SERVER_S3_INSTANCE_METADATA_CREDENTIALS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/s3/aws_credentials.h"
#include "server/s3/http_client.h"
#include "server/s3/refreshing_credentials.h"

namespace ingest {

inline constexpr std::string_view kDefaultImdsEndpoint = "http://169.254.169.254";

struct InstanceMetadataOptions {
  std::string endpoint = std::string(kDefaultImdsEndpoint);  // http://host[:port]
  absl::Duration token_ttl = absl::Hours(6);                 // asked for; IMDS allows 1 s .. 6 h
  absl::Duration refresh_before_expiry = absl::Minutes(5);
  // Short, so a machine without instance metadata fails fast.
  absl::Duration connect_timeout = absl::Seconds(1);
  absl::Duration io_timeout = absl::Seconds(2);
  CredentialsClock clock{};  // null = absl::Now
};

class InstanceMetadataCredentialsProvider : public CredentialsProvider {
 public:
  // Checks the options (endpoint URL, token TTL of 1 s .. 6 h); sends nothing.
  static absl::StatusOr<std::unique_ptr<InstanceMetadataCredentialsProvider>> Create(
      InstanceMetadataOptions options);
  ~InstanceMetadataCredentialsProvider() override;

  // The role's credentials, fetched on first use and refreshed as
  // RefreshingCredentials::Get describes. Errors: Unavailable when the
  // service cannot be reached or answers 5xx; NotFound when the instance has
  // no role; PermissionDenied when IMDS refuses tokens (403, e.g. disabled);
  // Unauthenticated when a fresh token is still refused; InvalidArgument for
  // a malformed answer. Messages start with "instance metadata (ENDPOINT)".
  absl::StatusOr<AwsCredentials> Get() override;

  // "instance metadata role NAME" once the role is known, before that
  // "instance metadata (ENDPOINT)".
  std::string Describe() const override;

  // For metrics and tests.
  uint64_t token_fetches() const;
  uint64_t credential_fetches() const { return cache_.fetches(); }
  uint64_t refresh_failures() const { return cache_.failures(); }

 private:
  InstanceMetadataCredentialsProvider(InstanceMetadataOptions options, HttpEndpoint endpoint);

  // One round: role name, then that role's credentials. Called by cache_ only,
  // so never concurrently.
  absl::StatusOr<AwsCredentials> Fetch();
  // GET `target` with the session token, fetching a token first if none is
  // cached, and once more after a 401.
  absl::StatusOr<HttpResponse> GetWithToken(const std::string& target);
  absl::Status FetchToken();
  absl::Status Context(const absl::Status& status) const;

  const InstanceMetadataOptions options_;
  const CredentialsClock clock_;
  HttpClient client_;
  RefreshingCredentials cache_;

  // Touched only inside Fetch (one at a time), except role_ which Describe reads.
  std::string token_;
  absl::Time token_expires_ = absl::InfinitePast();
  std::atomic<uint64_t> token_fetches_{0};
  mutable absl::Mutex mu_;
  std::string role_ ABSL_GUARDED_BY(mu_);
};

// The provider's reading of IMDS's answers, on their own (tests and the fuzz
// target call them without a service). Errors are InvalidArgument naming
// what is wrong, never echoing a secret; a credentials answer whose Code is
// not "Success" is Unavailable.
//
// The session token: the body of PUT /latest/api/token, trimmed.
absl::StatusOr<std::string> ParseImdsToken(std::string_view body);
// The role name: the first line of GET .../security-credentials/.
absl::StatusOr<std::string> ParseImdsRoleName(std::string_view body);
// The credentials: the JSON body of GET .../security-credentials/ROLE.
absl::StatusOr<AwsCredentials> ParseImdsCredentials(const std::string& role_name, std::string_view body);

}  // namespace ingest

#endif  // SERVER_S3_INSTANCE_METADATA_CREDENTIALS_H_
