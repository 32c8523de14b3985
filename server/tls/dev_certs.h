// Development PKI: a camera CA, a server CA, a server certificate, one
// certificate per simulated camera and a ticket keys file, so ingestd, the
// camera simulator and the tests run with real mutual TLS and no manual steps.
// Not for production: keys are unencrypted files.
//
//   RETURN_IF_ERROR(MakeDevCertificates({.out_dir = "/var/lib/ingest/dev-certs",
//                                        .camera_count = 100}));
//   DevCertPaths paths = DevCertPathsIn("/var/lib/ingest/dev-certs");
//   // server: paths.server_cert, paths.server_key, paths.camera_ca_cert
//   // camera: paths.server_ca_cert, paths.CameraPem("cam-000001")
//
// Layout of out_dir:
//   camera-ca.crt, camera-ca.key   CA that signs camera certificates
//   server-ca.crt, server-ca.key   CA that signs the server certificate
//   server.crt, server.key         SAN DNS/IP for each server name
//   cameras/<id>.pem               certificate then key; SAN URI camera:<id>, CN=<id>
//   ticket.keys                    one ticket key (format in ticket_keys.h)
// All keys are EC P-256 (fast to generate and to sign with), written 0600.
// Certificates are valid from one hour ago for one year.
//
// The lower-level IssueCertificate makes the odd certificates tests need:
// expired, not yet valid, from another CA, CN unlike the SAN, self-signed.
#ifndef SERVER_TLS_DEV_CERTS_H_
#define SERVER_TLS_DEV_CERTS_H_

#include <string>
#include <vector>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "proto/ssl_ptr.h"
#include "server/tls/camera_revocation.h"

namespace ingest {

struct DevCertOptions {
  std::string out_dir{};
  // Cameras are numbered 1..camera_count.
  int camera_count = 0;
  // printf-style, one integer conversion: the camera number -> camera id.
  std::string camera_id_format = "cam-%06d";
  // DNS names and IP literals the server certificate covers (the first is its CN).
  std::vector<std::string> server_names = {"localhost", "127.0.0.1"};
};

// Creates whatever is missing or no longer valid under out_dir (a CA that
// changes re-issues everything it signs) and keeps the rest, so running it
// again is cheap and leaves existing files untouched; raising camera_count
// adds cameras. Errors name the file that could not be written.
absl::Status MakeDevCertificates(const DevCertOptions& options);

struct DevCertPaths {
  std::string camera_ca_cert, camera_ca_key;
  std::string server_ca_cert, server_ca_key;
  std::string server_cert, server_key;
  std::string ticket_keys{};
  std::string cameras_dir{};
  // cameras/<camera_id>.pem
  std::string CameraPem(const std::string& camera_id) const;
};

// Where MakeDevCertificates puts each file under `out_dir`.
DevCertPaths DevCertPathsIn(const std::string& out_dir);

// The id of camera `number` under `format` (e.g. "cam-%06d", 7 -> "cam-000007").
// InvalidArgument if the format does not take exactly one integer or the
// result is not a valid camera id.
absl::StatusOr<std::string> DevCameraId(const std::string& format, int number);

// What a certificate is for; sets basicConstraints, keyUsage and
// extendedKeyUsage.
enum class CertificateRole { kCa, kServer, kCamera };

struct CertificateSpec {
  CertificateRole role = CertificateRole::kCamera;
  std::string common_name{};                // empty: no CN
  std::vector<std::string> dns_names{};     // SAN DNS entries
  std::vector<std::string> ip_addresses{};  // SAN IP entries (literals)
  std::vector<std::string> uris{};          // SAN URI entries, e.g. "camera:cam-1"
  absl::Time not_before = absl::Now() - absl::Hours(1);
  absl::Time not_after = absl::Now() + absl::Hours(24 * 365);
};

// A fresh EC P-256 key.
absl::StatusOr<camproto::EvpPkeyPtr> GenerateP256Key();

// Issues a certificate for `subject_key` as described by `spec`, signed
// (ECDSA-SHA256) by `issuer_key` under `issuer_cert`; both null means
// self-signed with `subject_key`. Random 127-bit serial. SAN entries must not
// contain commas.
absl::StatusOr<camproto::X509Ptr> IssueCertificate(const CertificateSpec& spec,
                                                   EVP_PKEY* subject_key, X509* issuer_cert,
                                                   EVP_PKEY* issuer_key);

// Writes `cert` (if not null) followed by `key` (if not null) as PEM to
// `path`, atomically, with mode 0600 if a key is included and 0644 otherwise.
absl::Status WritePem(const std::string& path, X509* cert, EVP_PKEY* key);

// A CRL (v2, SHA-256) issued by `issuer_cert` / `issuer_key` revoking
// `revoked` (their serials), valid from an hour ago until `next_update`, for
// tests and development revocation.
absl::StatusOr<X509CrlPtr> IssueCrl(X509* issuer_cert, EVP_PKEY* issuer_key, const std::vector<X509*>& revoked,
                                    absl::Time next_update = absl::Now() + absl::Hours(24 * 7));

// Writes `crls` as PEM to `path`, atomically, mode 0644.
absl::Status WriteCrlPem(const std::string& path, const std::vector<X509_CRL*>& crls);

// The first certificate / private key in a PEM file.
absl::StatusOr<camproto::X509Ptr> ReadCertificatePem(const std::string& path);
absl::StatusOr<camproto::EvpPkeyPtr> ReadPrivateKeyPem(const std::string& path);

}  // namespace ingest

#endif  // SERVER_TLS_DEV_CERTS_H_
