// "host:port" endpoints as written in configuration and REDIRECT frames.
// IPv6 literals are bracketed ("[::1]:7443"), as in URLs, so the last colon
// is never ambiguous.
//
//   ASSIGN_OR_RETURN(HostPort hp, ParseHostPort("[::1]:7443"));
//   // hp.host == "::1", hp.port == 7443, hp.ToString() == "[::1]:7443"
#ifndef SERVER_CONFIG_HOST_PORT_H_
#define SERVER_CONFIG_HOST_PORT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ingest {

struct HostPort {
  std::string host;  // without brackets: "127.0.0.1", "::1", "ingest.example"
  uint16_t port = 0;

  // True if `host` is an IPv4 or IPv6 literal (what a listener can bind to
  // without name resolution).
  bool IsNumeric() const;
  // "host:port", bracketing IPv6 hosts; parses back to the same value.
  std::string ToString() const;

  friend bool operator==(const HostPort&, const HostPort&) = default;
};

// Parses "host:port" or "[ipv6]:port". The host must be an IPv4 literal, a
// bracketed IPv6 literal or a DNS name (letters, digits, '-', '.'); the port
// is decimal 0..65535 (0 = let the kernel choose, for listeners). Errors are
// InvalidArgument and quote the input.
absl::StatusOr<HostPort> ParseHostPort(std::string_view text);

}  // namespace ingest

#endif  // SERVER_CONFIG_HOST_PORT_H_
