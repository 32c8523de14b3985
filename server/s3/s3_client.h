// A blocking S3 client for one bucket on one endpoint (AWS or an
// S3-compatible store such as Ceph's RADOS Gateway): every request signed
// with SigV4, object bodies vouched for by a CRC-32C checksum header (https)
// or a signed SHA-256 payload hash (http; see s3_payload.h and
// S3ClientOptions::payload_signing), retried with backoff and jitter when
// the failure is transient, and reported as an absl::Status that names the
// operation, bucket, key, HTTP status and S3 error code. Run it on worker
// threads, never on a shard's loop thread.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client,
//                    S3Client::Create({.bucket = "recordings", .region = "eu-west-1"},
//                                     credentials));
//   RETURN_IF_ERROR(client->CheckAccess("zone-a/"));
//   ASSIGN_OR_RETURN(std::string etag, client->PutObject("zone-a/batch-1", bytes));
//   ASSIGN_OR_RETURN(std::vector<uint8_t> head,
//                    client->GetObject("zone-a/batch-1", S3ByteRange{0, 4096}));
//
// Status codes: see S3ErrorToStatusCode in retry_policy.h. In short, bad or
// missing credentials are PermissionDenied, a missing key NotFound, a missing
// bucket FailedPrecondition, a payload the server hashed differently DataLoss,
// and network errors, timeouts, 5xx and throttling Unavailable (retried here
// first, so callers see them only when every attempt failed).
#ifndef SERVER_S3_S3_CLIENT_H_
#define SERVER_S3_S3_CLIENT_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/s3/aws_credentials.h"
#include "server/s3/http_client.h"
#include "server/s3/retry_policy.h"
#include "server/s3/s3_payload.h"
#include "server/s3/s3_xml.h"
#include "server/store/object_store.h"

namespace ingest {

// Virtual-hosted puts the bucket in the host name (bucket.s3.region.amazonaws.com/key);
// path-style puts it in the path (host/bucket/key). kAuto: virtual-hosted for
// AWS endpoints (path-style if the bucket name has a '.', which the wildcard
// certificate would not cover), path-style for any custom endpoint.
enum class S3Addressing { kAuto, kVirtualHosted, kPathStyle };

inline constexpr uint64_t kS3MinPartBytes = 5ull << 20;
inline constexpr uint64_t kS3MaxPartBytes = 5ull << 30;
inline constexpr int kS3MaxParts = 10000;

struct S3ClientOptions {
  std::string bucket{};
  // "http[s]://host[:port]"; "" means https://s3.<region>.amazonaws.com.
  std::string endpoint{};
  std::string region = "us-east-1";
  S3Addressing addressing = S3Addressing::kAuto;
  // https: extra trust anchors (PEM); empty means the system store only.
  std::string ca_file{};
  // Requests in flight at once, and idle connections kept for reuse.
  size_t max_connections = 16;
  RetryOptions retry{};
  // Multipart: part size (5 MiB .. 5 GiB; grown if an object would need more
  // than 10,000 parts) and parts uploaded at once.
  uint64_t multipart_part_bytes = 16ull << 20;
  int multipart_parallelism = 4;
  absl::Duration connect_timeout = absl::Seconds(5);
  // No progress on a read or write for this long fails the attempt.
  absl::Duration io_timeout = absl::Seconds(30);
  // How PutObject and UploadPart vouch for their bodies (s3_payload.h):
  // kAuto is UNSIGNED-PAYLOAD with x-amz-checksum-crc32c over https and a
  // signed SHA-256 payload with Content-MD5 over plain http, where no TLS
  // protects the body on the way.
  S3PayloadSigning payload_signing = S3PayloadSigning::kAuto;
  // The largest object (or range) GetObject reads into memory.
  uint64_t max_get_bytes = 256ull << 20;
  // Keys asked for per ListObjectsV2 page (1..1000); tests lower it to make
  // listings paginate.
  int list_page_keys = 1000;
};

// Where requests for the bucket go and how object paths are spelled.
struct S3Target {
  HttpEndpoint endpoint{};  // the Host header is endpoint.HostHeader()
  bool virtual_hosted = false;
  std::string bucket_path{};  // "/<bucket>" (path-style) or "" (virtual-hosted)

  // The URI-encoded request path of `key` ('/' kept).
  std::string ObjectPath(std::string_view key) const;
  // The request path of the bucket itself ("/<bucket>" or "/").
  std::string BucketPath() const;
};

// Works out the endpoint, host and path layout from the options.
// InvalidArgument for a bad bucket name, region or endpoint.
absl::StatusOr<S3Target> ResolveS3Target(const S3ClientOptions& options);

// OK if `bucket` follows S3's naming rules: 3..63 characters of lower-case
// letters, digits, '-' and '.', starting and ending with a letter or digit,
// no "..", not shaped like an IPv4 address. InvalidArgument saying which rule
// failed otherwise.
absl::Status ValidateBucketName(std::string_view bucket);

// A snapshot of the client's counters, in the store's terms. Every HTTP
// attempt counts once in `requests` and once in the latency histogram; failed
// attempts count once in exactly one of the error fields.
using S3ClientStats = ObjectStoreStats;

struct S3ByteRange {
  uint64_t offset = 0;
  uint64_t length = 0;  // > 0
};

struct S3ObjectHead {
  uint64_t size = 0;
  std::string etag{};  // quotes removed; "<hex>-<parts>" for multipart objects
};

// Thread-safe: any number of threads may call any method at once; at most
// max_connections requests are in flight, the rest wait their turn.
class S3Client {
 public:
  // Validates `options` (InvalidArgument naming the bad field); sends nothing.
  static absl::StatusOr<std::unique_ptr<S3Client>> Create(
      S3ClientOptions options, std::shared_ptr<CredentialsProvider> credentials);
  ~S3Client();
  S3Client(const S3Client&) = delete;
  S3Client& operator=(const S3Client&) = delete;

  // Stores `body` under `key` in one request, with the body's CRC-32C in
  // x-amz-checksum-crc32c (or, when signs_payload(), its SHA-256 signed and
  // Content-MD5), so the server rejects a body that arrives changed.
  // `body_crc32c`, if given, must be Crc32c(body): the body is then not read
  // before sending. Returns the ETag (quotes removed).
  absl::StatusOr<std::string> PutObject(std::string_view key, absl::Span<const uint8_t> body,
                                        std::optional<uint32_t> body_crc32c = std::nullopt);

  // Stores `body` under `key` as a multipart upload: parts of
  // multipart_part_bytes uploaded by up to multipart_parallelism threads,
  // then completed. On any failure the upload is aborted (so no parts linger
  // and cost storage) and the first error returned. Returns the ETag.
  absl::StatusOr<std::string> PutObjectMultipart(std::string_view key,
                                                 absl::Span<const uint8_t> body);

  // The steps of a multipart upload. CreateMultipartUpload returns the upload
  // id; UploadPart (part_number 1..10000, the body vouched for as PutObject's)
  // the part's ETag;
  // CompleteMultipartUpload (parts in ascending order) the object's ETag,
  // failing also when S3 answers 200 with an <Error> body. Unless
  // signs_payload(), the upload is created with x-amz-checksum-algorithm:
  // CRC32C (S3 refuses a part's checksum otherwise), and then S3 wants every
  // part's checksum back in the completion (S3CompletedPart::checksum_crc32c,
  // Crc32cBase64 of the part's CRC); PutObjectMultipart does all of that.
  // AbortMultipartUpload succeeds if the upload is already gone.
  absl::StatusOr<std::string> CreateMultipartUpload(std::string_view key);
  absl::StatusOr<std::string> UploadPart(std::string_view key, std::string_view upload_id,
                                         int part_number, absl::Span<const uint8_t> body,
                                         std::optional<uint32_t> body_crc32c = std::nullopt);
  absl::StatusOr<std::string> CompleteMultipartUpload(std::string_view key,
                                                      std::string_view upload_id,
                                                      absl::Span<const S3CompletedPart> parts);
  absl::Status AbortMultipartUpload(std::string_view key, std::string_view upload_id);

  // One ListObjectsV2 page: up to `max_keys` (1..1000) keys starting with
  // `prefix`, after `continuation_token` ("" = from the start); with a
  // non-empty `delimiter`, keys with it after the prefix are rolled up into
  // common_prefixes.
  absl::StatusOr<S3ListPage> ListObjectsV2Page(std::string_view prefix, std::string_view delimiter,
                                               std::string_view continuation_token, int max_keys);

  // Every page of a listing, merged (is_truncated false). ResourceExhausted
  // if there are more than `max_keys_total` keys and common prefixes, so a
  // huge bucket cannot exhaust memory; InvalidArgument if the server repeats
  // a continuation token or returns empty truncated pages without end.
  absl::StatusOr<S3ListPage> ListObjectsV2(std::string_view prefix, std::string_view delimiter,
                                           size_t max_keys_total);

  // The object's bytes, or with `range` its bytes [offset, offset + length)
  // cut short at the end. NotFound if there is no such key; OutOfRange if
  // range->offset is at or past the end (S3's 416); ResourceExhausted if the
  // answer would exceed max_get_bytes. A ranged answer is checked against
  // its Content-Range.
  absl::StatusOr<std::vector<uint8_t>> GetObject(std::string_view key,
                                                 std::optional<S3ByteRange> range = std::nullopt);

  // The object's size and ETag. NotFound if there is none.
  absl::StatusOr<S3ObjectHead> HeadObject(std::string_view key);

  // Removes the object; a missing one is success, as on S3.
  absl::Status DeleteObject(std::string_view key);

  // One cheap authenticated request (ListObjectsV2 of at most one key under
  // `prefix`) that proves the endpoint is reachable, the credentials valid
  // and the bucket readable, for start-up and readiness checks.
  absl::Status CheckAccess(std::string_view prefix);

  S3ClientStats stats() const;
  const S3ClientOptions& options() const { return options_; }
  // Whether object bodies go with a signed SHA-256 (and Content-MD5) rather
  // than UNSIGNED-PAYLOAD and a CRC-32C: options().payload_signing resolved
  // against the endpoint's scheme.
  bool signs_payload() const { return sign_payload_; }
  const S3Target& target() const { return target_; }

 private:
  struct Request;
  class Counters;

  S3Client(S3ClientOptions options, S3Target target,
           std::shared_ptr<CredentialsProvider> credentials);

  // Sends `request` with retries; any 2xx reply (and whatever passes
  // request.check) is success.
  absl::StatusOr<HttpResponse> Execute(const Request& request);
  absl::StatusOr<HttpResponse> AttemptOnce(const Request& request);
  // The error a non-2xx reply stands for; `s3_code` gets the reply's S3
  // error code ("" when it has none).
  absl::Status ErrorFromResponse(const Request& request, const HttpResponse& response, std::string* s3_code) const;
  std::string Describe(const Request& request) const;
  absl::StatusOr<std::string> PutObjectMultipartOnce(std::string_view key,
                                                     std::string_view upload_id,
                                                     absl::Span<const uint8_t> body);

  void AcquireSlot();
  void ReleaseSlot();

  const S3ClientOptions options_;
  const S3Target target_;
  const std::shared_ptr<CredentialsProvider> credentials_;
  const bool sign_payload_;
  std::unique_ptr<HttpClient> http_;
  RetryPolicy retry_;
  std::unique_ptr<Counters> counters_;

  absl::Mutex slots_mu_;
  size_t in_flight_ ABSL_GUARDED_BY(slots_mu_) = 0;
};

}  // namespace ingest

#endif  // SERVER_S3_S3_CLIENT_H_
