// The provider chain: which source it picks (environment, then profile,
// then instance metadata), role assumption on top of any of them, the
// settings the environment supplies, and an error that lists what was tried
// when nothing is configured. All network traffic goes to fakes on loopback;
// every test either disables instance metadata or points it at a fake.
#include "server/s3/credentials_chain.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "tests/support/fake_aws_endpoints.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::AwsTimestamp;
using ::ingest::testing::FakeClock;
using ::ingest::testing::FakeImds;
using ::ingest::testing::FakeImdsCredentials;
using ::ingest::testing::FakeSts;
using ::ingest::testing::FakeStsRequest;
using ::ingest::testing::TempDir;
using ::ingest::testing::VerifyStsSignature;

bool Contains(absl::string_view haystack, absl::string_view needle) {
  return haystack.find(needle) != absl::string_view::npos;
}

// Every variable the chain reads, cleared for the test (HOME pointed at an
// empty folder so the real ~/.aws is never read) and restored afterwards.
class ScopedAwsEnvironment {
 public:
  explicit ScopedAwsEnvironment(const std::string& home) {
    for (const char* name :
         {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
          "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE", "AWS_EC2_METADATA_DISABLED",
          "AWS_EC2_METADATA_SERVICE_ENDPOINT", "HOME"}) {
      const char* value = getenv(name);
      saved_[name] = value != nullptr ? std::optional<std::string>(value) : std::nullopt;
      unsetenv(name);
    }
    setenv("HOME", home.c_str(), 1);
  }
  ~ScopedAwsEnvironment() {
    for (const auto& [name, value] : saved_) {
      if (value) {
        setenv(name.c_str(), value->c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }
  void Set(const char* name, const std::string& value) { setenv(name, value.c_str(), 1); }

 private:
  std::map<std::string, std::optional<std::string>> saved_;
};

class CredentialsChainTest : public ::testing::Test {
 protected:
  CredentialsChainTest() : env_(home_.path()) {}

  std::string Write(const std::string& name, const std::string& text) {
    const std::string path = dir_.path() + "/" + name;
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path) << text;
    return path;
  }

  // Options that read only the test's files and never reach a real IMDS.
  CredentialsOptions Options() {
    CredentialsOptions options;
    options.credentials_file = dir_.path() + "/credentials";
    options.config_file = dir_.path() + "/config";
    options.use_instance_metadata = false;
    options.clock = clock_.AsFunction();
    return options;
  }

  std::shared_ptr<CredentialsProvider> Chain(const CredentialsOptions& options) {
    absl::StatusOr<std::shared_ptr<CredentialsProvider>> chain = MakeCredentialsChain(options);
    EXPECT_TRUE(chain.ok()) << chain.status();
    return chain.ok() ? *chain : nullptr;
  }

  void UseFakeImds() {
    FakeImdsCredentials c;
    c.access_key_id = "ASIAIMDS00000000001";
    c.expiration = AwsTimestamp(clock_.Now() + absl::Hours(6));
    imds_.SetCredentials(c);
  }

  TempDir home_;
  TempDir dir_;
  ScopedAwsEnvironment env_;
  FakeClock clock_;
  FakeImds imds_;
  FakeSts sts_;
};

TEST_F(CredentialsChainTest, EnvironmentComesFirst) {
  env_.Set("AWS_ACCESS_KEY_ID", "AKIAENV000000000001");
  env_.Set("AWS_SECRET_ACCESS_KEY", "env/secret");
  env_.Set("AWS_SESSION_TOKEN", "env-token");
  Write("credentials", "[default]\naws_access_key_id = AKIDFILE\naws_secret_access_key = S\n");
  auto chain = Chain(Options());
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(chain->Describe(), "environment");
  absl::StatusOr<AwsCredentials> got = chain->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "AKIAENV000000000001");
  EXPECT_EQ(got->secret_access_key, "env/secret");
  EXPECT_EQ(got->session_token, "env-token");
  EXPECT_EQ(got->expiration, absl::InfiniteFuture());
}

TEST_F(CredentialsChainTest, EnvironmentErrorsNameTheVariable) {
  env_.Set("AWS_ACCESS_KEY_ID", "AKIAENV000000000001");
  absl::StatusOr<std::shared_ptr<CredentialsProvider>> chain = MakeCredentialsChain(Options());
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(chain.status().message(), "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not");

  env_.Set("AWS_SECRET_ACCESS_KEY", "has\nnewline");
  chain = MakeCredentialsChain(Options());
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(chain.status().message(), "AWS_SECRET_ACCESS_KEY contains a space"))
      << chain.status();
  EXPECT_FALSE(Contains(chain.status().message(), "has")) << "secret echoed";

  env_.Set("AWS_SECRET_ACCESS_KEY", "fine");
  env_.Set("AWS_SESSION_TOKEN", std::string(20000, 't'));
  chain = MakeCredentialsChain(Options());
  EXPECT_TRUE(Contains(chain.status().message(), "AWS_SESSION_TOKEN is 20000 bytes"))
      << chain.status();

  env_.Set("AWS_SESSION_TOKEN", "");  // blank means none
  auto ok = Chain(Options());
  ASSERT_NE(ok, nullptr);
  EXPECT_EQ(ok->Get()->session_token, "");

  env_.Set("AWS_ACCESS_KEY_ID", "");  // blank means unset: on to the next source
  absl::StatusOr<std::shared_ptr<CredentialsProvider>> none = MakeCredentialsChain(Options());
  EXPECT_EQ(none.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(CredentialsChainTest, DefaultProfileFromTheCredentialsFile) {
  Write("credentials",
        "# keys\n[default]\naws_access_key_id = AKIDFILE\n"
        "aws_secret_access_key = file/secret\n");
  auto chain = Chain(Options());
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(chain->Describe(), "profile default");
  EXPECT_EQ(chain->Get()->access_key_id, "AKIDFILE");
}

TEST_F(CredentialsChainTest, FilesAndProfileFromTheEnvironmentAndHome) {
  // $HOME/.aws/credentials when nothing else is said.
  std::filesystem::create_directories(home_.path() + "/.aws");
  std::ofstream(home_.path() + "/.aws/credentials")
      << "[default]\naws_access_key_id = AKIDHOME\naws_secret_access_key = S\n";
  CredentialsOptions options;
  options.use_instance_metadata = false;
  auto chain = Chain(options);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(chain->Get()->access_key_id, "AKIDHOME");

  // AWS_PROFILE and AWS_CONFIG_FILE.
  env_.Set("AWS_CONFIG_FILE", Write("elsewhere/config",
                                    "[profile ci]\naws_access_key_id = AKIDCI\n"
                                    "aws_secret_access_key = S\n"));
  env_.Set("AWS_PROFILE", "ci");
  chain = Chain(options);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(chain->Describe(), "profile ci");
  EXPECT_EQ(chain->Get()->access_key_id, "AKIDCI");

  // AWS_SHARED_CREDENTIALS_FILE.
  env_.Set("AWS_SHARED_CREDENTIALS_FILE", Write("elsewhere/creds",
                                                "[ci]\naws_access_key_id = AKIDCREDS\n"
                                                "aws_secret_access_key = S\n"));
  chain = Chain(options);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(chain->Get()->access_key_id, "AKIDCREDS");

  // An AWS_PROFILE that exists nowhere is an error, not a silent fallback.
  env_.Set("AWS_PROFILE", "nope");
  absl::StatusOr<std::shared_ptr<CredentialsProvider>> missing = MakeCredentialsChain(options);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(missing.status().message(), "AWS profile 'nope' is in neither"))
      << missing.status();
}

TEST_F(CredentialsChainTest, AConfiguredProfileOutranksEnvironmentKeys) {
  env_.Set("AWS_ACCESS_KEY_ID", "AKIAENV000000000001");
  env_.Set("AWS_SECRET_ACCESS_KEY", "env/secret");
  Write("config", "[profile uploader]\naws_access_key_id = AKIDUP\naws_secret_access_key = S\n");
  CredentialsOptions options = Options();
  options.profile = "uploader";
  auto chain = Chain(options);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(chain->Describe(), "profile uploader");
  EXPECT_EQ(chain->Get()->access_key_id, "AKIDUP");

  options.profile = "absent";
  absl::StatusOr<std::shared_ptr<CredentialsProvider>> missing = MakeCredentialsChain(options);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(missing.status().message(), "AWS profile 'absent' is in neither " + dir_.path() +
                                            "/credentials (missing), " + dir_.path() + "/config");
}

TEST_F(CredentialsChainTest, NothingConfiguredListsWhatWasTried) {
  absl::StatusOr<std::shared_ptr<CredentialsProvider>> chain = MakeCredentialsChain(Options());
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(chain.status().message(),
            "no AWS credentials found; tried environment (AWS_ACCESS_KEY_ID not set); profile "
            "default (in neither " +
                dir_.path() + "/credentials (missing), " + dir_.path() +
                "/config (missing)); instance metadata (disabled in the options)");

  Write("config", "[default]\nregion = eu-west-1\n");
  CredentialsOptions options = Options();
  options.use_instance_metadata = true;
  options.imds_endpoint = imds_.url();
  env_.Set("AWS_EC2_METADATA_DISABLED", "TRUE");
  chain = MakeCredentialsChain(options);
  EXPECT_EQ(chain.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(chain.status().message(),
                       "profile default (" + dir_.path() + "/config:1: no keys and no role_arn)"))
      << chain.status();
  EXPECT_TRUE(Contains(chain.status().message(),
                       "instance metadata (disabled by AWS_EC2_METADATA_DISABLED)"))
      << chain.status();
  EXPECT_EQ(imds_.token_puts(), 0u);
}

TEST_F(CredentialsChainTest, InstanceMetadataWhenNothingElseIsConfigured) {
  UseFakeImds();
  Write("config", "[default]\nregion = eu-west-1\n");  // a profile without credentials
  CredentialsOptions options = Options();
  options.use_instance_metadata = true;
  options.imds_endpoint = imds_.url();
  auto chain = Chain(options);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(chain->Describe(), "instance metadata (" + imds_.url() + ")");
  EXPECT_EQ(imds_.token_puts(), 0u);  // creating the chain sends nothing
  absl::StatusOr<AwsCredentials> got = chain->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "ASIAIMDS00000000001");
  EXPECT_EQ(chain->Describe(), "instance metadata role ingest-writer");

  // The endpoint may also come from the environment.
  env_.Set("AWS_EC2_METADATA_SERVICE_ENDPOINT", imds_.url());
  options.imds_endpoint.clear();
  chain = Chain(options);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(chain->Describe(), "instance metadata (" + imds_.url() + ")");
  ASSERT_TRUE(chain->Get().ok());
}

TEST_F(CredentialsChainTest, InstanceMetadataThenAssumeRoleEndToEnd) {
  UseFakeImds();
  sts_.SetCredentials(AwsCredentials{.access_key_id = "ASIAROLE00000000001",
                                     .secret_access_key = "role/secret",
                                     .session_token = "role-token"},
                      AwsTimestamp(clock_.Now() + absl::Hours(1)));
  CredentialsOptions options = Options();
  options.use_instance_metadata = true;
  options.imds_endpoint = imds_.url();
  options.role_arn = "arn:aws:iam::210987654321:role/zone-writer";
  options.role_session_name = "ingest-eu-1";
  options.external_id = "zone-eu-1";
  options.sts_endpoint = sts_.url();
  options.sts_region = "eu-central-1";
  options.role_duration = absl::Minutes(30);
  auto chain = Chain(options);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(chain->Describe(),
            "assume role arn:aws:iam::210987654321:role/zone-writer via instance metadata (" +
                imds_.url() + ")");

  absl::StatusOr<AwsCredentials> got = chain->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "ASIAROLE00000000001");
  EXPECT_EQ(got->session_token, "role-token");
  EXPECT_EQ(chain->Describe(),
            "assume role arn:aws:iam::210987654321:role/zone-writer via instance metadata role "
            "ingest-writer");

  const std::vector<FakeStsRequest> requests = sts_.requests();
  ASSERT_EQ(requests.size(), 1u);
  EXPECT_EQ(requests[0].params.at("RoleSessionName"), "ingest-eu-1");
  EXPECT_EQ(requests[0].params.at("ExternalId"), "zone-eu-1");
  EXPECT_EQ(requests[0].params.at("DurationSeconds"), "1800");
  const FakeImdsCredentials imds;
  absl::Status signature =
      VerifyStsSignature(requests[0],
                         AwsCredentials{.access_key_id = "ASIAIMDS00000000001",
                                        .secret_access_key = imds.secret_access_key,
                                        .session_token = imds.token},
                         "eu-central-1");
  EXPECT_TRUE(signature.ok()) << signature;

  // Refreshed before the role's hour ends; the IMDS credentials (6 h) are
  // still cached, so only STS is asked again.
  clock_.Advance(absl::Minutes(56));
  ASSERT_TRUE(chain->Get().ok());
  EXPECT_EQ(sts_.requests().size(), 2u);
  EXPECT_EQ(imds_.credential_gets(), 1u);
}

TEST_F(CredentialsChainTest, ProfileAssumesARoleWithItsSourceProfile) {
  Write("credentials", "[base]\naws_access_key_id = AKIDBASE\naws_secret_access_key = base/s\n");
  Write("config",
        "[profile writer]\nrole_arn = arn:aws:iam::123456789012:role/writer\n"
        "source_profile = base\nrole_session_name = from-profile\n"
        "duration_seconds = 900\n");
  sts_.SetCredentials(
      AwsCredentials{
          .access_key_id = "ASIAWRITER000000001", .secret_access_key = "w", .session_token = "wt"},
      AwsTimestamp(clock_.Now() + absl::Hours(1)));
  CredentialsOptions options = Options();
  options.profile = "writer";
  options.sts_endpoint = sts_.url();
  auto chain = Chain(options);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(chain->Describe(),
            "assume role arn:aws:iam::123456789012:role/writer via profile base");
  absl::StatusOr<AwsCredentials> got = chain->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "ASIAWRITER000000001");
  const FakeStsRequest request = sts_.requests().back();
  EXPECT_EQ(request.params.at("RoleSessionName"), "from-profile");
  EXPECT_EQ(request.params.at("DurationSeconds"), "900");
  EXPECT_TRUE(VerifyStsSignature(request,
                                 AwsCredentials{.access_key_id = "AKIDBASE",
                                                .secret_access_key = "base/s",
                                                .session_token = ""},
                                 "us-east-1")
                  .ok());

  // And a role on top of that from the options: two hops through STS.
  options.role_arn = "arn:aws:iam::210987654321:role/cross";
  chain = Chain(options);
  ASSERT_NE(chain, nullptr);
  EXPECT_EQ(chain->Describe(),
            "assume role arn:aws:iam::210987654321:role/cross via assume role "
            "arn:aws:iam::123456789012:role/writer via profile base");
  ASSERT_TRUE(chain->Get().ok());
}

TEST_F(CredentialsChainTest, ProfileRoleWithInstanceMetadataAsSource) {
  UseFakeImds();
  Write("config",
        "[default]\nrole_arn = arn:aws:iam::123456789012:role/r\n"
        "credential_source = Ec2InstanceMetadata\n");
  sts_.SetCredentials(
      AwsCredentials{.access_key_id = "ASIAR", .secret_access_key = "r", .session_token = "rt"},
      AwsTimestamp(clock_.Now() + absl::Hours(1)));
  CredentialsOptions options = Options();
  options.use_instance_metadata = true;
  options.imds_endpoint = imds_.url();
  options.sts_endpoint = sts_.url();
  auto chain = Chain(options);
  ASSERT_NE(chain, nullptr);
  ASSERT_TRUE(chain->Get().ok());
  EXPECT_EQ(
      chain->Describe(),
      "assume role arn:aws:iam::123456789012:role/r via instance metadata role ingest-writer");

  options.use_instance_metadata = false;
  absl::StatusOr<std::shared_ptr<CredentialsProvider>> disabled = MakeCredentialsChain(options);
  EXPECT_EQ(disabled.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(Contains(disabled.status().message(), dir_.path() + "/config:2: "))
      << disabled.status();
}

TEST_F(CredentialsChainTest, BrokenProfilesAreClearErrors) {
  Write("credentials", "[keys]\naws_access_key_id = AK\naws_secret_access_key = S\n");
  Write("config",
        "[profile lonely]\nrole_arn = arn:aws:iam::1:role/x\n"                           // 1-2
        "[profile loop-a]\nrole_arn = arn:aws:iam::1:role/a\nsource_profile = loop-b\n"  // 3-5
        "[profile loop-b]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = loop-a\n"  // 6-8
        "[profile orphan]\nrole_arn = arn:aws:iam::1:role/o\nsource_profile = ghost\n"   // 9-11
        "[profile process]\ncredential_process = /bin/creds\n"                           // 12-13
        "[profile both]\nrole_arn = arn:aws:iam::1:role/b\nsource_profile = keys\n"
        "credential_source = Environment\n"                             // 14-17
        "[profile badarn]\nrole_arn = writer\nsource_profile = keys\n"  // 18-20
        "[profile ecs]\nrole_arn = arn:aws:iam::1:role/e\ncredential_source = EcsContainer\n"
        "[profile half]\naws_access_key_id = AK\n");  // 24-25
  auto error = [&](const std::string& profile) {
    CredentialsOptions options = Options();
    options.profile = profile;
    return MakeCredentialsChain(options).status();
  };
  const std::string config = dir_.path() + "/config";
  absl::Status s = error("lonely");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(), config +
                             ":2: profile 'lonely' has role_arn but neither source_profile "
                             "nor credential_source");
  s = error("loop-a");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(),
                       "source_profile chain loops or is too long: loop-a -> loop-b "
                       "-> loop-a"))
      << s;
  s = error("orphan");
  EXPECT_EQ(s.code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(s.message(), config + ":10: source_profile 'ghost' of profile 'orphan'"))
      << s;
  s = error("process");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_TRUE(Contains(s.message(), "credential_process (" + config + ":13)")) << s;
  s = error("both");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), "sets both source_profile and credential_source")) << s;
  s = error("badarn");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s.message(), config + ":19: role ARN \"writer\" is not of the form")) << s;
  s = error("ecs");
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  s = error("half");
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(s.message(),
            config + ":25: profile 'half' has aws_access_key_id but no aws_secret_access_key");

  Write("credentials", "[keys]\nthis is not ini\n");
  s = error("keys");
  EXPECT_EQ(s.message(), dir_.path() + "/credentials:2: expected 'key = value' or '[section]'");
}

}  // namespace
}  // namespace ingest
