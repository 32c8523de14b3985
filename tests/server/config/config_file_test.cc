// LoadConfigFile reads real files, and the shipped example parses and lists
// every key.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/build_paths.h"
#include "toml++/toml.h"
#include "server/config/ingest_config.h"
#include "tests/server/config/config_test_util.h"

namespace ingest {
namespace {

namespace fs = std::filesystem;

// This file is tests/server/config/config_file_test.cc; the repository root
// is four levels up from it.
fs::path RepoRoot() { return fs::path(ingest::testing::SourceDir()); }

class ConfigFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/ingest_config_test.XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { fs::remove_all(dir_); }

  std::string Write(const std::string& name, const std::string& text) {
    fs::path path = dir_ / name;
    std::ofstream(path) << text;
    return path.string();
  }

  fs::path dir_;
};

// Every "section.key" in a TOML document.
std::set<std::string> KeysOf(const std::string& text) {
  std::set<std::string> keys;
  toml::table document = toml::parse(text);
  for (const auto& [section, node] : document) {
    for (const auto& [key, value] : *node.as_table()) {
      keys.insert(std::string(section.str()) + "." + std::string(key.str()));
    }
  }
  return keys;
}

TEST_F(ConfigFileTest, LoadsAFileAndNamesItInErrors) {
  std::string good = Write("good.toml", "[server]\nzone = \"z1\"\n");
  absl::StatusOr<IngestConfig> config = LoadConfigFile(good);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.zone, "z1");

  std::string bad = Write("bad.toml", "[server]\nzone = \"z1\"\nshards = 1000\n");
  EXPECT_TRUE(HasError(LoadConfigFile(bad).status(), bad + ":3: ", "server.shards"));
}

TEST_F(ConfigFileTest, MissingFileIsAnErrorNotDefaults) {
  std::string missing = (dir_ / "absent.toml").string();
  absl::Status status = LoadConfigFile(missing).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound) << status;
  EXPECT_NE(status.message().find(missing), absl::string_view::npos) << status;
}

TEST_F(ConfigFileTest, ExampleParsesValidatesAndListsEveryKey) {
  fs::path example = RepoRoot() / "deploy" / "ingestd.example.toml";
  absl::StatusOr<IngestConfig> config = LoadConfigFile(example.string());
  ASSERT_TRUE(config.ok()) << config.status();
  IngestConfig resolved = *config;
  ASSERT_TRUE(ResolveDefaults(resolved).ok());
  EXPECT_TRUE(ValidateConfig(resolved).ok()) << ValidateConfig(resolved);

  std::ifstream in(example);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(KeysOf(text), KeysOf(ConfigToToml(IngestConfig{})))
      << "deploy/ingestd.example.toml must list every key ConfigToToml prints";
}

}  // namespace
}  // namespace ingest
