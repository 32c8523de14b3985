// AWS credentials and where they come from. A CredentialsProvider is asked for
// credentials before every signed request; providers that fetch temporary
// credentials (instance metadata, STS) cache them and refresh before expiry.
//
//   ASSIGN_OR_RETURN(std::shared_ptr<CredentialsProvider> provider,
//                    MakeCredentialsChain(options));
//   ASSIGN_OR_RETURN(AwsCredentials credentials, provider->Get());
#ifndef SERVER_S3_AWS_CREDENTIALS_H_
#define SERVER_S3_AWS_CREDENTIALS_H_

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ingest {

struct AwsCredentials {
  std::string access_key_id;
  std::string secret_access_key;
  std::string session_token{};  // empty for long-lived keys
  absl::Time expiration = absl::InfiniteFuture();
};

// Thread-safe. Get() may block (it may fetch over HTTP); never call it on a
// shard's loop thread.
class CredentialsProvider {
 public:
  virtual ~CredentialsProvider() = default;

  // Credentials valid for at least a few more minutes, or an error that says
  // which source failed and why (Unauthenticated / PermissionDenied for
  // rejected credentials, Unavailable for an unreachable source).
  virtual absl::StatusOr<AwsCredentials> Get() = 0;

  // Where the credentials come from, for logs ("environment", "profile
  // default", "instance metadata role web", "assume role arn:..."). No secrets.
  virtual std::string Describe() const = 0;
};

}  // namespace ingest

#endif  // SERVER_S3_AWS_CREDENTIALS_H_
