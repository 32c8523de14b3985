// "host:port" as this project writes it everywhere: listener addresses in the
// configuration (server.listen, server.admin_listen), a zone's camera-facing
// endpoint in the zone map, the endpoint a REDIRECT frame carries and the
// camera client follows, camera-sim's --target. One grammar, so what the zone
// map accepts is exactly what the server sends and the camera can parse.
//
//   ASSIGN_OR_RETURN(HostPort to, ParseEndpoint("[2001:db8::7]:7443"));
//   // to.host == "2001:db8::7", to.port == 7443, to.ToString() == "[2001:db8::7]:7443"
//
// The grammar (proto/README.md's REDIRECT and docs/zones.md promise no more):
//   host:port    host is an IPv4 literal ("10.0.0.1") or a DNS name: labels of
//                letters, digits and '-' (1..63 bytes, not starting or ending
//                with '-'), joined by single dots, 253 bytes at most, no
//                trailing dot; a name whose last label is all digits must be
//                an IPv4 literal ("10.0.300.1" is neither)
//   [v6]:port    an IPv6 literal in brackets, as in URLs, so the last colon is
//                never ambiguous; unbracketed IPv6 is refused
//   port         decimal digits only, no sign, no spaces, no leading zeros;
//                1..65535 for an endpoint, 0..65535 for a listener (0 = let
//                the kernel choose)
// so ToString() of a parsed value gives back the text it was parsed from.
#ifndef COMMON_HOST_PORT_H_
#define COMMON_HOST_PORT_H_

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

// The grammar above with any port 0..65535. Errors are InvalidArgument:
// `bad address "<text>": <what is wrong>`.
absl::StatusOr<HostPort> ParseHostPort(std::string_view text);

// Something to connect to: the grammar with a port 1..65535 (zone map
// endpoints, REDIRECT, camera-sim --target).
absl::StatusOr<HostPort> ParseEndpoint(std::string_view text);

// Something to bind to without name resolution: an IPv4 or bracketed IPv6
// literal and a port 0..65535 (server.listen, server.admin_listen).
absl::StatusOr<HostPort> ParseListenAddress(std::string_view text);

}  // namespace ingest

#endif  // COMMON_HOST_PORT_H_
