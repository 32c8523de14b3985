// A staged release is checked against what the server will open after the
// install: files the release ships from the staging folder, the others from
// the host, and a file found in neither place is a problem.
#include <stdio.h>

#include <cstdio>
#include <string>

#include "gtest/gtest.h"
#include "server/release/release_check.h"
#include "tests/server/release/release_fixture.h"

namespace ingest {
namespace {

TEST(ReleaseCheckStagingTest, FileTheReleaseDoesNotShipIsReadFromTheHost) {
  ReleaseFixture release;
  release.ShipEverything();
  std::filesystem::remove(release.staged("tls/ticket.keys"));
  release.KeepOnHost("ticket.keys", "tls/ticket.keys");
  ReleaseCheckReport report = release.Check();
  EXPECT_TRUE(report.ok()) << absl::StrJoin(report.problems, "\n");
  const CheckedFile* keys = FileFor(report, "tls.ticket_keys_file");
  ASSERT_NE(keys, nullptr);
  EXPECT_EQ(keys->copy.origin, FileOrigin::kHost);
  EXPECT_EQ(keys->copy.read, release.installed("tls/ticket.keys"));
}

TEST(ReleaseCheckStagingTest, StagedCopyIsCheckedNotTheHostsOldOne) {
  ReleaseFixture release;
  release.ShipEverything();
  // The host still has last year's pair; the release ships a broken key.
  release.KeepOnHost("server.crt", "tls/server.crt");
  release.KeepOnHost("server.key", "tls/server.key");
  release.Ship("camera-ca.key", "tls/server.key");
  EXPECT_TRUE(HasProblem(release.Check(), "tls.key_file", {"staged copy " + release.staged("tls/server.key")}));

  // And the other way round: a good release over a broken host file passes.
  release.Ship("server.key", "tls/server.key");
  release.KeepOnHost("camera-ca.key", "tls/server.key");
  ReleaseCheckReport report = release.Check();
  EXPECT_TRUE(report.ok()) << absl::StrJoin(report.problems, "\n");
}

TEST(ReleaseCheckStagingTest, FileMissingEverywhereFails) {
  ReleaseFixture release;
  release.ShipEverything();
  std::filesystem::remove(release.staged("tls/ticket.keys"));
  EXPECT_TRUE(HasProblem(release.Check(), "tls.ticket_keys_file",
                         {release.installed("tls/ticket.keys") + " (host copy)", "No such file"}));
}

TEST(ReleaseCheckStagingTest, WithoutAnInstalledFolderFilesAreReadWhereTheConfigurationNamesThem) {
  ReleaseFixture release;
  release.ShipEverything();
  // The host has none of the files yet: an installed-release check fails.
  ReleaseCheckReport report = CheckRelease(ReleaseCheckOptions{.config_file = release.staged("ingestd.toml")});
  EXPECT_TRUE(HasProblem(report, "tls.cert_file", {release.installed("tls/server.crt")}));
  EXPECT_TRUE(HasProblem(report, "server.zone_map", {release.installed("zones.toml")}));
  for (const CheckedFile& file : report.files) EXPECT_EQ(file.copy.origin, FileOrigin::kAsNamed) << file.key;
}

TEST(ReleaseCheckStagingTest, HostConfigurationWithTheFilesABundleShips) {
  ReleaseFixture release;
  release.ShipEverything();
  std::filesystem::rename(release.staged("ingestd.toml"), release.installed("ingestd.toml"));
  ReleaseCheckReport report = CheckRelease(ReleaseCheckOptions{.config_file = release.installed("ingestd.toml"),
                                                               .installed_config_dir = release.installed_dir(),
                                                               .staged_config_dir = release.staged_dir()});
  EXPECT_TRUE(report.ok()) << absl::StrJoin(report.problems, "\n");
  EXPECT_EQ(FileFor(report, "tls.cert_file")->copy.origin, FileOrigin::kStaged);
}

TEST(ReleaseCheckStagingTest, ReportSaysWhichCopyWasChecked) {
  ReleaseFixture release;
  release.ShipEverything();
  std::filesystem::remove(release.staged("tls/ticket.keys"));
  ReleaseCheckReport report = release.Check();

  char* out_text = nullptr;
  char* err_text = nullptr;
  size_t out_size = 0;
  size_t err_size = 0;
  std::FILE* out = open_memstream(&out_text, &out_size);
  std::FILE* err = open_memstream(&err_text, &err_size);
  PrintReleaseCheckReport(report, out, err);
  std::fclose(out);
  std::fclose(err);
  const std::string printed_out(out_text, out_size);
  const std::string printed_err(err_text, err_size);
  free(out_text);
  free(err_text);

  EXPECT_TRUE(absl::StrContains(printed_out, absl::StrCat("ok      tls.cert_file ", release.installed("tls/server.crt"),
                                                          " (staged copy ", release.staged("tls/server.crt"), ")")))
      << printed_out;
  EXPECT_TRUE(absl::StrContains(
      printed_out, absl::StrCat("FAILED  tls.ticket_keys_file ", release.installed("tls/ticket.keys"), " (host copy)")))
      << printed_out;
  EXPECT_TRUE(absl::StrContains(printed_out, "ingestd check: 7 files checked, 1 problem(s)")) << printed_out;
  EXPECT_TRUE(absl::StartsWith(printed_err, "tls.ticket_keys_file ")) << printed_err;
}

}  // namespace
}  // namespace ingest
