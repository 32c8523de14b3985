// CIDR networks as written in zone maps: strict parsing (no host bits, no
// hostnames, no out-of-range lengths), membership and overlap for both
// families.
#include "zones/cidr.h"

#include "gtest/gtest.h"

namespace ingest::zones {
namespace {

Cidr MustParse(std::string_view text) {
  absl::StatusOr<Cidr> cidr = Cidr::Parse(text);
  EXPECT_TRUE(cidr.ok()) << text << ": " << cidr.status();
  return cidr.ok() ? *cidr : Cidr();
}

TEST(CidrTest, ParsesIpv4AndIpv6) {
  Cidr v4 = MustParse("10.0.16.0/20");
  EXPECT_FALSE(v4.is_v6());
  EXPECT_EQ(v4.prefix_length(), 20);
  EXPECT_EQ(v4.ToString(), "10.0.16.0/20");

  Cidr v6 = MustParse("2001:db8:0:100::/56");
  EXPECT_TRUE(v6.is_v6());
  EXPECT_EQ(v6.prefix_length(), 56);
  EXPECT_EQ(v6.ToString(), "2001:db8:0:100::/56");

  EXPECT_EQ(MustParse("0.0.0.0/0").ToString(), "0.0.0.0/0");
  EXPECT_EQ(MustParse("10.1.2.3/32").ToString(), "10.1.2.3/32");
  EXPECT_EQ(MustParse("::/0").ToString(), "::/0");
  EXPECT_EQ(MustParse("2001:DB8::1/128").ToString(), "2001:db8::1/128");
}

TEST(CidrTest, RefusesHostBitsAndNamesTheNetwork) {
  absl::StatusOr<Cidr> cidr = Cidr::Parse("10.0.1.5/24");
  ASSERT_FALSE(cidr.ok());
  EXPECT_EQ(cidr.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(cidr.status().message().find("host bits are set (the network is 10.0.1.0/24)"), absl::string_view::npos)
      << cidr.status();

  absl::StatusOr<Cidr> v6 = Cidr::Parse("2001:db8::1/64");
  ASSERT_FALSE(v6.ok());
  EXPECT_NE(v6.status().message().find("2001:db8::/64"), absl::string_view::npos) << v6.status();
  EXPECT_FALSE(Cidr::Parse("10.0.0.1/31").ok());
  EXPECT_FALSE(Cidr::Parse("128.0.0.0/0").ok());
}

TEST(CidrTest, RefusesGarbage) {
  for (std::string_view text : {"",
                                "/",
                                "10.0.0.0",
                                "10.0.0.0/",
                                "/24",
                                "10.0.0.0/33",
                                "::/129",
                                "10.0.0.0/-1",
                                "10.0.0.0/+8",
                                "10.0.0.0/08",
                                "10.0.0.0/2 4",
                                "10.0.0.0/24 ",
                                " 10.0.0.0/24",
                                "10.0.0/24",
                                "10.0.0.256/32",
                                "010.0.0.0/8",
                                "example.com/24",
                                "10.0.0.0/24/24",
                                "10.0.0.0/1000",
                                "fe80::1%eth0/64",
                                "[::1]/128",
                                "0x0a000000/8"}) {
    absl::StatusOr<Cidr> cidr = Cidr::Parse(text);
    EXPECT_FALSE(cidr.ok()) << "\"" << text << "\" parsed as " << cidr->ToString();
    if (!cidr.ok()) {
      EXPECT_EQ(cidr.status().code(), absl::StatusCode::kInvalidArgument);
      EXPECT_NE(cidr.status().message().find("bad CIDR"), absl::string_view::npos) << cidr.status();
    }
  }
}

TEST(CidrTest, ContainsChecksTheNetworkBitsOnly) {
  Cidr net = MustParse("10.0.16.0/20");
  EXPECT_TRUE(net.Contains("10.0.16.0"));
  EXPECT_TRUE(net.Contains("10.0.31.255"));
  EXPECT_FALSE(net.Contains("10.0.32.0"));
  EXPECT_FALSE(net.Contains("10.0.15.255"));

  Cidr v6 = MustParse("2001:db8:0:100::/56");
  EXPECT_TRUE(v6.Contains("2001:db8:0:1ff:ffff::1"));
  EXPECT_FALSE(v6.Contains("2001:db8:0:200::1"));

  EXPECT_TRUE(MustParse("0.0.0.0/0").Contains("192.0.2.1"));
  EXPECT_TRUE(MustParse("192.0.2.7/32").Contains("192.0.2.7"));
  EXPECT_FALSE(MustParse("192.0.2.7/32").Contains("192.0.2.6"));
}

TEST(CidrTest, ContainsRefusesGarbageAndTheOtherFamily) {
  Cidr v4 = MustParse("0.0.0.0/0");
  Cidr v6 = MustParse("::/0");
  EXPECT_FALSE(v4.Contains("::1"));
  EXPECT_FALSE(v6.Contains("127.0.0.1"));
  EXPECT_FALSE(v4.Contains(""));
  EXPECT_FALSE(v4.Contains("localhost"));
  EXPECT_FALSE(v4.Contains("10.0.0.1/32"));
  EXPECT_FALSE(v4.Contains("10.0.0.1:7443"));
  EXPECT_FALSE(v6.Contains(std::string(200, 'a')));
}

TEST(CidrTest, Ipv4MappedAddressesCountAsIpv4) {
  // What getsockname reports for an IPv4 connection on a dual-stack socket.
  EXPECT_TRUE(MustParse("10.0.16.0/20").Contains("::ffff:10.0.17.3"));
  EXPECT_FALSE(MustParse("10.0.16.0/20").Contains("::ffff:10.0.32.3"));
  EXPECT_TRUE(MustParse("::ffff:0:0/96").Contains("::ffff:10.0.17.3"));
}

TEST(CidrTest, OverlapsWhenOneContainsTheOther) {
  EXPECT_TRUE(MustParse("10.0.0.0/20").Overlaps(MustParse("10.0.0.0/20")));
  EXPECT_TRUE(MustParse("10.0.0.0/20").Overlaps(MustParse("10.0.15.0/24")));
  EXPECT_TRUE(MustParse("10.0.15.0/24").Overlaps(MustParse("10.0.0.0/20")));
  EXPECT_TRUE(MustParse("0.0.0.0/0").Overlaps(MustParse("192.0.2.1/32")));
  EXPECT_FALSE(MustParse("10.0.0.0/20").Overlaps(MustParse("10.0.16.0/20")));
  EXPECT_FALSE(MustParse("10.0.16.0/21").Overlaps(MustParse("10.0.24.0/21")));

  EXPECT_TRUE(MustParse("2001:db8::/32").Overlaps(MustParse("2001:db8:ff00::/40")));
  EXPECT_FALSE(MustParse("2001:db8::/33").Overlaps(MustParse("2001:db8:8000::/33")));
  // Different families never overlap, even ::/0 and 0.0.0.0/0.
  EXPECT_FALSE(MustParse("::/0").Overlaps(MustParse("0.0.0.0/0")));
}

}  // namespace
}  // namespace ingest::zones
