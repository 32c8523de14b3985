#include "server/tls/camera_identity.h"

#include <openssl/x509v3.h>

#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"

namespace ingest {
namespace {

constexpr std::string_view kCameraUriPrefix = "camera:";

// Shown in errors; ids from a hostile certificate may hold anything.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 64)) {
    out += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  if (text.size() > 64) out += "...";
  return out;
}

std::string_view View(const ASN1_STRING* s) {
  return std::string_view(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                          static_cast<size_t>(ASN1_STRING_length(s)));
}

}  // namespace

absl::StatusOr<std::string> CameraIdFromCertificate(X509* cert) {
  if (cert == nullptr) return absl::PermissionDeniedError("no camera certificate");

  std::unique_ptr<GENERAL_NAMES, decltype(&GENERAL_NAMES_free)> names(
      static_cast<GENERAL_NAMES*>(X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)),
      &GENERAL_NAMES_free);
  std::optional<std::string> from_uri;
  if (names != nullptr) {
    for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
      const GENERAL_NAME* name = sk_GENERAL_NAME_value(names.get(), i);
      if (name->type != GEN_URI) continue;
      std::string_view uri = View(name->d.uniformResourceIdentifier);
      if (uri.substr(0, kCameraUriPrefix.size()) != kCameraUriPrefix) continue;
      std::string_view id = uri.substr(kCameraUriPrefix.size());
      if (!IsValidCameraId(id)) {
        return absl::PermissionDeniedError(absl::StrCat(
            "certificate SAN URI \"", Printable(uri),
            "\" holds no valid camera id (1..128 of [A-Za-z0-9._-])"));
      }
      if (from_uri && *from_uri != id) {
        return absl::PermissionDeniedError(absl::StrCat(
            "certificate names two cameras: ", *from_uri, " and ", std::string(id)));
      }
      from_uri = std::string(id);
    }
  }
  if (from_uri) return *from_uri;

  X509_NAME* subject = X509_get_subject_name(cert);
  int index = X509_NAME_get_index_by_NID(subject, NID_commonName, -1);
  if (index < 0) {
    return absl::PermissionDeniedError("certificate has neither a camera: URI nor a commonName");
  }
  if (X509_NAME_get_index_by_NID(subject, NID_commonName, index) >= 0) {
    return absl::PermissionDeniedError("certificate has several commonNames and no camera: URI");
  }
  const ASN1_STRING* cn = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(subject, index));
  unsigned char* utf8 = nullptr;
  int length = ASN1_STRING_to_UTF8(&utf8, cn);
  if (length < 0) return absl::PermissionDeniedError("certificate commonName is not text");
  std::string id(reinterpret_cast<const char*>(utf8), static_cast<size_t>(length));
  OPENSSL_free(utf8);
  if (!IsValidCameraId(id)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "certificate commonName \"", Printable(id),
        "\" is not a valid camera id (1..128 of [A-Za-z0-9._-])"));
  }
  return id;
}

}  // namespace ingest
