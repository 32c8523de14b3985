// Cameras that may no longer connect although their certificates still
// verify: a deny list of camera ids (tls.camera_deny_list_file) and the
// certificate revocation lists of the camera CA (tls.crl_file).
//
// Deny-list file format (text): one camera id per line; '#' starts a
// comment (a whole line or the rest of one); blank lines and surrounding
// blanks are ignored. Each id must be a valid camera id (camera_identity.h).
//
//   # cam-000042: stolen 2026-11-30, ticket OPS-1234
//   cam-000042
//   cam-000077   # decommissioned
//
//   ASSIGN_OR_RETURN(auto denied, ReadCameraDenyListFile(path));
//   ASSIGN_OR_RETURN(auto crls, ReadCrlFile(crl_path));
//   CameraRevocation revocation(std::move(denied), std::move(crls));
//   if (std::optional<std::string> why = revocation.Check(camera_id, cert)) ...refuse
//
// The CRLs are also handed to OpenSSL (X509_V_FLAG_CRL_CHECK, see
// server_tls.h), which refuses a revoked certificate in a full handshake;
// Check() covers what OpenSSL does not see: a session resumed from a ticket
// (no certificate verification) and sessions already open when a reload
// revokes them.
#ifndef SERVER_TLS_CAMERA_REVOCATION_H_
#define SERVER_TLS_CAMERA_REVOCATION_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <openssl/x509.h>

#include "absl/container/flat_hash_set.h"
#include "absl/status/statusor.h"

namespace ingest {

struct X509CrlDeleter {
  void operator()(X509_CRL* crl) const { X509_CRL_free(crl); }
};
using X509CrlPtr = std::unique_ptr<X509_CRL, X509CrlDeleter>;

using CameraDenyList = absl::flat_hash_set<std::string>;

// Parses the deny-list format above. InvalidArgument naming `source` and the
// line for an invalid id, or a line holding more than one word. An empty list
// (only comments) is valid.
absl::StatusOr<CameraDenyList> ParseCameraDenyList(std::string_view text, std::string_view source);

// Reads and parses `path`; NotFound naming it if it cannot be read.
absl::StatusOr<CameraDenyList> ReadCameraDenyListFile(const std::string& path);

// Every CRL in a PEM file ("-----BEGIN X509 CRL-----" blocks). NotFound if the
// file cannot be read; InvalidArgument naming it if it holds no CRL or a
// block that does not parse. Signatures are checked by UseCameraCrls
// (server_tls.h), against the camera CA bundle.
absl::StatusOr<std::vector<X509CrlPtr>> ReadCrlFile(const std::string& path);

// The serial number of `cert` as upper-case hex, for logs and the audit trail.
std::string SerialHex(const X509* cert);

// What revocation needs of a camera's certificate once its session is open,
// kept in place of the certificate (about 5 KB parsed; this about 100 bytes):
// the issuer's name and the serial number.
struct CertificateSerial {
  std::string issuer_der;  // the issuer's Name, DER
  std::string serial_hex;  // SerialHex

  static CertificateSerial Of(const X509* cert);
  bool empty() const { return serial_hex.empty(); }
};

// An immutable snapshot of both lists; shared by every shard thread.
class CameraRevocation {
 public:
  CameraRevocation() = default;
  CameraRevocation(CameraDenyList denied, std::vector<X509CrlPtr> crls);

  // Why camera `camera_id` presenting `cert` (may be null) must be refused,
  // or nullopt if it may connect: its id is on the deny list, or a CRL from
  // its certificate's issuer lists the certificate's serial.
  std::optional<std::string> Check(std::string_view camera_id, X509* cert) const;
  // The same from what is kept of a certificate (empty: the deny list only).
  // A CRL lists it if the CRL's issuer is the certificate's and it names the
  // serial (not as removeFromCRL); camera CAs issue direct CRLs.
  std::optional<std::string> Check(std::string_view camera_id, const CertificateSerial& cert) const;

  size_t denied_cameras() const { return denied_.size(); }
  size_t crl_count() const { return crls_.size(); }
  // Revoked serials over all CRLs.
  size_t revoked_serials() const;
  const std::vector<X509CrlPtr>& crls() const { return crls_; }

 private:
  CameraDenyList denied_;
  std::vector<X509CrlPtr> crls_;
};

}  // namespace ingest

#endif  // SERVER_TLS_CAMERA_REVOCATION_H_
