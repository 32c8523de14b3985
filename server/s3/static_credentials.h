// A CredentialsProvider that always hands out the same credentials: for tests
// (keys of a throw-away gateway) and as the leaf of a chain that read keys
// from the environment or a file once.
//
//   AwsCredentials keys;
//   keys.access_key_id = "AK";
//   keys.secret_access_key = "SK";
//   auto credentials = std::make_shared<StaticCredentialsProvider>(keys, "test");
//   ASSIGN_OR_RETURN(std::unique_ptr<S3Store> store, OpenS3Store(options, credentials));
#ifndef SERVER_S3_STATIC_CREDENTIALS_H_
#define SERVER_S3_STATIC_CREDENTIALS_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "server/s3/aws_credentials.h"

namespace ingest {

class StaticCredentialsProvider : public CredentialsProvider {
 public:
  // `source` names where the keys came from, for Describe() ("test",
  // "environment"); it must not contain secrets.
  explicit StaticCredentialsProvider(AwsCredentials credentials, std::string source = "static")
      : credentials_(std::move(credentials)), source_(std::move(source)) {}

  // The credentials given at construction; Unauthenticated if they have no
  // access key id or secret, or have expired.
  absl::StatusOr<AwsCredentials> Get() override {
    if (credentials_.access_key_id.empty() || credentials_.secret_access_key.empty()) {
      return absl::UnauthenticatedError(
          absl::StrCat("credentials from ", source_, " have no access key id or secret key"));
    }
    if (credentials_.expiration <= absl::Now()) {
      return absl::UnauthenticatedError(
          absl::StrCat("credentials from ", source_, " have expired"));
    }
    return credentials_;
  }

  // "<source> (access key <id>)"; the access key id is not a secret.
  std::string Describe() const override {
    return absl::StrCat(source_, " (access key ", credentials_.access_key_id, ")");
  }

 private:
  const AwsCredentials credentials_;
  const std::string source_;
};

}  // namespace ingest

#endif  // SERVER_S3_STATIC_CREDENTIALS_H_
