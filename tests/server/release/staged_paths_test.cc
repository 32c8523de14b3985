// Which copy of a file a staged release check reads: the staged one when the
// release ships it, the host's otherwise, and anything outside the installed
// configuration folder as named.
#include "server/release/staged_paths.h"

#include <set>
#include <string>

#include "gtest/gtest.h"

namespace ingest {
namespace {

const StagedRelease kRelease{.installed_config_dir = "/etc/ingestd",
                             .staged_config_dir = "/opt/ingestd/staging/config"};

// A staging folder holding exactly `files`.
class StagedFiles {
 public:
  explicit StagedFiles(std::set<std::string> files) : files_(std::move(files)) {}
  bool operator()(const std::string& path) const { return files_.contains(path); }

 private:
  std::set<std::string> files_;
};

TEST(StagedPathsTest, ShippedFileIsReadFromTheStagingFolder) {
  FileCopy copy = ChooseFileCopy("/etc/ingestd/tls/server.crt", kRelease,
                                 StagedFiles({"/opt/ingestd/staging/config/tls/server.crt"}));
  EXPECT_EQ(copy.named, "/etc/ingestd/tls/server.crt");
  EXPECT_EQ(copy.read, "/opt/ingestd/staging/config/tls/server.crt");
  EXPECT_EQ(copy.origin, FileOrigin::kStaged);
}

TEST(StagedPathsTest, FileTheReleaseDoesNotShipIsReadFromTheHost) {
  FileCopy copy = ChooseFileCopy("/etc/ingestd/tls/server.key", kRelease,
                                 StagedFiles({"/opt/ingestd/staging/config/tls/server.crt"}));
  EXPECT_EQ(copy.read, "/etc/ingestd/tls/server.key");
  EXPECT_EQ(copy.origin, FileOrigin::kHost);
}

TEST(StagedPathsTest, PathOutsideTheInstalledFolderIsReadAsNamed) {
  const StagedFiles everything({"/opt/ingestd/staging/config/ca.pem", "/opt/ingestd/staging/config/x"});
  for (const std::string named : {"/usr/share/ca.pem", "/etc/ingestd2/x", "/etc/ingest", "/etc/ingestd/../x",
                                  "/etc/ingestd", "/etc/ingestd/", "tls/ca.pem", "./etc/ingestd/x"}) {
    FileCopy copy = ChooseFileCopy(named, kRelease, everything);
    EXPECT_EQ(copy.read, named) << named;
    EXPECT_EQ(copy.origin, FileOrigin::kAsNamed) << named;
  }
}

TEST(StagedPathsTest, PathsAreComparedAfterNormalisation) {
  const StagedFiles staged({"/opt/ingestd/staging/config/tls/server.crt"});
  for (const std::string named :
       {"/etc/ingestd//tls/server.crt", "/etc/ingestd/./tls/server.crt", "/etc/ingestd/keys/../tls/server.crt"}) {
    FileCopy copy = ChooseFileCopy(named, kRelease, staged);
    EXPECT_EQ(copy.named, named);
    EXPECT_EQ(copy.read, "/opt/ingestd/staging/config/tls/server.crt") << named;
    EXPECT_EQ(copy.origin, FileOrigin::kStaged) << named;
  }
  const StagedRelease trailing_slash{.installed_config_dir = "/etc/ingestd/",
                                     .staged_config_dir = "/opt/ingestd/staging/config/"};
  EXPECT_EQ(ChooseFileCopy("/etc/ingestd/tls/server.crt", trailing_slash, staged).origin, FileOrigin::kStaged);
}

TEST(StagedPathsTest, WithoutAnInstalledFolderEveryFileIsReadAsNamed) {
  FileCopy copy =
      ChooseFileCopy("/etc/ingestd/tls/server.crt", StagedRelease{}, [](const std::string&) { return true; });
  EXPECT_EQ(copy.read, "/etc/ingestd/tls/server.crt");
  EXPECT_EQ(copy.origin, FileOrigin::kAsNamed);
}

TEST(StagedPathsTest, OriginsHaveNames) {
  EXPECT_EQ(FileOriginName(FileOrigin::kStaged), "staged");
  EXPECT_EQ(FileOriginName(FileOrigin::kHost), "host");
  EXPECT_EQ(FileOriginName(FileOrigin::kAsNamed), "as named");
}

}  // namespace
}  // namespace ingest
