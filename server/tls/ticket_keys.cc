#include "server/tls/ticket_keys.h"

#include <fcntl.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>

#include "absl/base/thread_annotations.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "proto/openssl_error.h"

namespace ingest {
namespace {

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

template <size_t N>
bool DecodeHex(std::string_view hex, std::array<uint8_t, N>& out) {
  if (hex.size() != 2 * N) return false;
  for (size_t i = 0; i < N; ++i) {
    int hi = HexValue(hex[2 * i]);
    int lo = HexValue(hex[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    out[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

template <size_t N>
void AppendHex(const std::array<uint8_t, N>& bytes, std::string& out) {
  static constexpr char kDigits[] = "0123456789abcdef";
  for (uint8_t b : bytes) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
}

std::vector<std::string_view> SplitFields(std::string_view line) {
  std::vector<std::string_view> fields;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t' || line[i] == '\r')) ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ' && line[i] != '\t' && line[i] != '\r') ++i;
    if (i > start) fields.push_back(line.substr(start, i - start));
  }
  return fields;
}

// The keys of one context. Handshakes on every shard thread read them;
// ReplaceTicketKeys (SIGHUP) writes them.
class TicketKeyRing {
 public:
  explicit TicketKeyRing(std::vector<TicketKey> keys) : keys_(std::move(keys)) {}
  ~TicketKeyRing() { Wipe(keys_); }

  void Replace(std::vector<TicketKey> keys) {
    absl::MutexLock lock(&mu_);
    keys_.swap(keys);
    Wipe(keys);
  }

  std::vector<TicketKey> All() const {
    absl::ReaderMutexLock lock(&mu_);
    return keys_;
  }

  TicketKey Current() const {
    absl::ReaderMutexLock lock(&mu_);
    return keys_.front();
  }

  // The key called `name`, and whether it is the one encrypting new tickets.
  std::optional<std::pair<TicketKey, bool>> Find(const uint8_t* name) const {
    absl::ReaderMutexLock lock(&mu_);
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (std::memcmp(keys_[i].name.data(), name, keys_[i].name.size()) == 0) {
        return std::make_pair(keys_[i], i == 0);
      }
    }
    return std::nullopt;
  }

 private:
  static void Wipe(std::vector<TicketKey>& keys) {
    if (!keys.empty()) OPENSSL_cleanse(keys.data(), keys.size() * sizeof(TicketKey));
  }

  mutable absl::Mutex mu_;
  std::vector<TicketKey> keys_ ABSL_GUARDED_BY(mu_);  // never empty
};

void FreeRing(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
              void* /*argp*/) {
  delete static_cast<TicketKeyRing*>(ptr);
}

int RingIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, &FreeRing);
  return index;
}

TicketKeyRing* RingOf(SSL_CTX* ctx) {
  return static_cast<TicketKeyRing*>(SSL_CTX_get_ex_data(ctx, RingIndex()));
}

bool SetHmacKey(EVP_MAC_CTX* hmac, std::array<uint8_t, 32>& key) {
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, key.data(), key.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
      OSSL_PARAM_construct_end(),
  };
  return EVP_MAC_CTX_set_params(hmac, params) == 1;
}

// OpenSSL's ticket callback (RFC 5077 layout: name, IV, AES-256-CBC, HMAC).
// Returns -1 on failure, 0 "unknown key: do a full handshake", 1 "key found",
// 2 "key found but old: issue a new ticket".
int TicketKeyCallback(SSL* ssl, unsigned char* key_name, unsigned char* iv,
                      EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* hmac, int encrypt) {
  TicketKeyRing* ring = RingOf(SSL_get_SSL_CTX(ssl));
  if (ring == nullptr) return -1;
  if (encrypt) {
    TicketKey key = ring->Current();
    std::memcpy(key_name, key.name.data(), key.name.size());
    bool ok = RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) == 1 &&
              EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv) ==
                  1 &&
              SetHmacKey(hmac, key.hmac_key);
    OPENSSL_cleanse(&key, sizeof(key));
    return ok ? 1 : -1;
  }
  std::optional<std::pair<TicketKey, bool>> found = ring->Find(key_name);
  if (!found) return 0;
  TicketKey& key = found->first;
  bool ok = SetHmacKey(hmac, key.hmac_key) &&
            EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key.aes_key.data(), iv) == 1;
  OPENSSL_cleanse(&key, sizeof(key));
  if (!ok) return -1;
  return found->second ? 1 : 2;
}

}  // namespace

absl::StatusOr<std::vector<TicketKey>> ParseTicketKeys(std::string_view text,
                                                       std::string_view source) {
  std::vector<TicketKey> keys;
  size_t line_number = 0;
  while (!text.empty()) {
    size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    std::vector<std::string_view> fields = SplitFields(line);
    if (fields.empty() || fields[0][0] == '#') continue;
    std::string where = absl::StrCat(std::string(source), ":", line_number);
    if (fields.size() != 3) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": expected \"<name-hex32> <hmac-key-hex64> <aes-key-hex64>\", got ",
          fields.size(), " fields"));
    }
    TicketKey key;
    if (!DecodeHex(fields[0], key.name)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": key name is not 32 hex digits"));
    }
    if (!DecodeHex(fields[1], key.hmac_key)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": HMAC key is not 64 hex digits"));
    }
    if (!DecodeHex(fields[2], key.aes_key)) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": AES key is not 64 hex digits"));
    }
    for (const TicketKey& other : keys) {
      if (other.name == key.name) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": duplicate key name ", std::string(fields[0])));
      }
    }
    keys.push_back(key);
  }
  if (keys.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(source), ": no ticket keys"));
  }
  return keys;
}

absl::StatusOr<std::vector<TicketKey>> ReadTicketKeysFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ticket keys file ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string contents = text.str();
  absl::StatusOr<std::vector<TicketKey>> keys = ParseTicketKeys(contents, path);
  OPENSSL_cleanse(contents.data(), contents.size());
  return keys;
}

std::string FormatTicketKeys(absl::Span<const TicketKey> keys) {
  std::string out =
      "# TLS session-ticket keys: <name> <hmac-sha256-key> <aes-256-key>, hex.\n"
      "# The first key encrypts new tickets; all keys decrypt.\n";
  for (const TicketKey& key : keys) {
    AppendHex(key.name, out);
    out += ' ';
    AppendHex(key.hmac_key, out);
    out += ' ';
    AppendHex(key.aes_key, out);
    out += '\n';
  }
  return out;
}

absl::StatusOr<TicketKey> GenerateTicketKey() {
  TicketKey key;
  if (RAND_bytes(key.name.data(), key.name.size()) != 1 ||
      RAND_bytes(key.hmac_key.data(), key.hmac_key.size()) != 1 ||
      RAND_bytes(key.aes_key.data(), key.aes_key.size()) != 1) {
    return camproto::OpenSslError(absl::StatusCode::kInternal, "generating a ticket key");
  }
  return key;
}

absl::Status WriteTicketKeysFile(const std::string& path, absl::Span<const TicketKey> keys) {
  std::string text = FormatTicketKeys(keys);
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", tmp, ": ", std::strerror(errno)));
  }
  size_t done = 0;
  while (done < text.size()) {
    ssize_t n = ::write(fd, text.data() + done, text.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int saved = errno;
      ::close(fd);
      ::unlink(tmp.c_str());
      return absl::InternalError(absl::StrCat("writing ", tmp, ": ", std::strerror(saved)));
    }
    done += static_cast<size_t>(n);
  }
  OPENSSL_cleanse(text.data(), text.size());
  if (::fsync(fd) != 0 || ::close(fd) != 0) {
    int saved = errno;
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("syncing ", tmp, ": ", std::strerror(saved)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int saved = errno;
    ::unlink(tmp.c_str());
    return absl::InternalError(
        absl::StrCat("renaming ", tmp, " to ", path, ": ", std::strerror(saved)));
  }
  return absl::OkStatus();
}

absl::Status InstallTicketKeys(SSL_CTX* ctx, std::vector<TicketKey> keys) {
  if (keys.empty()) return absl::InvalidArgumentError("no ticket keys to install");
  if (TicketKeyRing* ring = RingOf(ctx)) {
    ring->Replace(std::move(keys));
    return absl::OkStatus();
  }
  auto ring = std::make_unique<TicketKeyRing>(std::move(keys));
  if (SSL_CTX_set_ex_data(ctx, RingIndex(), ring.get()) != 1) {
    return camproto::OpenSslError(absl::StatusCode::kInternal, "attaching ticket keys");
  }
  ring.release();  // owned by the context now; FreeRing deletes it
  if (SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, &TicketKeyCallback) != 1) {
    return camproto::OpenSslError(absl::StatusCode::kInternal, "setting the ticket key callback");
  }
  return absl::OkStatus();
}

absl::Status ReplaceTicketKeys(SSL_CTX* ctx, std::vector<TicketKey> keys) {
  if (keys.empty()) return absl::InvalidArgumentError("no ticket keys to install");
  TicketKeyRing* ring = RingOf(ctx);
  if (ring == nullptr) {
    return absl::FailedPreconditionError("this TLS context has no installed ticket keys");
  }
  ring->Replace(std::move(keys));
  return absl::OkStatus();
}

absl::StatusOr<std::vector<TicketKey>> InstalledTicketKeys(SSL_CTX* ctx) {
  TicketKeyRing* ring = RingOf(ctx);
  if (ring == nullptr) {
    return absl::FailedPreconditionError("this TLS context has no installed ticket keys");
  }
  return ring->All();
}

}  // namespace ingest
