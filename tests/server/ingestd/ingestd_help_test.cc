// `ingestd --help` shows what an operator needs: ingestd's own flags and
// every configuration flag, indexed by section of the configuration file;
// the libraries' flags stay under --helpfull.
#include <stdio.h>

#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/config/ingest_flags.h"
#include "server/ingestd/ingestd_usage.h"
#include "tests/support/build_paths.h"
#include "tests/support/shell_output.h"

namespace ingest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// stdout of `ingestd <args>`.
std::string RunIngestd(const std::string& args) {
  return ingest::testing::ShellOutput(absl::StrCat(ingest::testing::IngestdPath(), " ", args, " 2>/dev/null"));
}

// Every flag that overrides a configuration key (linked in with the flags
// this test reads).
std::vector<std::string> ConfigFlags() {
  (void)absl::GetFlag(FLAGS_listen);
  std::vector<std::string> names;
  for (const auto& [name, flag] : absl::GetAllFlags()) {
    if (absl::EndsWith(flag->Filename(), "server/config/ingest_flags.cc")) names.emplace_back(name);
  }
  return names;
}

TEST(IngestdHelpTest, HelpListsEveryConfigurationFlag) {
  const std::string help = RunIngestd("--help");
  const std::vector<std::string> flags = ConfigFlags();
  ASSERT_GT(flags.size(), 50u);
  const std::string index = help.substr(0, help.find("Flags from"));
  for (const std::string& name : flags) {
    EXPECT_TRUE(absl::StrContains(index, absl::StrCat("--", name, " ")) ||
                absl::StrContains(index, absl::StrCat("--", name, "\n")))
        << name;
    EXPECT_THAT(help, HasSubstr(absl::StrCat("--", name, " (Overrides"))) << name;  // with its help
  }
  for (const char* own : {"--config", "--print_config", "--stats_interval_s"}) EXPECT_THAT(help, HasSubstr(own));
}

TEST(IngestdHelpTest, HelpIndexesTheFlagsBySectionInTheFilesOrder) {
  const std::string help = RunIngestd("--help");
  size_t last = 0;
  for (const char* section : {"[server]", "[tls]", "[protocol]", "[spool]", "[store]", "[drain]", "[log]"}) {
    const size_t at = help.find(section);
    ASSERT_NE(at, std::string::npos) << section;
    EXPECT_GT(at, last) << section;
    last = at;
  }
  EXPECT_THAT(help, HasSubstr("[tls]       --allow_tls12 --camera_ca"));
}

TEST(IngestdHelpTest, LibraryFlagsStayUnderHelpfull) {
  EXPECT_THAT(RunIngestd("--help"), Not(HasSubstr("--flagfile")));
  const std::string full = RunIngestd("--helpfull");
  EXPECT_THAT(full, HasSubstr("--flagfile"));
  EXPECT_THAT(full, HasSubstr("--tls_cert"));
}

TEST(IngestdHelpTest, ShownByHelpIsIngestdAndTheConfigurationFlags) {
  EXPECT_TRUE(ShownByHelp("server/main/ingestd_main.cc"));
  EXPECT_TRUE(ShownByHelp("server/config/ingest_flags.cc"));
  EXPECT_FALSE(ShownByHelp("server/main/ingestctl_main.cc"));
  EXPECT_FALSE(ShownByHelp("absl/flags/parse.cc"));
}

}  // namespace
}  // namespace ingest
