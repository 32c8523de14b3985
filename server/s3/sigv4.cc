#include "server/s3/sigv4.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/time/time.h"
#include "absl/types/span.h"
#include "server/s3/aws_credentials.h"

namespace ingest {
namespace {

constexpr std::string_view kAlgorithm = "AWS4-HMAC-SHA256";
constexpr std::string_view kEmptySha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
constexpr int64_t kMaxPresignSeconds = 7 * 24 * 3600;

using Digest = std::array<uint8_t, 32>;

// OpenSSL's digests only fail when the library itself is broken (no default
// provider, out of memory); there is no sensible signature to return then.
[[noreturn]] void CryptoFailure(const char* what) {
  std::fprintf(stderr, "sigv4: OpenSSL %s failed\n", what);
  std::abort();
}

std::string Hex(absl::Span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 0xf]);
  }
  return out;
}

Digest HmacSha256(absl::Span<const uint8_t> key, std::string_view data) {
  Digest out;
  unsigned int len = 0;
  if (HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
           reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(),
           &len) == nullptr ||
      len != out.size()) {
    CryptoFailure("HMAC-SHA256");
  }
  return out;
}

bool IsUnreserved(unsigned char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

char AsciiLower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = AsciiLower(c);
  return out;
}

// SigV4's Trimall: no leading or trailing whitespace, every inner run of
// whitespace one space.
std::string TrimAll(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  bool pending_space = false;
  for (char c : value) {
    if (IsSpace(c)) {
      pending_space = !out.empty();
      continue;
    }
    if (pending_space) out.push_back(' ');
    pending_space = false;
    out.push_back(c);
  }
  return out;
}

// RFC 3986 section 5.2.4 dot-segment removal plus the collapsing of empty
// segments AWS services (other than S3) apply before signing. A trailing
// slash survives unless nothing is left but the root.
std::string NormalizePath(std::string_view path) {
  if (path.empty()) return "/";
  std::vector<std::string_view> segments;
  size_t start = 0;
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string_view::npos) slash = path.size();
    std::string_view segment = path.substr(start, slash - start);
    if (segment == "..") {
      if (!segments.empty()) segments.pop_back();
    } else if (!segment.empty() && segment != ".") {
      segments.push_back(segment);
    }
    start = slash + 1;
  }
  std::string out = path.front() == '/' ? "/" : "";
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i > 0) out.push_back('/');
    out.append(segments[i]);
  }
  if (path.back() == '/' && !segments.empty()) out.push_back('/');
  return out;
}

std::string CanonicalUri(std::string_view path, std::string_view service) {
  if (service == "s3") return path.empty() ? "/" : std::string(path);
  return UriEncode(NormalizePath(path), /*keep_slash=*/true);
}

std::string CanonicalQuery(absl::Span<const std::pair<std::string, std::string>> query) {
  std::vector<std::pair<std::string, std::string>> encoded;
  encoded.reserve(query.size());
  for (const auto& [key, value] : query) {
    encoded.emplace_back(UriEncode(key, false), UriEncode(value, false));
  }
  std::sort(encoded.begin(), encoded.end());
  std::string out;
  for (const auto& [key, value] : encoded) {
    if (!out.empty()) out.push_back('&');
    out.append(key).append("=").append(value);
  }
  return out;
}

bool IsSignerOwnedHeader(std::string_view lower_name) {
  return lower_name == "host" || lower_name == "x-amz-date" ||
         lower_name == "x-amz-content-sha256" || lower_name == "x-amz-security-token" ||
         lower_name == "authorization";
}

struct CanonicalHeaders {
  std::string block;         // "name:value\n" per distinct name, sorted
  std::string signed_names;  // "a;b;c"
};

// `headers` holds lower-case names; values are trimmed here. Same-named
// headers keep their relative order and are joined with ','.
CanonicalHeaders Canonicalize(std::vector<std::pair<std::string, std::string>> headers) {
  std::stable_sort(headers.begin(), headers.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  CanonicalHeaders out;
  for (size_t i = 0; i < headers.size(); ++i) {
    const bool same_as_previous = i > 0 && headers[i].first == headers[i - 1].first;
    if (same_as_previous) {
      out.block.push_back(',');
    } else {
      if (i > 0) out.block.push_back('\n');
      if (!out.signed_names.empty()) out.signed_names.push_back(';');
      out.signed_names.append(headers[i].first);
      out.block.append(headers[i].first).push_back(':');
    }
    out.block.append(TrimAll(headers[i].second));
  }
  if (!out.block.empty()) out.block.push_back('\n');
  return out;
}

// The caller's headers, lower-cased, without the ones the signer owns: those
// get the signer's values, never a second copy.
std::vector<std::pair<std::string, std::string>> CallerHeaders(const SigV4Request& request) {
  std::vector<std::pair<std::string, std::string>> out;
  out.reserve(request.headers.size() + 4);
  for (const auto& [name, value] : request.headers) {
    std::string lower = Lower(TrimAll(name));
    if (lower.empty() || IsSignerOwnedHeader(lower)) continue;
    out.emplace_back(std::move(lower), value);
  }
  return out;
}

std::string AmzDate(absl::Time now) {
  return absl::FormatTime("%Y%m%dT%H%M%SZ", now, absl::UTCTimeZone());
}

std::string CredentialScope(std::string_view date_stamp, const SigV4Scope& scope) {
  std::string out(date_stamp);
  out.append("/").append(scope.region).append("/").append(scope.service).append("/aws4_request");
  return out;
}

std::string StringToSign(std::string_view amz_date, std::string_view credential_scope,
                         std::string_view canonical_request) {
  std::string out(kAlgorithm);
  out.append("\n").append(amz_date).append("\n").append(credential_scope).append("\n");
  out.append(Sha256Hex(canonical_request));
  return out;
}

std::string Signature(std::string_view secret, std::string_view date_stamp, const SigV4Scope& scope,
                      std::string_view string_to_sign) {
  std::string initial = "AWS4";
  initial.append(secret);
  const auto bytes = [](const std::string& s) {
    return absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  };
  Digest k_date = HmacSha256(bytes(initial), date_stamp);
  Digest k_region = HmacSha256(k_date, scope.region);
  Digest k_service = HmacSha256(k_region, scope.service);
  Digest k_signing = HmacSha256(k_service, "aws4_request");
  return Hex(HmacSha256(k_signing, string_to_sign));
}

std::string CanonicalRequest(std::string_view method, std::string_view canonical_uri,
                             std::string_view canonical_query, const CanonicalHeaders& headers,
                             std::string_view payload_hash) {
  std::string out(method);
  out.append("\n").append(canonical_uri).append("\n").append(canonical_query).append("\n");
  out.append(headers.block).append("\n").append(headers.signed_names).append("\n");
  out.append(payload_hash);
  return out;
}

}  // namespace

std::string UriEncode(std::string_view s, bool keep_slash) {
  static constexpr char kDigits[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (char ch : s) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsUnreserved(c) || (keep_slash && c == '/')) {
      out.push_back(ch);
    } else {
      out.push_back('%');
      out.push_back(kDigits[c >> 4]);
      out.push_back(kDigits[c & 0xf]);
    }
  }
  return out;
}

std::string Sha256Hex(absl::Span<const uint8_t> data) {
  Digest digest;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_sha256(), nullptr) != 1 ||
      len != digest.size()) {
    CryptoFailure("SHA-256");
  }
  return Hex(digest);
}

std::string Sha256Hex(std::string_view data) {
  return Sha256Hex(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(data.data()), data.size()));
}

std::string Md5Base64(absl::Span<const uint8_t> data) {
  std::array<uint8_t, 16> digest;
  unsigned int len = 0;
  if (EVP_Digest(data.data(), data.size(), digest.data(), &len, EVP_md5(), nullptr) != 1 ||
      len != digest.size()) {
    CryptoFailure("MD5");
  }
  // 16 bytes -> 24 base64 characters plus EVP_EncodeBlock's terminating NUL.
  std::array<unsigned char, 25> encoded;
  const int n = EVP_EncodeBlock(encoded.data(), digest.data(), static_cast<int>(digest.size()));
  if (n != 24) CryptoFailure("base64");
  return std::string(reinterpret_cast<const char*>(encoded.data()), static_cast<size_t>(n));
}

SignedHeaders SignRequest(const SigV4Request& request, const AwsCredentials& credentials,
                          const SigV4Scope& scope, absl::Time now) {
  const std::string amz_date = AmzDate(now);
  const std::string date_stamp = amz_date.substr(0, 8);
  const bool is_s3 = scope.service == "s3";
  const std::string payload_hash =
      request.payload_sha256.empty() ? std::string(kEmptySha256) : request.payload_sha256;

  SignedHeaders result;
  result.headers.emplace_back("x-amz-date", amz_date);
  // Only S3 wants the payload hash as a header; the AWS test suite's generic
  // "service" vectors sign without it.
  if (is_s3) result.headers.emplace_back("x-amz-content-sha256", payload_hash);
  if (!credentials.session_token.empty()) {
    result.headers.emplace_back("x-amz-security-token", credentials.session_token);
  }

  std::vector<std::pair<std::string, std::string>> to_sign = CallerHeaders(request);
  to_sign.emplace_back("host", request.host);
  for (const auto& header : result.headers) to_sign.push_back(header);
  const CanonicalHeaders headers = Canonicalize(std::move(to_sign));

  result.canonical_request =
      CanonicalRequest(request.method, CanonicalUri(request.path, scope.service),
                       CanonicalQuery(request.query), headers, payload_hash);
  const std::string credential_scope = CredentialScope(date_stamp, scope);
  result.string_to_sign = StringToSign(amz_date, credential_scope, result.canonical_request);
  const std::string signature =
      Signature(credentials.secret_access_key, date_stamp, scope, result.string_to_sign);

  std::string authorization(kAlgorithm);
  authorization.append(" Credential=").append(credentials.access_key_id).append("/");
  authorization.append(credential_scope).append(", SignedHeaders=").append(headers.signed_names);
  authorization.append(", Signature=").append(signature);
  result.headers.emplace_back("authorization", std::move(authorization));
  return result;
}

std::string PresignUrl(const SigV4Request& request, const AwsCredentials& credentials,
                       const SigV4Scope& scope, absl::Time now, absl::Duration expires) {
  const std::string amz_date = AmzDate(now);
  const std::string date_stamp = amz_date.substr(0, 8);
  const std::string credential_scope = CredentialScope(date_stamp, scope);
  // Outside S3's accepted range the URL could never be used; clamp rather
  // than hand out something S3 rejects.
  const int64_t expires_s =
      std::clamp<int64_t>(absl::ToInt64Seconds(expires), 1, kMaxPresignSeconds);

  std::vector<std::pair<std::string, std::string>> to_sign = CallerHeaders(request);
  to_sign.emplace_back("host", request.host);
  const CanonicalHeaders headers = Canonicalize(std::move(to_sign));

  std::vector<std::pair<std::string, std::string>> query = request.query;
  query.emplace_back("X-Amz-Algorithm", std::string(kAlgorithm));
  query.emplace_back("X-Amz-Credential", credentials.access_key_id + "/" + credential_scope);
  query.emplace_back("X-Amz-Date", amz_date);
  query.emplace_back("X-Amz-Expires", std::to_string(expires_s));
  query.emplace_back("X-Amz-SignedHeaders", headers.signed_names);
  if (!credentials.session_token.empty()) {
    query.emplace_back("X-Amz-Security-Token", credentials.session_token);
  }
  const std::string canonical_query = CanonicalQuery(query);

  const std::string canonical_request =
      CanonicalRequest(request.method, CanonicalUri(request.path, scope.service), canonical_query,
                       headers, kUnsignedPayload);
  const std::string string_to_sign = StringToSign(amz_date, credential_scope, canonical_request);
  const std::string signature =
      Signature(credentials.secret_access_key, date_stamp, scope, string_to_sign);

  std::string url = request.path.empty() ? "/" : request.path;
  url.append("?").append(canonical_query).append("&X-Amz-Signature=").append(signature);
  return url;
}

}  // namespace ingest
