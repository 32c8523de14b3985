// IMDSv2 against a fake metadata service on loopback: the token dance, token
// and credential caching, refresh before expiry (on a fake clock), a 401
// answered with one new token, and every failure a clear, fast error.
#include "server/s3/instance_metadata_credentials.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/s3/http_client.h"
#include "tests/support/fake_aws_endpoints.h"

namespace ingest {
namespace {

using ::ingest::testing::AwsTimestamp;
using ::ingest::testing::FakeClock;
using ::ingest::testing::FakeHttpServer;
using ::ingest::testing::FakeImds;
using ::ingest::testing::FakeImdsCredentials;

bool Contains(absl::string_view haystack, absl::string_view needle) {
  return haystack.find(needle) != absl::string_view::npos;
}

class InstanceMetadataTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_EQ(imds_.server().start_error(), "");
    imds_.SetCredentials(Credentials("ASIAFIRST0000000001", absl::Hours(1)));
  }

  FakeImdsCredentials Credentials(std::string key, absl::Duration lifetime) {
    FakeImdsCredentials c;
    c.access_key_id = std::move(key);
    c.expiration = AwsTimestamp(clock_.Now() + lifetime);
    return c;
  }

  std::unique_ptr<InstanceMetadataCredentialsProvider> Make(InstanceMetadataOptions options = {}) {
    options.endpoint = imds_.url();
    options.clock = clock_.AsFunction();
    absl::StatusOr<std::unique_ptr<InstanceMetadataCredentialsProvider>> provider =
        InstanceMetadataCredentialsProvider::Create(std::move(options));
    EXPECT_TRUE(provider.ok()) << provider.status();
    return provider.ok() ? std::move(*provider) : nullptr;
  }

  FakeClock clock_;
  FakeImds imds_;
};

TEST_F(InstanceMetadataTest, FetchesTheRoleCredentialsWithAToken) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  EXPECT_EQ(provider->Describe(), "instance metadata (" + imds_.url() + ")");
  EXPECT_EQ(imds_.token_puts(), 0u);  // nothing sent before the first Get

  absl::StatusOr<AwsCredentials> got = provider->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "ASIAFIRST0000000001");
  EXPECT_EQ(got->secret_access_key, FakeImdsCredentials().secret_access_key);
  EXPECT_EQ(got->session_token, FakeImdsCredentials().token);
  EXPECT_EQ(got->expiration,
            absl::FromUnixSeconds(absl::ToUnixSeconds(clock_.Now())) + absl::Hours(1));
  EXPECT_EQ(provider->Describe(), "instance metadata role ingest-writer");
  EXPECT_EQ(imds_.token_puts(), 1u);
  EXPECT_EQ(imds_.last_token_ttl(), "21600");
  EXPECT_EQ(imds_.unauthorized(), 0u);
  EXPECT_EQ(provider->token_fetches(), 1u);
}

TEST_F(InstanceMetadataTest, TheFakeRefusesRequestsWithoutAToken) {
  absl::StatusOr<HttpEndpoint> endpoint = ParseHttpEndpoint(imds_.url());
  ASSERT_TRUE(endpoint.ok());
  HttpClient client(*endpoint, {});
  HttpRequest request;
  request.target = "/latest/meta-data/iam/security-credentials/";
  absl::StatusOr<HttpResponse> response = client.Send(request);
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->status, 401);
  request.headers = {{"X-aws-ec2-metadata-token", "made-up"}};
  EXPECT_EQ(client.Send(request)->status, 401);
  EXPECT_EQ(imds_.unauthorized(), 2u);
}

TEST_F(InstanceMetadataTest, ManyThreadsAtColdStartCostOneFetch) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  std::vector<std::thread> threads;
  std::atomic<int> ok{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      for (int j = 0; j < 20; ++j) {
        if (provider->Get().ok()) ++ok;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(ok.load(), 160);
  EXPECT_EQ(imds_.token_puts(), 1u);
  EXPECT_EQ(imds_.credential_gets(), 1u);
}

TEST_F(InstanceMetadataTest, CachesCredentialsAndRefreshesThemBeforeExpiry) {
  imds_.SetCredentials(Credentials("ASIAFIRST0000000001", absl::Minutes(10)));
  auto provider = Make({.refresh_before_expiry = absl::Minutes(5)});
  ASSERT_NE(provider, nullptr);
  ASSERT_EQ(provider->Get()->access_key_id, "ASIAFIRST0000000001");
  imds_.SetCredentials(Credentials("ASIASECOND000000002", absl::Minutes(70)));

  clock_.Advance(absl::Minutes(4));
  EXPECT_EQ(provider->Get()->access_key_id, "ASIAFIRST0000000001");
  EXPECT_EQ(imds_.credential_gets(), 1u);

  clock_.Advance(absl::Minutes(2));  // 4 min before expiry
  EXPECT_EQ(provider->Get()->access_key_id, "ASIASECOND000000002");
  EXPECT_EQ(imds_.credential_gets(), 2u);
  EXPECT_EQ(imds_.token_puts(), 1u);  // the 6 h token is reused
  EXPECT_EQ(provider->credential_fetches(), 2u);
}

TEST_F(InstanceMetadataTest, TokenIsRenewedNearItsTtl) {
  auto provider = Make({.token_ttl = absl::Minutes(10)});
  ASSERT_NE(provider, nullptr);
  ASSERT_TRUE(provider->Get().ok());
  EXPECT_EQ(imds_.last_token_ttl(), "600");
  imds_.SetCredentials(Credentials("ASIASECOND000000002", absl::Hours(2)));
  clock_.Advance(absl::Minutes(56));
  ASSERT_EQ(provider->Get()->access_key_id, "ASIASECOND000000002");
  EXPECT_EQ(imds_.token_puts(), 2u);
  EXPECT_EQ(imds_.unauthorized(), 0u);
}

TEST_F(InstanceMetadataTest, A401FetchesOneNewToken) {
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  ASSERT_TRUE(provider->Get().ok());
  imds_.InvalidateTokens();  // as if IMDS restarted
  imds_.SetCredentials(Credentials("ASIASECOND000000002", absl::Hours(2)));
  clock_.Advance(absl::Minutes(56));
  absl::StatusOr<AwsCredentials> got = provider->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "ASIASECOND000000002");
  EXPECT_EQ(imds_.unauthorized(), 1u);
  EXPECT_EQ(imds_.token_puts(), 2u);
}

TEST_F(InstanceMetadataTest, ATokenRefusedTwiceIsUnauthenticated) {
  imds_.RejectAllTokens(true);
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  absl::StatusOr<AwsCredentials> got = provider->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnauthenticated) << got.status();
  EXPECT_TRUE(Contains(got.status().message(), "instance metadata (" + imds_.url() + "): "))
      << got.status();
  EXPECT_TRUE(Contains(got.status().message(), "refused a fresh token")) << got.status();
  EXPECT_EQ(imds_.token_puts(), 2u);
  EXPECT_EQ(imds_.unauthorized(), 2u);
}

TEST_F(InstanceMetadataTest, FailedRefreshKeepsServingValidCredentials) {
  imds_.SetCredentials(Credentials("ASIAFIRST0000000001", absl::Minutes(10)));
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  ASSERT_TRUE(provider->Get().ok());
  imds_.SetMetadataStatus(500);
  clock_.Advance(absl::Minutes(6));
  absl::StatusOr<AwsCredentials> got = provider->Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "ASIAFIRST0000000001");
  EXPECT_EQ(provider->refresh_failures(), 1u);

  clock_.Advance(absl::Minutes(5));  // now expired
  got = provider->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_TRUE(Contains(got.status().message(), "answered HTTP 500")) << got.status();

  imds_.SetMetadataStatus(0);
  imds_.SetCredentials(Credentials("ASIATHIRD0000000003", absl::Hours(1)));
  EXPECT_EQ(provider->Get()->access_key_id, "ASIATHIRD0000000003");
}

TEST_F(InstanceMetadataTest, NoRoleIsNotFound) {
  imds_.SetRole("");
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  absl::StatusOr<AwsCredentials> got = provider->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kNotFound);
  EXPECT_TRUE(Contains(got.status().message(), "no IAM role is attached")) << got.status();
}

TEST_F(InstanceMetadataTest, RefusedTokenRequestIsPermissionDenied) {
  imds_.SetTokenStatus(403);
  auto provider = Make();
  ASSERT_NE(provider, nullptr);
  absl::StatusOr<AwsCredentials> got = provider->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kPermissionDenied) << got.status();
  EXPECT_TRUE(Contains(got.status().message(), "token request answered HTTP 403"));
}

TEST_F(InstanceMetadataTest, MalformedAnswersAreClearErrors) {
  struct Case {
    std::string body;
    absl::StatusCode code;
    std::string says;
  };
  const std::string expiration = AwsTimestamp(clock_.Now() + absl::Hours(1));
  const Case cases[] = {
      {"not json", absl::StatusCode::kInvalidArgument, "malformed JSON: line 1, column 1"},
      {"{\"Code\": \"Success\", \"Code\": \"Failed\"}", absl::StatusCode::kInvalidArgument,
       "duplicate member \"Code\""},
      {"[\"Success\"]", absl::StatusCode::kInvalidArgument, "expected a JSON object, got an array"},
      {"{\"Code\": \"Success\"}", absl::StatusCode::kInvalidArgument, "lack AccessKeyId"},
      {"{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\", \"Token\": \"T\"}",
       absl::StatusCode::kInvalidArgument, "lack Expiration"},
      {"{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\", \"Token\": \"T\", "
       "\"Expiration\": \"soon\"}",
       absl::StatusCode::kInvalidArgument, "Expiration: timestamp \"soon\" is not ISO 8601"},
      {"{\"AccessKeyId\": \"A\\r\\nX: y\", \"SecretAccessKey\": \"S\", \"Token\": \"T\", "
       "\"Expiration\": \"" +
           expiration + "\"}",
       absl::StatusCode::kInvalidArgument, "access key id contains a space"},
      {"{\"AccessKeyId\": \"A\", \"SecretAccessKey\": \"S\", \"Token\": \"\", "
       "\"Expiration\": \"" +
           expiration + "\"}",
       absl::StatusCode::kInvalidArgument, "empty Token"},
      {"{\"Code\": \"AssumeRoleUnauthorizedAccess\", \"Message\": \"not yet\"}",
       absl::StatusCode::kUnavailable,
       "Code \"AssumeRoleUnauthorizedAccess\", Message \"not yet\""},
      {"{\"AccessKeyId\": \"" + std::string(100 << 10, 'A') + "\"}",
       absl::StatusCode::kResourceExhausted, "over the limit"},
  };
  for (const Case& c : cases) {
    imds_.SetRawCredentialsBody(c.body);
    auto provider = Make();
    ASSERT_NE(provider, nullptr);
    absl::StatusOr<AwsCredentials> got = provider->Get();
    EXPECT_EQ(got.status().code(), c.code) << c.body.substr(0, 100) << " -> " << got.status();
    EXPECT_TRUE(Contains(got.status().message(), c.says))
        << c.body.substr(0, 100) << " -> " << got.status();
  }
}

TEST_F(InstanceMetadataTest, RoleNamesThatAreNotIamNamesAreRefused) {
  for (const std::string& role :
       std::vector<std::string>{"../../latest/api/token", "a b", std::string(200, 'r')}) {
    imds_.SetRole(role);
    auto provider = Make();
    ASSERT_NE(provider, nullptr);
    absl::StatusOr<AwsCredentials> got = provider->Get();
    EXPECT_EQ(got.status().code(), absl::StatusCode::kInvalidArgument) << role;
    EXPECT_TRUE(Contains(got.status().message(), "no valid role name")) << got.status();
  }
}

TEST(InstanceMetadataUnreachableTest, ClosedPortFailsFastWithUnavailable) {
  uint16_t port = 0;
  {
    FakeHttpServer server([](const ::ingest::testing::TestHttpRequest&) {
      return ::ingest::testing::MakeFakeResponse(200, "");
    });
    port = server.port();
  }  // stopped: nothing listens on the port now
  absl::StatusOr<std::unique_ptr<InstanceMetadataCredentialsProvider>> provider =
      InstanceMetadataCredentialsProvider::Create(
          {.endpoint = "http://127.0.0.1:" + std::to_string(port)});
  ASSERT_TRUE(provider.ok()) << provider.status();
  const absl::Time start = absl::Now();
  absl::StatusOr<AwsCredentials> got = (*provider)->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
}

TEST(InstanceMetadataUnreachableTest, SilentServerTimesOutWithUnavailable) {
  // A listening socket that never accepts: connect succeeds (the backlog),
  // the answer never comes.
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 4), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  absl::StatusOr<std::unique_ptr<InstanceMetadataCredentialsProvider>> provider =
      InstanceMetadataCredentialsProvider::Create(
          {.endpoint = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)),
           .io_timeout = absl::Milliseconds(300)});
  ASSERT_TRUE(provider.ok()) << provider.status();
  const absl::Time start = absl::Now();
  absl::StatusOr<AwsCredentials> got = (*provider)->Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable) << got.status();
  EXPECT_LT(absl::Now() - start, absl::Seconds(3));
  close(fd);
}

TEST(InstanceMetadataOptionsTest, BadOptionsAreRefusedUpFront) {
  EXPECT_EQ(
      InstanceMetadataCredentialsProvider::Create({.endpoint = "ftp://127.0.0.1"}).status().code(),
      absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InstanceMetadataCredentialsProvider::Create({.endpoint = "http://127.0.0.1/latest"})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InstanceMetadataCredentialsProvider::Create(
                {.endpoint = "http://127.0.0.1:1", .token_ttl = absl::ZeroDuration()})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(InstanceMetadataCredentialsProvider::Create(
                {.endpoint = "http://127.0.0.1:1", .token_ttl = absl::Hours(7)})
                .status()
                .code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ingest
