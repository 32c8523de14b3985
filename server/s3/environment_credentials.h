// Credentials from the process environment: AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY and optionally AWS_SESSION_TOKEN, read once when the
// provider is made (the environment is not re-read, so a provider never sees
// a half-updated set, and getenv never races setenv).
//
//   ASSIGN_OR_RETURN(std::unique_ptr<EnvironmentCredentialsProvider> env,
//                    EnvironmentCredentialsProvider::FromEnvironment());
//   if (env != nullptr) { ... the environment has credentials ... }
#ifndef SERVER_S3_ENVIRONMENT_CREDENTIALS_H_
#define SERVER_S3_ENVIRONMENT_CREDENTIALS_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/s3/aws_credentials.h"

namespace ingest {

class EnvironmentCredentialsProvider : public CredentialsProvider {
 public:
  // A provider holding the environment's credentials; null (and OK) when
  // AWS_ACCESS_KEY_ID is unset or empty, meaning the environment offers none.
  // InvalidArgument, naming the variable, when the key id is set but the
  // secret is missing, or a value is empty, too long or not printable ASCII.
  static absl::StatusOr<std::unique_ptr<EnvironmentCredentialsProvider>> FromEnvironment();

  // Always the credentials read at creation; they never expire.
  absl::StatusOr<AwsCredentials> Get() override;

  // "environment".
  std::string Describe() const override;

 private:
  explicit EnvironmentCredentialsProvider(AwsCredentials credentials);

  const AwsCredentials credentials_;
};

}  // namespace ingest

#endif  // SERVER_S3_ENVIRONMENT_CREDENTIALS_H_
