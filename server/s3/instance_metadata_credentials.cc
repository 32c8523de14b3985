#include "server/s3/instance_metadata_credentials.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/json_value.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"

namespace ingest {
namespace {

constexpr std::string_view kTokenTarget = "/latest/api/token";
constexpr std::string_view kCredentialsTarget = "/latest/meta-data/iam/security-credentials/";
constexpr size_t kMaxTokenBytes = 4096;
constexpr size_t kMaxRoleNameBytes = 128;  // IAM allows 64
constexpr size_t kMaxQuotedMessageBytes = 200;
// An answer is a flat object of a dozen short strings.
constexpr JsonLimits kImdsJsonLimits = {.max_bytes = 64 << 10, .max_depth = 16, .max_values = 1024};

bool IsRoleNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '+' ||
         c == '=' || c == ',' || c == '.' || c == '@' || c == '_' || c == '-';
}

std::string_view TrimLine(std::string_view s) {
  while (!s.empty() &&
         (s.front() == ' ' || s.front() == '\t' || s.front() == '\r' || s.front() == '\n')) {
    s.remove_prefix(1);
  }
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\r' || s.back() == '\n')) {
    s.remove_suffix(1);
  }
  return s;
}

// A short, printable excerpt of text from the service, for error messages.
std::string Quote(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxQuotedMessageBytes)) {
    out.push_back(c >= ' ' && c <= '~' ? c : '?');
  }
  if (text.size() > kMaxQuotedMessageBytes) out += "...";
  return out;
}

// Statuses IMDS answers with and what they mean to a caller.
absl::Status UnexpectedStatus(std::string_view what, const HttpResponse& response) {
  std::string message = absl::StrCat(ToAbsl(what), " answered HTTP ", response.status);
  if (response.status >= 500) return absl::UnavailableError(message);
  if (response.status == 403) return absl::PermissionDeniedError(message);
  return absl::UnavailableError(message);
}

// A bodiless request with one header.
HttpRequest Request(std::string method, std::string target, std::string header, std::string value) {
  HttpRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.headers.emplace_back(std::move(header), std::move(value));
  return request;
}

}  // namespace

absl::StatusOr<std::string> ParseImdsToken(std::string_view body) {
  const std::string_view token = TrimLine(body);
  absl::Status valid = CheckCredentialText("the session token", token, kMaxTokenBytes);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("token answer: ", valid.message()));
  }
  return std::string(token);
}

absl::StatusOr<std::string> ParseImdsRoleName(std::string_view body) {
  std::string_view role = TrimLine(body);
  role = TrimLine(role.substr(0, role.find('\n')));
  if (role.empty() || role.size() > kMaxRoleNameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("the role listing holds no valid role name (", role.size(), " bytes)"));
  }
  for (char c : role) {
    if (!IsRoleNameChar(c)) {
      return absl::InvalidArgumentError(
          absl::StrCat("the role listing holds no valid role name: \"", Quote(role), "\""));
    }
  }
  return std::string(role);
}

absl::StatusOr<AwsCredentials> ParseImdsCredentials(const std::string& role_name, std::string_view body) {
  absl::StatusOr<JsonValue> json = ParseJson(body, kImdsJsonLimits);
  if (!json.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("credentials for role ", role_name, ": malformed JSON: ", json.status().message()));
  }
  if (!json->is_object()) {
    return absl::InvalidArgumentError(absl::StrCat("credentials for role ", role_name,
                                                   ": expected a JSON object, got ", JsonTypeName(json->type())));
  }
  const JsonValue* code_value = json->Find("Code");
  if (code_value != nullptr && !code_value->is_string()) {
    return absl::InvalidArgumentError(absl::StrCat("credentials for role ", role_name, ": Code is ",
                                                   JsonTypeName(code_value->type()), ", not a string"));
  }
  if (const std::string* code = json->FindString("Code"); code != nullptr && *code != "Success") {
    const std::string* message = json->FindString("Message");
    return absl::UnavailableError(absl::StrCat(
        "credentials for role ", role_name, " not available: Code \"", Quote(*code), "\"",
        message != nullptr ? absl::StrCat(", Message \"", Quote(*message), "\"") : ""));
  }
  AwsCredentials credentials;
  for (auto [name, field] : {std::pair{"AccessKeyId", &credentials.access_key_id},
                             std::pair{"SecretAccessKey", &credentials.secret_access_key},
                             std::pair{"Token", &credentials.session_token}}) {
    const std::string* value = json->FindString(name);
    if (value == nullptr) {
      return absl::InvalidArgumentError(
          absl::StrCat("credentials for role ", role_name, " lack ", name, " (a string)"));
    }
    *field = *value;
  }
  const std::string* expiration = json->FindString("Expiration");
  if (expiration == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat("credentials for role ", role_name, " lack Expiration (a string)"));
  }
  absl::StatusOr<absl::Time> expires = ParseAwsTimestamp(*expiration);
  if (!expires.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("credentials for role ", role_name,
                                                   ": Expiration: ", expires.status().message()));
  }
  credentials.expiration = *expires;
  if (credentials.session_token.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("credentials for role ", role_name, " have an empty Token"));
  }
  RETURN_IF_ERROR(CheckCredentials(absl::StrCat("credentials for role ", role_name), credentials));
  return credentials;
}

absl::StatusOr<std::unique_ptr<InstanceMetadataCredentialsProvider>>
InstanceMetadataCredentialsProvider::Create(InstanceMetadataOptions options) {
  absl::StatusOr<HttpEndpoint> endpoint = ParseHttpEndpoint(options.endpoint);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("instance metadata endpoint \"",
                                                   Quote(options.endpoint),
                                                   "\": ", endpoint.status().message()));
  }
  if (options.token_ttl < absl::Seconds(1) || options.token_ttl > absl::Hours(6)) {
    return absl::InvalidArgumentError(
        absl::StrCat("instance metadata token TTL must be 1 s .. 6 h, got ",
                     absl::FormatDuration(options.token_ttl)));
  }
  if (options.refresh_before_expiry < absl::ZeroDuration() ||
      options.connect_timeout <= absl::ZeroDuration() ||
      options.io_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(
        "instance metadata timeouts must be positive and refresh_before_expiry not negative");
  }
  return std::unique_ptr<InstanceMetadataCredentialsProvider>(
      new InstanceMetadataCredentialsProvider(std::move(options), *std::move(endpoint)));
}

InstanceMetadataCredentialsProvider::InstanceMetadataCredentialsProvider(
    InstanceMetadataOptions options, HttpEndpoint endpoint)
    : options_(std::move(options)),
      clock_(options_.clock ? options_.clock : CredentialsClock([] { return absl::Now(); })),
      client_(std::move(endpoint), HttpClientOptions{.max_idle_connections = 1,
                                                     .connect_timeout = options_.connect_timeout,
                                                     .io_timeout = options_.io_timeout,
                                                     .max_response_header_bytes = 16 << 10,
                                                     .max_response_body_bytes = 64 << 10,
                                                     .ca_file = ""}),
      cache_(
          "instance metadata",
          [this]() -> absl::StatusOr<AwsCredentials> {
            absl::StatusOr<AwsCredentials> credentials = Fetch();
            if (!credentials.ok()) return Context(credentials.status());
            return credentials;
          },
          clock_, RefreshPolicy{.refresh_before_expiry = options_.refresh_before_expiry}) {}

InstanceMetadataCredentialsProvider::~InstanceMetadataCredentialsProvider() = default;

absl::StatusOr<AwsCredentials> InstanceMetadataCredentialsProvider::Get() { return cache_.Get(); }

std::string InstanceMetadataCredentialsProvider::Describe() const {
  absl::MutexLock lock(&mu_);
  if (role_.empty()) return absl::StrCat("instance metadata (", options_.endpoint, ")");
  return absl::StrCat("instance metadata role ", role_);
}

uint64_t InstanceMetadataCredentialsProvider::token_fetches() const {
  return token_fetches_.load(std::memory_order_relaxed);
}

absl::Status InstanceMetadataCredentialsProvider::Context(const absl::Status& status) const {
  return absl::Status(status.code(), absl::StrCat("instance metadata (", options_.endpoint,
                                                  "): ", status.message()));
}

absl::Status InstanceMetadataCredentialsProvider::FetchToken() {
  const int64_t ttl_seconds = absl::ToInt64Seconds(options_.token_ttl);
  HttpRequest request = Request("PUT", std::string(kTokenTarget),
                                "X-aws-ec2-metadata-token-ttl-seconds", absl::StrCat(ttl_seconds));
  const absl::Time sent = clock_();
  ASSIGN_OR_RETURN(HttpResponse response, client_.Send(request));
  token_fetches_.fetch_add(1, std::memory_order_relaxed);
  if (response.status != 200) return UnexpectedStatus("the token request", response);
  ASSIGN_OR_RETURN(token_, ParseImdsToken(response.BodyText()));
  // Renew a little early so a token never expires between check and use.
  token_expires_ = sent + options_.token_ttl - options_.token_ttl / 10;
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> InstanceMetadataCredentialsProvider::GetWithToken(
    const std::string& target) {
  for (int attempt = 0;; ++attempt) {
    if (token_.empty() || clock_() >= token_expires_) RETURN_IF_ERROR(FetchToken());
    HttpRequest request = Request("GET", target, "X-aws-ec2-metadata-token", token_);
    ASSIGN_OR_RETURN(HttpResponse response, client_.Send(request));
    if (response.status != 401) return response;
    // The token expired or IMDS restarted: one new token, then give up.
    token_.clear();
    if (attempt > 0) {
      return absl::UnauthenticatedError(
          absl::StrCat("GET ", target, " refused a fresh token (HTTP 401)"));
    }
  }
}

absl::StatusOr<AwsCredentials> InstanceMetadataCredentialsProvider::Fetch() {
  ASSIGN_OR_RETURN(HttpResponse listing, GetWithToken(std::string(kCredentialsTarget)));
  if (listing.status == 404) {
    return absl::NotFoundError("no IAM role is attached to this instance");
  }
  if (listing.status != 200) return UnexpectedStatus("the role listing", listing);
  ASSIGN_OR_RETURN(const std::string role_name, ParseImdsRoleName(listing.BodyText()));

  ASSIGN_OR_RETURN(HttpResponse answer,
                   GetWithToken(absl::StrCat(ToAbsl(kCredentialsTarget), role_name)));
  if (answer.status == 404) {
    return absl::NotFoundError(absl::StrCat("role ", role_name, " has no credentials (HTTP 404)"));
  }
  if (answer.status != 200) {
    return UnexpectedStatus(absl::StrCat("the credentials request for role ", role_name), answer);
  }
  ASSIGN_OR_RETURN(AwsCredentials credentials, ParseImdsCredentials(role_name, answer.BodyText()));
  {
    absl::MutexLock lock(&mu_);
    role_ = role_name;
  }
  return credentials;
}

}  // namespace ingest
