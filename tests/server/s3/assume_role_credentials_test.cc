// STS AssumeRole against a fake STS on loopback: the request is a form POST
// signed with SigV4 by the base credentials (session token included), the
// answer is parsed, cached and refreshed, and STS's errors map to the codes
// callers act on.
#include "server/s3/assume_role_credentials.h"

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "server/s3/static_credentials.h"
#include "tests/support/fake_aws_endpoints.h"

namespace ingest {
namespace {

using ::ingest::testing::AwsTimestamp;
using ::ingest::testing::FakeClock;
using ::ingest::testing::FakeHttpServer;
using ::ingest::testing::FakeSts;
using ::ingest::testing::FakeStsRequest;
using ::ingest::testing::VerifyStsSignature;

constexpr char kRoleArn[] = "arn:aws:iam::123456789012:role/ingest-writer";

bool Contains(absl::string_view haystack, absl::string_view needle) {
  return haystack.find(needle) != absl::string_view::npos;
}

// A base provider that fails, to see its error come through.
class FailingProvider : public CredentialsProvider {
 public:
  absl::StatusOr<AwsCredentials> Get() override {
    return absl::UnavailableError("instance metadata (http://127.0.0.1:1): connection refused");
  }
  std::string Describe() const override { return "failing"; }
};

class AssumeRoleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(sts_.server().start_error(), "");
    SetStsCredentials("ASIAROLE00000000001", absl::Hours(1));
  }

  void SetStsCredentials(std::string key, absl::Duration lifetime) {
    sts_.SetCredentials(AwsCredentials{.access_key_id = std::move(key),
                                       .secret_access_key = "role/secret/0001",
                                       .session_token = "role-session-token-0001"},
                        AwsTimestamp(clock_.Now() + lifetime));
  }

  std::unique_ptr<AssumeRoleCredentialsProvider> Make(
      AssumeRoleOptions options = {}, std::shared_ptr<CredentialsProvider> base = nullptr) {
    if (options.role_arn.empty()) options.role_arn = kRoleArn;
    options.sts_endpoint = sts_.url();
    options.sts_region = "eu-west-1";
    options.clock = clock_.AsFunction();
    absl::StatusOr<std::unique_ptr<AssumeRoleCredentialsProvider>> provider =
        AssumeRoleCredentialsProvider::Create(base != nullptr ? base : base_, std::move(options));
    EXPECT_TRUE(provider.ok()) << provider.status();
    return provider.ok() ? std::move(*provider) : nullptr;
  }

  const AwsCredentials base_credentials_{.access_key_id = "ASIABASE00000000001",
                                         .secret_access_key = "base/secret/key/0001",
                                         .session_token = "base-session-token-0001"};
  std::shared_ptr<CredentialsProvider> base_ =
      std::make_shared<StaticCredentialsProvider>(base_credentials_, "test keys");
  FakeClock clock_;
  FakeSts sts_;
};

TEST_F(AssumeRoleTest, SignsTheRequestWithTheBaseCredentialsAndReturnsTheRoles) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  EXPECT_EQ(provider->Describe(), std::string("assume role ") + kRoleArn +
                                      " via test keys (access key ASIABASE00000000001)");
  absl::StatusOr<AwsCredentials> got = provider->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "ASIAROLE00000000001");
  EXPECT_EQ(got->secret_access_key, "role/secret/0001");
  EXPECT_EQ(got->session_token, "role-session-token-0001");
  EXPECT_EQ(got->expiration, clock_.Now() + absl::Hours(1));

  const std::vector<FakeStsRequest> requests = sts_.requests();
  ASSERT_EQ(requests.size(), 1u);
  const FakeStsRequest& request = requests[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/");
  EXPECT_EQ(request.Header("Content-Type"), "application/x-www-form-urlencoded; charset=utf-8");
  EXPECT_EQ(request.params.at("Action"), "AssumeRole");
  EXPECT_EQ(request.params.at("Version"), "2011-06-15");
  EXPECT_EQ(request.params.at("RoleArn"), kRoleArn);
  EXPECT_EQ(request.params.at("RoleSessionName"), "ingestd");
  EXPECT_EQ(request.params.at("DurationSeconds"), "3600");
  EXPECT_EQ(request.params.count("ExternalId"), 0u);
  EXPECT_EQ(request.Header("x-amz-security-token"), "base-session-token-0001");
  EXPECT_TRUE(Contains(request.Header("Authorization"),
                       "Credential=ASIABASE00000000001/20270115/eu-west-1/sts/aws4_request"))
      << request.Header("Authorization");
  absl::Status signature = VerifyStsSignature(request, base_credentials_, "eu-west-1");
  EXPECT_TRUE(signature.ok()) << signature;

  // The check has teeth: other keys or a changed body do not verify.
  AwsCredentials other = base_credentials_;
  other.secret_access_key = "not/the/secret";
  EXPECT_FALSE(VerifyStsSignature(request, other, "eu-west-1").ok());
  FakeStsRequest tampered = request;
  tampered.body += "&Policy=x";
  EXPECT_FALSE(VerifyStsSignature(tampered, base_credentials_, "eu-west-1").ok());
}

TEST_F(AssumeRoleTest, ExternalIdSessionNameAndDurationAreSent) {
  auto provider = Make({.role_arn = "arn:aws-cn:iam::123456789012:role/path/to/role",
                        .role_session_name = "ingest@zone-1.eu",
                        .external_id = "ext:id/with=chars",
                        .duration = absl::Minutes(15)});
  ASSERT_NE(provider, nullptr);
  ASSERT_TRUE(provider->Get().ok());
  const FakeStsRequest request = sts_.requests().back();
  EXPECT_EQ(request.params.at("RoleArn"), "arn:aws-cn:iam::123456789012:role/path/to/role");
  EXPECT_EQ(request.params.at("RoleSessionName"), "ingest@zone-1.eu");
  EXPECT_EQ(request.params.at("ExternalId"), "ext:id/with=chars");
  EXPECT_EQ(request.params.at("DurationSeconds"), "900");
  EXPECT_TRUE(Contains(request.body, "ExternalId=ext%3Aid%2Fwith%3Dchars")) << request.body;
  EXPECT_TRUE(VerifyStsSignature(request, base_credentials_, "eu-west-1").ok());
}

TEST_F(AssumeRoleTest, LongLivedBaseKeysSendNoSecurityToken) {
  const AwsCredentials keys{.access_key_id = "AKIALONGLIVED000001",
                            .secret_access_key = "long/lived",
                            .session_token = ""};
  auto provider = Make({}, std::make_shared<StaticCredentialsProvider>(keys, "profile"));
  ASSERT_NE(provider, nullptr);
  ASSERT_TRUE(provider->Get().ok());
  const FakeStsRequest request = sts_.requests().back();
  EXPECT_EQ(request.Header("x-amz-security-token"), "");
  absl::Status signature = VerifyStsSignature(request, keys, "eu-west-1");
  EXPECT_TRUE(signature.ok()) << signature;
}

TEST_F(AssumeRoleTest, CachesAndRefreshesBeforeExpiry) {
  auto provider = Make({.refresh_before_expiry = absl::Minutes(5)});
  ASSERT_NE(provider, nullptr);
  ASSERT_EQ(provider->Get()->access_key_id, "ASIAROLE00000000001");
  clock_.Advance(absl::Minutes(50));
  ASSERT_EQ(provider->Get()->access_key_id, "ASIAROLE00000000001");
  EXPECT_EQ(sts_.requests().size(), 1u);

  SetStsCredentials("ASIAROLE00000000002", absl::Hours(1));
  clock_.Advance(absl::Minutes(6));
  EXPECT_EQ(provider->Get()->access_key_id, "ASIAROLE00000000002");
  EXPECT_EQ(sts_.requests().size(), 2u);
  EXPECT_EQ(provider->sts_requests(), 2u);
}

TEST_F(AssumeRoleTest, FailedRefreshServesOldCredentialsUntilExpiry) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  ASSERT_TRUE(provider->Get().ok());
  sts_.SetError(503, "ServiceUnavailable", "try later");
  clock_.Advance(absl::Minutes(57));
  absl::StatusOr<AwsCredentials> got = provider->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "ASIAROLE00000000001");
  EXPECT_EQ(provider->refresh_failures(), 1u);
  clock_.Advance(absl::Minutes(4));
  got = provider->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
}

TEST_F(AssumeRoleTest, StsErrorsMapToWhatCallersActOn) {
  struct Case {
    int status;
    std::string code;
    std::string message;
    absl::StatusCode expected;
  };
  const Case cases[] = {
      {403, "AccessDenied",
       "User: arn:aws:sts::123456789012:assumed-role/x/i is not authorized to perform: "
       "sts:AssumeRole on resource: arn:aws:iam::123456789012:role/ingest-writer",
       absl::StatusCode::kPermissionDenied},
      {403, "InvalidClientTokenId", "The security token included in the request is invalid.",
       absl::StatusCode::kUnauthenticated},
      {403, "SignatureDoesNotMatch", "The request signature we calculated does not match",
       absl::StatusCode::kUnauthenticated},
      {400, "ExpiredToken", "The security token included in the request is expired",
       absl::StatusCode::kUnauthenticated},
      {400, "Throttling", "Rate exceeded", absl::StatusCode::kUnavailable},
      {500, "InternalFailure", "oops", absl::StatusCode::kUnavailable},
      {400, "ValidationError", "1 validation error detected", absl::StatusCode::kInvalidArgument},
      {403, "RegionDisabledException", "STS is not activated in this region",
       absl::StatusCode::kFailedPrecondition},
  };
  for (const Case& c : cases) {
    sts_.SetError(c.status, c.code, c.message);
    auto provider = Make();
    ASSERT_NE(provider, nullptr);
    absl::StatusOr<AwsCredentials> got = provider->Get();
    EXPECT_EQ(got.status().code(), c.expected) << c.code << ": " << got.status();
    EXPECT_TRUE(Contains(got.status().message(), std::string("assume role ") + kRoleArn))
        << got.status();
    EXPECT_TRUE(Contains(got.status().message(), c.code)) << got.status();
    EXPECT_TRUE(Contains(got.status().message(), c.message)) << got.status();
  }
}

TEST_F(AssumeRoleTest, NonXmlErrorPagesAndMalformedAnswers) {
  sts_.SetRawResponse(502, "<html><body>Bad Gateway</body>");
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  absl::StatusOr<AwsCredentials> got = provider->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_TRUE(Contains(got.status().message(), "STS answered HTTP 502")) << got.status();

  const std::string expiration = AwsTimestamp(clock_.Now() + absl::Hours(1));
  struct Case {
    std::string body;
    std::string says;
  };
  const Case cases[] = {
      {"not xml at all", "malformed AssumeRole answer"},
      {"<AssumeRoleResponse><AssumeRoleResult></AssumeRoleResult></AssumeRoleResponse>",
       "no Credentials/AccessKeyId"},
      {"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
       "<SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken>"
       "</Credentials></AssumeRoleResult></AssumeRoleResponse>",
       "no Credentials/Expiration"},
      {"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
       "<SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken>"
       "<Expiration>tomorrow</Expiration></Credentials></AssumeRoleResult>"
       "</AssumeRoleResponse>",
       "is not ISO 8601"},
      {"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A B</AccessKeyId>"
       "<SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken>"
       "<Expiration>" +
           expiration +
           "</Expiration></Credentials></AssumeRoleResult>"
           "</AssumeRoleResponse>",
       "access key id contains a space"},
      {"<AssumeRoleResponse><AssumeRoleResult><Credentials><AccessKeyId>A</AccessKeyId>"
       "<SecretAccessKey>S</SecretAccessKey><SessionToken>T</SessionToken>"
       "<Expiration>" +
           expiration + "</Expiration></Credentials>",
       "malformed AssumeRole answer"},  // truncated
  };
  for (const Case& c : cases) {
    sts_.SetRawResponse(200, c.body);
    provider = Make();
    ASSERT_NE(provider, nullptr);
    got = provider->Get();
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << c.body;
    EXPECT_TRUE(Contains(got.status().message(), c.says)) << c.body << " -> " << got.status();
  }
}

TEST_F(AssumeRoleTest, EntitiesAndNamespacesInTheAnswerAreHandled) {
  const std::string expiration = AwsTimestamp(clock_.Now() + absl::Hours(1));
  sts_.SetRawResponse(
      200,
      "<?xml version=\"1.0\"?>\n<sts:AssumeRoleResponse xmlns:sts=\"https://sts.amazonaws.com/doc/"
      "2011-06-15/\"><sts:AssumeRoleResult><sts:Credentials>"
      "<sts:AccessKeyId>ASIA&#x41;B</sts:AccessKeyId>"
      "<sts:SecretAccessKey>se&amp;cret/&#43;</sts:SecretAccessKey>"
      "<sts:SessionToken>to&lt;ken&gt;</sts:SessionToken>"
      "<sts:Expiration>" +
          expiration +
          "</sts:Expiration>"
          "</sts:Credentials></sts:AssumeRoleResult></sts:AssumeRoleResponse>");
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  absl::StatusOr<AwsCredentials> got = provider->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "ASIAAB");
  EXPECT_EQ(got->secret_access_key, "se&cret/+");
  EXPECT_EQ(got->session_token, "to<ken>");
}

TEST_F(AssumeRoleTest, BaseProviderErrorsComeThroughWithTheirCode) {
  auto provider = Make({}, std::make_shared<FailingProvider>());
  ASSERT_NE(provider, nullptr);
  absl::StatusOr<AwsCredentials> got = provider->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(got.status().message(),
            std::string("assume role ") + kRoleArn +
                ": base credentials: instance metadata (http://127.0.0.1:1): connection refused");
  EXPECT_TRUE(sts_.requests().empty());
}

TEST_F(AssumeRoleTest, RoleOnTopOfARole) {
  std::shared_ptr<CredentialsProvider> first = Make();
  ASSERT_NE(first, nullptr);
  auto second = Make({.role_arn = "arn:aws:iam::210987654321:role/cross-account"}, first);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(
      second->Describe(),
      std::string("assume role arn:aws:iam::210987654321:role/cross-account via assume role ") +
          kRoleArn + " via test keys (access key ASIABASE00000000001)");
  ASSERT_TRUE(second->Get().ok());
  const std::vector<FakeStsRequest> requests = sts_.requests();
  ASSERT_EQ(requests.size(), 2u);
  EXPECT_EQ(requests[0].params.at("RoleArn"), kRoleArn);
  EXPECT_EQ(requests[1].params.at("RoleArn"), "arn:aws:iam::210987654321:role/cross-account");
  absl::Status signature =
      VerifyStsSignature(requests[1],
                         AwsCredentials{.access_key_id = "ASIAROLE00000000001",
                                        .secret_access_key = "role/secret/0001",
                                        .session_token = "role-session-token-0001"},
                         "eu-west-1");
  EXPECT_TRUE(signature.ok()) << signature;
}

TEST(AssumeRoleUnreachableTest, NoStsIsUnavailable) {
  uint16_t port = 0;
  {
    FakeHttpServer server([](const ::ingest::testing::TestHttpRequest&) {
      return ::ingest::testing::MakeFakeResponse(200, "");
    });
    port = server.port();
  }
  auto base = std::make_shared<StaticCredentialsProvider>(
      AwsCredentials{.access_key_id = "AK", .secret_access_key = "SK", .session_token = ""},
      "test");
  absl::StatusOr<std::unique_ptr<AssumeRoleCredentialsProvider>> provider =
      AssumeRoleCredentialsProvider::Create(
          base, {.role_arn = kRoleArn, .sts_endpoint = "http://127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(provider.ok()) << provider.status();
  absl::StatusOr<AwsCredentials> got = (*provider)->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
}

TEST(AssumeRoleOptionsTest, BadOptionsAreRefusedUpFront) {
  auto base = std::make_shared<StaticCredentialsProvider>(
      AwsCredentials{.access_key_id = "AK", .secret_access_key = "SK", .session_token = ""},
      "test");
  auto refused = [&](AssumeRoleOptions options, std::string_view says) {
    if (options.role_arn.empty()) options.role_arn = kRoleArn;
    absl::StatusOr<std::unique_ptr<AssumeRoleCredentialsProvider>> provider =
        AssumeRoleCredentialsProvider::Create(base, std::move(options));
    EXPECT_EQ(provider.status().code(), absl::StatusCode::kInvalidArgument) << says;
    EXPECT_TRUE(Contains(provider.status().message(), std::string(says))) << provider.status();
  };
  refused({.role_arn = "ingest-writer"}, "is not of the form arn:");
  refused({.role_arn = "arn:aws:iam::123456789012:user/bob"}, "is not of the form arn:");
  refused({.role_arn = "arn:aws:iam::1:role/x y"}, "is not of the form arn:");
  refused({.role_session_name = "a b"}, "role session name \"a b\" must be 2..64");
  refused({.role_session_name = "x"}, "role session name");
  refused({.role_session_name = std::string(65, 's')}, "role session name");
  refused({.external_id = "x"}, "external id");
  refused({.external_id = "bad\nid"}, "external id");
  refused({.duration = absl::Minutes(10)}, "role duration");
  refused({.duration = absl::Hours(13)}, "role duration");
  refused({.duration = absl::Seconds(1000.5)}, "role duration");
  refused({.refresh_before_expiry = absl::Hours(2)}, "refresh_before_expiry");
  refused({.sts_region = "EU WEST"}, "STS region");
  refused({.sts_endpoint = "sts.amazonaws.com"}, "STS endpoint");
  EXPECT_EQ(AssumeRoleCredentialsProvider::Create(nullptr, {.role_arn = kRoleArn}).status().code(),
            absl::StatusCode::kInvalidArgument);

  // The default endpoint is the regional one; nothing is sent at creation.
  absl::StatusOr<std::unique_ptr<AssumeRoleCredentialsProvider>> regional =
      AssumeRoleCredentialsProvider::Create(base,
                                            {.role_arn = kRoleArn, .sts_region = "eu-west-1"});
  EXPECT_TRUE(regional.ok()) << regional.status();
}

}  // namespace
}  // namespace ingest
