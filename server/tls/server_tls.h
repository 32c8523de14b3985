// The server's whole TLS set-up as one immutable value, rebuilt from its
// files on a reload (certificate rotation, revocation) and swapped in only
// when every file is valid.
//
//   ASSIGN_OR_RETURN(std::shared_ptr<const ServerTls> tls,
//                    LoadServerTls({.context = {.cert_file = ..., .key_file = ...,
//                                               .camera_ca_file = ...},
//                                   .crl_file = "cameras.crl",
//                                   .camera_deny_list_file = "denied.txt"}));
//   ServingTls serving(tls);
//   ...on a shard thread, per accepted connection:
//   TlsChannel::CreateServer(serving.Get().tls->ctx.get());
//   ...on SIGHUP, off the shard threads:
//   ASSIGN_OR_RETURN(auto next, LoadServerTls(files, serving.Get().tls->ctx.get()));
//   serving.Replace(std::move(next));
//
// Connections hold their own reference to the context they were made from
// (SSL_new up-refs it), so replacing the current value never disturbs an
// established session; only new handshakes use the new files.
#ifndef SERVER_TLS_SERVER_TLS_H_
#define SERVER_TLS_SERVER_TLS_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include <openssl/ssl.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/ssl_ptr.h"
#include "server/tls/camera_revocation.h"
#include "server/tls/encoder_credentials.h"
#include "server/tls/tls_server_context.h"

namespace ingest {

struct ServerTlsFiles {
  TlsServerOptions context;           // certificate, key, camera CA, ticket keys
  std::string crl_file{};             // optional: PEM CRL(s) of the camera CA(s)
  std::string camera_deny_list_file{};  // optional: camera ids, one per line
  // optional: tokens and signing keys of encoders without a client
  // certificate (HTTPS ingest; encoder_credentials.h)
  std::string encoder_credentials_file{};
};

struct ServerTls {
  camproto::SslCtxPtr ctx;
  std::shared_ptr<const CameraRevocation> revocation;
  // Null when no encoder_credentials_file is set: then HTTPS ingest takes
  // client certificates only.
  std::shared_ptr<const EncoderCredentials> encoder_credentials;
  // The serving (leaf) certificate.
  std::string certificate_subject;
  std::string certificate_serial;  // hex
  absl::Time certificate_not_before;
  absl::Time certificate_not_after;
  // The camera CA bundle: how many certificates, and the earliest notAfter.
  size_t camera_ca_count = 0;
  absl::Time camera_ca_not_after = absl::InfiniteFuture();
};

// Builds a complete context from `files`: certificate chain, key (checked
// against the certificate), camera CA bundle, CRLs (each must be signed by a
// CA of the bundle) and the deny list. Ticket keys: re-read from
// ticket_keys_file if set, else copied from `previous` (if given), else a
// random key. Errors name the file at fault and why; nothing is shared with
// `previous` except copied ticket keys.
absl::StatusOr<std::shared_ptr<const ServerTls>> LoadServerTls(const ServerTlsFiles& files,
                                                               SSL_CTX* previous = nullptr);

// Adds `crls` to the certificate store of `ctx` (a server context with its
// camera CA loaded) and turns on revocation checking of camera certificates
// (X509_V_FLAG_CRL_CHECK, leaf only). InvalidArgument naming `crl_file` if a
// CRL is not signed by a CA of the store. Checking is lenient where strictness
// would cut off a whole fleet: a certificate whose issuer has no CRL in the
// file is not CRL-checked, and a CRL past its nextUpdate still revokes what
// it lists (and nothing else).
absl::Status UseCameraCrls(SSL_CTX* ctx, const std::vector<X509CrlPtr>& crls, const std::string& crl_file);

// After a failed server handshake: the camera certificate OpenSSL refused as
// revoked (CRL), or null if the failure was anything else. Owned by `ssl`.
X509* RevokedPeerCertificate(SSL* ssl);

// The current ServerTls, replaced as a whole. Get() and generation() are
// safe from any thread; shards compare generation() (one atomic load) each
// loop turn and call Get() only when it moved.
class ServingTls {
 public:
  explicit ServingTls(std::shared_ptr<const ServerTls> initial) : current_(std::move(initial)) {}

  struct Current {
    std::shared_ptr<const ServerTls> tls;
    uint64_t generation = 0;
  };
  Current Get() const {
    absl::MutexLock lock(&mu_);
    return {current_, generation_.load(std::memory_order_relaxed)};
  }
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  // Makes `next` current for every handshake that starts from now on.
  void Replace(std::shared_ptr<const ServerTls> next) {
    absl::MutexLock lock(&mu_);
    current_ = std::move(next);
    generation_.fetch_add(1, std::memory_order_release);
  }

 private:
  mutable absl::Mutex mu_;
  std::shared_ptr<const ServerTls> current_ ABSL_GUARDED_BY(mu_);
  std::atomic<uint64_t> generation_{1};
};

}  // namespace ingest

#endif  // SERVER_TLS_SERVER_TLS_H_
