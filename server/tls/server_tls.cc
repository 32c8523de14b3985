#include "server/tls/server_tls.h"

#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "proto/openssl_error.h"
#include "server/tls/certificate_validity.h"

namespace ingest {
namespace {

void FreeRevokedCertificate(void* /*parent*/, void* ptr, CRYPTO_EX_DATA* /*ad*/, int /*idx*/, long /*argl*/,
                            void* /*argp*/) {
  X509_free(static_cast<X509*>(ptr));
}

int RevokedCertificateIndex() {
  static const int index = SSL_get_ex_new_index(0, nullptr, nullptr, nullptr, &FreeRevokedCertificate);
  return index;
}

// OpenSSL's verification with two leniencies (see UseCameraCrls), and a note
// of the certificate refused as revoked so the shard can say which camera it
// was (after a failed handshake SSL_get0_peer_certificate is null).
int VerifyCameraCertificate(int ok, X509_STORE_CTX* store) {
  if (ok == 1) return 1;
  switch (X509_STORE_CTX_get_error(store)) {
    case X509_V_ERR_UNABLE_TO_GET_CRL:  // its issuer publishes no CRL here
    case X509_V_ERR_CRL_HAS_EXPIRED:    // a stale CRL still revokes what it lists
    case X509_V_ERR_CRL_NOT_YET_VALID:
      return 1;
    case X509_V_ERR_CERT_REVOKED: {
      auto* ssl = static_cast<SSL*>(X509_STORE_CTX_get_ex_data(store, SSL_get_ex_data_X509_STORE_CTX_idx()));
      X509* cert = X509_STORE_CTX_get_current_cert(store);
      if (ssl != nullptr && cert != nullptr && SSL_get_ex_data(ssl, RevokedCertificateIndex()) == nullptr &&
          X509_up_ref(cert) == 1) {
        if (SSL_set_ex_data(ssl, RevokedCertificateIndex(), cert) != 1) X509_free(cert);
      }
      return 0;
    }
    default:
      return 0;
  }
}

std::string NameLine(const X509_NAME* name) {
  char line[256] = {};
  X509_NAME_oneline(name, line, sizeof(line));
  return line;
}

// The CA certificates in the store of `ctx` (borrowed).
std::vector<X509*> StoreCertificates(SSL_CTX* ctx) {
  std::vector<X509*> out;
  STACK_OF(X509_OBJECT)* objects = X509_STORE_get0_objects(SSL_CTX_get_cert_store(ctx));
  for (int i = 0; i < sk_X509_OBJECT_num(objects); ++i) {
    X509_OBJECT* object = sk_X509_OBJECT_value(objects, i);
    if (X509_OBJECT_get_type(object) == X509_LU_X509) out.push_back(X509_OBJECT_get0_X509(object));
  }
  return out;
}

}  // namespace

absl::Status UseCameraCrls(SSL_CTX* ctx, const std::vector<X509CrlPtr>& crls, const std::string& crl_file) {
  const std::vector<X509*> cas = StoreCertificates(ctx);
  X509_STORE* store = SSL_CTX_get_cert_store(ctx);
  for (size_t i = 0; i < crls.size(); ++i) {
    X509_CRL* crl = crls[i].get();
    const X509_NAME* issuer = X509_CRL_get_issuer(crl);
    bool signed_by_ca = false;
    for (X509* ca : cas) {
      if (X509_NAME_cmp(X509_get_subject_name(ca), issuer) == 0 && X509_CRL_verify(crl, X509_get0_pubkey(ca)) == 1) {
        signed_by_ca = true;
        break;
      }
    }
    ERR_clear_error();
    if (!signed_by_ca) {
      return absl::InvalidArgumentError(absl::StrCat("CRL ", i + 1, " in ", crl_file, " (issuer ", NameLine(issuer),
                                                     ") is not signed by a CA of the camera CA file"));
    }
    if (X509_STORE_add_crl(store, crl) != 1) {
      return camproto::OpenSslError(absl::StatusCode::kInvalidArgument,
                                    absl::StrCat("adding CRL ", i + 1, " of ", crl_file));
    }
  }
  X509_STORE_set_flags(store, X509_V_FLAG_CRL_CHECK);
  SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, &VerifyCameraCertificate);
  return absl::OkStatus();
}

X509* RevokedPeerCertificate(SSL* ssl) {
  if (ssl == nullptr) return nullptr;
  return static_cast<X509*>(SSL_get_ex_data(ssl, RevokedCertificateIndex()));
}

absl::StatusOr<std::shared_ptr<const ServerTls>> LoadServerTls(const ServerTlsFiles& files, SSL_CTX* previous) {
  TlsServerOptions options = files.context;
  if (options.ticket_keys.empty() && options.ticket_keys_file.empty() && previous != nullptr) {
    ASSIGN_OR_RETURN(options.ticket_keys, InstalledTicketKeys(previous));
  }
  absl::StatusOr<camproto::SslCtxPtr> ctx = CreateServerContext(options);
  if (!options.ticket_keys.empty()) {
    OPENSSL_cleanse(options.ticket_keys.data(), options.ticket_keys.size() * sizeof(TicketKey));
  }
  if (!ctx.ok()) return ctx.status();

  auto tls = std::make_shared<ServerTls>();
  tls->ctx = std::move(*ctx);
  std::vector<X509CrlPtr> crls;
  if (!files.crl_file.empty()) {
    ASSIGN_OR_RETURN(crls, ReadCrlFile(files.crl_file));
    RETURN_IF_ERROR(UseCameraCrls(tls->ctx.get(), crls, files.crl_file));
  }
  CameraDenyList denied;
  if (!files.camera_deny_list_file.empty()) {
    ASSIGN_OR_RETURN(denied, ReadCameraDenyListFile(files.camera_deny_list_file));
  }
  tls->revocation = std::make_shared<const CameraRevocation>(std::move(denied), std::move(crls));
  if (!files.encoder_credentials_file.empty()) {
    ASSIGN_OR_RETURN(EncoderCredentials credentials, ReadEncoderCredentialsFile(files.encoder_credentials_file));
    tls->encoder_credentials = std::make_shared<const EncoderCredentials>(std::move(credentials));
  }

  X509* leaf = SSL_CTX_get0_certificate(tls->ctx.get());
  if (leaf == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("no certificate in ", files.context.cert_file));
  }
  absl::StatusOr<CertificateValidity> validity = ValidityOf(leaf);
  if (!validity.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(files.context.cert_file, ": ", validity.status().message()));
  }
  tls->certificate_subject = SubjectLine(leaf);
  tls->certificate_serial = SerialHex(leaf);
  tls->certificate_not_before = validity->not_before;
  tls->certificate_not_after = validity->not_after;
  for (X509* ca : StoreCertificates(tls->ctx.get())) {
    absl::StatusOr<CertificateValidity> ca_validity = ValidityOf(ca);
    if (!ca_validity.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(files.context.camera_ca_file, ": CA ", SubjectLine(ca), ": ",
                                                     ca_validity.status().message()));
    }
    ++tls->camera_ca_count;
    tls->camera_ca_not_after = std::min(tls->camera_ca_not_after, ca_validity->not_after);
  }
  return std::shared_ptr<const ServerTls>(std::move(tls));
}

}  // namespace ingest
