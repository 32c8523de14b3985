#include "tests/support/fake_aws_endpoints.h"

#include <algorithm>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "server/s3/sigv4.h"

namespace ingest::testing {
namespace {

constexpr std::string_view kCredentialsPath = "/latest/meta-data/iam/security-credentials/";

const char* ReasonPhrase(int status) {
  switch (status) {
    case 200:
      return "OK";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 500:
      return "Internal Server Error";
    case 503:
      return "Service Unavailable";
    default:
      return "Status";
  }
}

FakeHttpResponse StsErrorResponse(int status, const std::string& code, const std::string& message) {
  return MakeFakeResponse(status,
                          absl::StrCat("<ErrorResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
                                       "  <Error>\n    <Type>Sender</Type>\n    <Code>",
                                       code, "</Code>\n    <Message>", message,
                                       "</Message>\n  </Error>\n  <RequestId>4d1e9a7f-0000</RequestId>\n"
                                       "</ErrorResponse>\n"),
                          "text/xml");
}

}  // namespace

std::string AwsTimestamp(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()); }

FakeHttpServer::FakeHttpServer(Handler handler)
    : handler_(std::move(handler)), server_([this](ServerConnection& c) {
        TestHttpRequest request;
        while (c.ReadRequest(&request)) {
          const FakeHttpResponse response = handler_(request);
          const std::string raw =
              absl::StrCat("HTTP/1.1 ", response.status, " ", ReasonPhrase(response.status),
                           "\r\nContent-Type: ", response.content_type, "\r\nContent-Length: ", response.body.size(),
                           request.keep_alive ? "" : "\r\nConnection: close", "\r\n\r\n", response.body);
          if (!c.Write(raw) || !request.keep_alive) break;
        }
        c.HangUp();
      }) {}

FakeHttpResponse FakeImds::Handle(const TestHttpRequest& request) {
  absl::MutexLock lock(&mu_);
  const std::string& target = request.target;
  if (target == "/latest/api/token") {
    if (request.method != "PUT") return MakeFakeResponse(405, "");
    ++token_puts_;
    last_token_ttl_ = request.Header("X-aws-ec2-metadata-token-ttl-seconds");
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
  if (request.method != "GET") return MakeFakeResponse(405, "");
  const std::string token = request.Header("X-aws-ec2-metadata-token");
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
  return MakeFakeResponse(
      200,
      absl::StrCat("{\n  \"Code\" : \"", c.code,
                   "\",\n  \"LastUpdated\" : \"2026-01-01T00:00:00Z\",\n"
                   "  \"Type\" : \"AWS-HMAC\",\n  \"AccessKeyId\" : \"",
                   c.access_key_id, "\",\n  \"SecretAccessKey\" : \"", c.secret_access_key, "\",\n  \"Token\" : \"",
                   c.token, "\",\n  \"Expiration\" : \"", c.expiration, "\"\n}"),
      "application/json");
}

std::string FakeStsRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, absl::string_view(name.data(), name.size()))) return v;
  }
  return {};
}

std::map<std::string, std::string> DecodeFakeForm(std::string_view body) {
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
  for (absl::string_view pair : absl::StrSplit(absl::string_view(body.data(), body.size()), '&', absl::SkipEmpty())) {
    const size_t eq = pair.find('=');
    std::string_view p(pair.data(), pair.size());
    params[decode(p.substr(0, eq))] = eq == std::string_view::npos ? "" : decode(p.substr(eq + 1));
  }
  return params;
}

FakeHttpResponse FakeSts::Handle(const TestHttpRequest& request) {
  absl::MutexLock lock(&mu_);
  FakeStsRequest seen{.method = request.method,
                      .target = request.target,
                      .headers = request.headers,
                      .body = request.body,
                      .params = DecodeFakeForm(request.body)};
  requests_.push_back(seen);

  if (raw_status_ != 0) return MakeFakeResponse(raw_status_, raw_body_, "text/xml");
  if (error_status_ != 0) return StsErrorResponse(error_status_, error_code_, error_message_);
  if (seen.method != "POST" || seen.target != "/") {
    return StsErrorResponse(400, "InvalidAction", "expected POST /");
  }
  if (seen.params["Action"] != "AssumeRole" || seen.params["Version"] != "2011-06-15") {
    return StsErrorResponse(400, "InvalidAction", "expected Action=AssumeRole, Version=2011-06-15");
  }
  if (seen.params["RoleArn"].empty() || seen.params["RoleSessionName"].empty()) {
    return StsErrorResponse(400, "ValidationError", "RoleArn and RoleSessionName are required");
  }
  if (seen.Header("Authorization").rfind("AWS4-HMAC-SHA256 Credential=", 0) != 0) {
    return StsErrorResponse(400, "MissingAuthenticationToken", "Request is missing Authentication Token");
  }
  return MakeFakeResponse(200,
                          absl::StrCat("<AssumeRoleResponse xmlns=\"https://sts.amazonaws.com/doc/2011-06-15/\">\n"
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

absl::Status VerifyStsSignature(const FakeStsRequest& request, const AwsCredentials& base, std::string_view region) {
  const std::string authorization = request.Header("Authorization");
  const std::string amz_date = request.Header("x-amz-date");
  const std::string prefix = "AWS4-HMAC-SHA256 Credential=";
  if (authorization.rfind(prefix, 0) != 0) {
    return absl::UnauthenticatedError(absl::StrCat("not SigV4: ", authorization));
  }
  if (amz_date.size() != 16) return absl::InvalidArgumentError("no x-amz-date");
  const std::string scope =
      absl::StrCat(base.access_key_id, "/", amz_date.substr(0, 8), "/", std::string(region), "/sts/aws4_request");
  if (authorization.compare(prefix.size(), scope.size(), scope) != 0) {
    return absl::UnauthenticatedError(absl::StrCat("Credential= is not ", scope, ": ", authorization));
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
    if (name == "host" || name == "x-amz-date" || name == "x-amz-content-sha256" || name == "x-amz-security-token") {
      continue;
    }
    again.headers.emplace_back(name, request.Header(name));
  }
  absl::Time signed_time;
  std::string error;
  // absl's %Y takes every digit it sees, so rebuild the basic ISO 8601 form
  // as the extended one before parsing.
  const std::string extended =
      absl::StrCat(amz_date.substr(0, 4), "-", amz_date.substr(4, 2), "-", amz_date.substr(6, 5), ":",
                   amz_date.substr(11, 2), ":", amz_date.substr(13, 3));
  if (!absl::ParseTime(absl::RFC3339_full, extended, &signed_time, &error)) {
    return absl::InvalidArgumentError(absl::StrCat("bad x-amz-date: ", amz_date));
  }
  SignedHeaders expected =
      SignRequest(again, base, SigV4Scope{.region = std::string(region), .service = "sts"}, signed_time);
  for (const auto& [name, value] : expected.headers) {
    if (name == "authorization" && value != authorization) {
      return absl::UnauthenticatedError(absl::StrCat("signature mismatch: got ", authorization, ", expected ", value,
                                                     "; canonical request:\n", expected.canonical_request));
    }
  }
  return absl::OkStatus();
}

}  // namespace ingest::testing
