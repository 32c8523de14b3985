// How an S3 request that carries an object (PutObject, UploadPart) vouches
// for its body, and the headers that say so. Two ways:
//
//   unsigned  SigV4 signs the headers with x-amz-content-sha256:
//             UNSIGNED-PAYLOAD, and the body's CRC-32C goes in
//             x-amz-checksum-crc32c, itself a signed header. AWS S3 computes
//             the CRC of what arrives and refuses a mismatch (BadDigest). One
//             CRC pass over the body (hardware crc32, several GB/s) instead of
//             SHA-256 plus MD5 (about 0.5 GB/s together), and none at all when
//             the caller already knows the CRC. A CRC stops corruption, not an
//             attacker (anyone who can rewrite the body can fix up a CRC): the
//             body's secrecy and authenticity are TLS's job, so this is for
//             https endpoints.
//   signed    The SHA-256 of the body is part of the signature and Content-MD5
//             is sent: the request exactly as before this option existed. The
//             server refuses a body that does not match (XAmzContentSHA256Mismatch,
//             BadDigest) even over plain http, where nothing else protects it.
//
// S3PayloadSigning::kAuto (the default) picks unsigned over https and signed
// over http. Small request bodies (the multipart completion's XML) are always
// signed; this is about object bytes.
//
//   const S3PayloadHeaders payload = PrepareS3Payload(body, /*sign_payload=*/false, known_crc32c);
//   request.payload_sha256 = payload.payload_sha256;  // "UNSIGNED-PAYLOAD"
//   request.headers.insert(request.headers.end(), payload.headers.begin(), payload.headers.end());
#ifndef SERVER_S3_S3_PAYLOAD_H_
#define SERVER_S3_S3_PAYLOAD_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ingest {

enum class S3PayloadSigning { kAuto, kUnsigned, kSigned };

// "auto", "unsigned" or "signed"; InvalidArgument naming the accepted values
// otherwise.
absl::StatusOr<S3PayloadSigning> ParseS3PayloadSigning(std::string_view text);
std::string_view S3PayloadSigningName(S3PayloadSigning signing);

// Whether object bodies are hashed into the signature: kSigned always,
// kUnsigned never, kAuto when the endpoint is not https (`tls` false).
bool SignsPayload(S3PayloadSigning signing, bool tls);

struct S3PayloadHeaders {
  // SigV4's payload hash: the body's lower-case hex SHA-256, or UNSIGNED-PAYLOAD.
  std::string payload_sha256;
  // Headers to send and sign with it, lower-case names:
  // {"x-amz-checksum-crc32c", ...} when unsigned, {"content-md5", ...} when signed.
  std::vector<std::pair<std::string, std::string>> headers;
};

// The payload hash and integrity header for `body`. `body_crc32c`, if given,
// must be Crc32c(body) (the caller computed it while assembling the bytes);
// the body is then not read at all when unsigned. A wrong value makes S3
// refuse the request. Signed requests ignore it.
S3PayloadHeaders PrepareS3Payload(absl::Span<const uint8_t> body, bool sign_payload,
                                  std::optional<uint32_t> body_crc32c = std::nullopt);

// The x-amz-checksum-crc32c value of a CRC: base64 of its 4 bytes, big-endian
// ("4waSgw==" for 0xE3069283, the CRC of "123456789").
std::string Crc32cBase64(uint32_t crc32c);

}  // namespace ingest

#endif  // SERVER_S3_S3_PAYLOAD_H_
