#include "common/host_port.h"

#include <arpa/inet.h>

#include <string>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ingest {
namespace {

constexpr size_t kMaxHostNameBytes = 253;
constexpr size_t kMaxLabelBytes = 63;

bool IsLiteral(int family, std::string_view host) {
  char buffer[64] = {};  // longer than any IPv4 or IPv6 literal (INET6_ADDRSTRLEN is 46)
  if (host.empty() || host.size() >= sizeof(buffer)) return false;
  host.copy(buffer, host.size());
  unsigned char out[16];
  return inet_pton(family, buffer, out) == 1;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsLetterOrDigit(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || IsDigit(c); }

// Empty if `host` (no brackets, no colon) is an IPv4 literal or a DNS name,
// else what is wrong with it.
std::string HostProblem(std::string_view host) {
  if (host.size() > kMaxHostNameBytes) return absl::StrCat("a host name is at most ", kMaxHostNameBytes, " bytes");
  for (char c : host) {
    if (!IsLetterOrDigit(c) && c != '-' && c != '.') return "a host name has only letters, digits, '-' and '.'";
  }
  std::string_view last_label;
  for (std::string_view rest = host;;) {
    const size_t dot = rest.find('.');
    const std::string_view label = rest.substr(0, dot);
    if (label.empty() || label.size() > kMaxLabelBytes || label.front() == '-' || label.back() == '-') {
      return absl::StrCat("a host name is labels of 1..", kMaxLabelBytes,
                          " letters, digits or '-' (not first or last) joined by single dots");
    }
    last_label = label;
    if (dot == std::string_view::npos) break;
    rest = rest.substr(dot + 1);
  }
  // A DNS name's last label is never all digits (RFC 1123 2.1), so this can
  // only be meant as an address; resolvers would read "10.1" as 10.0.0.1.
  bool numeric = true;
  for (char c : last_label) numeric = numeric && IsDigit(c);
  if (numeric && !IsLiteral(AF_INET, host)) return "not an IPv4 address (four numbers 0..255)";
  return "";
}

// True if `text` is decimal 0..65535 with no sign, space or leading zero.
bool ParsePort(std::string_view text, uint16_t& port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text.front() == '0')) return false;
  uint32_t value = 0;
  for (char c : text) {
    if (!IsDigit(c)) return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return false;
  port = static_cast<uint16_t>(value);
  return true;
}

absl::Status Bad(std::string_view text, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("bad address \"", std::string(text), "\": ", std::string(problem)));
}

absl::StatusOr<HostPort> Parse(std::string_view text, uint16_t min_port) {
  std::string_view host;
  std::string_view port_text;
  HostPort result;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return Bad(text, "unclosed '[' around an IPv6 address");
    if (close + 1 >= text.size() || text[close + 1] != ':') {
      return Bad(text, "expected ':' and a port after ']', e.g. [2001:db8::1]:7443");
    }
    host = text.substr(1, close - 1);
    port_text = text.substr(close + 2);
    if (!IsLiteral(AF_INET6, host)) return Bad(text, "not an IPv6 address inside [...]");
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Bad(text, "expected host:port, e.g. ingest.example.com:7443");
    host = text.substr(0, colon);
    port_text = text.substr(colon + 1);
    if (host.empty()) return Bad(text, "missing host before ':'");
    if (host.find(':') != std::string_view::npos) {
      return Bad(text, "IPv6 addresses need brackets, e.g. [2001:db8::1]:7443");
    }
    if (std::string problem = HostProblem(host); !problem.empty()) return Bad(text, problem);
  }
  if (!ParsePort(port_text, result.port) || result.port < min_port) {
    return Bad(text, absl::StrCat("the port must be a number ", min_port, "..65535 (no sign, no leading zeros)"));
  }
  result.host = std::string(host);
  return result;
}

}  // namespace

bool HostPort::IsNumeric() const { return IsLiteral(AF_INET, host) || IsLiteral(AF_INET6, host); }

std::string HostPort::ToString() const {
  if (host.find(':') != std::string::npos) return absl::StrCat("[", host, "]:", port);
  return absl::StrCat(host, ":", port);
}

absl::StatusOr<HostPort> ParseHostPort(std::string_view text) { return Parse(text, 0); }

absl::StatusOr<HostPort> ParseEndpoint(std::string_view text) { return Parse(text, 1); }

absl::StatusOr<HostPort> ParseListenAddress(std::string_view text) {
  absl::StatusOr<HostPort> result = Parse(text, 0);
  if (result.ok() && !result->IsNumeric()) {
    return Bad(text, "host must be an IP address, e.g. 0.0.0.0:7443 or [::]:7443");
  }
  return result;
}

}  // namespace ingest
