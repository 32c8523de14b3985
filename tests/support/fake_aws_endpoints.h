// Test support: small in-process HTTP servers that stand in for the AWS
// endpoints the credential providers talk to — the EC2 instance metadata
// service (IMDSv2) and STS AssumeRole. Each listens on 127.0.0.1 on a free
// port (a TestHttpServer), records what it saw, and stops when the object
// goes away. Implemented in fake_aws_endpoints.cc.
//
//   FakeImds imds;
//   imds.SetCredentials({.expiration = "2030-01-01T00:00:00Z"});
//   auto provider = InstanceMetadataCredentialsProvider::Create({.endpoint = imds.url()});
//   FakeSts sts;
//   ... AssumeRoleCredentialsProvider::Create(base, {.sts_endpoint = sts.url(), ...}) ...
//   EXPECT_TRUE(VerifyStsSignature(sts.requests().back(), base_credentials, "us-east-1").ok());
#ifndef TESTS_SUPPORT_FAKE_AWS_ENDPOINTS_H_
#define TESTS_SUPPORT_FAKE_AWS_ENDPOINTS_H_

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/s3/aws_credentials.h"
#include "tests/support/test_http_server.h"

namespace ingest::testing {

// A clock the test moves by hand, for providers that take a
// CredentialsClock: expiry and refresh without sleeping. Thread-safe.
class FakeClock {
 public:
  explicit FakeClock(absl::Time start = absl::FromUnixSeconds(1'800'000'000)) : now_(start) {}
  absl::Time Now() const {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }
  // A CredentialsClock reading this clock; the clock must outlive it.
  std::function<absl::Time()> AsFunction() const {
    return [this] { return Now(); };
  }

 private:
  mutable absl::Mutex mu_;
  absl::Time now_ ABSL_GUARDED_BY(mu_);
};

// "2027-01-15T08:00:00Z" for `t`, as AWS writes expirations.
std::string AwsTimestamp(absl::Time t);

// What a FakeHttpServer handler answers: sent as HTTP/1.1 with
// Content-Type and Content-Length.
struct FakeHttpResponse {
  int status = 200;
  std::string body;
  std::string content_type = "text/plain";
};

inline FakeHttpResponse MakeFakeResponse(int status, std::string body, std::string content_type = "text/plain") {
  return FakeHttpResponse{.status = status, .body = std::move(body), .content_type = std::move(content_type)};
}

// An HTTP/1.1 server with keep-alive that answers every request with
// `handler` (called on the connection's thread: a handler shared by several
// connections locks what it touches).
class FakeHttpServer {
 public:
  using Handler = std::function<FakeHttpResponse(const TestHttpRequest&)>;

  explicit FakeHttpServer(Handler handler);
  ~FakeHttpServer() { Stop(); }
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  // Closes the listener and every connection, and joins the threads.
  void Stop() { server_.Stop(); }

  // Empty if the server is listening; else why it is not.
  const std::string& start_error() const { return server_.start_error(); }
  uint16_t port() const { return server_.port(); }
  std::string url() const { return server_.url(); }
  uint64_t connections_accepted() const { return static_cast<uint64_t>(server_.accepted()); }

 private:
  const Handler handler_;
  TestHttpServer server_;  // last: its threads call handler_
};

// What the fake instance metadata service hands out for its role.
struct FakeImdsCredentials {
  std::string access_key_id = "ASIAFAKEIMDS0000001";
  std::string secret_access_key = "fake/imds/secret/0000000000000000000001";
  std::string token = "fake-imds-session-token-1";
  std::string expiration = "2030-01-01T00:00:00Z";
  std::string code = "Success";
};

// IMDSv2: PUT /latest/api/token (TTL header required, 1..21600) gives a
// token; the metadata paths answer 401 without a valid one.
class FakeImds {
 public:
  FakeImds() : server_([this](const TestHttpRequest& r) { return Handle(r); }) {}

  std::string url() const { return server_.url(); }
  const FakeHttpServer& server() const { return server_; }

  // The attached role; "" means none (the listing answers 404).
  void SetRole(std::string role) {
    absl::MutexLock lock(&mu_);
    role_ = std::move(role);
  }
  void SetCredentials(FakeImdsCredentials credentials) {
    absl::MutexLock lock(&mu_);
    credentials_ = std::move(credentials);
    raw_credentials_body_.clear();
  }
  // Answer the credentials request with exactly this body.
  void SetRawCredentialsBody(std::string body) {
    absl::MutexLock lock(&mu_);
    raw_credentials_body_ = std::move(body);
  }
  // Non-zero: every metadata GET (not the token PUT) answers this status.
  void SetMetadataStatus(int status) {
    absl::MutexLock lock(&mu_);
    metadata_status_ = status;
  }
  // Non-zero: the token PUT answers this status.
  void SetTokenStatus(int status) {
    absl::MutexLock lock(&mu_);
    token_status_ = status;
  }
  // Tokens issued so far stop working (as after their TTL).
  void InvalidateTokens() {
    absl::MutexLock lock(&mu_);
    valid_tokens_.clear();
  }
  // Every token is refused, even fresh ones.
  void RejectAllTokens(bool reject) {
    absl::MutexLock lock(&mu_);
    reject_all_tokens_ = reject;
  }

  uint64_t token_puts() const {
    absl::MutexLock lock(&mu_);
    return token_puts_;
  }
  uint64_t credential_gets() const {
    absl::MutexLock lock(&mu_);
    return credential_gets_;
  }
  uint64_t unauthorized() const {
    absl::MutexLock lock(&mu_);
    return unauthorized_;
  }
  std::string last_token_ttl() const {
    absl::MutexLock lock(&mu_);
    return last_token_ttl_;
  }

 private:
  FakeHttpResponse Handle(const TestHttpRequest& request);

  mutable absl::Mutex mu_;
  std::string role_ ABSL_GUARDED_BY(mu_) = "ingest-writer";
  FakeImdsCredentials credentials_ ABSL_GUARDED_BY(mu_);
  std::string raw_credentials_body_ ABSL_GUARDED_BY(mu_);
  int metadata_status_ ABSL_GUARDED_BY(mu_) = 0;
  int token_status_ ABSL_GUARDED_BY(mu_) = 0;
  bool reject_all_tokens_ ABSL_GUARDED_BY(mu_) = false;
  std::set<std::string> valid_tokens_ ABSL_GUARDED_BY(mu_);
  uint64_t tokens_issued_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t token_puts_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t credential_gets_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t unauthorized_ ABSL_GUARDED_BY(mu_) = 0;
  std::string last_token_ttl_ ABSL_GUARDED_BY(mu_);
  // Last: stopped (its threads joined) before the state above goes away.
  FakeHttpServer server_;
};

// One request as the fake STS received it.
struct FakeStsRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;
  std::map<std::string, std::string> params;  // the form body, decoded

  std::string Header(std::string_view name) const;
};

// Decodes application/x-www-form-urlencoded ('+' is a space, %XX a byte).
std::map<std::string, std::string> DecodeFakeForm(std::string_view body);

// STS: POST / with an AssumeRole form; answers AssumeRoleResponse XML with
// the configured credentials, or the configured error.
class FakeSts {
 public:
  FakeSts() : server_([this](const TestHttpRequest& r) { return Handle(r); }) {}

  std::string url() const { return server_.url(); }
  const FakeHttpServer& server() const { return server_; }

  void SetCredentials(AwsCredentials credentials, std::string expiration) {
    absl::MutexLock lock(&mu_);
    credentials_ = std::move(credentials);
    expiration_ = std::move(expiration);
  }
  // Answer every request with this status and an STS ErrorResponse; status
  // 0 goes back to answering with credentials.
  void SetError(int status, std::string code, std::string message) {
    absl::MutexLock lock(&mu_);
    error_status_ = status;
    error_code_ = std::move(code);
    error_message_ = std::move(message);
    raw_status_ = 0;
  }
  // Answer every request with exactly this; status 0 turns it off.
  void SetRawResponse(int status, std::string body) {
    absl::MutexLock lock(&mu_);
    raw_status_ = status;
    raw_body_ = std::move(body);
  }

  std::vector<FakeStsRequest> requests() const {
    absl::MutexLock lock(&mu_);
    return requests_;
  }

 private:
  FakeHttpResponse Handle(const TestHttpRequest& request);

  mutable absl::Mutex mu_;
  AwsCredentials credentials_ ABSL_GUARDED_BY(mu_){.access_key_id = "ASIAFAKESTS00000001",
                                                   .secret_access_key = "fake/sts/secret/01",
                                                   .session_token = "fake-sts-session-token-1"};
  std::string expiration_ ABSL_GUARDED_BY(mu_) = "2030-01-01T00:00:00Z";
  int error_status_ ABSL_GUARDED_BY(mu_) = 0;
  std::string error_code_ ABSL_GUARDED_BY(mu_);
  std::string error_message_ ABSL_GUARDED_BY(mu_);
  int raw_status_ ABSL_GUARDED_BY(mu_) = 0;
  std::string raw_body_ ABSL_GUARDED_BY(mu_);
  std::vector<FakeStsRequest> requests_ ABSL_GUARDED_BY(mu_);
  FakeHttpServer server_;  // last: stopped before the state above goes away
};

// Checks that `request` carries a SigV4 signature made with `base` for STS
// in `region`: the Credential= access key and scope, the signed header list,
// x-amz-security-token when `base` has a session token, and the signature
// itself, recomputed with our signer over what was
// received (so a body or header changed after signing is caught).
absl::Status VerifyStsSignature(const FakeStsRequest& request, const AwsCredentials& base, std::string_view region);

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_FAKE_AWS_ENDPOINTS_H_
