#include "server/tls/certificate_validity.h"

#include <openssl/asn1.h>

#include <ctime>

namespace ingest {
namespace {

absl::StatusOr<absl::Time> ToTime(const ASN1_TIME* asn1, const char* what) {
  std::tm tm{};
  if (asn1 == nullptr || ASN1_TIME_to_tm(asn1, &tm) != 1) {
    return absl::InvalidArgumentError(std::string("certificate has an unreadable ") + what);
  }
  return absl::FromTimeT(timegm(&tm));
}

}  // namespace

absl::StatusOr<CertificateValidity> ValidityOf(const X509* cert) {
  absl::StatusOr<absl::Time> not_before = ToTime(X509_get0_notBefore(cert), "notBefore");
  if (!not_before.ok()) return not_before.status();
  absl::StatusOr<absl::Time> not_after = ToTime(X509_get0_notAfter(cert), "notAfter");
  if (!not_after.ok()) return not_after.status();
  return CertificateValidity{.not_before = *not_before, .not_after = *not_after};
}

std::string SubjectLine(const X509* cert) {
  char line[256] = {};
  X509_NAME_oneline(X509_get_subject_name(cert), line, sizeof(line));
  return line;
}

}  // namespace ingest
