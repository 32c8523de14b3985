#include "server/tls/dev_certs.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "proto/openssl_error.h"
#include "server/tls/camera_identity.h"
#include "server/tls/ticket_keys.h"

namespace ingest {
namespace {

using camproto::EvpPkeyPtr;
using camproto::OpenSslError;
using camproto::X509Ptr;

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509ExtensionPtr = std::unique_ptr<X509_EXTENSION, decltype(&X509_EXTENSION_free)>;

// Certificates this close to expiry are re-issued rather than kept.
constexpr absl::Duration kRenewBefore = absl::Hours(24);

bool IsIpLiteral(const std::string& name) {
  unsigned char buf[sizeof(struct in6_addr)];
  return inet_pton(AF_INET, name.c_str(), buf) == 1 ||
         inet_pton(AF_INET6, name.c_str(), buf) == 1;
}

absl::Status AddExtension(X509* cert, X509V3_CTX* ctx, int nid, const std::string& value) {
  X509ExtensionPtr ext(X509V3_EXT_nconf_nid(nullptr, ctx, nid, value.c_str()),
                       &X509_EXTENSION_free);
  if (ext == nullptr || X509_add_ext(cert, ext.get(), -1) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        absl::StrCat("certificate extension ", OBJ_nid2sn(nid), "=", value));
  }
  return absl::OkStatus();
}

absl::Status SetTime(ASN1_TIME* field, absl::Time t) {
  if (ASN1_TIME_set(field, absl::ToTimeT(t)) == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "certificate validity time");
  }
  return absl::OkStatus();
}

// Writes `data` to `path` via a temporary file and rename, so a reader (a
// server starting concurrently) never sees a half-written key.
absl::Status WriteFileAtomically(const std::string& path, const std::string& data, mode_t mode) {
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
  if (fd < 0) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create ", tmp, ": ", std::strerror(errno)));
  }
  // open() applies the umask; keys must end up exactly as private as asked.
  bool ok = ::fchmod(fd, mode) == 0;
  size_t done = 0;
  while (ok && done < data.size()) {
    ssize_t n = ::write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) ok = false;
    else done += static_cast<size_t>(n);
  }
  ok = ok && ::fsync(fd) == 0;
  int saved = errno;
  ok = (::close(fd) == 0) && ok;
  if (ok && ::rename(tmp.c_str(), path.c_str()) != 0) {
    saved = errno;
    ok = false;
  }
  if (!ok) {
    ::unlink(tmp.c_str());
    return absl::InternalError(absl::StrCat("writing ", path, ": ", std::strerror(saved)));
  }
  return absl::OkStatus();
}

bool Exists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0;
}

// True if `cert` is valid now and stays valid for kRenewBefore.
bool CurrentlyValid(X509* cert) {
  time_t now = absl::ToTimeT(absl::Now());
  time_t renew = absl::ToTimeT(absl::Now() + kRenewBefore);
  return X509_cmp_time(X509_get0_notBefore(cert), &now) < 0 &&
         X509_cmp_time(X509_get0_notAfter(cert), &renew) > 0;
}

// A key and certificate pair loaded from disk, or issued fresh.
struct Credential {
  X509Ptr cert;
  EvpPkeyPtr key;
};

// Loads a cert (and its key from key_path) if both parse and match; errors
// otherwise (the caller then re-issues).
absl::StatusOr<Credential> LoadCredential(const std::string& cert_path,
                                          const std::string& key_path) {
  Credential c;
  ASSIGN_OR_RETURN(c.cert, ReadCertificatePem(cert_path));
  ASSIGN_OR_RETURN(c.key, ReadPrivateKeyPem(key_path));
  if (X509_check_private_key(c.cert.get(), c.key.get()) != 1) {
    ERR_clear_error();
    return absl::FailedPreconditionError(key_path + " does not match " + cert_path);
  }
  return c;
}

// True if `cert` chains to `ca` and is currently valid.
bool IssuedBy(X509* cert, X509* ca) {
  std::unique_ptr<X509_STORE, decltype(&X509_STORE_free)> store(X509_STORE_new(),
                                                                 &X509_STORE_free);
  std::unique_ptr<X509_STORE_CTX, decltype(&X509_STORE_CTX_free)> ctx(X509_STORE_CTX_new(),
                                                                       &X509_STORE_CTX_free);
  bool ok = store != nullptr && ctx != nullptr && X509_STORE_add_cert(store.get(), ca) == 1 &&
            X509_STORE_CTX_init(ctx.get(), store.get(), cert, nullptr) == 1 &&
            X509_verify_cert(ctx.get()) == 1;
  ERR_clear_error();
  return ok && CurrentlyValid(cert);
}

// Loads the CA at cert_path/key_path if still usable, else makes and writes a
// new one. *fresh says which happened.
absl::StatusOr<Credential> EnsureCa(const std::string& common_name, const std::string& cert_path,
                                    const std::string& key_path, bool* fresh) {
  absl::StatusOr<Credential> existing = LoadCredential(cert_path, key_path);
  if (existing.ok() && X509_check_ca(existing->cert.get()) != 0 &&
      X509_check_issued(existing->cert.get(), existing->cert.get()) == X509_V_OK &&
      CurrentlyValid(existing->cert.get())) {
    *fresh = false;
    return existing;
  }
  Credential c;
  ASSIGN_OR_RETURN(c.key, GenerateP256Key());
  CertificateSpec spec{.role = CertificateRole::kCa, .common_name = common_name};
  // A CA outlives the leaves it signs, so a renewed leaf never needs a new CA.
  spec.not_after = absl::Now() + absl::Hours(24 * 365 * 5);
  ASSIGN_OR_RETURN(c.cert, IssueCertificate(spec, c.key.get(), nullptr, nullptr));
  RETURN_IF_ERROR(WritePem(key_path, nullptr, c.key.get()));
  RETURN_IF_ERROR(WritePem(cert_path, c.cert.get(), nullptr));
  *fresh = true;
  return c;
}

bool CoversNames(X509* cert, const std::vector<std::string>& names) {
  for (const std::string& name : names) {
    int match = IsIpLiteral(name) ? X509_check_ip_asc(cert, name.c_str(), 0)
                                  : X509_check_host(cert, name.data(), name.size(), 0, nullptr);
    if (match != 1) return false;
  }
  return true;
}

absl::Status EnsureServerCertificate(const DevCertOptions& options, const DevCertPaths& paths,
                                     const Credential& ca, bool ca_fresh) {
  if (!ca_fresh) {
    absl::StatusOr<Credential> existing = LoadCredential(paths.server_cert, paths.server_key);
    if (existing.ok() && IssuedBy(existing->cert.get(), ca.cert.get()) &&
        CoversNames(existing->cert.get(), options.server_names)) {
      return absl::OkStatus();
    }
  }
  CertificateSpec spec{.role = CertificateRole::kServer,
                       .common_name = options.server_names.front()};
  for (const std::string& name : options.server_names) {
    (IsIpLiteral(name) ? spec.ip_addresses : spec.dns_names).push_back(name);
  }
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateP256Key());
  ASSIGN_OR_RETURN(X509Ptr cert, IssueCertificate(spec, key.get(), ca.cert.get(), ca.key.get()));
  RETURN_IF_ERROR(WritePem(paths.server_key, nullptr, key.get()));
  return WritePem(paths.server_cert, cert.get(), nullptr);
}

absl::Status EnsureCameraCertificate(const std::string& camera_id, const std::string& path,
                                     const Credential& ca, bool ca_fresh) {
  if (!ca_fresh) {
    absl::StatusOr<Credential> existing = LoadCredential(path, path);
    if (existing.ok() && IssuedBy(existing->cert.get(), ca.cert.get())) {
      absl::StatusOr<std::string> id = CameraIdFromCertificate(existing->cert.get());
      if (id.ok() && *id == camera_id) return absl::OkStatus();
    }
  }
  CertificateSpec spec{.role = CertificateRole::kCamera,
                       .common_name = camera_id,
                       .uris = {"camera:" + camera_id}};
  ASSIGN_OR_RETURN(EvpPkeyPtr key, GenerateP256Key());
  ASSIGN_OR_RETURN(X509Ptr cert, IssueCertificate(spec, key.get(), ca.cert.get(), ca.key.get()));
  return WritePem(path, cert.get(), key.get());
}

absl::Status EnsureTicketKeys(const std::string& path) {
  if (Exists(path) && ReadTicketKeysFile(path).ok()) return absl::OkStatus();
  ASSIGN_OR_RETURN(TicketKey key, GenerateTicketKey());
  return WriteTicketKeysFile(path, {key});
}

absl::Status MakeDirectory(const std::string& path) {
  std::error_code error;
  std::filesystem::create_directories(path, error);
  if (error) {
    return absl::PermissionDeniedError(
        absl::StrCat("cannot create directory ", path, ": ", error.message()));
  }
  return absl::OkStatus();
}

}  // namespace

std::string DevCertPaths::CameraPem(const std::string& camera_id) const {
  return cameras_dir + "/" + camera_id + ".pem";
}

DevCertPaths DevCertPathsIn(const std::string& out_dir) {
  DevCertPaths p;
  p.camera_ca_cert = out_dir + "/camera-ca.crt";
  p.camera_ca_key = out_dir + "/camera-ca.key";
  p.server_ca_cert = out_dir + "/server-ca.crt";
  p.server_ca_key = out_dir + "/server-ca.key";
  p.server_cert = out_dir + "/server.crt";
  p.server_key = out_dir + "/server.key";
  p.ticket_keys = out_dir + "/ticket.keys";
  p.cameras_dir = out_dir + "/cameras";
  return p;
}

absl::StatusOr<std::string> DevCameraId(const std::string& format, int number) {
  // Parsed at run time against exactly one integer, so a stray %s in a
  // configured format is an error rather than undefined behaviour.
  std::unique_ptr<absl::ParsedFormat<'d'>> parsed = absl::ParsedFormat<'d'>::New(format);
  if (parsed == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        "camera id format \"", format, "\" must take exactly one integer (e.g. cam-%06d)"));
  }
  std::string id = absl::StrFormat(*parsed, number);
  if (!IsValidCameraId(id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("camera id format \"", format, "\" gives invalid camera id \"", id, "\""));
  }
  return id;
}

absl::StatusOr<EvpPkeyPtr> GenerateP256Key() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (key == nullptr) return OpenSslError(absl::StatusCode::kInternal, "generating a P-256 key");
  return key;
}

absl::StatusOr<X509Ptr> IssueCertificate(const CertificateSpec& spec, EVP_PKEY* subject_key,
                                         X509* issuer_cert, EVP_PKEY* issuer_key) {
  ERR_clear_error();
  if (subject_key == nullptr) return absl::InvalidArgumentError("IssueCertificate: no subject key");
  if ((issuer_cert == nullptr) != (issuer_key == nullptr)) {
    return absl::InvalidArgumentError(
        "IssueCertificate: give both issuer certificate and key, or neither (self-signed)");
  }
  X509Ptr cert(X509_new());
  if (cert == nullptr) return OpenSslError(absl::StatusCode::kInternal, "X509_new");
  X509* x = cert.get();
  if (X509_set_version(x, X509_VERSION_3) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "X509_set_version");
  }

  std::unique_ptr<BIGNUM, decltype(&BN_free)> serial(BN_new(), &BN_free);
  if (serial == nullptr || BN_rand(serial.get(), 127, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) != 1 ||
      BN_to_ASN1_INTEGER(serial.get(), X509_get_serialNumber(x)) == nullptr) {
    return OpenSslError(absl::StatusCode::kInternal, "certificate serial number");
  }

  X509_NAME* subject = X509_get_subject_name(x);
  if (!spec.common_name.empty() &&
      X509_NAME_add_entry_by_txt(subject, "CN", MBSTRING_UTF8,
                                 reinterpret_cast<const unsigned char*>(spec.common_name.c_str()),
                                 -1, -1, 0) != 1) {
    return OpenSslError(absl::StatusCode::kInvalidArgument,
                        "certificate common name " + spec.common_name);
  }
  X509_NAME* issuer_name = issuer_cert ? X509_get_subject_name(issuer_cert) : subject;
  if (X509_set_issuer_name(x, issuer_name) != 1 || X509_set_pubkey(x, subject_key) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "certificate issuer or public key");
  }
  RETURN_IF_ERROR(SetTime(X509_getm_notBefore(x), spec.not_before));
  RETURN_IF_ERROR(SetTime(X509_getm_notAfter(x), spec.not_after));

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer_cert ? issuer_cert : x, x, nullptr, nullptr, 0);
  switch (spec.role) {
    case CertificateRole::kCa:
      RETURN_IF_ERROR(AddExtension(x, &ctx, NID_basic_constraints, "critical,CA:TRUE"));
      RETURN_IF_ERROR(AddExtension(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign"));
      break;
    case CertificateRole::kServer:
    case CertificateRole::kCamera:
      RETURN_IF_ERROR(AddExtension(x, &ctx, NID_basic_constraints, "critical,CA:FALSE"));
      RETURN_IF_ERROR(AddExtension(x, &ctx, NID_key_usage, "critical,digitalSignature"));
      RETURN_IF_ERROR(AddExtension(
          x, &ctx, NID_ext_key_usage,
          spec.role == CertificateRole::kServer ? "serverAuth" : "clientAuth"));
      break;
  }
  RETURN_IF_ERROR(AddExtension(x, &ctx, NID_subject_key_identifier, "hash"));
  if (issuer_cert != nullptr) {
    RETURN_IF_ERROR(AddExtension(x, &ctx, NID_authority_key_identifier, "keyid:always"));
  }

  std::vector<std::string> san;
  for (const std::string& n : spec.dns_names) san.push_back("DNS:" + n);
  for (const std::string& n : spec.ip_addresses) san.push_back("IP:" + n);
  for (const std::string& n : spec.uris) san.push_back("URI:" + n);
  for (const std::string& entry : san) {
    if (entry.find(',') != std::string::npos) {
      return absl::InvalidArgumentError("certificate SAN entry contains a comma: " + entry);
    }
  }
  if (!san.empty()) {
    RETURN_IF_ERROR(AddExtension(x, &ctx, NID_subject_alt_name, absl::StrJoin(san, ",")));
  }

  if (X509_sign(x, issuer_key ? issuer_key : subject_key, EVP_sha256()) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "signing certificate");
  }
  return cert;
}

absl::Status WritePem(const std::string& path, X509* cert, EVP_PKEY* key) {
  ERR_clear_error();
  BioPtr bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (bio == nullptr) return OpenSslError(absl::StatusCode::kInternal, "BIO_new");
  if (cert != nullptr && PEM_write_bio_X509(bio.get(), cert) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "encoding certificate for " + path);
  }
  if (key != nullptr &&
      PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "encoding key for " + path);
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  std::string pem(data, static_cast<size_t>(size));
  absl::Status status = WriteFileAtomically(path, pem, key != nullptr ? 0600 : 0644);
  OPENSSL_cleanse(pem.data(), pem.size());
  return status;
}

absl::StatusOr<X509CrlPtr> IssueCrl(X509* issuer_cert, EVP_PKEY* issuer_key, const std::vector<X509*>& revoked,
                                    absl::Time next_update) {
  ERR_clear_error();
  X509CrlPtr crl(X509_CRL_new());
  if (crl == nullptr) return OpenSslError(absl::StatusCode::kInternal, "X509_CRL_new");
  using Asn1TimePtr = std::unique_ptr<ASN1_TIME, decltype(&ASN1_TIME_free)>;
  Asn1TimePtr last(ASN1_TIME_set(nullptr, absl::ToTimeT(absl::Now() - absl::Hours(1))), &ASN1_TIME_free);
  Asn1TimePtr next(ASN1_TIME_set(nullptr, absl::ToTimeT(next_update)), &ASN1_TIME_free);
  if (last == nullptr || next == nullptr || X509_CRL_set_version(crl.get(), 1) != 1 ||
      X509_CRL_set_issuer_name(crl.get(), X509_get_subject_name(issuer_cert)) != 1 ||
      X509_CRL_set1_lastUpdate(crl.get(), last.get()) != 1 || X509_CRL_set1_nextUpdate(crl.get(), next.get()) != 1) {
    return OpenSslError(absl::StatusCode::kInternal, "setting CRL fields");
  }
  for (X509* cert : revoked) {
    X509_REVOKED* entry = X509_REVOKED_new();
    if (entry == nullptr || X509_REVOKED_set_serialNumber(entry, const_cast<ASN1_INTEGER*>(X509_get0_serialNumber(cert))) != 1 ||
        X509_REVOKED_set_revocationDate(entry, last.get()) != 1 || X509_CRL_add0_revoked(crl.get(), entry) != 1) {
      X509_REVOKED_free(entry);
      return OpenSslError(absl::StatusCode::kInternal, "adding a revoked serial");
    }
  }
  if (X509_CRL_sort(crl.get()) != 1 || X509_CRL_sign(crl.get(), issuer_key, EVP_sha256()) <= 0) {
    return OpenSslError(absl::StatusCode::kInternal, "signing the CRL");
  }
  return crl;
}

absl::Status WriteCrlPem(const std::string& path, const std::vector<X509_CRL*>& crls) {
  ERR_clear_error();
  BioPtr bio(BIO_new(BIO_s_mem()), &BIO_free);
  if (bio == nullptr) return OpenSslError(absl::StatusCode::kInternal, "BIO_new");
  for (X509_CRL* crl : crls) {
    if (PEM_write_bio_X509_CRL(bio.get(), crl) != 1) {
      return OpenSslError(absl::StatusCode::kInternal, "encoding a CRL for " + path);
    }
  }
  char* data = nullptr;
  long size = BIO_get_mem_data(bio.get(), &data);
  return WriteFileAtomically(path, std::string(data, static_cast<size_t>(size)), 0644);
}

absl::StatusOr<X509Ptr> ReadCertificatePem(const std::string& path) {
  ERR_clear_error();
  BioPtr bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  if (bio == nullptr) return OpenSslError(absl::StatusCode::kNotFound, "cannot read " + path);
  X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
  if (cert == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "no certificate in " + path);
  }
  return cert;
}

absl::StatusOr<EvpPkeyPtr> ReadPrivateKeyPem(const std::string& path) {
  ERR_clear_error();
  BioPtr bio(BIO_new_file(path.c_str(), "r"), &BIO_free);
  if (bio == nullptr) return OpenSslError(absl::StatusCode::kNotFound, "cannot read " + path);
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (key == nullptr) {
    return OpenSslError(absl::StatusCode::kInvalidArgument, "no private key in " + path);
  }
  return key;
}

absl::Status MakeDevCertificates(const DevCertOptions& options) {
  if (options.out_dir.empty()) return absl::InvalidArgumentError("dev certs: no output directory");
  if (options.camera_count < 0) {
    return absl::InvalidArgumentError("dev certs: negative camera count");
  }
  if (options.server_names.empty()) {
    return absl::InvalidArgumentError("dev certs: no server names");
  }
  DevCertPaths paths = DevCertPathsIn(options.out_dir);
  RETURN_IF_ERROR(MakeDirectory(options.out_dir));
  RETURN_IF_ERROR(MakeDirectory(paths.cameras_dir));

  bool camera_ca_fresh = false;
  bool server_ca_fresh = false;
  ASSIGN_OR_RETURN(Credential camera_ca, EnsureCa("camera-ingest dev camera CA",
                                                  paths.camera_ca_cert, paths.camera_ca_key,
                                                  &camera_ca_fresh));
  ASSIGN_OR_RETURN(Credential server_ca, EnsureCa("camera-ingest dev server CA",
                                                  paths.server_ca_cert, paths.server_ca_key,
                                                  &server_ca_fresh));
  RETURN_IF_ERROR(EnsureServerCertificate(options, paths, server_ca, server_ca_fresh));
  std::string previous_id;
  for (int number = 1; number <= options.camera_count; ++number) {
    ASSIGN_OR_RETURN(std::string id, DevCameraId(options.camera_id_format, number));
    if (id == previous_id) {
      return absl::InvalidArgumentError(absl::StrCat("camera id format \"",
                                                     options.camera_id_format,
                                                     "\" gives the same id twice: ", id));
    }
    RETURN_IF_ERROR(EnsureCameraCertificate(id, paths.CameraPem(id), camera_ca, camera_ca_fresh));
    previous_id = std::move(id);
  }
  return EnsureTicketKeys(paths.ticket_keys);
}

}  // namespace ingest
