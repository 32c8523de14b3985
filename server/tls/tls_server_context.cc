#include "server/tls/tls_server_context.h"

#include <openssl/err.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "proto/openssl_error.h"
#include "proto/tls_channel.h"
#include "server/tls/ticket_keys.h"

namespace ingest {
namespace {

// Must be equal on every server of the zone: OpenSSL refuses to resume a
// session whose context id differs, and with client certificates it refuses
// to resume at all without one.
constexpr unsigned char kSessionIdContext[] = "camera-ingest-v1";

constexpr long kTicketLifetimeSeconds = 24 * 3600;

// Certificate chain: camera leaf plus at most a few intermediates.
constexpr int kVerifyDepth = 4;

absl::Status CheckReadable(const std::string& path, const char* what) {
  if (path.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": no file given"));
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) {
    return absl::NotFoundError(
        absl::StrCat("cannot read ", what, " ", path, ": ", std::strerror(errno)));
  }
  std::fclose(f);
  return absl::OkStatus();
}

}  // namespace

absl::Status UseServerCertificateChain(SSL_CTX* ctx, const std::string& cert_file) {
  RETURN_IF_ERROR(CheckReadable(cert_file, "server certificate file"));
  if (SSL_CTX_use_certificate_chain_file(ctx, cert_file.c_str()) != 1) {
    return camproto::OpenSslError(absl::StatusCode::kInvalidArgument, "loading server certificate " + cert_file);
  }
  return absl::OkStatus();
}

absl::Status UseServerPrivateKey(SSL_CTX* ctx, const std::string& key_file) {
  RETURN_IF_ERROR(CheckReadable(key_file, "server key file"));
  // OpenSSL checks the key against the certificate while loading it; a
  // mismatch is ServerKeyMatchesCertificate's to report, naming both files.
  if (SSL_CTX_use_PrivateKey_file(ctx, key_file.c_str(), SSL_FILETYPE_PEM) != 1 &&
      ERR_GET_REASON(ERR_peek_last_error()) != X509_R_KEY_VALUES_MISMATCH) {
    return camproto::OpenSslError(absl::StatusCode::kInvalidArgument, "loading server key " + key_file);
  }
  return absl::OkStatus();
}

absl::Status ServerKeyMatchesCertificate(SSL_CTX* ctx, const std::string& key_file, const std::string& cert_file) {
  if (SSL_CTX_check_private_key(ctx) != 1) {
    return camproto::OpenSslError(absl::StatusCode::kInvalidArgument,
                                  "server key " + key_file + " does not match certificate " + cert_file);
  }
  return absl::OkStatus();
}

absl::Status UseCameraCa(SSL_CTX* ctx, const std::string& camera_ca_file) {
  RETURN_IF_ERROR(CheckReadable(camera_ca_file, "camera CA file"));
  if (SSL_CTX_load_verify_locations(ctx, camera_ca_file.c_str(), nullptr) != 1) {
    return camproto::OpenSslError(absl::StatusCode::kInvalidArgument, "loading camera CA file " + camera_ca_file);
  }
  // Tell cameras which CA we accept (a camera holding several identities picks
  // the right one).
  STACK_OF(X509_NAME)* ca_names = SSL_load_client_CA_file(camera_ca_file.c_str());
  if (ca_names == nullptr) {
    return camproto::OpenSslError(absl::StatusCode::kInvalidArgument, "no CA certificate in " + camera_ca_file);
  }
  SSL_CTX_set_client_CA_list(ctx, ca_names);
  return absl::OkStatus();
}

absl::StatusOr<camproto::SslCtxPtr> CreateServerContext(const TlsServerOptions& options) {
  ERR_clear_error();
  camproto::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
  if (ctx == nullptr) return camproto::OpenSslError(absl::StatusCode::kInternal, "SSL_CTX_new");
  SSL_CTX* c = ctx.get();

  SSL_CTX_set_min_proto_version(c, options.allow_tls12 ? TLS1_2_VERSION : TLS1_3_VERSION);
  if (options.allow_tls12 && SSL_CTX_set_cipher_list(c, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1) {
    return camproto::OpenSslError(absl::StatusCode::kInternal, "setting TLS 1.2 ciphers");
  }
  SSL_CTX_set_options(c, SSL_OP_NO_RENEGOTIATION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  SSL_CTX_set_mode(c, SSL_MODE_RELEASE_BUFFERS);

  RETURN_IF_ERROR(UseServerCertificateChain(c, options.cert_file));
  RETURN_IF_ERROR(UseServerPrivateKey(c, options.key_file));
  RETURN_IF_ERROR(ServerKeyMatchesCertificate(c, options.key_file, options.cert_file));
  RETURN_IF_ERROR(UseCameraCa(c, options.camera_ca_file));
  SSL_CTX_set_verify(c, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
  SSL_CTX_set_verify_depth(c, kVerifyDepth);

  if (SSL_CTX_set_session_id_context(c, kSessionIdContext, sizeof(kSessionIdContext) - 1) != 1) {
    return camproto::OpenSslError(absl::StatusCode::kInternal, "setting session id context");
  }
  // Stateless tickets only: a server-side cache would cost memory per camera
  // and would not be shared across the zone's servers anyway.
  SSL_CTX_set_session_cache_mode(c, SSL_SESS_CACHE_OFF);
  // A resumed TLS 1.3 session gets no new ticket unless its key rotated, so a
  // camera's session lives this long from its last full handshake; a revoked
  // camera certificate thus stops resuming within a day.
  SSL_CTX_set_timeout(c, kTicketLifetimeSeconds);
  // A camera holds one connection at a time; one ticket is enough and halves
  // the post-handshake work of the default two.
  SSL_CTX_set_num_tickets(c, 1);
  if (options.own_record_layer) camproto::EnableRecordLayerHandoff(c);

  std::vector<TicketKey> keys;
  if (!options.ticket_keys.empty()) {
    keys = options.ticket_keys;
  } else if (options.ticket_keys_file.empty()) {
    ASSIGN_OR_RETURN(TicketKey key, GenerateTicketKey());
    keys.push_back(key);
  } else {
    ASSIGN_OR_RETURN(keys, ReadTicketKeysFile(options.ticket_keys_file));
  }
  RETURN_IF_ERROR(InstallTicketKeys(c, std::move(keys)));
  return ctx;
}

absl::Status ReloadTicketKeys(SSL_CTX* ctx, const std::string& path) {
  ASSIGN_OR_RETURN(std::vector<TicketKey> keys, ReadTicketKeysFile(path));
  return ReplaceTicketKeys(ctx, std::move(keys));
}

}  // namespace ingest
