#include "proto/openssl_error.h"

#include <openssl/err.h>

namespace camproto {

std::string TakeOpenSslErrors() {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    if (!out.empty()) out += "; ";
    const char* reason = ERR_reason_error_string(code);
    const char* library = ERR_lib_error_string(code);
    if (reason != nullptr) {
      out += reason;
    } else {
      char buf[256];
      ERR_error_string_n(code, buf, sizeof(buf));
      out += buf;
    }
    if (library != nullptr) {
      out += " (";
      out += library;
      out += ")";
    }
  }
  return out;
}

absl::Status OpenSslError(absl::StatusCode code, std::string_view what) {
  std::string message(what);
  std::string reasons = TakeOpenSslErrors();
  if (!reasons.empty()) {
    message += ": ";
    message += reasons;
  }
  return absl::Status(code, message);
}

}  // namespace camproto
