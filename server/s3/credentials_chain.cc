#include "server/s3/credentials_chain.h"

#include <cstdlib>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "server/s3/assume_role_credentials.h"
#include "server/s3/environment_credentials.h"
#include "server/s3/instance_metadata_credentials.h"
#include "server/s3/profile_credentials.h"

namespace ingest {
namespace {

// Profiles that assume roles may chain through source_profile; real set-ups
// use one or two hops.
constexpr int kMaxSourceProfileDepth = 8;

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value != nullptr ? value : "";
}

absl::Status WithContext(const absl::Status& status, std::string_view context) {
  return absl::Status(status.code(), absl::StrCat(ToAbsl(context), ": ", status.message()));
}

// The settings after defaults from the environment are applied.
struct ChainSettings {
  const CredentialsOptions* options = nullptr;
  std::string profile{};
  bool profile_from_options = false;
  bool profile_explicit = false;  // from options or AWS_PROFILE
  std::string credentials_file{};
  std::string config_file{};
  bool imds_allowed = true;
  std::string imds_disabled_by{};
  std::string imds_endpoint{};
};

ChainSettings Resolve(const CredentialsOptions& options) {
  ChainSettings s{.options = &options};
  s.profile_from_options = !options.profile.empty();
  s.profile = s.profile_from_options ? options.profile : Env("AWS_PROFILE");
  s.profile_explicit = !s.profile.empty();
  if (s.profile.empty()) s.profile = "default";

  const std::string home = Env("HOME");
  auto file = [&](const std::string& option, const char* variable, std::string_view name) {
    if (!option.empty()) return option;
    std::string from_env = Env(variable);
    if (!from_env.empty()) return from_env;
    return home.empty() ? std::string() : absl::StrCat(home, "/.aws/", ToAbsl(name));
  };
  s.credentials_file = file(options.credentials_file, "AWS_SHARED_CREDENTIALS_FILE", "credentials");
  s.config_file = file(options.config_file, "AWS_CONFIG_FILE", "config");

  if (!options.use_instance_metadata) {
    s.imds_allowed = false;
    s.imds_disabled_by = "disabled in the options";
  } else if (absl::AsciiStrToLower(Env("AWS_EC2_METADATA_DISABLED")) == "true") {
    s.imds_allowed = false;
    s.imds_disabled_by = "disabled by AWS_EC2_METADATA_DISABLED";
  }
  s.imds_endpoint = options.imds_endpoint;
  if (s.imds_endpoint.empty()) s.imds_endpoint = Env("AWS_EC2_METADATA_SERVICE_ENDPOINT");
  if (s.imds_endpoint.empty()) s.imds_endpoint = std::string(kDefaultImdsEndpoint);
  return s;
}

absl::StatusOr<std::shared_ptr<CredentialsProvider>> MakeInstanceMetadata(const ChainSettings& s) {
  ASSIGN_OR_RETURN(std::unique_ptr<InstanceMetadataCredentialsProvider> provider,
                   InstanceMetadataCredentialsProvider::Create(
                       {.endpoint = s.imds_endpoint,
                        .refresh_before_expiry = s.options->refresh_before_expiry,
                        .clock = s.options->clock}));
  return std::shared_ptr<CredentialsProvider>(std::move(provider));
}

absl::StatusOr<std::shared_ptr<CredentialsProvider>> MakeAssumeRole(
    std::shared_ptr<CredentialsProvider> base, std::string role_arn, std::string session_name,
    std::string external_id, absl::Duration duration, const CredentialsOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<AssumeRoleCredentialsProvider> provider,
                   AssumeRoleCredentialsProvider::Create(
                       std::move(base), {.role_arn = std::move(role_arn),
                                         .role_session_name = std::move(session_name),
                                         .external_id = std::move(external_id),
                                         .sts_endpoint = options.sts_endpoint,
                                         .sts_region = options.sts_region,
                                         .duration = duration,
                                         .refresh_before_expiry = options.refresh_before_expiry,
                                         .clock = options.clock}));
  return std::shared_ptr<CredentialsProvider>(std::move(provider));
}

// Turns profiles into providers, following source_profile links.
class ProfileResolver {
 public:
  ProfileResolver(const SharedConfigFiles& files, const ChainSettings& settings)
      : files_(files), settings_(settings) {}

  // The provider for `profile`; null when it has neither keys nor role_arn
  // (a profile that only sets a region, say).
  absl::StatusOr<std::shared_ptr<CredentialsProvider>> Provider(const SharedProfile& profile) {
    if (!profile.role_arn.empty()) return AssumeRoleProvider(profile);
    if (profile.keys)
      return std::make_shared<ProfileCredentialsProvider>(profile.name, *profile.keys);
    if (!profile.unsupported_setting.empty()) {
      return absl::UnimplementedError(absl::StrCat(
          profile.location, ": profile '", profile.name, "' gets its credentials from ",
          profile.unsupported_setting,
          ", which ingestd does not support; use keys, role_arn or instance metadata"));
    }
    return nullptr;
  }

 private:
  absl::StatusOr<std::shared_ptr<CredentialsProvider>> AssumeRoleProvider(
      const SharedProfile& profile) {
    const std::string& where = profile.role_location;
    std::shared_ptr<CredentialsProvider> base;
    if (!profile.source_profile.empty() && !profile.credential_source.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": profile '", profile.name,
                       "' sets both source_profile and credential_source; keep one"));
    }
    if (profile.source_profile == profile.name) {
      // A profile may assume a role with its own keys.
      if (!profile.keys) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, ": profile '", profile.name, "' is its own source_profile but has no keys"));
      }
      base = std::make_shared<ProfileCredentialsProvider>(profile.name, *profile.keys);
    } else if (!profile.source_profile.empty()) {
      visiting_.push_back(profile.name);
      const std::string& source = profile.source_profile;
      for (const std::string& seen : visiting_) {
        if (seen == source || visiting_.size() > kMaxSourceProfileDepth) {
          return absl::InvalidArgumentError(
              absl::StrCat(where, ": source_profile chain loops or is too long: ",
                           absl::StrJoin(visiting_, " -> "), " -> ", source));
        }
      }
      ASSIGN_OR_RETURN(std::optional<SharedProfile> source_profile, files_.Find(source));
      if (!source_profile) {
        return absl::NotFoundError(absl::StrCat(where, ": source_profile '", source,
                                                "' of profile '", profile.name, "' is in neither ",
                                                files_.DescribeFiles()));
      }
      ASSIGN_OR_RETURN(base, Provider(*source_profile));
      visiting_.pop_back();
      if (base == nullptr) {
        return absl::InvalidArgumentError(absl::StrCat(where, ": source_profile '", source, "' (",
                                                       source_profile->location,
                                                       ") has no credentials"));
      }
    } else if (profile.credential_source == "Environment") {
      ASSIGN_OR_RETURN(std::unique_ptr<EnvironmentCredentialsProvider> env,
                       EnvironmentCredentialsProvider::FromEnvironment());
      if (env == nullptr) {
        return absl::FailedPreconditionError(absl::StrCat(
            where, ": credential_source is Environment but AWS_ACCESS_KEY_ID is not set"));
      }
      base = std::move(env);
    } else if (profile.credential_source == "Ec2InstanceMetadata") {
      if (!settings_.imds_allowed) {
        return absl::FailedPreconditionError(absl::StrCat(
            where, ": credential_source is Ec2InstanceMetadata but instance metadata is ",
            settings_.imds_disabled_by));
      }
      ASSIGN_OR_RETURN(base, MakeInstanceMetadata(settings_));
    } else if (!profile.credential_source.empty()) {
      return absl::UnimplementedError(
          absl::StrCat(where, ": credential_source '", profile.credential_source,
                       "' is not supported (Environment or Ec2InstanceMetadata are)"));
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": profile '", profile.name,
                       "' has role_arn but neither source_profile nor credential_source"));
    }
    const CredentialsOptions& options = *settings_.options;
    absl::StatusOr<std::shared_ptr<CredentialsProvider>> role = MakeAssumeRole(
        std::move(base), profile.role_arn,
        profile.role_session_name.empty() ? options.role_session_name : profile.role_session_name,
        profile.external_id, profile.duration.value_or(options.role_duration), options);
    if (!role.ok()) return WithContext(role.status(), where);
    return role;
  }

  const SharedConfigFiles& files_;
  const ChainSettings& settings_;
  std::vector<std::string> visiting_;
};

}  // namespace

absl::StatusOr<std::shared_ptr<CredentialsProvider>> MakeCredentialsChain(
    const CredentialsOptions& options) {
  const ChainSettings settings = Resolve(options);
  std::vector<std::string> tried;
  std::shared_ptr<CredentialsProvider> base;

  // As in the AWS SDKs, a profile named in the configuration (not merely in
  // AWS_PROFILE) outranks keys that happen to be in the environment.
  if (settings.profile_from_options) {
    tried.push_back("environment (skipped: a profile is configured)");
  } else {
    ASSIGN_OR_RETURN(std::unique_ptr<EnvironmentCredentialsProvider> env,
                     EnvironmentCredentialsProvider::FromEnvironment());
    if (env != nullptr) {
      base = std::move(env);
    } else {
      tried.push_back("environment (AWS_ACCESS_KEY_ID not set)");
    }
  }

  if (base == nullptr) {
    ASSIGN_OR_RETURN(SharedConfigFiles files,
                     SharedConfigFiles::Load(settings.credentials_file, settings.config_file));
    ASSIGN_OR_RETURN(std::optional<SharedProfile> profile, files.Find(settings.profile));
    if (!profile && settings.profile_explicit) {
      return absl::NotFoundError(absl::StrCat("AWS profile '", settings.profile, "' is in neither ",
                                              files.DescribeFiles()));
    }
    if (!profile) {
      tried.push_back(
          absl::StrCat("profile ", settings.profile, " (in neither ", files.DescribeFiles(), ")"));
    } else {
      ProfileResolver resolver(files, settings);
      ASSIGN_OR_RETURN(base, resolver.Provider(*profile));
      if (base == nullptr) {
        tried.push_back(absl::StrCat("profile ", settings.profile, " (", profile->location,
                                     ": no keys and no role_arn)"));
      }
    }
  }

  if (base == nullptr) {
    if (settings.imds_allowed) {
      ASSIGN_OR_RETURN(base, MakeInstanceMetadata(settings));
    } else {
      tried.push_back(absl::StrCat("instance metadata (", settings.imds_disabled_by, ")"));
    }
  }

  if (base == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("no AWS credentials found; tried ", absl::StrJoin(tried, "; ")));
  }
  if (options.role_arn.empty()) return base;
  return MakeAssumeRole(std::move(base), options.role_arn, options.role_session_name,
                        options.external_id, options.role_duration, options);
}

}  // namespace ingest
