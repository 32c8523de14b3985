// The one "host:port" grammar (common/host_port.h): what a zone map accepts
// as an endpoint, the server sends in REDIRECT and the camera client follows,
// and what the configuration accepts as a listener address.
#include "common/host_port.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ingest {
namespace {

TEST(HostPortTest, ParsesIpv4HostAndPort) {
  absl::StatusOr<HostPort> hp = ParseHostPort("127.0.0.1:7443");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->host, "127.0.0.1");
  EXPECT_EQ(hp->port, 7443);
  EXPECT_TRUE(hp->IsNumeric());
  EXPECT_EQ(hp->ToString(), "127.0.0.1:7443");
}

TEST(HostPortTest, ParsesBracketedIpv6AndPrintsBracketsBack) {
  absl::StatusOr<HostPort> hp = ParseHostPort("[::1]:0");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->host, "::1");
  EXPECT_EQ(hp->port, 0);
  EXPECT_TRUE(hp->IsNumeric());
  EXPECT_EQ(hp->ToString(), "[::1]:0");
}

TEST(HostPortTest, AcceptsDnsNamesButCallsThemNotNumeric) {
  absl::StatusOr<HostPort> hp = ParseHostPort("ingest-1.zone.example:65535");
  ASSERT_TRUE(hp.ok()) << hp.status();
  EXPECT_EQ(hp->port, 65535);
  EXPECT_FALSE(hp->IsNumeric());
}

// Every form docs/zones.md and proto/README.md promise, as an endpoint; each
// prints back exactly as written.
TEST(HostPortTest, AcceptsEveryDocumentedEndpointForm) {
  for (const char* good : {"euw1-a.cameras.example.com:7443", "e:1", "localhost:65535", "127.0.0.1:7443",
                           "10.0.0.1:1", "[2001:db8::7]:7443", "[::1]:443", "[::ffff:10.0.0.1]:7443",
                           "a2.example.com:7443", "xn--bcher-kva.example:443", "1e100.net:80",
                           "UPPER.Example.COM:7443"}) {
    absl::StatusOr<HostPort> hp = ParseEndpoint(good);
    ASSERT_TRUE(hp.ok()) << good << ": " << hp.status();
    EXPECT_EQ(hp->ToString(), good);
    EXPECT_EQ(ParseHostPort(good).value(), *hp) << good;
  }
}

TEST(HostPortTest, RejectsMalformedAddresses) {
  for (const char* bad : {"", "7443", "127.0.0.1", "127.0.0.1:", ":7443", "::1:7443", "2001:db8::1:7443",
                          "[::1]7443", "[::1:7443", "[::1]:", "[]:1", "[nothost]:1", "[10.0.0.1]:1",
                          "127.0.0.1:65536", "127.0.0.1:99999", "127.0.0.1:123456", "127.0.0.1:-1",
                          "127.0.0.1:+1", "127.0.0.1:74x", "127.0.0.1: 1", "127.0.0.1:1 ", " 127.0.0.1:1",
                          "127.0.0.1:07443", "127.0.0.1:00", "bad host:1", "a_b.example.com:7443", "-lead:1",
                          "trail-.example.com:1", ".lead:1", "a..b:1", "trailing.dot.:1", "10.0.300.1:1",
                          "10.1:1", "1.2.3.4.5:1", "http://a.example.com:1", "a.example.com/x:1"}) {
    absl::StatusOr<HostPort> hp = ParseHostPort(bad);
    EXPECT_EQ(hp.status().code(), absl::StatusCode::kInvalidArgument) << "input: \"" << bad << "\"";
    if (!hp.ok()) {
      EXPECT_NE(hp.status().message().find(absl::StrCat("bad address \"", bad, "\"")), absl::string_view::npos)
          << hp.status();
    }
    EXPECT_FALSE(ParseEndpoint(bad).ok()) << bad;
    EXPECT_FALSE(ParseListenAddress(bad).ok()) << bad;
  }
}

TEST(HostPortTest, HostNamesAreBoundedLikeDns) {
  const std::string label63(63, 'a');
  EXPECT_TRUE(ParseEndpoint(absl::StrCat(label63, ".example:1")).ok());
  EXPECT_FALSE(ParseEndpoint(absl::StrCat(label63, "a.example:1")).ok());
  std::string name253 = absl::StrCat(label63, ".", label63, ".", label63, ".", std::string(61, 'b'));
  ASSERT_EQ(name253.size(), 253u);
  EXPECT_TRUE(ParseEndpoint(absl::StrCat(name253, ":1")).ok());
  EXPECT_FALSE(ParseEndpoint(absl::StrCat(name253, "b:1")).ok());
}

TEST(HostPortTest, EndpointsNeedAPortAboveZero) {
  EXPECT_TRUE(ParseHostPort("a.example.com:0").ok());
  absl::StatusOr<HostPort> endpoint = ParseEndpoint("a.example.com:0");
  ASSERT_FALSE(endpoint.ok());
  EXPECT_NE(endpoint.status().message().find("the port must be a number 1..65535"), absl::string_view::npos)
      << endpoint.status();
}

TEST(HostPortTest, ListenAddressesAreLiteralsAndMayUsePortZero) {
  for (const char* good : {"0.0.0.0:7443", "127.0.0.1:0", "[::]:0", "[::1]:9090"}) {
    EXPECT_TRUE(ParseListenAddress(good).ok()) << good;
  }
  absl::StatusOr<HostPort> name = ParseListenAddress("localhost:9090");
  ASSERT_FALSE(name.ok());
  EXPECT_NE(name.status().message().find("host must be an IP address"), absl::string_view::npos) << name.status();
}

// What each problem is called, so a zone map or configuration error says
// what to fix (tests/zones/zone_map_parse_test.cc checks the same words).
TEST(HostPortTest, ErrorsSayWhatIsWrong) {
  auto problem = [](const char* text) { return std::string(ParseEndpoint(text).status().message()); };
  EXPECT_NE(problem("a.example.com").find("expected host:port"), std::string::npos);
  EXPECT_NE(problem(":7443").find("missing host"), std::string::npos);
  EXPECT_NE(problem("2001:db8::1:7443").find("IPv6 addresses need brackets"), std::string::npos);
  EXPECT_NE(problem("[2001:db8::g]:7443").find("not an IPv6 address"), std::string::npos);
  EXPECT_NE(problem("[2001:db8::1:7443").find("unclosed '['"), std::string::npos);
  EXPECT_NE(problem("a_b.example.com:7443").find("a host name has only letters"), std::string::npos);
  EXPECT_NE(problem("10.0.300.1:7443").find("not an IPv4 address"), std::string::npos);
  EXPECT_NE(problem("a.example.com:https").find("the port must be a number 1..65535"), std::string::npos);
}

}  // namespace
}  // namespace ingest
