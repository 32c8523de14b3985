// Session-ticket keys shared by every server of a zone, so a camera that
// reconnects to any of them resumes its TLS session (one ECDHE + HKDF instead
// of a certificate verification and signature).
//
// File format (text; '#' starts a comment line; blank lines are ignored), one
// key per line, three lowercase or uppercase hex fields:
//
//   <name: 32 hex = 16 bytes> <hmac-sha256 key: 64 hex> <aes-256-cbc key: 64 hex>
//
// The first key encrypts new tickets; every listed key decrypts. Rotation:
// prepend a new key, keep the previous one for at least the ticket lifetime,
// drop the oldest, then reload every server (SIGHUP -> ReloadTicketKeys). A
// ticket under a non-first key is accepted and replaced by a fresh one.
//
//   ASSIGN_OR_RETURN(std::vector<TicketKey> keys, ReadTicketKeysFile(path));
//   RETURN_IF_ERROR(InstallTicketKeys(ctx, std::move(keys)));
//   ...later, on SIGHUP, from any thread:
//   RETURN_IF_ERROR(ReplaceTicketKeys(ctx, *ReadTicketKeysFile(path)));
#ifndef SERVER_TLS_TICKET_KEYS_H_
#define SERVER_TLS_TICKET_KEYS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/ssl.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ingest {

struct TicketKey {
  std::array<uint8_t, 16> name{};
  std::array<uint8_t, 32> hmac_key{};
  std::array<uint8_t, 32> aes_key{};
};

// Parses the file format above. Errors name `source` and the line. Refuses an
// empty list and duplicate names (a name must pick exactly one key).
absl::StatusOr<std::vector<TicketKey>> ParseTicketKeys(std::string_view text,
                                                       std::string_view source);

// Reads and parses `path`.
absl::StatusOr<std::vector<TicketKey>> ReadTicketKeysFile(const std::string& path);

// The file format for `keys`, with a header comment.
std::string FormatTicketKeys(absl::Span<const TicketKey> keys);

// A key of fresh random bytes (OpenSSL's CSPRNG).
absl::StatusOr<TicketKey> GenerateTicketKey();

// Writes `keys` to `path` with mode 0600, atomically (temporary file, fsync,
// rename), so a server reloading concurrently never sees half a file.
absl::Status WriteTicketKeysFile(const std::string& path, absl::Span<const TicketKey> keys);

// Makes `ctx` (a server context) encrypt and decrypt tickets with `keys`
// (non-empty) instead of OpenSSL's per-process random key. The context owns
// the keys from now on.
absl::Status InstallTicketKeys(SSL_CTX* ctx, std::vector<TicketKey> keys);

// Swaps the keys of a context set up by InstallTicketKeys. Thread-safe with
// respect to handshakes running on other threads: each handshake sees either
// the old or the new list. FailedPrecondition if none were installed.
absl::Status ReplaceTicketKeys(SSL_CTX* ctx, std::vector<TicketKey> keys);

// A copy of the keys installed in `ctx` (first = encrypting), so a context
// built to replace it (certificate rotation) resumes the same tickets.
// FailedPrecondition if none were installed. The caller wipes the copy.
absl::StatusOr<std::vector<TicketKey>> InstalledTicketKeys(SSL_CTX* ctx);

}  // namespace ingest

#endif  // SERVER_TLS_TICKET_KEYS_H_
