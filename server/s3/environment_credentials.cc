#include "server/s3/environment_credentials.h"

#include <cstdlib>
#include <utility>

#include "absl/status/status.h"
#include "server/s3/refreshing_credentials.h"

namespace ingest {
namespace {

// Returns the variable's value, or null when it is unset.
const char* Env(const char* name) { return std::getenv(name); }

}  // namespace

absl::StatusOr<std::unique_ptr<EnvironmentCredentialsProvider>>
EnvironmentCredentialsProvider::FromEnvironment() {
  const char* key_id = Env("AWS_ACCESS_KEY_ID");
  if (key_id == nullptr || *key_id == '\0') return nullptr;
  const char* secret = Env("AWS_SECRET_ACCESS_KEY");
  if (secret == nullptr) {
    return absl::InvalidArgumentError("AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");
  }
  const char* token = Env("AWS_SESSION_TOKEN");
  AwsCredentials credentials{.access_key_id = key_id,
                             .secret_access_key = secret,
                             .session_token = token != nullptr ? token : ""};
  absl::Status status =
      CheckCredentialText("AWS_ACCESS_KEY_ID", credentials.access_key_id, kMaxAccessKeyIdBytes);
  if (status.ok()) {
    status = CheckCredentialText("AWS_SECRET_ACCESS_KEY", credentials.secret_access_key,
                                 kMaxSecretAccessKeyBytes);
  }
  // An empty AWS_SESSION_TOKEN is the same as none: shells often export it
  // blank after a session ends.
  if (status.ok() && !credentials.session_token.empty()) {
    status =
        CheckCredentialText("AWS_SESSION_TOKEN", credentials.session_token, kMaxSessionTokenBytes);
  }
  if (!status.ok()) return status;
  return std::unique_ptr<EnvironmentCredentialsProvider>(
      new EnvironmentCredentialsProvider(std::move(credentials)));
}

EnvironmentCredentialsProvider::EnvironmentCredentialsProvider(AwsCredentials credentials)
    : credentials_(std::move(credentials)) {}

absl::StatusOr<AwsCredentials> EnvironmentCredentialsProvider::Get() { return credentials_; }

std::string EnvironmentCredentialsProvider::Describe() const { return "environment"; }

}  // namespace ingest
