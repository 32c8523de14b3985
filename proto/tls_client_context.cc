#include "proto/tls_client_context.h"

#include <openssl/err.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "proto/openssl_error.h"

namespace camproto {

// Glue between OpenSSL's C callbacks and ResumptionCache.
struct ResumptionCacheHook {
  static void FreeCameraId(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/,
                           long /*argl*/, void* /*argp*/) {
    delete static_cast<std::string*>(ptr);
  }

  // Where a context keeps its cache (not owned).
  static int CtxIndex() {
    static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
    return index;
  }
  // Where a connection keeps its camera id (owned, freed with the SSL).
  static int SslIndex() {
    static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &FreeCameraId);
    return index;
  }

  // OpenSSL's new-session callback. Returns 0: OpenSSL keeps (and later
  // drops) its own reference, the cache keeps a copy.
  static int OnNewSession(SSL* ssl, SSL_SESSION* session) {
    auto* cache = static_cast<ResumptionCache*>(
        SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), CtxIndex()));
    auto* camera_id = static_cast<std::string*>(SSL_get_ex_data(ssl, SslIndex()));
    if (cache == nullptr || camera_id == nullptr || SSL_SESSION_is_resumable(session) != 1) {
      return 0;
    }
    // A copy, because OpenSSL marks the connection's own session
    // not-resumable when the connection is freed without a close_notify --
    // exactly the dropped-link case where a camera most wants to resume. TLS
    // 1.3 tickets stay valid however the connection ended.
    SSL_SESSION* copy = SSL_SESSION_dup(session);
    if (copy == nullptr) {
      ERR_clear_error();
      return 0;
    }
    cache->Store(*camera_id, copy);
    return 0;
  }
};

namespace {

// fopen's errno says "No such file" or "Permission denied" far more plainly
// than OpenSSL's "system lib" chain.
absl::Status CheckReadable(const std::string& path, const char* what) {
  if (path.empty()) return absl::InvalidArgumentError(std::string(what) + ": no file given");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(std::string("cannot read ") + what + " " + path + ": " +
                               std::strerror(errno));
  }
  std::fclose(f);
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SslCtxPtr> CreateCameraClientContext(const CameraTlsFiles& files) {
  ERR_clear_error();
  if (absl::Status s = CheckReadable(files.ca_file, "server CA file"); !s.ok()) return s;
  SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  if (ctx == nullptr) return OpenSslError(absl::StatusCode::kInternal, "SSL_CTX_new");
  SSL_CTX_set_min_proto_version(ctx.get(), files.allow_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  if (files.allow_tls12 &&
      SSL_CTX_set_cipher_list(ctx.get(), "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "setting TLS 1.2 ciphers");
  }
  SSL_CTX_set_options(ctx.get(), SSL_OP_NO_RENEGOTIATION);
  SSL_CTX_set_mode(ctx.get(), SSL_MODE_RELEASE_BUFFERS);
  if (SSL_CTX_load_verify_locations(ctx.get(), files.ca_file.c_str(), nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "loading server CA file " + files.ca_file);
  }
  SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_PEER, nullptr);

  if (!files.cert_file.empty()) {
    const std::string& key_file = files.key_file.empty() ? files.cert_file : files.key_file;
    if (absl::Status s = CheckReadable(files.cert_file, "camera certificate file"); !s.ok()) {
      return s;
    }
    if (absl::Status s = CheckReadable(key_file, "camera key file"); !s.ok()) return s;
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), files.cert_file.c_str()) != 1) {
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          "loading camera certificate " + files.cert_file);
    }
    // OpenSSL checks the key against the certificate while loading it.
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), key_file.c_str(), SSL_FILETYPE_PEM) != 1 &&
        ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
      return OpenSslError(absl::StatusCode::kInvalidArgument, "loading camera key " + key_file);
    }
    if (SSL_CTX_check_private_key(ctx.get()) != 1) {
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          "camera key " + key_file + " does not match certificate " +
                              files.cert_file);
    }
  }

  // Sessions go to the ResumptionCache (if one is attached), never to
  // OpenSSL's internal client store, which would grow without bound.
  SSL_CTX_set_session_cache_mode(ctx.get(),
                                 SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx.get(), &ResumptionCacheHook::OnNewSession);
  return ctx;
}

absl::StatusOr<CameraCredentials> LoadCameraCredentials(const std::string& cert_file,
                                                        const std::string& key_file) {
  ERR_clear_error();
  const std::string& key_path = key_file.empty() ? cert_file : key_file;
  if (absl::Status s = CheckReadable(cert_file, "camera certificate file"); !s.ok()) return s;
  if (absl::Status s = CheckReadable(key_path, "camera key file"); !s.ok()) return s;

  CameraCredentials credentials;
  {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(cert_file.c_str(), "r"), &BIO_free);
    if (bio == nullptr) {
      return OpenSslError(absl::StatusCode::kNotFound, "opening " + cert_file);
    }
    credentials.cert.reset(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (credentials.cert == nullptr) {
      return OpenSslError(absl::StatusCode::kInvalidArgument,
                          "no certificate in " + cert_file);
    }
    while (X509* next = PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr)) {
      credentials.intermediates.emplace_back(next);
    }
    ERR_clear_error();  // the loop ends on "no start line"
  }
  {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_file(key_path.c_str(), "r"), &BIO_free);
    if (bio == nullptr) return OpenSslError(absl::StatusCode::kNotFound, "opening " + key_path);
    credentials.key.reset(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
    if (credentials.key == nullptr) {
      return OpenSslError(absl::StatusCode::kInvalidArgument, "no private key in " + key_path);
    }
  }
  if (X509_check_private_key(credentials.cert.get(), credentials.key.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "camera key " + key_path + " does not match certificate " + cert_file);
  }
  return credentials;
}

absl::Status UseCameraCredentials(SSL* ssl, const CameraCredentials& credentials) {
  ERR_clear_error();
  if (credentials.cert == nullptr || credentials.key == nullptr) {
    return absl::InvalidArgumentError("camera credentials: missing certificate or key");
  }
  if (SSL_use_certificate(ssl, credentials.cert.get()) != 1 ||
      SSL_use_PrivateKey(ssl, credentials.key.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "setting camera credentials");
  }
  for (const X509Ptr& cert : credentials.intermediates) {
    if (SSL_add1_chain_cert(ssl, cert.get()) != 1) {
      return OpenSslError(absl::StatusCode::kInvalidArgument, "adding camera chain certificate");
    }
  }
  return absl::OkStatus();
}

ResumptionCache::~ResumptionCache() {
  if (ctx_ != nullptr) {
    SSL_CTX_set_ex_data(ctx_, ResumptionCacheHook::CtxIndex(), nullptr);
    SSL_CTX_free(ctx_);
  }
}

void ResumptionCache::Attach(SSL_CTX* ctx) {
  if (ctx_ != nullptr) {
    SSL_CTX_set_ex_data(ctx_, ResumptionCacheHook::CtxIndex(), nullptr);
    SSL_CTX_free(ctx_);
    ctx_ = nullptr;
  }
  if (ctx == nullptr) return;
  SSL_CTX_up_ref(ctx);
  ctx_ = ctx;
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  SSL_CTX_sess_set_new_cb(ctx, &ResumptionCacheHook::OnNewSession);
  SSL_CTX_set_ex_data(ctx, ResumptionCacheHook::CtxIndex(), this);
}

absl::Status ResumptionCache::Track(SSL* ssl, const std::string& camera_id) {
  if (camera_id.empty()) return absl::InvalidArgumentError("resumption cache: empty camera id");
  auto* id = new std::string(camera_id);
  auto* previous = static_cast<std::string*>(SSL_get_ex_data(ssl, ResumptionCacheHook::SslIndex()));
  if (SSL_set_ex_data(ssl, ResumptionCacheHook::SslIndex(), id) != 1) {
    delete id;
    return OpenSslError(absl::StatusCode::kInternal, "tagging TLS connection");
  }
  // Replacing a tag does not run the free callback, so the old one goes here.
  delete previous;
  return absl::OkStatus();
}

void ResumptionCache::Store(const std::string& camera_id, SSL_SESSION* session) {
  absl::MutexLock lock(&mu_);
  sessions_[camera_id].reset(session);
}

SslSessionPtr ResumptionCache::Find(const std::string& camera_id) const {
  absl::MutexLock lock(&mu_);
  auto it = sessions_.find(camera_id);
  if (it == sessions_.end()) return nullptr;
  SSL_SESSION_up_ref(it->second.get());
  return SslSessionPtr(it->second.get());
}

void ResumptionCache::Forget(const std::string& camera_id) {
  absl::MutexLock lock(&mu_);
  sessions_.erase(camera_id);
}

size_t ResumptionCache::size() const {
  absl::MutexLock lock(&mu_);
  return sessions_.size();
}

}  // namespace camproto
