#include "server/config/host_port.h"

#include <arpa/inet.h>

#include <charconv>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ingest {
namespace {

bool IsIpv4Literal(const std::string& host) {
  in_addr addr;
  return inet_pton(AF_INET, host.c_str(), &addr) == 1;
}

bool IsIpv6Literal(const std::string& host) {
  in6_addr addr;
  return inet_pton(AF_INET6, host.c_str(), &addr) == 1;
}

bool IsDnsName(std::string_view host) {
  if (host.empty() || host.size() > 253) return false;
  for (char c : host) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '.';
    if (!ok) return false;
  }
  return host.front() != '-' && host.front() != '.';
}

absl::Status Bad(std::string_view text, std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad address \"", std::string(text), "\": ", std::string(problem)));
}

}  // namespace

bool HostPort::IsNumeric() const { return IsIpv4Literal(host) || IsIpv6Literal(host); }

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<HostPort> ParseHostPort(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return Bad(text, "expected host:port");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);

  HostPort result;
  if (!host.empty() && host.front() == '[') {
    if (host.size() < 2 || host.back() != ']') return Bad(text, "unclosed '[' around an IPv6 address");
    result.host = std::string(host.substr(1, host.size() - 2));
    if (!IsIpv6Literal(result.host)) return Bad(text, "not an IPv6 address inside [...]");
  } else {
    if (host.find(':') != std::string_view::npos) {
      return Bad(text, "IPv6 addresses need brackets, e.g. [::1]:7443");
    }
    if (host.empty()) return Bad(text, "empty host (use 0.0.0.0 or [::] for every address)");
    if (!IsDnsName(host)) return Bad(text, "host is neither an IP address nor a DNS name");
    result.host = std::string(host);
  }

  // from_chars alone would accept "7443x" as 7443 and "+1"/" 1" never; check
  // that every character was consumed.
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return Bad(text, "port must be a number from 0 to 65535");
  }
  result.port = static_cast<uint16_t>(port);
  return result;
}

}  // namespace ingest
