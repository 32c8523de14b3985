// A certificate's validity period, read for `ingestd check`: the server
// itself loads an expired certificate without complaint, and cameras then
// refuse every handshake.
//
//   ASSIGN_OR_RETURN(CertificateValidity validity, ValidityOf(cert));
//   if (!validity.ValidAt(absl::Now())) ...;
#ifndef SERVER_TLS_CERTIFICATE_VALIDITY_H_
#define SERVER_TLS_CERTIFICATE_VALIDITY_H_

#include <openssl/x509.h>

#include <string>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ingest {

struct CertificateValidity {
  absl::Time not_before;
  absl::Time not_after;

  bool ValidAt(absl::Time t) const { return not_before <= t && t <= not_after; }
};

// The notBefore and notAfter of `cert`; InvalidArgument if either cannot be
// read as a time.
absl::StatusOr<CertificateValidity> ValidityOf(const X509* cert);

// The subject as one line ("/CN=localhost"), for messages.
std::string SubjectLine(const X509* cert);

}  // namespace ingest

#endif  // SERVER_TLS_CERTIFICATE_VALIDITY_H_
