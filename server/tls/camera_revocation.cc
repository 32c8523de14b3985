#include "server/tls/camera_revocation.h"

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/std_string_view.h"
#include "proto/openssl_error.h"
#include "server/tls/camera_identity.h"

namespace ingest {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// Shown in errors; a deny-list line may hold anything.
std::string Printable(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, 64)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
  if (text.size() > 64) out += "...";
  return out;
}

absl::StatusOr<std::string> ReadWholeFile(const std::string& path, const char* what) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(absl::StrCat("cannot read ", what, " ", path, ": ", std::strerror(errno)));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<CameraDenyList> ParseCameraDenyList(std::string_view text, std::string_view source) {
  CameraDenyList denied;
  size_t line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 1);
    ++line_number;
    if (size_t hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
    line = Trim(line);
    if (line.empty()) continue;
    const std::string where = absl::StrCat(ToAbsl(source), ":", line_number);
    for (char c : line) {
      if (IsBlank(c)) {
        return absl::InvalidArgumentError(
            absl::StrCat(where, ": one camera id per line, got \"", Printable(line), "\""));
      }
    }
    if (!IsValidCameraId(line)) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": \"", Printable(line), "\" is not a valid camera id (1..128 of [A-Za-z0-9._-], no leading dot)"));
    }
    denied.insert(std::string(line));
  }
  return denied;
}

absl::StatusOr<CameraDenyList> ReadCameraDenyListFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path, "camera deny list");
  if (!text.ok()) return text.status();
  return ParseCameraDenyList(*text, path);
}

absl::StatusOr<std::vector<X509CrlPtr>> ReadCrlFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadWholeFile(path, "CRL file");
  if (!text.ok()) return text.status();
  ERR_clear_error();
  std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new_mem_buf(text->data(), static_cast<int>(text->size())),
                                                &BIO_free);
  if (bio == nullptr) return camproto::OpenSslError(absl::StatusCode::kInternal, "BIO_new_mem_buf");
  std::vector<X509CrlPtr> crls;
  while (true) {
    X509_CRL* crl = PEM_read_bio_X509_CRL(bio.get(), nullptr, nullptr, nullptr);
    if (crl == nullptr) break;
    crls.emplace_back(crl);
  }
  // The loop ends at the end of the data (PEM_R_NO_START_LINE) or at a block
  // that does not parse (anything else).
  const unsigned long last = ERR_peek_last_error();
  if (last != 0 && !(ERR_GET_LIB(last) == ERR_LIB_PEM && ERR_GET_REASON(last) == PEM_R_NO_START_LINE)) {
    return camproto::OpenSslError(absl::StatusCode::kInvalidArgument,
                                  absl::StrCat("CRL ", crls.size() + 1, " in ", path, " does not parse"));
  }
  ERR_clear_error();
  if (crls.empty()) {
    return absl::InvalidArgumentError(absl::StrCat("no CRL (-----BEGIN X509 CRL-----) in ", path));
  }
  return crls;
}

std::string SerialHex(const X509* cert) {
  if (cert == nullptr) return "";
  std::unique_ptr<BIGNUM, decltype(&BN_free)> bn(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr),
                                                 &BN_free);
  if (bn == nullptr) return "";
  char* hex = BN_bn2hex(bn.get());
  if (hex == nullptr) return "";
  std::string out(hex);
  OPENSSL_free(hex);
  return out;
}

CertificateSerial CertificateSerial::Of(const X509* cert) {
  CertificateSerial serial;
  if (cert == nullptr) return serial;
  unsigned char* der = nullptr;
  const int length = i2d_X509_NAME(X509_get_issuer_name(cert), &der);
  if (length > 0) serial.issuer_der.assign(reinterpret_cast<const char*>(der), static_cast<size_t>(length));
  OPENSSL_free(der);
  serial.serial_hex = SerialHex(cert);
  ERR_clear_error();
  return serial;
}

CameraRevocation::CameraRevocation(CameraDenyList denied, std::vector<X509CrlPtr> crls)
    : denied_(std::move(denied)), crls_(std::move(crls)) {}

std::optional<std::string> CameraRevocation::Check(std::string_view camera_id, X509* cert) const {
  return Check(camera_id, CertificateSerial::Of(cert));
}

std::optional<std::string> CameraRevocation::Check(std::string_view camera_id,
                                                   const CertificateSerial& cert) const {
  if (denied_.contains(ToAbsl(camera_id))) {
    return absl::StrCat("camera ", ToAbsl(camera_id), " is on the deny list (tls.camera_deny_list_file)");
  }
  if (cert.empty() || crls_.empty()) return std::nullopt;
  const unsigned char* der = reinterpret_cast<const unsigned char*>(cert.issuer_der.data());
  std::unique_ptr<X509_NAME, decltype(&X509_NAME_free)> issuer(
      d2i_X509_NAME(nullptr, &der, static_cast<long>(cert.issuer_der.size())), &X509_NAME_free);
  BIGNUM* bn = nullptr;
  std::unique_ptr<ASN1_INTEGER, decltype(&ASN1_INTEGER_free)> serial(nullptr, &ASN1_INTEGER_free);
  if (BN_hex2bn(&bn, cert.serial_hex.c_str()) > 0) serial.reset(BN_to_ASN1_INTEGER(bn, nullptr));
  BN_free(bn);
  std::optional<std::string> why;
  if (issuer != nullptr && serial != nullptr) {
    for (const X509CrlPtr& crl : crls_) {
      X509_REVOKED* entry = nullptr;
      // As X509_CRL_get0_by_cert does for a direct CRL: the issuer must be
      // the CRL's, and 2 (removeFromCRL) is not a revocation.
      if (X509_NAME_cmp(issuer.get(), X509_CRL_get_issuer(crl.get())) == 0 &&
          X509_CRL_get0_by_serial(crl.get(), &entry, serial.get()) == 1) {
        why = absl::StrCat("certificate serial ", cert.serial_hex, " of camera ", ToAbsl(camera_id),
                           " is revoked by a CRL (tls.crl_file)");
        break;
      }
    }
  }
  ERR_clear_error();
  return why;
}

size_t CameraRevocation::revoked_serials() const {
  size_t total = 0;
  for (const X509CrlPtr& crl : crls_) {
    STACK_OF(X509_REVOKED)* revoked = X509_CRL_get_REVOKED(crl.get());
    if (revoked != nullptr) total += static_cast<size_t>(sk_X509_REVOKED_num(revoked));
  }
  return total;
}

}  // namespace ingest
