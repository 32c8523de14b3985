// Who may push to the HTTPS ingest listener without a client certificate
// (encoders and gateways that cannot hold one), from one file an operator
// edits and the server re-reads:
//
//   # Bearer tokens: the camera and the SHA-256 of a token it may use
//   # (printf %s "$TOKEN" | sha256sum); several lines per camera rotate.
//   token cam-000001 sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
//   # Keys for signed URLs: an id and at least 32 bytes of key, hex.
//   key k1 000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f
//
// A signed URL names its key, its expiry and the camera it is good for:
//
//   /v1/signed/{expires}/{key id}.{signature}/cameras/{camera}/{name}
//   signature = hex(HMAC-SHA256(key, "{camera}\n{expires}")), expires in unix seconds
//
// The signature sits in the path, not the query, because an HLS push keeps
// the playlist URL's directory for its segments and drops its query (ffmpeg
// 5.1 does). Tokens are kept only as digests; every comparison of a secret
// is constant-time.
//
//   ASSIGN_OR_RETURN(EncoderCredentials creds, ReadEncoderCredentialsFile(path));
//   EncoderVerdict v = creds.Check("cam-000001", authorization_field, target.signed_path, now_unix);
//   if (!v.allowed) answer v.status (401 or 403) with v.reason
#ifndef SERVER_TLS_ENCODER_CREDENTIALS_H_
#define SERVER_TLS_ENCODER_CREDENTIALS_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace ingest {

// The signed-URL part of a request-target.
struct SignedPath {
  int64_t expires_unix = 0;
  std::string key_id;
  std::string signature_hex;
};

inline constexpr size_t kMaxCredentialsFileBytes = 16 << 20;
inline constexpr size_t kMinSigningKeyBytes = 32;
inline constexpr size_t kMaxSigningKeyBytes = 128;

struct EncoderVerdict {
  bool allowed = false;
  unsigned status = 401;  // when refused: 401 no or expired credentials, 403 wrong ones
  std::string reason;
};

class EncoderCredentials {
 public:
  using Digest = std::array<uint8_t, 32>;

  // `source` names the text in errors ("<source>:<line>: ...").
  static absl::StatusOr<EncoderCredentials> Parse(std::string_view text, std::string_view source);

  EncoderVerdict Check(std::string_view camera, std::string_view authorization,
                       const std::optional<SignedPath>& signed_path, int64_t now_unix) const;

  size_t token_count() const { return token_count_; }
  size_t key_count() const { return keys_.size(); }

 private:
  EncoderVerdict CheckToken(std::string_view camera, std::string_view token) const;
  EncoderVerdict CheckSignature(std::string_view camera, const SignedPath& signed_path, int64_t now_unix) const;

  absl::flat_hash_map<std::string, std::vector<Digest>> tokens_;  // camera -> token digests
  absl::flat_hash_map<std::string, std::string> keys_;            // key id -> key bytes
  size_t token_count_ = 0;
};

absl::StatusOr<EncoderCredentials> ReadEncoderCredentialsFile(const std::string& path);

// The signature a signed URL carries for `camera` until `expires_unix` (hex),
// for tools that mint them and for tests.
std::string SignEncoderPath(std::string_view key, std::string_view camera, int64_t expires_unix);

}  // namespace ingest

#endif  // SERVER_TLS_ENCODER_CREDENTIALS_H_
