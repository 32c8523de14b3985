#include "proto/tls13_traffic_keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/kdf.h>
#include <openssl/params.h>

#include <vector>

#include "proto/openssl_error.h"

namespace camproto {
namespace {

// Algorithms are fetched once: OpenSSL 3's implicit per-call fetches cost a
// lock and a table walk each.
struct FetchedAlgorithms {
  EVP_KDF* hkdf = nullptr;
  std::array<Tls13Suite, 3> suites{};
  size_t suite_count = 0;

  FetchedAlgorithms() {
    hkdf = EVP_KDF_fetch(nullptr, OSSL_KDF_NAME_HKDF, nullptr);
    Add(0x1301, "TLS_AES_128_GCM_SHA256", "AES-128-GCM", "SHA256", 16);
    Add(0x1302, "TLS_AES_256_GCM_SHA384", "AES-256-GCM", "SHA384", 32);
    Add(0x1303, "TLS_CHACHA20_POLY1305_SHA256", "ChaCha20-Poly1305", "SHA256", 32);
  }

  void Add(uint16_t id, const char* name, const char* aead, const char* hash, size_t key_bytes) {
    EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, aead, nullptr);
    EVP_MD* md = EVP_MD_fetch(nullptr, hash, nullptr);
    if (cipher == nullptr || md == nullptr || hkdf == nullptr) {
      // Not available in this OpenSSL (e.g. a FIPS provider without ChaCha20):
      // connections with this suite stay on OpenSSL's record layer.
      EVP_CIPHER_free(cipher);
      EVP_MD_free(md);
      ERR_clear_error();
      return;
    }
    suites[suite_count++] = Tls13Suite{.id = id,
                                       .name = name,
                                       .aead = cipher,
                                       .hash = md,
                                       .key_bytes = key_bytes,
                                       .secret_bytes = static_cast<size_t>(EVP_MD_get_size(md))};
  }
};

const FetchedAlgorithms& Algorithms() {
  // Never freed: the suites are referenced by connections until exit.
  static const FetchedAlgorithms* algorithms = new FetchedAlgorithms();
  return *algorithms;
}

}  // namespace

const Tls13Suite* FindTls13Suite(uint16_t id) {
  const FetchedAlgorithms& algorithms = Algorithms();
  for (size_t i = 0; i < algorithms.suite_count; ++i) {
    if (algorithms.suites[i].id == id) return &algorithms.suites[i];
  }
  return nullptr;
}

absl::Status HkdfExpandLabel(const EVP_MD* hash, absl::Span<const uint8_t> secret,
                             std::string_view label, absl::Span<const uint8_t> context,
                             absl::Span<uint8_t> out) {
  static constexpr std::string_view kPrefix = "tls13 ";
  if (out.size() > 0xffff || kPrefix.size() + label.size() > 255 || context.size() > 255) {
    return absl::InvalidArgumentError("HKDF-Expand-Label: argument too long");
  }
  // struct HkdfLabel { uint16 length; opaque label<7..255>; opaque context<0..255>; }
  std::vector<uint8_t> info;
  info.reserve(4 + kPrefix.size() + label.size() + context.size());
  info.push_back(static_cast<uint8_t>(out.size() >> 8));
  info.push_back(static_cast<uint8_t>(out.size()));
  info.push_back(static_cast<uint8_t>(kPrefix.size() + label.size()));
  info.insert(info.end(), kPrefix.begin(), kPrefix.end());
  info.insert(info.end(), label.begin(), label.end());
  info.push_back(static_cast<uint8_t>(context.size()));
  info.insert(info.end(), context.begin(), context.end());

  EVP_KDF_CTX* kdf = EVP_KDF_CTX_new(Algorithms().hkdf);
  if (kdf == nullptr) return OpenSslError(absl::StatusCode::kInternal, "HKDF context");
  int mode = EVP_KDF_HKDF_MODE_EXPAND_ONLY;
  const OSSL_PARAM params[] = {
      OSSL_PARAM_construct_int(OSSL_KDF_PARAM_MODE, &mode),
      OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
                                       const_cast<char*>(EVP_MD_get0_name(hash)), 0),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, const_cast<uint8_t*>(secret.data()),
                                        secret.size()),
      OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, info.data(), info.size()),
      OSSL_PARAM_construct_end(),
  };
  const bool derived = EVP_KDF_derive(kdf, out.data(), out.size(), params) == 1;
  EVP_KDF_CTX_free(kdf);
  if (!derived) return OpenSslError(absl::StatusCode::kInternal, "HKDF-Expand-Label");
  return absl::OkStatus();
}

absl::StatusOr<Tls13TrafficKey> DeriveTrafficKey(const Tls13Suite& suite,
                                                 const Tls13TrafficSecret& secret) {
  Tls13TrafficKey key;
  absl::Status s = HkdfExpandLabel(suite.hash, secret.span(), "key", {},
                                   absl::MakeSpan(key.key.data(), suite.key_bytes));
  if (s.ok()) s = HkdfExpandLabel(suite.hash, secret.span(), "iv", {}, absl::MakeSpan(key.iv));
  if (!s.ok()) {
    Wipe(key);
    return s;
  }
  return key;
}

absl::StatusOr<Tls13TrafficSecret> NextTrafficSecret(const Tls13Suite& suite,
                                                     const Tls13TrafficSecret& secret) {
  Tls13TrafficSecret next;
  next.size = suite.secret_bytes;
  absl::Status s = HkdfExpandLabel(suite.hash, secret.span(), "traffic upd", {},
                                   absl::MakeSpan(next.bytes.data(), next.size));
  if (!s.ok()) return s;
  return next;
}

void Wipe(Tls13TrafficSecret& secret) { OPENSSL_cleanse(secret.bytes.data(), secret.bytes.size()); }

void Wipe(Tls13TrafficKey& key) {
  OPENSSL_cleanse(key.key.data(), key.key.size());
  OPENSSL_cleanse(key.iv.data(), key.iv.size());
}

}  // namespace camproto
