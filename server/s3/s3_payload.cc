#include "server/s3/s3_payload.h"

#include <string>

#include "absl/status/status.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "server/s3/sigv4.h"

namespace ingest {

absl::StatusOr<S3PayloadSigning> ParseS3PayloadSigning(std::string_view text) {
  if (text == "auto") return S3PayloadSigning::kAuto;
  if (text == "unsigned") return S3PayloadSigning::kUnsigned;
  if (text == "signed") return S3PayloadSigning::kSigned;
  return absl::InvalidArgumentError(
      absl::StrCat("must be \"auto\", \"unsigned\" or \"signed\", got \"", std::string(text.substr(0, 64)), "\""));
}

std::string_view S3PayloadSigningName(S3PayloadSigning signing) {
  switch (signing) {
    case S3PayloadSigning::kAuto:
      return "auto";
    case S3PayloadSigning::kUnsigned:
      return "unsigned";
    case S3PayloadSigning::kSigned:
      return "signed";
  }
  return "auto";
}

bool SignsPayload(S3PayloadSigning signing, bool tls) {
  switch (signing) {
    case S3PayloadSigning::kSigned:
      return true;
    case S3PayloadSigning::kUnsigned:
      return false;
    case S3PayloadSigning::kAuto:
      break;
  }
  // Over plain http nothing but the signature protects the body from being
  // changed on the way (a CRC can be fixed up by whoever changes it), so the
  // body stays signed there; over https TLS does that job.
  return !tls;
}

std::string Crc32cBase64(uint32_t crc32c) {
  const char big_endian[4] = {static_cast<char>(crc32c >> 24), static_cast<char>(crc32c >> 16),
                              static_cast<char>(crc32c >> 8), static_cast<char>(crc32c)};
  return absl::Base64Escape(absl::string_view(big_endian, sizeof(big_endian)));
}

S3PayloadHeaders PrepareS3Payload(absl::Span<const uint8_t> body, bool sign_payload,
                                  std::optional<uint32_t> body_crc32c) {
  S3PayloadHeaders out;
  if (sign_payload) {
    out.payload_sha256 = Sha256Hex(body);
    out.headers.emplace_back("content-md5", Md5Base64(body));
    return out;
  }
  out.payload_sha256 = std::string(kUnsignedPayload);
  const uint32_t crc = body_crc32c ? *body_crc32c : Crc32c({body.data(), body.size()});
  out.headers.emplace_back("x-amz-checksum-crc32c", Crc32cBase64(crc));
  return out;
}

}  // namespace ingest
