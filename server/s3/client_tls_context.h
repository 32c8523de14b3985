// The TLS context HTTPS clients (S3, STS, instance metadata) verify servers
// with: TLS 1.2 or later, the system trust store plus an optional CA file
// (store.ca_file), peer verification on. `ingestd check` builds the same one
// to prove store.ca_file loads before a release goes live.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<boost::asio::ssl::context> tls, MakeClientTlsContext(ca_file));
//   boost::asio::ssl::stream<tcp::socket> stream(ioc, *tls);
#ifndef SERVER_S3_CLIENT_TLS_CONTEXT_H_
#define SERVER_S3_CLIENT_TLS_CONTEXT_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace boost::asio::ssl {
class context;
}  // namespace boost::asio::ssl

namespace ingest {

// `ca_file` empty: the system trust store only. InvalidArgument naming the
// file if it cannot be read or holds no certificate; Internal if OpenSSL
// cannot set the context up at all.
absl::StatusOr<std::unique_ptr<boost::asio::ssl::context>> MakeClientTlsContext(const std::string& ca_file);

}  // namespace ingest

#endif  // SERVER_S3_CLIENT_TLS_CONTEXT_H_
