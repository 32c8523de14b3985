#include "server/tls/encoder_credentials.h"

#include <openssl/crypto.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/bounded_file.h"
#include "common/std_string_view.h"
#include "proto/frame_decoder.h"

namespace ingest {
namespace {

constexpr std::string_view kBearer = "Bearer ";
constexpr std::string_view kSha256Prefix = "sha256:";

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool DecodeHex(std::string_view hex, std::string& out) {
  if (hex.size() % 2 != 0) return false;
  out.clear();
  for (size_t i = 0; i < hex.size(); i += 2) {
    const int hi = HexValue(hex[i]);
    const int lo = HexValue(hex[i + 1]);
    if (hi < 0 || lo < 0) return false;
    out.push_back(static_cast<char>(hi * 16 + lo));
  }
  return true;
}

std::string Hex(const uint8_t* bytes, size_t n) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (size_t i = 0; i < n; ++i) {
    out.push_back(kDigits[bytes[i] >> 4]);
    out.push_back(kDigits[bytes[i] & 0xF]);
  }
  return out;
}

EncoderCredentials::Digest Sha256(std::string_view text) {
  EncoderCredentials::Digest digest;
  SHA256(reinterpret_cast<const uint8_t*>(text.data()), text.size(), digest.data());
  return digest;
}

EncoderVerdict Refuse(unsigned status, std::string reason) { return {false, status, std::move(reason)}; }

bool IsKeyIdByte(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; }

}  // namespace

std::string SignEncoderPath(std::string_view key, std::string_view camera, int64_t expires_unix) {
  const std::string message = absl::StrCat(ToAbsl(camera), "\n", expires_unix);
  uint8_t mac[EVP_MAX_MD_SIZE];
  unsigned mac_bytes = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), reinterpret_cast<const uint8_t*>(message.data()),
       message.size(), mac, &mac_bytes);
  return Hex(mac, mac_bytes);
}

absl::StatusOr<EncoderCredentials> EncoderCredentials::Parse(std::string_view text, std::string_view source) {
  EncoderCredentials credentials;
  size_t line_number = 0;
  for (absl::string_view raw : absl::StrSplit(ToAbsl(text), '\n')) {
    ++line_number;
    const std::vector<absl::string_view> fields = absl::StrSplit(raw, absl::ByAnyChar(" \t\r"), absl::SkipEmpty());
    if (fields.empty() || fields[0].front() == '#') continue;
    const std::string where = absl::StrCat(ToAbsl(source), ":", line_number, ": ");
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, "expected \"token <camera> sha256:<64 hex>\" or \"key <id> <hex key>\", got ",
                       fields.size(), " fields"));
    }
    if (fields[0] == "token") {
      if (!camproto::IsValidCameraId(ToStd(fields[1]))) {
        return absl::InvalidArgumentError(absl::StrCat(where, "bad camera id \"", fields[1], "\""));
      }
      std::string digest;
      if (!absl::StartsWith(fields[2], ToAbsl(kSha256Prefix)) ||
          !DecodeHex(ToStd(fields[2].substr(kSha256Prefix.size())), digest) || digest.size() != 32) {
        return absl::InvalidArgumentError(absl::StrCat(
            where, "the token must be given as sha256:<64 hex> (printf %s \"$TOKEN\" | sha256sum), never in clear"));
      }
      Digest d;
      std::copy(digest.begin(), digest.end(), d.begin());
      credentials.tokens_[std::string(fields[1])].push_back(d);
      ++credentials.token_count_;
    } else if (fields[0] == "key") {
      if (fields[1].empty() || fields[1].size() > 32 || !std::all_of(fields[1].begin(), fields[1].end(), IsKeyIdByte)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, "bad key id \"", fields[1], "\": 1 to 32 of [A-Za-z0-9_-]"));
      }
      std::string key;
      if (!DecodeHex(ToStd(fields[2]), key) || key.size() < kMinSigningKeyBytes || key.size() > kMaxSigningKeyBytes) {
        return absl::InvalidArgumentError(absl::StrCat(where, "key ", fields[1], " must be ", kMinSigningKeyBytes,
                                                       " to ", kMaxSigningKeyBytes, " bytes in hex"));
      }
      if (!credentials.keys_.emplace(std::string(fields[1]), std::move(key)).second) {
        return absl::InvalidArgumentError(absl::StrCat(where, "duplicate key id ", fields[1]));
      }
    } else {
      return absl::InvalidArgumentError(absl::StrCat(where, "unknown line kind \"", fields[0], "\": token or key"));
    }
  }
  return credentials;
}

absl::StatusOr<EncoderCredentials> ReadEncoderCredentialsFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadBoundedFile(path, kMaxCredentialsFileBytes, "encoder credentials file");
  if (!text.ok()) return text.status();
  absl::StatusOr<EncoderCredentials> credentials = EncoderCredentials::Parse(*text, path);
  OPENSSL_cleanse(text->data(), text->size());
  return credentials;
}

EncoderVerdict EncoderCredentials::CheckToken(std::string_view camera, std::string_view token) const {
  const Digest presented = Sha256(token);
  const auto it = tokens_.find(ToAbsl(camera));
  bool match = false;
  if (it != tokens_.end()) {
    for (const Digest& d : it->second) match |= CRYPTO_memcmp(d.data(), presented.data(), d.size()) == 0;
  }
  if (!match) return Refuse(403, absl::StrCat("the bearer token is not one of camera ", ToAbsl(camera), "'s"));
  return {true, 200, ""};
}

EncoderVerdict EncoderCredentials::CheckSignature(std::string_view camera, const SignedPath& signed_path,
                                                  int64_t now_unix) const {
  const auto key = keys_.find(signed_path.key_id);
  if (key == keys_.end()) {
    return Refuse(403, absl::StrCat("signed URL names unknown key \"", signed_path.key_id, "\""));
  }
  if (signed_path.expires_unix <= now_unix) {
    return Refuse(401, absl::StrCat("signed URL expired at ", signed_path.expires_unix, " (now ", now_unix, ")"));
  }
  const std::string expected = SignEncoderPath(key->second, camera, signed_path.expires_unix);
  std::string presented = absl::AsciiStrToLower(signed_path.signature_hex);
  if (presented.size() != expected.size() || CRYPTO_memcmp(presented.data(), expected.data(), expected.size()) != 0) {
    return Refuse(403,
                  absl::StrCat("signed URL's signature does not match camera ", ToAbsl(camera), " and its expiry"));
  }
  return {true, 200, ""};
}

EncoderVerdict EncoderCredentials::Check(std::string_view camera, std::string_view authorization,
                                         const std::optional<SignedPath>& signed_path, int64_t now_unix) const {
  if (signed_path) return CheckSignature(camera, *signed_path, now_unix);
  if (authorization.starts_with(kBearer)) return CheckToken(camera, authorization.substr(kBearer.size()));
  if (!authorization.empty()) return Refuse(401, "only Bearer authorization is accepted");
  return Refuse(401, "no credentials: a client certificate, an Authorization: Bearer token or a signed URL");
}

}  // namespace ingest
