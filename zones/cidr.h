// An IPv4 or IPv6 network in CIDR notation ("10.0.1.0/24", "2001:db8::/48").
//
//   ASSIGN_OR_RETURN(Cidr net, Cidr::Parse("10.0.1.0/24"));
//   net.Contains("10.0.1.7");  // true
#ifndef ZONES_CIDR_H_
#define ZONES_CIDR_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ingest::zones {

class Cidr {
 public:
  // InvalidArgument for anything but a numeric address, '/', and a prefix
  // length within the family's bits; host bits must be zero ("10.0.1.5/24"
  // is refused: it is almost always a typo for a host or a wider network).
  static absl::StatusOr<Cidr> Parse(std::string_view text);

  bool is_v6() const { return v6_; }
  int prefix_length() const { return prefix_; }
  // False for an unparsable address or the other family. An IPv4-mapped
  // IPv6 address (::ffff:10.0.1.7, as a dual-stack socket reports IPv4)
  // counts as the IPv4 address.
  bool Contains(std::string_view address) const;
  bool Overlaps(const Cidr& other) const;
  std::string ToString() const;

 private:
  bool v6_ = false;
  int prefix_ = 0;
  std::array<uint8_t, 16> bytes_{};  // IPv4 in the first 4
};

}  // namespace ingest::zones

#endif  // ZONES_CIDR_H_
