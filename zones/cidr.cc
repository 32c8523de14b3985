#include "zones/cidr.h"

#include <arpa/inet.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/std_string_view.h"

namespace ingest::zones {
namespace {

struct Address {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};
};

// inet_pton is strict (no leading zeros in IPv4 octets, no spaces, no
// hostnames), which is what a network written by hand should be held to.
bool ParseAddress(std::string_view text, Address& out) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return false;
  char buffer[INET6_ADDRSTRLEN] = {};
  std::memcpy(buffer, text.data(), text.size());
  out = Address{};
  if (inet_pton(AF_INET, buffer, out.bytes.data()) == 1) return true;
  if (inet_pton(AF_INET6, buffer, out.bytes.data()) == 1) {
    out.v6 = true;
    return true;
  }
  return false;
}

// A dual-stack socket reports IPv4 peers and local addresses as
// ::ffff:a.b.c.d; they are IPv4 addresses for matching purposes.
bool UnmapIpv4(Address& address) {
  static constexpr uint8_t kMappedPrefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (!address.v6 || std::memcmp(address.bytes.data(), kMappedPrefix, sizeof(kMappedPrefix)) != 0) return false;
  std::memmove(address.bytes.data(), address.bytes.data() + 12, 4);
  std::memset(address.bytes.data() + 4, 0, 12);
  address.v6 = false;
  return true;
}

// True if the first `bits` bits of a and b are equal.
bool SamePrefix(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int bits) {
  int whole = bits / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(whole)) != 0) return false;
  int rest = bits % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

absl::Status Bad(std::string_view text, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("bad CIDR \"", ToAbsl(text), "\": ", ToAbsl(problem)));
}

}  // namespace

absl::StatusOr<Cidr> Cidr::Parse(std::string_view text) {
  size_t slash = text.find('/');
  if (slash == std::string_view::npos) return Bad(text, "expected ADDRESS/PREFIX_LENGTH, e.g. 10.0.0.0/20");
  std::string_view address_text = text.substr(0, slash);
  std::string_view length_text = text.substr(slash + 1);

  Address address;
  if (!ParseAddress(address_text, address)) return Bad(text, "not a numeric IPv4 or IPv6 address");
  const int family_bits = address.v6 ? 128 : 32;

  int length = -1;
  bool digits_only = !length_text.empty() && length_text.size() <= 3 &&
                     length_text.find_first_not_of("0123456789") == std::string_view::npos;
  bool canonical = digits_only && (length_text.size() == 1 || length_text.front() != '0');
  if (canonical) std::from_chars(length_text.data(), length_text.data() + length_text.size(), length);
  if (length < 0 || length > family_bits) {
    return Bad(text, absl::StrCat("prefix length must be a number 0..", family_bits));
  }

  Cidr cidr;
  cidr.v6_ = address.v6;
  cidr.prefix_ = length;
  cidr.bytes_ = address.bytes;
  Cidr network = cidr;
  for (int bit = length; bit < family_bits; ++bit)
    network.bytes_[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  if (network.bytes_ != cidr.bytes_) {
    return Bad(text, absl::StrCat("host bits are set (the network is ", network.ToString(), ")"));
  }
  return cidr;
}

bool Cidr::Contains(std::string_view address_text) const {
  Address address;
  if (!ParseAddress(address_text, address)) return false;
  if (!v6_) UnmapIpv4(address);
  if (address.v6 != v6_) return false;
  return SamePrefix(address.bytes, bytes_, prefix_);
}

bool Cidr::Overlaps(const Cidr& other) const {
  // Two aligned networks overlap exactly when the shorter contains the longer.
  if (v6_ != other.v6_) return false;
  return SamePrefix(bytes_, other.bytes_, std::min(prefix_, other.prefix_));
}

std::string Cidr::ToString() const {
  char buffer[INET6_ADDRSTRLEN] = {};
  inet_ntop(v6_ ? AF_INET6 : AF_INET, bytes_.data(), buffer, sizeof(buffer));
  return absl::StrCat(buffer, "/", prefix_);
}

}  // namespace ingest::zones
