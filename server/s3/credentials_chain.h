// Where ingestd's AWS credentials come from: the provider chain. At start-up
// it picks the first configured source, in the order the AWS SDKs use —
// environment variables, then a shared config/credentials file profile
// (which may itself assume a role), then the EC2 instance metadata service —
// and, if a role ARN is configured, assumes that role on top of it.
//
//   ASSIGN_OR_RETURN(std::shared_ptr<CredentialsProvider> credentials,
//                    MakeCredentialsChain({.role_arn = "arn:aws:iam::123456789012:role/ingest"}));
//   log::Info("aws_credentials", {{"source", credentials->Describe()}});
#ifndef SERVER_S3_CREDENTIALS_CHAIN_H_
#define SERVER_S3_CREDENTIALS_CHAIN_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/s3/aws_credentials.h"
#include "server/s3/refreshing_credentials.h"

namespace ingest {

struct CredentialsOptions {
  std::string profile{};              // "" = $AWS_PROFILE or "default"
  std::string credentials_file{};     // "" = $AWS_SHARED_CREDENTIALS_FILE or $HOME/.aws/credentials
  std::string config_file{};          // "" = $AWS_CONFIG_FILE or $HOME/.aws/config
  bool use_instance_metadata = true;  // also off when $AWS_EC2_METADATA_DISABLED=true
  std::string imds_endpoint{};  // "" = $AWS_EC2_METADATA_SERVICE_ENDPOINT or http://169.254.169.254
  std::string role_arn{};       // non-empty: AssumeRole into it on top of the base credentials
  std::string role_session_name = "ingestd";
  std::string external_id{};
  std::string sts_endpoint{};  // "" = https://sts.<sts_region>.amazonaws.com
  std::string sts_region = "us-east-1";
  absl::Duration role_duration = absl::Hours(1);
  absl::Duration refresh_before_expiry = absl::Minutes(5);
  CredentialsClock clock{};  // tests only; null = absl::Now
};

// Builds the provider for `options`, reading the environment and the shared
// files now (nothing is sent over the network until Get()):
//  1. environment, if AWS_ACCESS_KEY_ID is set;
//  2. the profile, if either shared file has it: its keys, or — when it has
//     role_arn — AssumeRole with the credentials of its source_profile (or
//     credential_source Environment / Ec2InstanceMetadata);
//  3. instance metadata, unless disabled.
// Then, if options.role_arn is set, AssumeRole into it with the chosen
// provider's credentials. Describe() of the result names the choice.
// Errors: NotFound listing each source tried and why it was passed over;
// NotFound when a profile named explicitly (options.profile or AWS_PROFILE)
// is in neither file; InvalidArgument "path:line: ..." for a malformed file
// or profile, or for malformed environment values or options; Unimplemented
// for a profile that relies on a source ingestd does not support
// (credential_process, SSO, web identity).
absl::StatusOr<std::shared_ptr<CredentialsProvider>> MakeCredentialsChain(
    const CredentialsOptions& options);

}  // namespace ingest

#endif  // SERVER_S3_CREDENTIALS_CHAIN_H_
