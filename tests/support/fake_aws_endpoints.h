// Test support: small in-process HTTP servers that stand in for the AWS
// endpoints the credential providers talk to — the EC2 instance metadata
// service (IMDSv2) and STS AssumeRole. Each listens on 127.0.0.1 on a free
// port, serves from its own thread with Boost.Beast, records what it saw,
// and stops when the object goes away. Header-only.
//
//   FakeImds imds;
//   imds.SetCredentials({.expiration = "2030-01-01T00:00:00Z"});
//   auto provider = InstanceMetadataCredentialsProvider::Create({.endpoint = imds.url()});
//   FakeSts sts;
//   ... AssumeRoleCredentialsProvider::Create(base, {.sts_endpoint = sts.url(), ...}) ...
//   EXPECT_TRUE(VerifyStsSignature(sts.requests().back(), base_credentials, "us-east-1").ok());
#ifndef TESTS_SUPPORT_FAKE_AWS_ENDPOINTS_H_
#define TESTS_SUPPORT_FAKE_AWS_ENDPOINTS_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "boost/asio/ip/tcp.hpp"
#include "boost/asio/post.hpp"
#include "boost/beast/core.hpp"
#include "boost/beast/http.hpp"
#include "server/s3/aws_credentials.h"
#include "server/s3/sigv4.h"

namespace ingest::testing {

namespace fake_http {
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace asio = boost::asio;
using tcp = boost::asio::ip::tcp;
}  // namespace fake_http

using FakeHttpRequest = boost::beast::http::request<boost::beast::http::string_body>;
using FakeHttpResponse = boost::beast::http::response<boost::beast::http::string_body>;

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
inline std::string AwsTimestamp(absl::Time t) {
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone());
}

// An HTTP/1.1 server with keep-alive that answers every request with
// `handler` (called on the server's one thread, so handlers need no locking
// among themselves). Requests over 1 MiB or idle for 10 s end the connection.
class FakeHttpServer {
 public:
  using Handler = std::function<FakeHttpResponse(const FakeHttpRequest&)>;

  explicit FakeHttpServer(Handler handler) : handler_(std::move(handler)) {
    using namespace fake_http;
    beast::error_code ec;
    const tcp::endpoint loopback(asio::ip::make_address_v4("127.0.0.1"), 0);
    acceptor_.open(loopback.protocol(), ec);
    if (!ec) acceptor_.set_option(asio::socket_base::reuse_address(true), ec);
    if (!ec) acceptor_.bind(loopback, ec);
    if (!ec) acceptor_.listen(asio::socket_base::max_listen_connections, ec);
    if (!ec) port_ = acceptor_.local_endpoint(ec).port();
    if (ec) {
      start_error_ = ec.message();
      return;
    }
    Accept();
    thread_ = std::thread([this] { io_.run(); });
  }

  ~FakeHttpServer() { Stop(); }
  FakeHttpServer(const FakeHttpServer&) = delete;
  FakeHttpServer& operator=(const FakeHttpServer&) = delete;

  // Closes the listener and every connection, and joins the thread.
  void Stop() {
    if (!thread_.joinable()) return;
    fake_http::asio::post(io_, [this] {
      fake_http::beast::error_code ignored;
      acceptor_.close(ignored);
      for (const std::weak_ptr<Session>& weak : sessions_) {
        if (std::shared_ptr<Session> session = weak.lock()) session->Close();
      }
      sessions_.clear();
    });
    thread_.join();
  }

  // Empty if the server is listening; else why it is not.
  const std::string& start_error() const { return start_error_; }
  uint16_t port() const { return port_; }
  std::string url() const { return absl::StrCat("http://127.0.0.1:", port_); }
  uint64_t connections_accepted() const { return connections_.load(); }

 private:
  class Session : public std::enable_shared_from_this<Session> {
   public:
    Session(fake_http::tcp::socket socket, const Handler& handler)
        : stream_(std::move(socket)), handler_(handler) {}

    void Read() {
      using namespace fake_http;
      parser_.emplace();
      parser_->body_limit(1 << 20);
      stream_.expires_after(std::chrono::seconds(10));
      http::async_read(stream_, buffer_, *parser_,
                       [self = shared_from_this()](beast::error_code ec, size_t) {
                         if (ec) return self->Close();
                         self->Answer();
                       });
    }

    void Close() {
      fake_http::beast::error_code ignored;
      stream_.socket().shutdown(fake_http::tcp::socket::shutdown_both, ignored);
      stream_.close();
    }

   private:
    void Answer() {
      using namespace fake_http;
      FakeHttpRequest request = parser_->release();
      response_ = handler_(request);
      response_.version(11);
      response_.keep_alive(request.keep_alive());
      response_.prepare_payload();
      http::async_write(stream_, response_,
                        [self = shared_from_this()](beast::error_code ec, size_t) {
                          if (ec || !self->response_.keep_alive()) return self->Close();
                          self->Read();
                        });
    }

    fake_http::beast::tcp_stream stream_;
    fake_http::beast::flat_buffer buffer_;
    std::optional<fake_http::http::request_parser<fake_http::http::string_body>> parser_;
    FakeHttpResponse response_;
    const Handler& handler_;
  };

  void Accept() {
    acceptor_.async_accept([this](fake_http::beast::error_code ec, fake_http::tcp::socket socket) {
      if (ec) return;  // closed by Stop()
      connections_.fetch_add(1);
      auto session = std::make_shared<Session>(std::move(socket), handler_);
      sessions_.push_back(session);
      session->Read();
      Accept();
    });
  }

  const Handler handler_;
  fake_http::asio::io_context io_{1};
  fake_http::tcp::acceptor acceptor_{io_};
  std::vector<std::weak_ptr<Session>> sessions_;  // the server thread's only
  std::thread thread_;
  std::string start_error_;
  uint16_t port_ = 0;
  std::atomic<uint64_t> connections_{0};
};

inline FakeHttpResponse MakeFakeResponse(int status, std::string body,
                                         std::string content_type = "text/plain") {
  FakeHttpResponse response;
  response.result(static_cast<unsigned>(status));
  response.set(boost::beast::http::field::content_type, content_type);
  response.body() = std::move(body);
  return response;
}

inline std::string FakeHeader(const FakeHttpRequest& request, std::string_view name) {
  auto it = request.find(boost::beast::string_view(name.data(), name.size()));
  return it == request.end() ? std::string() : std::string(it->value());
}

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
  FakeImds() : server_([this](const FakeHttpRequest& r) { return Handle(r); }) {}

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
  static constexpr std::string_view kCredentialsPath =
      "/latest/meta-data/iam/security-credentials/";

  FakeHttpResponse Handle(const FakeHttpRequest& request) {
    namespace http = fake_http::http;
    absl::MutexLock lock(&mu_);
    const std::string target(request.target());
    if (target == "/latest/api/token") {
      if (request.method() != http::verb::put) return MakeFakeResponse(405, "");
      ++token_puts_;
      last_token_ttl_ = FakeHeader(request, "X-aws-ec2-metadata-token-ttl-seconds");
      int ttl = 0;
      if (!absl::SimpleAtoi(last_token_ttl_, &ttl) || ttl < 1 || ttl > 21600) {
        return MakeFakeResponse(400, "bad ttl");
      }
      if (token_status_ != 0) return MakeFakeResponse(token_status_, "");
      std::string token = absl::StrCat("fake-imds-token-", ++tokens_issued_);
      valid_tokens_.insert(token);
      return MakeFakeResponse(200, token);
    }
    if (target.rfind(kCredentialsPath, 0) != 0) return MakeFakeResponse(404, "");
    if (request.method() != http::verb::get) return MakeFakeResponse(405, "");
    const std::string token = FakeHeader(request, "X-aws-ec2-metadata-token");
    if (reject_all_tokens_ || valid_tokens_.count(token) == 0) {
      ++unauthorized_;
      return MakeFakeResponse(401, "");
    }
    if (metadata_status_ != 0) return MakeFakeResponse(metadata_status_, "");
    const std::string role = target.substr(kCredentialsPath.size());
    if (role.empty()) {
      if (role_.empty()) return MakeFakeResponse(404, "");
      return MakeFakeResponse(200, role_ + "\n");
    }
    if (role != role_) return MakeFakeResponse(404, "");
    ++credential_gets_;
    if (!raw_credentials_body_.empty()) return MakeFakeResponse(200, raw_credentials_body_);
    const FakeImdsCredentials& c = credentials_;
    return MakeFakeResponse(200,
                            absl::StrCat("{\n  \"Code\" : \"", c.code,
                                         "\",\n  \"LastUpdated\" : \"2026-01-01T00:00:00Z\",\n"
                                         "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"",
                                         c.access_key_id, "\",\n  \"SecretAccessKey\" : \"",
                                         c.secret_access_key, "\",\n  \"Token\" : \"", c.token,
                                         "\",\n  \"Expiration\" : \"", c.expiration, "\"\n}"),
                            "application/json");
  }

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
  // Last: stopped (its thread joined) before the state above goes away.
  FakeHttpServer server_;
};

// One request as the fake STS received it.
struct FakeStsRequest {
  std::string method;
  std::string target;
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent
  std::string body;
  std::map<std::string, std::string> params;  // the form body, decoded

  std::string Header(std::string_view name) const {
    for (const auto& [k, v] : headers) {
      if (absl::EqualsIgnoreCase(k, absl::string_view(name.data(), name.size()))) return v;
    }
    return {};
  }
};

// Decodes application/x-www-form-urlencoded ('+' is a space, %XX a byte).
inline std::map<std::string, std::string> DecodeFakeForm(std::string_view body) {
  auto decode = [](std::string_view s) {
    std::string out;
    for (size_t i = 0; i < s.size(); ++i) {
      if (s[i] == '+') {
        out.push_back(' ');
      } else if (s[i] == '%' && i + 2 < s.size()) {
        int value = 0;
        if (absl::SimpleHexAtoi(absl::string_view(s.data() + i + 1, 2), &value)) {
          out.push_back(static_cast<char>(value));
          i += 2;
        } else {
          out.push_back('%');
        }
      } else {
        out.push_back(s[i]);
      }
    }
    return out;
  };
  std::map<std::string, std::string> params;
  for (absl::string_view pair :
       absl::StrSplit(absl::string_view(body.data(), body.size()), '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    std::string_view p(pair.data(), pair.size());
    params[decode(p.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(p.substr(eq + 1));
  }
  return params;
}

// STS: POST / with an AssumeRole form; answers AssumeRoleResponse XML with
// the configured credentials, or the configured error.
class FakeSts {
 public:
  FakeSts() : server_([this](const FakeHttpRequest& r) { return Handle(r); }) {}

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
  FakeHttpResponse Handle(const FakeHttpRequest& request) {
    absl::MutexLock lock(&mu_);
    FakeStsRequest seen;
    seen.method = std::string(request.method_string());
    seen.target = std::string(request.target());
    for (const auto& field : request.base()) {
      seen.headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    seen.body = request.body();
    seen.params = DecodeFakeForm(seen.body);
    requests_.push_back(seen);

    if (raw_status_ != 0) return MakeFakeResponse(raw_status_, raw_body_, "text/xml");
    if (error_status_ != 0) return ErrorResponse(error_status_, error_code_, error_message_);
    if (seen.method != "POST" || seen.target != "/") {
      return ErrorResponse(400, "InvalidAction", "expected POST /");
    }
    if (seen.params["Action"] != "AssumeRole" || seen.params["Version"] != "2011-06-15") {
      return ErrorResponse(400, "InvalidAction", "expected Action=AssumeRole, Version=2011-06-15");
    }
    if (seen.params["RoleArn"].empty() || seen.params["RoleSessionName"].empty()) {
      return ErrorResponse(400, "ValidationError", "RoleArn and RoleSessionName are required");
    }
    if (seen.Header("Authorization").rfind("AWS4-HMAC-SHA256 Credential=", 0) != 0) {
      return ErrorResponse(400, "MissingAuthenticationToken",
                           "Request is missing Authentication Token");
    }
    return MakeFakeResponse(
        200,
        absl::StrCat(
            "<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
            "  <AssumeRoleResult>\n"
            "    <SourceIdentity>ingest</SourceIdentity>\n"
            "    <AssumedRoleUser>\n"
            "      <Arn>",
            seen.params["RoleArn"], "/", seen.params["RoleSessionName"],
            "</Arn>\n"
            "      <AssumedRoleId>AROAFAKE:",
            seen.params["RoleSessionName"],
            "</AssumedRoleId>\n"
            "    </AssumedRoleUser>\n"
            "    <Credentials>\n"
            "      <AccessKeyId>",
            credentials_.access_key_id, "</AccessKeyId>\n      <SecretAccessKey>",
            credentials_.secret_access_key, "</SecretAccessKey>\n      <SessionToken>",
            credentials_.session_token, "</SessionToken>\n      <Expiration>", expiration_,
            "</Expiration>\n"
            "    </Credentials>\n"
            "    <PackedPolicySize>6</PackedPolicySize>\n"
            "  </AssumeRoleResult>\n"
            "  <ResponseMetadata><RequestId>c6104cbe-af31-11e0-8154-cbc7ccf896c7</RequestId>"
            "</ResponseMetadata>\n"
            "</AssumeRoleResponse>\n"),
        "text/xml");
  }

  static FakeHttpResponse ErrorResponse(int status, const std::string& code,
                                        const std::string& message) {
    return MakeFakeResponse(
        status,
        absl::StrCat("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                     "  <Error>\n    <Type>Sender</Type>\n    <Code>",
                     code, "</Code>\n    <Message>", message,
                     "</Message>\n  </Error>\n  <RequestId>4d1e9a7f-0000</RequestId>\n"
                     "</ErrorResponse>\n"),
        "text/xml");
  }

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
inline absl::Status VerifyStsSignature(const FakeStsRequest& request, const AwsCredentials& base,
                                       std::string_view region) {
  const std::string authorization = request.Header("Authorization");
  const std::string amz_date = request.Header("x-amz-date");
  const std::string prefix = "AWS4-HMAC-SHA256 Credential=";
  if (authorization.rfind(prefix, 0) != 0) {
    return absl::UnauthenticatedError(absl::StrCat("not SigV4: ", authorization));
  }
  if (amz_date.size() != 16) return absl::InvalidArgumentError("no x-amz-date");
  const std::string scope = absl::StrCat(base.access_key_id, "/", amz_date.substr(0, 8), "/",
                                         std::string(region), "/sts/aws4_request");
  if (authorization.compare(prefix.size(), scope.size(), scope) != 0) {
    return absl::UnauthenticatedError(
        absl::StrCat("Credential= is not ", scope, ": ", authorization));
  }
  const size_t signed_at = authorization.find("SignedHeaders=");
  if (signed_at == std::string::npos) return absl::InvalidArgumentError("no SignedHeaders=");
  const size_t signed_end = authorization.find(',', signed_at);
  const std::string signed_list = authorization.substr(signed_at + 14, signed_end - signed_at - 14);
  std::vector<std::string> signed_names = absl::StrSplit(signed_list, ';');
  std::set<std::string> required = {"host", "x-amz-date", "content-type"};
  if (!base.session_token.empty()) required.insert("x-amz-security-token");
  for (const std::string& name : required) {
    if (std::find(signed_names.begin(), signed_names.end(), name) == signed_names.end()) {
      return absl::UnauthenticatedError(absl::StrCat(name, " is not signed: ", signed_list));
    }
  }
  if (request.Header("x-amz-security-token") != base.session_token) {
    return absl::UnauthenticatedError("x-amz-security-token is not the base session token");
  }
  // Only S3 sends the payload hash as a header; when it is there it must match.
  const std::string content_sha256 = request.Header("x-amz-content-sha256");
  if (!content_sha256.empty() && content_sha256 != Sha256Hex(request.body)) {
    return absl::UnauthenticatedError("x-amz-content-sha256 is not the body's hash");
  }

  SigV4Request again;
  again.method = request.method;
  again.host = request.Header("host");
  again.path = request.target;
  again.payload_sha256 = Sha256Hex(request.body);
  for (const std::string& name : signed_names) {
    if (name == "host" || name == "x-amz-date" || name == "x-amz-content-sha256" ||
        name == "x-amz-security-token") {
      continue;
    }
    again.headers.emplace_back(name, request.Header(name));
  }
  absl::Time signed_time;
  std::string error;
  // absl's %Y takes every digit it sees, so rebuild the basic ISO 8601 form
  // as the extended one before parsing.
  const std::string extended =
      absl::StrCat(amz_date.substr(0, 4), "-", amz_date.substr(4, 2), "-", amz_date.substr(6, 5),
                   ":", amz_date.substr(11, 2), ":", amz_date.substr(13, 3));
  if (!absl::ParseTime(absl::RFC3339_full, extended, &signed_time, &error)) {
    return absl::InvalidArgumentError(absl::StrCat("bad x-amz-date: ", amz_date));
  }
  SignedHeaders expected = SignRequest(
      again, base, SigV4Scope{.region = std::string(region), .service = "sts"}, signed_time);
  for (const auto& [name, value] : expected.headers) {
    if (name == "authorization" && value != authorization) {
      return absl::UnauthenticatedError(absl::StrCat("signature mismatch: got ", authorization,
                                                     ", expected ", value, "; canonical request:\n",
                                                     expected.canonical_request));
    }
  }
  return absl::OkStatus();
}

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_FAKE_AWS_ENDPOINTS_H_
