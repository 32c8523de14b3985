// The ingest server's mutual-TLS context: presents the server certificate,
// demands a certificate from the camera CA, and resumes sessions with
// stateless tickets whose keys every server of the zone shares.
//
//   ASSIGN_OR_RETURN(camproto::SslCtxPtr ctx, CreateServerContext({
//       .cert_file = "server.crt", .key_file = "server.key",
//       .camera_ca_file = "camera-ca.crt", .ticket_keys_file = "ticket.keys"}));
//   ASSIGN_OR_RETURN(auto tls, camproto::TlsChannel::CreateServer(ctx.get()));
//   ...on SIGHUP:
//   RETURN_IF_ERROR(ReloadTicketKeys(ctx.get(), "ticket.keys"));
//
// One context serves every shard thread (OpenSSL contexts are thread-safe
// once configured).
#ifndef SERVER_TLS_TLS_SERVER_CONTEXT_H_
#define SERVER_TLS_TLS_SERVER_CONTEXT_H_

#include <string>
#include <vector>

#include <openssl/ssl.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "proto/ssl_ptr.h"
#include "server/tls/ticket_keys.h"

namespace ingest {

struct TlsServerOptions {
  std::string cert_file{};       // PEM chain, leaf first
  std::string key_file{};        // PEM private key of the leaf
  std::string camera_ca_file{};  // PEM bundle of the CA(s) issuing camera certificates
  // Shared ticket keys (format in ticket_keys.h). Empty: a random key for
  // this process only, so tickets resume only on this server until restart.
  std::string ticket_keys_file{};
  bool allow_tls12 = false;  // TLS 1.3 only unless set
  // Keys to install instead of reading ticket_keys_file (or a random key):
  // a context replacing another keeps resuming its tickets.
  std::vector<TicketKey> ticket_keys{};
  // After a TLS 1.3 handshake the connection leaves OpenSSL for our own
  // record layer (camproto::EnableRecordLayerHandoff): a few hundred bytes per
  // idle camera instead of ~17 KB, and no copy on either side of a record.
  bool own_record_layer = true;
};

// A server context: TLS 1.3 (or 1.2+ if allowed), client certificate required
// and verified against camera_ca_file, stateless session tickets (no server-side
// session cache), one ticket per connection, release-buffers mode. Errors name
// the file that is missing, unreadable, malformed, or (key) does not match.
absl::StatusOr<camproto::SslCtxPtr> CreateServerContext(const TlsServerOptions& options);

// The file-loading steps of CreateServerContext, one per file, so that
// `ingestd check` opens each file exactly as the server does and can say
// which one is at fault. Each names its file in errors.
//
// Loads the certificate chain (PEM, leaf first) into `ctx`.
absl::Status UseServerCertificateChain(SSL_CTX* ctx, const std::string& cert_file);
// Loads the private key (PEM) into `ctx`, after UseServerCertificateChain.
// Errors: the file is missing, unreadable or holds no key. A valid key of
// another certificate is left to ServerKeyMatchesCertificate.
absl::Status UseServerPrivateKey(SSL_CTX* ctx, const std::string& key_file);
// InvalidArgument naming both files unless the key loaded into `ctx` belongs
// to its certificate.
absl::Status ServerKeyMatchesCertificate(SSL_CTX* ctx, const std::string& key_file, const std::string& cert_file);
// Verifies client certificates against the CA bundle (PEM) and names its CAs
// to cameras. InvalidArgument if it holds no certificate.
absl::Status UseCameraCa(SSL_CTX* ctx, const std::string& camera_ca_file);

// Re-reads the ticket keys file and swaps the keys of `ctx` (made by
// CreateServerContext). Thread-safe: handshakes on other threads continue
// with either list. On error the old keys stay in use.
absl::Status ReloadTicketKeys(SSL_CTX* ctx, const std::string& path);

}  // namespace ingest

#endif  // SERVER_TLS_TLS_SERVER_CONTEXT_H_
