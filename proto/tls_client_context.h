// The camera side's TLS context: verifies the ingest server against its CA,
// presents the camera's certificate, and keeps session tickets per camera so a
// reconnect resumes instead of paying for a full handshake.
//
//   ASSIGN_OR_RETURN(SslCtxPtr ctx, CreateCameraClientContext(
//       {.ca_file = "server-ca.crt", .cert_file = "cameras/cam-000001.pem"}));
//   ResumptionCache tickets;
//   tickets.Attach(ctx.get());
//   SslSessionPtr last = tickets.Find("cam-000001");        // may be null
//   ASSIGN_OR_RETURN(auto tls, TlsChannel::CreateClient(ctx.get(), "ingest.zone-a", last.get()));
//   tickets.Track(tls->ssl(), "cam-000001");                // before the handshake
//
// A TLS 1.3 server sends its ticket after the handshake; the client sees it
// while reading application data (TlsChannel::ReadPlaintext), and only then
// does the cache hold a session for the camera.
//
// A simulator running many cameras shares one context made without a
// certificate and gives each connection its own with UseCameraCredentials.
#ifndef PROTO_TLS_CLIENT_CONTEXT_H_
#define PROTO_TLS_CLIENT_CONTEXT_H_

#include <string>
#include <unordered_map>
#include <vector>

#include <openssl/ssl.h>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "proto/ssl_ptr.h"

namespace camproto {

struct CameraTlsFiles {
  // PEM bundle of the CA(s) that sign the ingest servers' certificates.
  std::string ca_file{};
  // PEM certificate chain of the camera, leaf first. May also hold the private
  // key. Empty: no certificate in the context (see UseCameraCredentials).
  std::string cert_file{};
  // PEM private key; empty when it is in cert_file.
  std::string key_file{};
  // TLS 1.3 only unless set (for servers behind old middleboxes).
  bool allow_tls12 = false;
};

// A client context: peer verification on (chain to ca_file; each channel adds
// the host/IP check), TLS 1.3 minimum unless allow_tls12, release-buffers mode,
// and client-side session caching routed to an attached ResumptionCache.
// Errors name the file that could not be read or does not match.
absl::StatusOr<SslCtxPtr> CreateCameraClientContext(const CameraTlsFiles& files);

// A camera's certificate chain and key, loaded once and shared by reference
// among its connections.
struct CameraCredentials {
  X509Ptr cert;
  std::vector<X509Ptr> intermediates;
  EvpPkeyPtr key;
};

// Reads a PEM certificate chain (leaf first) and key; `key_file` empty means
// the key is in `cert_file`. Fails if the key does not match the leaf.
absl::StatusOr<CameraCredentials> LoadCameraCredentials(const std::string& cert_file,
                                                        const std::string& key_file);

// Makes `ssl` (a client connection, before its handshake) present
// `credentials`. The connection takes its own references.
absl::Status UseCameraCredentials(SSL* ssl, const CameraCredentials& credentials);

// The newest resumable session of each camera. Thread-safe; sessions are
// reference-counted, so one may be offered on several connections.
class ResumptionCache {
 public:
  ResumptionCache() = default;
  ResumptionCache(const ResumptionCache&) = delete;
  ResumptionCache& operator=(const ResumptionCache&) = delete;
  // Detaches from the context (which it kept alive until now).
  ~ResumptionCache();

  // Routes the sessions of connections from `ctx` (made by
  // CreateCameraClientContext) into this cache. One context per cache, one
  // cache per context; attaching again replaces the previous context.
  void Attach(SSL_CTX* ctx);

  // Tags a client connection of the attached context with the camera it
  // serves: sessions it receives are stored under `camera_id`. Call before the
  // handshake. Untagged connections' sessions are dropped.
  static absl::Status Track(SSL* ssl, const std::string& camera_id);

  // A new reference to the newest session for `camera_id`, or null.
  SslSessionPtr Find(const std::string& camera_id) const;

  // Forgets the camera's session (e.g. after the server refused it).
  void Forget(const std::string& camera_id);

  // Number of cameras with a stored session.
  size_t size() const;

 private:
  friend struct ResumptionCacheHook;
  void Store(const std::string& camera_id, SSL_SESSION* session);

  SSL_CTX* ctx_ = nullptr;  // a reference held while attached
  mutable absl::Mutex mu_;
  std::unordered_map<std::string, SslSessionPtr> sessions_ ABSL_GUARDED_BY(mu_);
};

}  // namespace camproto

#endif  // PROTO_TLS_CLIENT_CONTEXT_H_
