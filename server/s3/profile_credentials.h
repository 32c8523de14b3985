// The AWS shared credentials and config files (~/.aws/credentials,
// ~/.aws/config): a bounded INI reader, the lookup of one named profile
// across both files, and a provider for a profile's long-lived keys. Profiles
// that assume a role (role_arn + source_profile) are resolved into providers
// by credentials_chain.cc, which knows every kind of provider.
//
//   ASSIGN_OR_RETURN(SharedConfigFiles files,
//                    SharedConfigFiles::Load("/root/.aws/credentials", "/root/.aws/config"));
//   ASSIGN_OR_RETURN(std::optional<SharedProfile> profile, files.Find("default"));
//   if (profile && profile->keys) {
//     auto provider = std::make_shared<ProfileCredentialsProvider>("default", *profile->keys);
//   }
#ifndef SERVER_S3_PROFILE_CREDENTIALS_H_
#define SERVER_S3_PROFILE_CREDENTIALS_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "server/s3/aws_credentials.h"

namespace ingest {

// Shared config files are a few KiB; anything far larger is a mistake.
inline constexpr size_t kMaxSharedConfigFileBytes = 1 << 20;

struct IniValue {
  std::string value{};
  int line = 0;
};

struct IniSection {
  std::string name{};  // as written between the brackets, trimmed
  int line = 0;
  std::vector<std::pair<std::string, IniValue>> entries{};  // keys in lower case

  // The value of `key` (lower case), or null.
  const IniValue* Find(std::string_view key) const;
};

struct IniFile {
  std::string path;  // for error messages
  std::vector<IniSection> sections;

  // The section named exactly `name`, or null.
  const IniSection* Find(std::string_view name) const;
};

// Parses the INI dialect the AWS CLI reads: "[section]" headers, "key =
// value" (or "key: value") lines, full-line comments starting with '#' or
// ';', inline comments after whitespace, indented continuation lines (kept
// out of the values; AWS uses them for nested settings we do not need).
// Keys are case-insensitive. InvalidArgument "path:line: ..." for a line
// that is none of these, a key outside any section, or a repeated section or
// key; `path` is only used in messages.
absl::StatusOr<IniFile> ParseIniFile(std::string_view text, std::string_view path);

// Reads and parses the file at `path`. NotFound if it does not exist;
// InvalidArgument if it is larger than `max_bytes` or is not a regular file;
// other errors name the path and the errno text.
absl::StatusOr<IniFile> ReadIniFile(const std::string& path,
                                    size_t max_bytes = kMaxSharedConfigFileBytes);

// One profile's settings, merged from both files (the credentials file wins
// where both set a key).
struct SharedProfile {
  std::string name;
  // "path:line" of the profile's section (in the credentials file if it has
  // one), for messages.
  std::string location;
  // Long-lived keys (aws_access_key_id, aws_secret_access_key, optional
  // aws_session_token), all taken from the same file.
  std::optional<AwsCredentials> keys;
  // Assume-role settings. role_location is "path:line" of role_arn.
  std::string role_arn;
  std::string role_location;
  std::string source_profile;
  std::string credential_source;  // "Environment", "Ec2InstanceMetadata", ...
  std::string external_id;
  std::string role_session_name;
  std::optional<absl::Duration> duration;  // duration_seconds
  // The first credential setting we do not support (credential_process,
  // sso_session, web_identity_token_file, ...) with its location, so a
  // profile relying on it gets a clear error instead of being skipped.
  std::string unsupported_setting;
};

class SharedConfigFiles {
 public:
  // Reads both files; a file that does not exist counts as empty, and an
  // empty path means "not used". Errors from ReadIniFile otherwise.
  static absl::StatusOr<SharedConfigFiles> Load(std::string credentials_path,
                                                std::string config_path);

  // The profile `name`: section [name] of the credentials file, and [profile
  // name] of the config file ([default] also counts for "default"). nullopt
  // when neither file has it. InvalidArgument "path:line: ..." when the
  // profile has an incomplete or malformed key set (an access key id
  // without a secret, or the reverse) or a bad duration_seconds.
  absl::StatusOr<std::optional<SharedProfile>> Find(std::string_view name) const;

  // "/root/.aws/credentials (missing), /root/.aws/config", for messages.
  std::string DescribeFiles() const;

 private:
  struct File {
    std::string path;
    bool exists = false;
    IniFile ini;
  };
  File credentials_;
  File config_;
};

// Long-lived keys taken from a shared-file profile. They never expire.
class ProfileCredentialsProvider : public CredentialsProvider {
 public:
  ProfileCredentialsProvider(std::string profile_name, AwsCredentials credentials);

  // Always the profile's keys.
  absl::StatusOr<AwsCredentials> Get() override;

  // "profile NAME".
  std::string Describe() const override;

 private:
  const std::string profile_name_;
  const AwsCredentials credentials_;
};

}  // namespace ingest

#endif  // SERVER_S3_PROFILE_CREDENTIALS_H_
