#include "server/s3/assume_role_credentials.h"

#include <cstdint>
#include <optional>
#include <tuple>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/types/span.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "server/s3/retry_policy.h"
#include "server/s3/s3_xml.h"
#include "server/s3/sigv4.h"

namespace ingest {
namespace {

constexpr std::string_view kFormContentType = "application/x-www-form-urlencoded; charset=utf-8";
constexpr size_t kMaxQuotedBytes = 300;
constexpr size_t kMaxStsResponseBytes = 64 << 10;

// A short, printable excerpt of text from STS, for error messages.
std::string Quote(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxQuotedBytes)) out.push_back(c >= ' ' && c <= '~' ? c : '?');
  if (text.size() > kMaxQuotedBytes) out += "...";
  return out;
}

bool IsWordChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
}

// OK if `value` has min..max characters, each a word character or one of
// `extra` (STS's patterns for session names and external ids).
absl::Status CheckPattern(std::string_view what, std::string_view value, size_t min, size_t max,
                          std::string_view extra) {
  bool ok = value.size() >= min && value.size() <= max;
  for (char c : value) ok = ok && (IsWordChar(c) || extra.find(c) != std::string_view::npos);
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat(ToAbsl(what), " \"", Quote(value), "\" must be ", min, "..", max,
                   " characters of letters, digits and _", ToAbsl(extra)));
}

// What we read from an STS answer: the credentials of an AssumeRoleResponse
// or the code and message of an ErrorResponse. The first of each wins.
struct StsAnswer {
  std::optional<std::string> access_key_id;
  std::optional<std::string> secret_access_key;
  std::optional<std::string> session_token;
  std::optional<std::string> expiration;
  std::optional<std::string> error_code;
  std::optional<std::string> error_message;
};

absl::StatusOr<StsAnswer> ParseStsAnswer(std::string_view xml) {
  StsAnswer answer;
  absl::Status status =
      WalkS3Xml(xml, [&](absl::Span<const std::string_view> path, std::string_view text) {
        auto keep = [&](std::optional<std::string>* field) {
          if (!*field) *field = std::string(text);
        };
        const std::string_view name = path.back();
        if (path.size() == 4 && path[0] == "AssumeRoleResponse" && path[1] == "AssumeRoleResult" &&
            path[2] == "Credentials") {
          if (name == "AccessKeyId") keep(&answer.access_key_id);
          if (name == "SecretAccessKey") keep(&answer.secret_access_key);
          if (name == "SessionToken") keep(&answer.session_token);
          if (name == "Expiration") keep(&answer.expiration);
        } else if (path.size() >= 2 && path[path.size() - 2] == "Error") {
          if (name == "Code") keep(&answer.error_code);
          if (name == "Message") keep(&answer.error_message);
        }
        return absl::OkStatus();
      });
  if (!status.ok()) return status;
  return answer;
}

// What an STS error means to our callers.
absl::StatusCode StsErrorCode(int http_status, std::string_view code) {
  if (code == "AccessDenied") return absl::StatusCode::kPermissionDenied;
  if (code == "RegionDisabledException") return absl::StatusCode::kFailedPrecondition;
  if (code == "InvalidClientTokenId" || code == "SignatureDoesNotMatch" || code == "ExpiredToken" ||
      code == "IncompleteSignature" || code == "MissingAuthenticationToken" ||
      code == "UnrecognizedClientException" || code == "InvalidAccessKeyId") {
    return absl::StatusCode::kUnauthenticated;
  }
  if (IsThrottlingErrorCode(code) || code == "ServiceUnavailable" || code == "InternalFailure" ||
      http_status == 429 || http_status >= 500) {
    return absl::StatusCode::kUnavailable;
  }
  if (code == "ValidationError" || code == "MalformedPolicyDocument" ||
      code == "PackedPolicyTooLarge" || code == "InvalidParameterValue") {
    return absl::StatusCode::kInvalidArgument;
  }
  if (http_status == 401 || http_status == 403) return absl::StatusCode::kPermissionDenied;
  return absl::StatusCode::kFailedPrecondition;
}

}  // namespace

absl::StatusOr<AwsCredentials> ParseAssumeRoleResponse(int http_status, std::string_view xml) {
  absl::StatusOr<StsAnswer> answer = ParseStsAnswer(xml);
  if (http_status != 200) {
    // A proxy's HTML error page is not XML; the HTTP status still says enough.
    const std::string code = answer.ok() ? answer->error_code.value_or("") : "";
    std::string what = absl::StrCat("STS answered HTTP ", http_status);
    if (!code.empty()) absl::StrAppend(&what, " ", Quote(code));
    if (answer.ok() && answer->error_message && !answer->error_message->empty()) {
      absl::StrAppend(&what, ": ", Quote(*answer->error_message));
    }
    return absl::Status(StsErrorCode(http_status, code), what);
  }
  if (!answer.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed AssumeRole answer: ", answer.status().message()));
  }

  AwsCredentials credentials;
  absl::Status status;
  for (auto [name, value, field] :
       {std::tuple{"AccessKeyId", &answer->access_key_id, &credentials.access_key_id},
        std::tuple{"SecretAccessKey", &answer->secret_access_key, &credentials.secret_access_key},
        std::tuple{"SessionToken", &answer->session_token, &credentials.session_token}}) {
    if (!*value) {
      status = absl::InvalidArgumentError(absl::StrCat("no Credentials/", name));
      break;
    }
    *field = **value;
  }
  if (status.ok() && !answer->expiration) {
    status = absl::InvalidArgumentError("no Credentials/Expiration");
  }
  if (status.ok()) {
    absl::StatusOr<absl::Time> expires = ParseAwsTimestamp(*answer->expiration);
    if (expires.ok()) {
      credentials.expiration = *expires;
    } else {
      status = expires.status();
    }
  }
  if (status.ok() && credentials.session_token.empty()) {
    status = absl::InvalidArgumentError("empty SessionToken");
  }
  if (status.ok()) status = CheckCredentials("credentials", credentials);
  if (!status.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed AssumeRole answer: ", status.message()));
  }
  return credentials;
}

absl::StatusOr<std::unique_ptr<AssumeRoleCredentialsProvider>>
AssumeRoleCredentialsProvider::Create(std::shared_ptr<CredentialsProvider> base,
                                      AssumeRoleOptions options) {
  if (base == nullptr) return absl::InvalidArgumentError("assume role: no base credentials");
  const std::string_view arn = options.role_arn;
  absl::Status status = CheckCredentialText("role ARN", arn, 2048);
  if (!status.ok() || arn.substr(0, 4) != "arn:" || arn.find(":role/") == std::string_view::npos) {
    return absl::InvalidArgumentError(absl::StrCat(
        "role ARN \"", Quote(arn), "\" is not of the form arn:PARTITION:iam::ACCOUNT:role/NAME"));
  }
  RETURN_IF_ERROR(CheckPattern("role session name", options.role_session_name, 2, 64, "+=,.@-"));
  if (!options.external_id.empty()) {
    RETURN_IF_ERROR(CheckPattern("external id", options.external_id, 2, 1224, "+=,.@:/-"));
  }
  if (options.duration < absl::Minutes(15) || options.duration > absl::Hours(12) ||
      options.duration != absl::Seconds(absl::ToInt64Seconds(options.duration))) {
    return absl::InvalidArgumentError(
        absl::StrCat("role duration must be whole seconds from 15 min to 12 h, got ",
                     absl::FormatDuration(options.duration)));
  }
  if (options.refresh_before_expiry < absl::ZeroDuration() ||
      options.refresh_before_expiry >= options.duration) {
    return absl::InvalidArgumentError(
        "refresh_before_expiry must be at least 0 and shorter than the role duration");
  }
  if (options.connect_timeout <= absl::ZeroDuration() ||
      options.io_timeout <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError("STS timeouts must be positive");
  }
  bool region_ok = !options.sts_region.empty() && options.sts_region.size() <= 64;
  for (char c : options.sts_region) {
    region_ok = region_ok && ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-');
  }
  if (!region_ok) {
    return absl::InvalidArgumentError(
        absl::StrCat("STS region \"", Quote(options.sts_region), "\" is not a region name"));
  }
  if (options.sts_endpoint.empty()) {
    options.sts_endpoint = absl::StrCat("https://sts.", options.sts_region, ".amazonaws.com");
  }
  absl::StatusOr<HttpEndpoint> endpoint = ParseHttpEndpoint(options.sts_endpoint);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("STS endpoint \"", Quote(options.sts_endpoint),
                                                   "\": ", endpoint.status().message()));
  }
  return std::unique_ptr<AssumeRoleCredentialsProvider>(
      new AssumeRoleCredentialsProvider(std::move(base), std::move(options), *std::move(endpoint)));
}

AssumeRoleCredentialsProvider::AssumeRoleCredentialsProvider(
    std::shared_ptr<CredentialsProvider> base, AssumeRoleOptions options, HttpEndpoint endpoint)
    : base_(std::move(base)),
      options_(std::move(options)),
      clock_(options_.clock ? options_.clock : CredentialsClock([] { return absl::Now(); })),
      client_(std::move(endpoint),
              HttpClientOptions{.max_idle_connections = 1,
                                .connect_timeout = options_.connect_timeout,
                                .io_timeout = options_.io_timeout,
                                .max_response_header_bytes = 16 << 10,
                                .max_response_body_bytes = kMaxStsResponseBytes,
                                .ca_file = options_.ca_file}),
      cache_(
          absl::StrCat("assume role ", options_.role_arn),
          [this]() -> absl::StatusOr<AwsCredentials> {
            absl::StatusOr<AwsCredentials> credentials = Fetch();
            if (!credentials.ok()) {
              return absl::Status(credentials.status().code(),
                                  absl::StrCat("assume role ", options_.role_arn, ": ",
                                               credentials.status().message()));
            }
            return credentials;
          },
          clock_, RefreshPolicy{.refresh_before_expiry = options_.refresh_before_expiry}) {}

AssumeRoleCredentialsProvider::~AssumeRoleCredentialsProvider() = default;

absl::StatusOr<AwsCredentials> AssumeRoleCredentialsProvider::Get() { return cache_.Get(); }

std::string AssumeRoleCredentialsProvider::Describe() const {
  return absl::StrCat("assume role ", options_.role_arn, " via ", base_->Describe());
}

absl::StatusOr<AwsCredentials> AssumeRoleCredentialsProvider::Fetch() {
  absl::StatusOr<AwsCredentials> base = base_->Get();
  if (!base.ok()) {
    return absl::Status(base.status().code(),
                        absl::StrCat("base credentials: ", base.status().message()));
  }

  // Parameters in sorted order, values form-encoded (SigV4's encoding is a
  // valid, stricter form of it).
  std::string body =
      absl::StrCat("Action=AssumeRole&DurationSeconds=", absl::ToInt64Seconds(options_.duration));
  if (!options_.external_id.empty()) {
    absl::StrAppend(&body, "&ExternalId=", UriEncode(options_.external_id, false));
  }
  absl::StrAppend(&body, "&RoleArn=", UriEncode(options_.role_arn, false),
                  "&RoleSessionName=", UriEncode(options_.role_session_name, false),
                  "&Version=2011-06-15");

  // Field by field: these structs have members without defaults, which
  // designated initializers would have to spell out. Strings, not literals,
  // are assigned: GCC 12 at -O3 warns -Wrestrict, wrongly (GCC bug 105651),
  // on assigning a short literal to a string.
  SigV4Request to_sign;
  to_sign.method = std::string("POST");
  to_sign.host = client_.endpoint().HostHeader();
  to_sign.path = std::string("/");
  to_sign.headers = {{"content-type", std::string(kFormContentType)}};
  to_sign.payload_sha256 = Sha256Hex(body);
  SignedHeaders signed_headers = SignRequest(
      to_sign, *base, SigV4Scope{.region = options_.sts_region, .service = "sts"}, clock_());
  HttpRequest request;
  request.method = std::string("POST");
  request.target = std::string("/");
  request.headers = to_sign.headers;
  for (auto& header : signed_headers.headers) request.headers.push_back(std::move(header));
  request.body =
      absl::Span<const uint8_t>(reinterpret_cast<const uint8_t*>(body.data()), body.size());
  sts_requests_.fetch_add(1, std::memory_order_relaxed);
  absl::StatusOr<HttpResponse> response = client_.Send(request);
  if (!response.ok()) {
    return absl::Status(
        response.status().code(),
        absl::StrCat("STS ", client_.endpoint().HostHeader(), ": ", response.status().message()));
  }
  return ParseAssumeRoleResponse(response->status, response->BodyText());
}

}  // namespace ingest
