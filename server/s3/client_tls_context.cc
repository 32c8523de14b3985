#include "server/s3/client_tls_context.h"

#include <boost/asio/ssl/context.hpp>
#include <boost/system/error_code.hpp>
#include <exception>

#include "absl/strings/str_cat.h"

namespace ingest {

namespace ssl = boost::asio::ssl;

absl::StatusOr<std::unique_ptr<ssl::context>> MakeClientTlsContext(const std::string& ca_file) {
  std::unique_ptr<ssl::context> context;
  // Asio's constructor throws when OpenSSL cannot make a context; nothing
  // else used here does (every other call takes an error_code).
  try {
    context = std::make_unique<ssl::context>(ssl::context::tls_client);
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("cannot create a TLS context: ", e.what()));
  }
  boost::system::error_code ec;
  context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 | ssl::context::no_sslv3 |
                           ssl::context::no_tlsv1 | ssl::context::no_tlsv1_1,
                       ec);
  if (ec) return absl::InternalError(absl::StrCat("TLS options: ", ec.message()));
  context->set_default_verify_paths(ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot load the system trust store: ", ec.message()));
  if (!ca_file.empty()) {
    context->load_verify_file(ca_file, ec);
    if (ec) return absl::InvalidArgumentError(absl::StrCat("cannot load CA file '", ca_file, "': ", ec.message()));
  }
  context->set_verify_mode(ssl::verify_peer, ec);
  if (ec) return absl::InternalError(absl::StrCat("TLS verify mode: ", ec.message()));
  return context;
}

}  // namespace ingest
