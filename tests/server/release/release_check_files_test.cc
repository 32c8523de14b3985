// `ingestd check` on the files beside the TLS ones: a zone map without this
// server's zone, ticket keys the server cannot read, a short drain token, a
// store CA file without a certificate, and a configuration that does not
// validate.
#include <string>

#include "gtest/gtest.h"
#include "server/release/release_check.h"
#include "tests/server/release/release_fixture.h"

namespace ingest {
namespace {

TEST(ReleaseCheckFilesTest, ZoneMapWithoutTheZoneFails) {
  ReleaseFixture release;
  release.ShipEverything();
  ReleaseFixture::Write(release.staged("zones.toml"), ReleaseFixture::ZoneMap("zone-c"));
  EXPECT_TRUE(
      HasProblem(release.Check(), "server.zone_map",
                 {release.installed("zones.toml"), "\"zone-a\" is not in zone map", "(zones: zone-c, zone-b)"}));
}

TEST(ReleaseCheckFilesTest, ZoneMapThatDoesNotParseFails) {
  ReleaseFixture release;
  release.ShipEverything();
  ReleaseFixture::Write(release.staged("zones.toml"), "[[zone]]\nid = \n");
  EXPECT_TRUE(HasProblem(release.Check(), "server.zone_map", {release.installed("zones.toml")}));
}

TEST(ReleaseCheckFilesTest, BadTicketKeysFail) {
  ReleaseFixture release;
  release.ShipEverything();
  ReleaseFixture::Write(release.staged("tls/ticket.keys"), "# rotated by hand\n00 11 22\n");
  EXPECT_TRUE(HasProblem(release.Check(), "tls.ticket_keys_file", {release.installed("tls/ticket.keys"), ":2"}));
}

TEST(ReleaseCheckFilesTest, ShortDrainTokenFails) {
  ReleaseFixture release;
  release.ShipEverything();
  ReleaseFixture::Write(release.staged("drain.token"), "\n");
  EXPECT_TRUE(HasProblem(release.Check(), "drain.token_file", {"at least 16 characters"}));
}

TEST(ReleaseCheckFilesTest, StoreCaFileWithoutACertificateFails) {
  ReleaseFixture release;
  release.ShipEverything();
  ReleaseFixture::Write(release.staged("tls/store-ca.crt"), "not PEM\n");
  EXPECT_TRUE(HasProblem(release.Check(), "store.ca_file", {release.installed("tls/store-ca.crt")}));
}

TEST(ReleaseCheckFilesTest, EveryBadFileIsReportedInOneRun) {
  ReleaseFixture release;
  release.ShipEverything();
  ReleaseFixture::Write(release.staged("tls/ticket.keys"), "junk\n");
  ReleaseFixture::Write(release.staged("drain.token"), "short\n");
  ReleaseCheckReport report = release.Check();
  EXPECT_EQ(report.problems.size(), 2u) << absl::StrJoin(report.problems, "\n");
}

TEST(ReleaseCheckFilesTest, ConfigurationProblemsGetALineEach) {
  ReleaseFixture release;
  release.ShipEverything();
  std::ofstream(release.staged("ingestd.toml"), std::ios::app)
      << "[protocol]\nkeepalive_interval_ms = 90000\n[spool]\nfile_bytes = \"1MiB\"\n";
  ReleaseCheckReport report = release.Check();
  ASSERT_EQ(report.problems.size(), 2u) << absl::StrJoin(report.problems, "\n");
  EXPECT_TRUE(absl::StartsWith(report.problems[0], "configuration: protocol.keepalive_interval_ms"));
  EXPECT_TRUE(absl::StartsWith(report.problems[1], "configuration: spool.file_bytes"));
}

TEST(ReleaseCheckFilesTest, UnreadableConfigurationStopsTheCheck) {
  ReleaseFixture release;
  ReleaseFixture::Write(release.staged("ingestd.toml"), "[server]\nzoen = \"a\"\n");
  ReleaseCheckReport report = release.Check();
  ASSERT_EQ(report.problems.size(), 1u);
  EXPECT_TRUE(absl::StrContains(report.problems[0], "server.zoen: unknown key")) << report.problems[0];
  EXPECT_TRUE(report.files.empty());
}

}  // namespace
}  // namespace ingest
