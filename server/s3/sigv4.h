// AWS Signature Version 4: signs an HTTP request in an Authorization header,
// or presigns a URL (query-string authentication) for GETs. Pure functions,
// no I/O; the caller supplies the time.
//
//   SigV4Request request{.method = "PUT", .host = "bucket.s3.eu-west-1.amazonaws.com",
//                        .path = "/cam/batch-1", .payload_sha256 = Sha256Hex(body)};
//   request.headers.push_back({"content-md5", md5_base64});
//   SignedHeaders signed_headers = SignRequest(request, credentials,
//                                              {.region = "eu-west-1", .service = "s3"},
//                                              absl::Now());
//   // send request.headers + signed_headers.headers
#ifndef SERVER_S3_SIGV4_H_
#define SERVER_S3_SIGV4_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/s3/aws_credentials.h"

namespace ingest {

// The payload hash to use when the body is not hashed (S3 over https only).
inline constexpr std::string_view kUnsignedPayload = "UNSIGNED-PAYLOAD";

struct SigV4Scope {
  std::string region = "us-east-1";
  std::string service = "s3";
};

struct SigV4Request {
  std::string method;  // "GET", "PUT", ...
  std::string host;    // the Host header value as sent, with ":port" if not default
  // The request path exactly as it goes on the wire, already URI-encoded
  // (S3 keys: every byte except unreserved and '/' percent-encoded, see
  // UriEncode). S3 signs it as is; other services normalize it first.
  std::string path = "/";
  // Query parameters, NOT encoded; the signer encodes and sorts them.
  std::vector<std::pair<std::string, std::string>> query;
  // Extra headers to sign, names in any case; values are trimmed and inner
  // runs of spaces collapsed for signing as SigV4 requires. Must not contain
  // host, x-amz-date, x-amz-content-sha256 or x-amz-security-token: the signer
  // adds those (and ignores them here, with authorization).
  std::vector<std::pair<std::string, std::string>> headers;
  // Lower-case hex SHA-256 of the body, or kUnsignedPayload. Empty means the
  // hash of an empty body.
  std::string payload_sha256;
};

// Headers the caller must add to the request (besides request.headers):
// x-amz-date, x-amz-content-sha256, x-amz-security-token (if a session token
// is set) and authorization, names in lower case.
struct SignedHeaders {
  std::vector<std::pair<std::string, std::string>> headers;
  std::string canonical_request;  // for debugging signature mismatches
  std::string string_to_sign;
};

// Signs `request` for `scope` at `now`. For services other than "s3" the path
// is normalized (dot segments removed) and encoded a second time, as the AWS
// test suite expects.
SignedHeaders SignRequest(const SigV4Request& request, const AwsCredentials& credentials,
                          const SigV4Scope& scope, absl::Time now);

// A presigned URL (path and query; the caller prefixes scheme and host)
// valid for `expires` (1 s .. 7 days, whole seconds; clamped into that range)
// from `now`. request.payload_sha256 is ignored: presigned URLs sign
// UNSIGNED-PAYLOAD. The query is in canonical (sorted) order with
// X-Amz-Signature last.
std::string PresignUrl(const SigV4Request& request, const AwsCredentials& credentials,
                       const SigV4Scope& scope, absl::Time now, absl::Duration expires);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters
// (A-Z a-z 0-9 - . _ ~) kept, everything else %XX upper-case; '/' kept when
// `keep_slash` (paths), encoded otherwise (query keys and values).
std::string UriEncode(std::string_view s, bool keep_slash);

// Lower-case hex SHA-256 of `data`.
std::string Sha256Hex(absl::Span<const uint8_t> data);
std::string Sha256Hex(std::string_view data);

// Base64 of the MD5 of `data`, the Content-MD5 header value.
std::string Md5Base64(absl::Span<const uint8_t> data);

}  // namespace ingest

#endif  // SERVER_S3_SIGV4_H_
