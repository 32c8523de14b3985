#include "server/config/host_port.h"

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

TEST(HostPortTest, RejectsMalformedAddresses) {
  for (const char* bad : {"", "7443", "127.0.0.1", "127.0.0.1:", ":7443", "::1:7443",
                          "[::1]7443", "[::1:7443", "[nothost]:1", "127.0.0.1:65536",
                          "127.0.0.1:-1", "127.0.0.1:74x", "127.0.0.1: 1", "bad host:1",
                          "-lead:1"}) {
    absl::StatusOr<HostPort> hp = ParseHostPort(bad);
    EXPECT_EQ(hp.status().code(), absl::StatusCode::kInvalidArgument) << "input: \"" << bad << "\"";
    if (!hp.ok()) {
      EXPECT_NE(hp.status().message().find(absl::StrCat("\"", bad, "\"")), absl::string_view::npos)
          << hp.status();
    }
  }
}

}  // namespace
}  // namespace ingest
