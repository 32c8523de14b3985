// TLS 1.3 traffic keys (RFC 8446 section 7): from one direction's
// application traffic secret to the AEAD key and IV that protect its records,
// and to the next secret when that direction updates its keys (KeyUpdate).
//
// The record layer that takes over a connection after OpenSSL's handshake
// (tls13_record_layer.h) derives its keys here, for the three cipher suites
// OpenSSL negotiates by default.
//
//   const Tls13Suite* suite = FindTls13Suite(SSL_CIPHER_get_protocol_id(cipher));
//   ASSIGN_OR_RETURN(Tls13TrafficKey key, DeriveTrafficKey(*suite, secret));
//   ASSIGN_OR_RETURN(Tls13TrafficSecret next, NextTrafficSecret(*suite, secret));
#ifndef PROTO_TLS13_TRAFFIC_KEYS_H_
#define PROTO_TLS13_TRAFFIC_KEYS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include <openssl/evp.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace camproto {

inline constexpr size_t kTls13MaxSecretBytes = 48;  // SHA-384
inline constexpr size_t kTls13MaxKeyBytes = 32;     // AES-256, ChaCha20
inline constexpr size_t kTls13IvBytes = 12;
inline constexpr size_t kTls13TagBytes = 16;

// A TLS 1.3 cipher suite: its AEAD and its hash, fetched once per process.
struct Tls13Suite {
  uint16_t id = 0;  // IANA value: 0x1301 TLS_AES_128_GCM_SHA256, ...
  const char* name = "";
  const EVP_CIPHER* aead = nullptr;
  const EVP_MD* hash = nullptr;
  size_t key_bytes = 0;
  size_t secret_bytes = 0;  // the hash's length
};

// The suite with IANA value `id`, or null for one we leave to OpenSSL (for
// instance TLS_AES_128_CCM_SHA256) or that this OpenSSL cannot provide.
const Tls13Suite* FindTls13Suite(uint16_t id);

struct Tls13TrafficSecret {
  std::array<uint8_t, kTls13MaxSecretBytes> bytes{};
  size_t size = 0;
  absl::Span<const uint8_t> span() const { return {bytes.data(), size}; }
};

struct Tls13TrafficKey {
  std::array<uint8_t, kTls13MaxKeyBytes> key{};
  std::array<uint8_t, kTls13IvBytes> iv{};
};

// HKDF-Expand-Label(secret, label, context, out.size()) of RFC 8446 7.1, with
// `label` given without its "tls13 " prefix.
absl::Status HkdfExpandLabel(const EVP_MD* hash, absl::Span<const uint8_t> secret,
                             std::string_view label, absl::Span<const uint8_t> context,
                             absl::Span<uint8_t> out);

// The write key and IV of the direction whose traffic secret is `secret`.
absl::StatusOr<Tls13TrafficKey> DeriveTrafficKey(const Tls13Suite& suite,
                                                 const Tls13TrafficSecret& secret);

// application_traffic_secret_N+1 (RFC 8446 7.2), for a KeyUpdate.
absl::StatusOr<Tls13TrafficSecret> NextTrafficSecret(const Tls13Suite& suite,
                                                     const Tls13TrafficSecret& secret);

// Wipes key material from memory that is about to be freed or reused.
void Wipe(Tls13TrafficSecret& secret);
void Wipe(Tls13TrafficKey& key);

}  // namespace camproto

#endif  // PROTO_TLS13_TRAFFIC_KEYS_H_
