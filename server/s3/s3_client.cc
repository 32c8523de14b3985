#include "server/s3/s3_client.h"

#include <algorithm>
#include <exception>
#include <filesystem>
#include <functional>
#include <system_error>
#include <thread>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/crc32c.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "server/s3/sigv4.h"

namespace ingest {
namespace {

constexpr size_t kMaxKeyBytes = 1024;
constexpr int kMaxParallelism = 64;
constexpr size_t kMaxConnections = 1024;
constexpr uint64_t kMaxGetBytesLimit = 4ull << 30;
// A truncated listing page with no keys can happen (the server stops at its
// own time budget); this many in a row means something is wrong.
constexpr int kMaxEmptyListPages = 16;
// Error text quotes at most this much of an unparsable error body.
constexpr size_t kMaxQuotedBodyBytes = 200;

bool IsAwsHost(std::string_view host) {
  return absl::EndsWith(ToAbsl(host), ".amazonaws.com") ||
         absl::EndsWith(ToAbsl(host), ".amazonaws.com.cn");
}

bool IsRegionChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_';
}

absl::Status ValidateKey(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("empty S3 object key");
  if (key.size() > kMaxKeyBytes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "S3 object key of ", key.size(), " bytes is over the ", kMaxKeyBytes, "-byte limit"));
  }
  return absl::OkStatus();
}

// Printable ASCII only, so an error body cannot inject control characters
// into logs.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxQuotedBodyBytes)) {
    out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
  }
  if (text.size() > kMaxQuotedBodyBytes) out += "...";
  return out;
}

std::string QueryString(std::vector<std::pair<std::string, std::string>> query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [name, value] : query) {
    encoded.emplace_back(UriEncode(name, false), UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [name, value] : encoded) {
    absl::StrAppend(&out, out.empty() ? "?" : "&", name);
    // A valueless parameter ("?uploads") goes on the wire bare, as the AWS
    // SDKs send it; it is signed as "uploads=" either way.
    if (!value.empty()) absl::StrAppend(&out, "=", value);
  }
  return out;
}

// "bytes <first>-<last>/<total or *>"; `total` is nullopt for "*".
bool ParseContentRange(std::string_view header, uint64_t* first, uint64_t* last,
                       std::optional<uint64_t>* total) {
  absl::string_view rest = ToAbsl(header);
  if (!absl::ConsumePrefix(&rest, "bytes ")) return false;
  const size_t dash = rest.find('-');
  const size_t slash = rest.find('/');
  if (dash == rest.npos || slash == rest.npos || slash < dash) return false;
  if (!absl::SimpleAtoi(rest.substr(0, dash), first) ||
      !absl::SimpleAtoi(rest.substr(dash + 1, slash - dash - 1), last) || *first > *last) {
    return false;
  }
  const absl::string_view total_text = rest.substr(slash + 1);
  if (total_text == "*") {
    total->reset();
    return true;
  }
  uint64_t value = 0;
  if (!absl::SimpleAtoi(total_text, &value) || value <= *last) return false;
  *total = value;
  return true;
}

}  // namespace

absl::Status ValidateBucketName(std::string_view bucket) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad S3 bucket name '", Printable(bucket.substr(0, 80)), "': ", std::string(why)));
  };
  if (bucket.size() < 3 || bucket.size() > 63) return bad("must be 3..63 characters");
  for (char c : bucket) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.')) {
      return bad("only lower-case letters, digits, '-' and '.' are allowed");
    }
  }
  auto alnum = [](char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); };
  if (!alnum(bucket.front()) || !alnum(bucket.back())) {
    return bad("must start and end with a letter or digit");
  }
  if (bucket.find("..") != std::string_view::npos) return bad("must not contain \"..\"");
  int dots = 0;
  bool digits_and_dots = true;
  for (char c : bucket) {
    if (c == '.') ++dots;
    if (c != '.' && !(c >= '0' && c <= '9')) digits_and_dots = false;
  }
  if (digits_and_dots && dots == 3) return bad("must not look like an IP address");
  return absl::OkStatus();
}

std::string S3Target::ObjectPath(std::string_view key) const {
  return absl::StrCat(bucket_path, "/", UriEncode(key, /*keep_slash=*/true));
}

std::string S3Target::BucketPath() const { return bucket_path.empty() ? "/" : bucket_path; }

absl::StatusOr<S3Target> ResolveS3Target(const S3ClientOptions& options) {
  RETURN_IF_ERROR(ValidateBucketName(options.bucket));
  if (options.region.empty() || options.region.size() > 64 ||
      !std::all_of(options.region.begin(), options.region.end(), IsRegionChar)) {
    return absl::InvalidArgumentError(absl::StrCat("bad S3 region '", Printable(options.region),
                                                   "': must be 1..64 of [A-Za-z0-9_-]"));
  }
  const std::string url = options.endpoint.empty()
                              ? absl::StrCat("https://s3.", options.region, ".amazonaws.com")
                              : options.endpoint;
  absl::StatusOr<HttpEndpoint> endpoint = ParseHttpEndpoint(url);
  if (!endpoint.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 endpoint: ", std::string(ToStd(endpoint.status().message()))));
  }
  S3Target target;
  target.endpoint = *std::move(endpoint);
  switch (options.addressing) {
    case S3Addressing::kVirtualHosted:
      target.virtual_hosted = true;
      break;
    case S3Addressing::kPathStyle:
      target.virtual_hosted = false;
      break;
    case S3Addressing::kAuto:
      target.virtual_hosted =
          IsAwsHost(target.endpoint.host) && options.bucket.find('.') == std::string::npos;
      break;
  }
  if (target.virtual_hosted) {
    if (target.endpoint.host.find_first_not_of("0123456789.") == std::string::npos ||
        target.endpoint.host.find(':') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("virtual-hosted S3 addressing needs a host name, not the address ",
                       target.endpoint.host, "; use path-style"));
    }
    target.endpoint.host = absl::StrCat(options.bucket, ".", target.endpoint.host);
  } else {
    target.bucket_path = absl::StrCat("/", options.bucket);
  }
  return target;
}

// Atomic counters behind S3ClientStats.
class S3Client::Counters {
 public:
  enum class ErrorKind { kNetwork, kThrottled, kServer, kAuth, kNotFound, kClient };

  void Attempt(bool retry, uint64_t bytes_up) {
    requests_.fetch_add(1, std::memory_order_relaxed);
    if (retry) retries_.fetch_add(1, std::memory_order_relaxed);
    bytes_up_.fetch_add(bytes_up, std::memory_order_relaxed);
  }
  void Latency(absl::Duration latency) { latency_.Record(latency); }
  void BytesDown(uint64_t n) { bytes_down_.fetch_add(n, std::memory_order_relaxed); }
  void Error(ErrorKind kind) {
    errors_[static_cast<size_t>(kind)].fetch_add(1, std::memory_order_relaxed);
  }

  S3ClientStats Snapshot() const {
    S3ClientStats stats;
    stats.requests = requests_.load(std::memory_order_relaxed);
    stats.retries = retries_.load(std::memory_order_relaxed);
    auto error = [&](ErrorKind kind) {
      return errors_[static_cast<size_t>(kind)].load(std::memory_order_relaxed);
    };
    stats.network_errors = error(ErrorKind::kNetwork);
    stats.throttled = error(ErrorKind::kThrottled);
    stats.server_errors = error(ErrorKind::kServer);
    stats.auth_errors = error(ErrorKind::kAuth);
    stats.not_found = error(ErrorKind::kNotFound);
    stats.client_errors = error(ErrorKind::kClient);
    stats.bytes_up = bytes_up_.load(std::memory_order_relaxed);
    stats.bytes_down = bytes_down_.load(std::memory_order_relaxed);
    stats.latency = latency_.Snapshot();
    return stats;
  }

 private:
  std::atomic<uint64_t> requests_{0};
  std::atomic<uint64_t> retries_{0};
  std::atomic<uint64_t> bytes_up_{0};
  std::atomic<uint64_t> bytes_down_{0};
  std::array<std::atomic<uint64_t>, 6> errors_{};
  AtomicHistogram latency_{kStoreRequestLatencyBoundsUs};
};

struct S3Client::Request {
  std::string operation{};  // "PutObject", for error messages
  std::string method{};
  std::string key{};                                           // "" for requests on the bucket
  std::vector<std::pair<std::string, std::string>> query{};    // not encoded
  std::vector<std::pair<std::string, std::string>> headers{};  // lower-case names; all signed
  absl::Span<const uint8_t> body{};
  std::string payload_sha256{};
  // Further checks of a 2xx reply; an error here is handled like an error
  // reply (retried if Unavailable).
  std::function<absl::Status(const HttpResponse&)> check{};
};

absl::StatusOr<std::unique_ptr<S3Client>> S3Client::Create(
    S3ClientOptions options, std::shared_ptr<CredentialsProvider> credentials) {
  if (credentials == nullptr)
    return absl::InvalidArgumentError("S3 client: no credentials provider");
  ASSIGN_OR_RETURN(S3Target target, ResolveS3Target(options));
  if (options.max_connections < 1 || options.max_connections > kMaxConnections) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 max_connections must be 1..", kMaxConnections));
  }
  RETURN_IF_ERROR(ValidateRetryOptions(options.retry));
  if (options.multipart_part_bytes < kS3MinPartBytes ||
      options.multipart_part_bytes > kS3MaxPartBytes) {
    return absl::InvalidArgumentError("S3 multipart_part_bytes must be 5 MiB..5 GiB");
  }
  if (options.multipart_parallelism < 1 || options.multipart_parallelism > kMaxParallelism) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 multipart_parallelism must be 1..", kMaxParallelism));
  }
  for (absl::Duration timeout : {options.connect_timeout, options.io_timeout}) {
    if (timeout <= absl::ZeroDuration() || timeout > absl::Hours(1)) {
      return absl::InvalidArgumentError("S3 connect and io timeouts must be in (0, 1 h]");
    }
  }
  if (options.max_get_bytes < 1 || options.max_get_bytes > kMaxGetBytesLimit) {
    return absl::InvalidArgumentError("S3 max_get_bytes must be 1 B..4 GiB");
  }
  if (options.list_page_keys < 1 || options.list_page_keys > 1000) {
    return absl::InvalidArgumentError("S3 list_page_keys must be 1..1000");
  }
  if (!options.ca_file.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(options.ca_file, ec)) {
      return absl::InvalidArgumentError(
          absl::StrCat("S3 ca_file '", options.ca_file, "' is not a readable file"));
    }
  }
  return std::unique_ptr<S3Client>(
      new S3Client(std::move(options), std::move(target), std::move(credentials)));
}

S3Client::S3Client(S3ClientOptions options, S3Target target,
                   std::shared_ptr<CredentialsProvider> credentials)
    : options_(std::move(options)),
      target_(std::move(target)),
      credentials_(std::move(credentials)),
      sign_payload_(SignsPayload(options_.payload_signing, target_.endpoint.tls)),
      http_(std::make_unique<HttpClient>(target_.endpoint,
                                         HttpClientOptions{
                                             .max_idle_connections = options_.max_connections,
                                             .connect_timeout = options_.connect_timeout,
                                             .io_timeout = options_.io_timeout,
                                             .max_response_body_bytes = options_.max_get_bytes,
                                             .ca_file = options_.ca_file,
                                         })),
      retry_(options_.retry),
      counters_(std::make_unique<Counters>()) {}

S3Client::~S3Client() = default;

S3ClientStats S3Client::stats() const { return counters_->Snapshot(); }

void S3Client::AcquireSlot() {
  slots_mu_.LockWhen(absl::Condition(
      +[](S3Client* self) ABSL_EXCLUSIVE_LOCKS_REQUIRED(self->slots_mu_) {
        return self->in_flight_ < self->options_.max_connections;
      },
      this));
  ++in_flight_;
  slots_mu_.Unlock();
}

void S3Client::ReleaseSlot() {
  absl::MutexLock lock(&slots_mu_);
  --in_flight_;
}

std::string S3Client::Describe(const Request& request) const {
  return absl::StrCat("S3 ", request.operation, " s3://", options_.bucket, "/", request.key);
}

absl::Status S3Client::ErrorFromResponse(const Request& request, const HttpResponse& response,
                                         std::string* s3_code) const {
  S3ErrorInfo info;
  std::string unparsed;
  if (!response.body.empty()) {
    absl::StatusOr<S3ErrorInfo> parsed = ParseS3Error(response.BodyText());
    if (parsed.ok()) {
      info = *std::move(parsed);
    } else {
      unparsed = absl::StrCat(" (unparsed body: ", Printable(response.BodyText()), ")");
    }
  }
  *s3_code = info.code;
  const absl::StatusCode code = S3ErrorToStatusCode(response.status, info.code);
  std::string text = absl::StrCat(Describe(request), ": HTTP ", response.status);
  if (!info.code.empty()) absl::StrAppend(&text, " ", Printable(info.code));
  if (!info.message.empty()) absl::StrAppend(&text, ": ", Printable(info.message));
  absl::StrAppend(&text, unparsed);
  if (code == absl::StatusCode::kPermissionDenied) {
    absl::StrAppend(&text, " [check the access key, secret key, region and bucket policy]");
  }
  if (response.status >= 300 && response.status < 400) {
    const std::string_view region = response.Header("x-amz-bucket-region");
    absl::StrAppend(&text, " [the bucket is elsewhere",
                    region.empty() ? std::string() : absl::StrCat(": region ", Printable(region)),
                    "; check the endpoint and region]");
  }
  if (!info.request_id.empty())
    absl::StrAppend(&text, " (request id ", Printable(info.request_id), ")");
  return absl::Status(code, text);
}

absl::StatusOr<HttpResponse> S3Client::AttemptOnce(const Request& request) {
  using ErrorKind = Counters::ErrorKind;
  absl::StatusOr<AwsCredentials> credentials = credentials_->Get();
  if (!credentials.ok()) {
    counters_->Error(absl::IsUnavailable(credentials.status()) ? ErrorKind::kNetwork
                                                               : ErrorKind::kAuth);
    return absl::Status(
        credentials.status().code(),
        absl::StrCat(Describe(request), ": no credentials from ", credentials_->Describe(), ": ",
                     std::string(ToStd(credentials.status().message()))));
  }
  SigV4Request to_sign;
  to_sign.method = request.method;
  to_sign.host = target_.endpoint.HostHeader();
  to_sign.path = request.key.empty() ? target_.BucketPath() : target_.ObjectPath(request.key);
  to_sign.query = request.query;
  to_sign.headers = request.headers;
  to_sign.payload_sha256 = request.payload_sha256;
  // Signed afresh on every attempt: a retry after a long backoff must carry
  // a current date and the provider's current (possibly refreshed) keys.
  const SignedHeaders signed_headers = SignRequest(
      to_sign, *credentials, SigV4Scope{.region = options_.region, .service = "s3"}, absl::Now());

  HttpRequest http_request;
  http_request.method = request.method;
  http_request.target = absl::StrCat(to_sign.path, QueryString(request.query));
  http_request.headers = request.headers;
  http_request.headers.insert(http_request.headers.end(), signed_headers.headers.begin(),
                              signed_headers.headers.end());
  http_request.body = request.body;

  AcquireSlot();
  const absl::Time start = absl::Now();
  absl::StatusOr<HttpResponse> response = http_->Send(http_request);
  counters_->Latency(absl::Now() - start);
  ReleaseSlot();

  if (!response.ok()) {
    counters_->Error(absl::IsUnavailable(response.status()) ? ErrorKind::kNetwork
                                                            : ErrorKind::kClient);
    return absl::Status(
        response.status().code(),
        absl::StrCat(Describe(request), ": ", std::string(ToStd(response.status().message()))));
  }
  counters_->BytesDown(response->body.size());
  if (response->status >= 200 && response->status <= 299) {
    if (request.check) {
      absl::Status checked = request.check(*response);
      if (!checked.ok()) {
        counters_->Error(absl::IsUnavailable(checked) ? ErrorKind::kServer : ErrorKind::kClient);
        return checked;
      }
    }
    return response;
  }
  std::string s3_code;
  absl::Status error = ErrorFromResponse(request, *response, &s3_code);
  // From the status and the S3 error code only: the message is free text (it
  // can quote a key or a bucket policy).
  if (IsS3Throttling(response->status, s3_code)) {
    counters_->Error(ErrorKind::kThrottled);
  } else if (response->status >= 500) {
    counters_->Error(ErrorKind::kServer);
  } else if (absl::IsPermissionDenied(error)) {
    counters_->Error(ErrorKind::kAuth);
  } else if (response->status == 404) {
    counters_->Error(ErrorKind::kNotFound);
  } else {
    counters_->Error(ErrorKind::kClient);
  }
  return error;
}

absl::StatusOr<HttpResponse> S3Client::Execute(const Request& request) {
  for (int attempt = 1;; ++attempt) {
    counters_->Attempt(/*retry=*/attempt > 1, request.body.size());
    absl::StatusOr<HttpResponse> result = AttemptOnce(request);
    if (result.ok()) return result;
    if (!retry_.ShouldRetry(result.status(), attempt)) {
      if (attempt == 1) return result.status();
      return absl::Status(result.status().code(),
                          absl::StrCat(std::string(ToStd(result.status().message())), " (after ",
                                       attempt, " attempts)"));
    }
    retry_.Sleep(retry_.Delay(attempt - 1));
  }
}

absl::StatusOr<std::string> S3Client::PutObject(std::string_view key,
                                                absl::Span<const uint8_t> body,
                                                std::optional<uint32_t> body_crc32c) {
  RETURN_IF_ERROR(ValidateKey(key));
  Request request{.operation = "PutObject", .method = "PUT", .key = std::string(key)};
  // Hashed once per operation, not per attempt: retries resend the same bytes.
  S3PayloadHeaders payload = PrepareS3Payload(body, sign_payload_, body_crc32c);
  request.headers = std::move(payload.headers);
  request.headers.emplace_back("content-type", "application/octet-stream");
  request.body = body;
  request.payload_sha256 = std::move(payload.payload_sha256);
  ASSIGN_OR_RETURN(HttpResponse response, Execute(request));
  return UnquoteEtag(response.Header("etag"));
}

absl::StatusOr<std::string> S3Client::CreateMultipartUpload(std::string_view key) {
  RETURN_IF_ERROR(ValidateKey(key));
  Request request{.operation = "CreateMultipartUpload", .method = "POST", .key = std::string(key)};
  request.query = {{"uploads", ""}};
  request.headers = {{"content-type", "application/octet-stream"}};
  // S3 takes a part's x-amz-checksum-crc32c only for an upload that
  // announced the algorithm ("Checksum Type mismatch" otherwise).
  if (!sign_payload_) request.headers.emplace_back("x-amz-checksum-algorithm", "CRC32C");
  request.payload_sha256 = Sha256Hex(std::string_view());
  ASSIGN_OR_RETURN(HttpResponse response, Execute(request));
  absl::StatusOr<std::string> upload_id = ParseInitiateMultipartUploadResult(response.BodyText());
  if (!upload_id.ok()) {
    return absl::InternalError(absl::StrCat(Describe(request), ": unreadable reply: ",
                                            std::string(ToStd(upload_id.status().message()))));
  }
  return upload_id;
}

absl::StatusOr<std::string> S3Client::UploadPart(std::string_view key, std::string_view upload_id,
                                                 int part_number, absl::Span<const uint8_t> body,
                                                 std::optional<uint32_t> body_crc32c) {
  RETURN_IF_ERROR(ValidateKey(key));
  if (part_number < 1 || part_number > kS3MaxParts) {
    return absl::InvalidArgumentError(
        absl::StrCat("S3 part number ", part_number, " not in 1..10000"));
  }
  if (upload_id.empty()) return absl::InvalidArgumentError("empty S3 upload id");
  Request request{.operation = absl::StrCat("UploadPart #", part_number),
                  .method = "PUT",
                  .key = std::string(key)};
  request.query = {{"partNumber", absl::StrCat(part_number)}, {"uploadId", std::string(upload_id)}};
  S3PayloadHeaders payload = PrepareS3Payload(body, sign_payload_, body_crc32c);
  request.headers = std::move(payload.headers);
  request.body = body;
  request.payload_sha256 = std::move(payload.payload_sha256);
  ASSIGN_OR_RETURN(HttpResponse response, Execute(request));
  const std::string etag = UnquoteEtag(response.Header("etag"));
  if (etag.empty())
    return absl::InternalError(absl::StrCat(Describe(request), ": reply has no ETag"));
  return etag;
}

absl::StatusOr<std::string> S3Client::CompleteMultipartUpload(
    std::string_view key, std::string_view upload_id, absl::Span<const S3CompletedPart> parts) {
  RETURN_IF_ERROR(ValidateKey(key));
  if (upload_id.empty()) return absl::InvalidArgumentError("empty S3 upload id");
  if (parts.empty() || parts.size() > static_cast<size_t>(kS3MaxParts)) {
    return absl::InvalidArgumentError("S3 CompleteMultipartUpload needs 1..10000 parts");
  }
  const std::string xml = CompleteMultipartUploadXml(parts);
  const absl::Span<const uint8_t> body(reinterpret_cast<const uint8_t*>(xml.data()), xml.size());
  Request request{
      .operation = "CompleteMultipartUpload", .method = "POST", .key = std::string(key)};
  request.query = {{"uploadId", std::string(upload_id)}};
  request.headers = {{"content-md5", Md5Base64(body)}, {"content-type", "application/xml"}};
  request.body = body;
  request.payload_sha256 = Sha256Hex(body);
  std::string etag;
  // S3 may answer 200 and fail later in the body; an InternalError there is
  // retried like a 500.
  request.check = [&](const HttpResponse& response) -> absl::Status {
    absl::StatusOr<S3CompleteResult> result =
        ParseCompleteMultipartUploadResult(response.BodyText());
    if (!result.ok()) {
      return absl::InternalError(absl::StrCat(Describe(request), ": unreadable reply: ",
                                              std::string(ToStd(result.status().message()))));
    }
    if (!result->error_code.empty()) {
      return absl::Status(
          S3ErrorToStatusCode(500, result->error_code),
          absl::StrCat(Describe(request), ": HTTP 200 with error ", Printable(result->error_code),
                       ": ", Printable(result->error_message)));
    }
    etag = result->etag;
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(Execute(request).status());
  return etag;
}

absl::Status S3Client::AbortMultipartUpload(std::string_view key, std::string_view upload_id) {
  RETURN_IF_ERROR(ValidateKey(key));
  if (upload_id.empty()) return absl::InvalidArgumentError("empty S3 upload id");
  Request request{.operation = "AbortMultipartUpload", .method = "DELETE", .key = std::string(key)};
  request.query = {{"uploadId", std::string(upload_id)}};
  request.payload_sha256 = Sha256Hex(std::string_view());
  absl::Status status = Execute(request).status();
  if (absl::IsNotFound(status)) return absl::OkStatus();  // NoSuchUpload: already gone
  return status;
}

absl::StatusOr<std::string> S3Client::PutObjectMultipartOnce(std::string_view key,
                                                             std::string_view upload_id,
                                                             absl::Span<const uint8_t> body) {
  // Grown so that no object needs more than S3's 10,000 parts.
  const uint64_t part_bytes = std::max<uint64_t>(options_.multipart_part_bytes,
                                                 (body.size() + kS3MaxParts - 1) / kS3MaxParts);
  const size_t part_count =
      std::max<size_t>(1, static_cast<size_t>((body.size() + part_bytes - 1) / part_bytes));
  std::vector<std::string> etags(part_count);
  std::vector<std::string> checksums(part_count);  // unsigned payloads: each part's, for the completion
  std::atomic<size_t> next_part{0};
  std::atomic<bool> failed{false};
  absl::Mutex error_mu;
  absl::Status first_error;

  auto upload_parts = [&] {
    while (!failed.load()) {
      const size_t index = next_part.fetch_add(1);
      if (index >= part_count) return;
      const size_t offset = static_cast<size_t>(index * part_bytes);
      const size_t length = std::min<size_t>(static_cast<size_t>(part_bytes), body.size() - offset);
      const absl::Span<const uint8_t> part = body.subspan(offset, length);
      std::optional<uint32_t> crc;
      if (!sign_payload_) {
        crc = Crc32c({part.data(), part.size()});
        checksums[index] = Crc32cBase64(*crc);
      }
      absl::StatusOr<std::string> etag = UploadPart(key, upload_id, static_cast<int>(index + 1), part, crc);
      if (!etag.ok()) {
        absl::MutexLock lock(&error_mu);
        if (first_error.ok()) first_error = etag.status();
        failed.store(true);
        return;
      }
      etags[index] = *std::move(etag);
    }
  };

  const size_t thread_count =
      std::min<size_t>(static_cast<size_t>(options_.multipart_parallelism), part_count);
  std::vector<std::thread> threads;
  for (size_t i = 1; i < thread_count; ++i) {
    try {
      threads.emplace_back(upload_parts);
    } catch (const std::system_error&) {
      break;  // out of threads: the ones running (and this one) do it all
    }
  }
  upload_parts();
  for (std::thread& thread : threads) thread.join();
  if (failed.load()) {
    absl::MutexLock lock(&error_mu);
    return first_error;
  }

  std::vector<S3CompletedPart> parts(part_count);
  for (size_t i = 0; i < part_count; ++i) {
    parts[i] = S3CompletedPart{
        .part_number = static_cast<int>(i + 1), .etag = etags[i], .checksum_crc32c = checksums[i]};
  }
  return CompleteMultipartUpload(key, upload_id, parts);
}

absl::StatusOr<std::string> S3Client::PutObjectMultipart(std::string_view key,
                                                         absl::Span<const uint8_t> body) {
  RETURN_IF_ERROR(ValidateKey(key));
  ASSIGN_OR_RETURN(const std::string upload_id, CreateMultipartUpload(key));
  absl::StatusOr<std::string> etag = PutObjectMultipartOnce(key, upload_id, body);
  if (etag.ok()) return etag;
  const absl::Status aborted = AbortMultipartUpload(key, upload_id);
  return absl::Status(
      etag.status().code(),
      absl::StrCat(std::string(ToStd(etag.status().message())),
                   aborted.ok() ? std::string(" (upload aborted)")
                                : absl::StrCat(" (abort failed too, parts may linger until a "
                                               "lifecycle rule removes them: ",
                                               std::string(ToStd(aborted.message())), ")")));
}

absl::StatusOr<S3ListPage> S3Client::ListObjectsV2Page(std::string_view prefix,
                                                       std::string_view delimiter,
                                                       std::string_view continuation_token,
                                                       int max_keys) {
  if (max_keys < 1 || max_keys > 1000) {
    return absl::InvalidArgumentError("S3 ListObjectsV2 max_keys must be 1..1000");
  }
  if (prefix.size() > kMaxKeyBytes || delimiter.size() > 16 || continuation_token.size() > 4096) {
    return absl::InvalidArgumentError("S3 ListObjectsV2 prefix, delimiter or token too long");
  }
  Request request{.operation = absl::StrCat("ListObjectsV2 (prefix '", Printable(prefix), "')"),
                  .method = "GET",
                  .key = ""};
  request.query = {{"list-type", "2"}, {"max-keys", absl::StrCat(max_keys)}};
  if (!prefix.empty()) request.query.emplace_back("prefix", std::string(prefix));
  if (!delimiter.empty()) request.query.emplace_back("delimiter", std::string(delimiter));
  if (!continuation_token.empty()) {
    request.query.emplace_back("continuation-token", std::string(continuation_token));
  }
  request.payload_sha256 = Sha256Hex(std::string_view());
  ASSIGN_OR_RETURN(HttpResponse response, Execute(request));
  absl::StatusOr<S3ListPage> page = ParseListBucketResult(response.BodyText());
  if (!page.ok()) {
    return absl::InternalError(
        absl::StrCat(Describe(request), std::string(prefix),
                     ": unreadable reply: ", std::string(ToStd(page.status().message()))));
  }
  return page;
}

absl::StatusOr<S3ListPage> S3Client::ListObjectsV2(std::string_view prefix,
                                                   std::string_view delimiter,
                                                   size_t max_keys_total) {
  S3ListPage all;
  std::string token;
  int empty_pages = 0;
  // Each page either adds an entry (bounded by max_keys_total) or counts as
  // empty (bounded by kMaxEmptyListPages), so the loop ends.
  while (true) {
    ASSIGN_OR_RETURN(S3ListPage page,
                     ListObjectsV2Page(prefix, delimiter, token, options_.list_page_keys));
    const size_t entries = page.contents.size() + page.common_prefixes.size();
    if (all.contents.size() + all.common_prefixes.size() + entries > max_keys_total) {
      return absl::ResourceExhaustedError(absl::StrCat("S3 ListObjectsV2 s3://", options_.bucket,
                                                       "/", std::string(prefix), ": more than ",
                                                       max_keys_total, " keys"));
    }
    for (S3ObjectEntry& entry : page.contents) all.contents.push_back(std::move(entry));
    for (std::string& common : page.common_prefixes)
      all.common_prefixes.push_back(std::move(common));
    if (!page.is_truncated) return all;
    empty_pages = entries == 0 ? empty_pages + 1 : 0;
    if (empty_pages > kMaxEmptyListPages || page.next_continuation_token == token) {
      return absl::InternalError(absl::StrCat("S3 ListObjectsV2 s3://", options_.bucket, "/",
                                              std::string(prefix),
                                              ": the server's pagination does not advance"));
    }
    token = std::move(page.next_continuation_token);
  }
}

absl::StatusOr<std::vector<uint8_t>> S3Client::GetObject(std::string_view key,
                                                         std::optional<S3ByteRange> range) {
  RETURN_IF_ERROR(ValidateKey(key));
  Request request{.operation = "GetObject", .method = "GET", .key = std::string(key)};
  request.payload_sha256 = Sha256Hex(std::string_view());
  // The range asked for (`wanted_last`) may reach far past the object's end
  // ("the rest of it"); the request asks for at most max_get_bytes, and only
  // an answer that really is longer than that fails.
  uint64_t wanted_last = 0;
  uint64_t last = 0;
  if (range) {
    if (range->length == 0) return absl::InvalidArgumentError("S3 GetObject range of 0 bytes");
    wanted_last = range->offset + std::min(range->length - 1, UINT64_MAX - range->offset);
    last = range->offset + std::min(wanted_last - range->offset, options_.max_get_bytes - 1);
    request.headers = {{"range", absl::StrCat("bytes=", range->offset, "-", last)}};
  }
  ASSIGN_OR_RETURN(HttpResponse response, Execute(request));
  if (!range) return std::move(response.body);
  if (response.status == 200) {
    // The server ignored Range and sent everything: cut the range out.
    if (range->offset >= response.body.size()) {
      return absl::OutOfRangeError(absl::StrCat(Describe(request), ": offset ", range->offset,
                                                " is past the end (", response.body.size(),
                                                " bytes)"));
    }
    const size_t end =
        static_cast<size_t>(std::min<uint64_t>(wanted_last, response.body.size() - 1) + 1);
    return std::vector<uint8_t>(response.body.begin() + static_cast<ptrdiff_t>(range->offset),
                                response.body.begin() + static_cast<ptrdiff_t>(end));
  }
  uint64_t first_got = 0;
  uint64_t last_got = 0;
  std::optional<uint64_t> total;
  if (response.status != 206 ||
      !ParseContentRange(response.Header("content-range"), &first_got, &last_got, &total) ||
      first_got != range->offset || last_got > last ||
      last_got - first_got + 1 != response.body.size()) {
    return absl::DataLossError(absl::StrCat(
        Describe(request), ": asked for bytes ", range->offset, "-", last, ", got HTTP ",
        response.status, " Content-Range '", Printable(response.Header("content-range")), "' with ",
        response.body.size(), " bytes"));
  }
  if (last < wanted_last && last_got == last && (!total || *total > last + 1)) {
    return absl::ResourceExhaustedError(
        absl::StrCat(Describe(request), ": the range from ", range->offset, " holds more than ",
                     options_.max_get_bytes, " bytes (max_get_bytes)"));
  }
  return std::move(response.body);
}

absl::StatusOr<S3ObjectHead> S3Client::HeadObject(std::string_view key) {
  RETURN_IF_ERROR(ValidateKey(key));
  Request request{.operation = "HeadObject", .method = "HEAD", .key = std::string(key)};
  request.payload_sha256 = Sha256Hex(std::string_view());
  ASSIGN_OR_RETURN(HttpResponse response, Execute(request));
  S3ObjectHead head;
  if (!absl::SimpleAtoi(ToAbsl(response.Header("content-length")), &head.size)) {
    return absl::InternalError(absl::StrCat(Describe(request), ": bad Content-Length '",
                                            Printable(response.Header("content-length")), "'"));
  }
  head.etag = UnquoteEtag(response.Header("etag"));
  return head;
}

absl::Status S3Client::DeleteObject(std::string_view key) {
  RETURN_IF_ERROR(ValidateKey(key));
  Request request{.operation = "DeleteObject", .method = "DELETE", .key = std::string(key)};
  request.payload_sha256 = Sha256Hex(std::string_view());
  absl::Status status = Execute(request).status();
  if (absl::IsNotFound(status)) return absl::OkStatus();  // NoSuchKey: nothing to delete
  return status;
}

absl::Status S3Client::CheckAccess(std::string_view prefix) {
  absl::StatusOr<S3ListPage> page = ListObjectsV2Page(prefix, "", "", 1);
  if (page.ok()) return absl::OkStatus();
  return absl::Status(
      page.status().code(),
      absl::StrCat("S3 access check failed: ", std::string(ToStd(page.status().message()))));
}

}  // namespace ingest
