// Owning smart pointers for OpenSSL objects, shared by the camera side (proto/)
// and the server side (server/tls/), so a context or certificate is freed
// exactly once whichever path returns early.
//
//   ASSIGN_OR_RETURN(camproto::SslCtxPtr ctx, CreateCameraClientContext(files));
//   camproto::SslSessionPtr session(SSL_get1_session(ssl));  // up-ref'd copy
#ifndef PROTO_SSL_PTR_H_
#define PROTO_SSL_PTR_H_

#include <memory>

#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

namespace camproto {

struct SslCtxDeleter {
  void operator()(SSL_CTX* ctx) const { SSL_CTX_free(ctx); }
};
struct SslDeleter {
  void operator()(SSL* ssl) const { SSL_free(ssl); }
};
struct SslSessionDeleter {
  void operator()(SSL_SESSION* session) const { SSL_SESSION_free(session); }
};
struct X509Deleter {
  void operator()(X509* cert) const { X509_free(cert); }
};
struct EvpPkeyDeleter {
  void operator()(EVP_PKEY* key) const { EVP_PKEY_free(key); }
};

using SslCtxPtr = std::unique_ptr<SSL_CTX, SslCtxDeleter>;
using SslPtr = std::unique_ptr<SSL, SslDeleter>;
using SslSessionPtr = std::unique_ptr<SSL_SESSION, SslSessionDeleter>;
using X509Ptr = std::unique_ptr<X509, X509Deleter>;
using EvpPkeyPtr = std::unique_ptr<EVP_PKEY, EvpPkeyDeleter>;

}  // namespace camproto

#endif  // PROTO_SSL_PTR_H_
