// ConfigToToml -> ParseConfigToml gives back the same config, for every field.
#include "gtest/gtest.h"
#include "server/config/ingest_config.h"
#include "tests/server/config/config_test_util.h"

namespace ingest {
namespace {

TEST(ConfigRoundTripTest, EveryFieldChangedFromDefaultSurvives) {
  IngestConfig original = ConfigWithEveryFieldChanged();
  // Every section really differs from its defaults, so nothing round-trips by accident.
  IngestConfig defaults;
  EXPECT_NE(original.server, defaults.server);
  EXPECT_NE(original.tls, defaults.tls);
  EXPECT_NE(original.protocol, defaults.protocol);
  EXPECT_NE(original.spool, defaults.spool);
  EXPECT_NE(original.store, defaults.store);
  EXPECT_NE(original.log, defaults.log);

  std::string text = ConfigToToml(original);
  absl::StatusOr<IngestConfig> parsed = ParseConfigToml(text, "printed.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status() << "\n" << text;
  EXPECT_EQ(parsed->server, original.server) << text;
  EXPECT_EQ(parsed->tls, original.tls) << text;
  EXPECT_EQ(parsed->protocol, original.protocol) << text;
  EXPECT_EQ(parsed->spool, original.spool) << text;
  EXPECT_EQ(parsed->store, original.store) << text;
  EXPECT_EQ(parsed->log, original.log) << text;
  EXPECT_EQ(ConfigToToml(*parsed), text);
}

TEST(ConfigRoundTripTest, DefaultsSurviveBeforeAndAfterResolving) {
  IngestConfig config;
  absl::StatusOr<IngestConfig> parsed = ParseConfigToml(ConfigToToml(config), "printed.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, config);

  ASSERT_TRUE(ResolveDefaults(config).ok());
  parsed = ParseConfigToml(ConfigToToml(config), "printed.toml");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, config);
}

TEST(ConfigRoundTripTest, SizesPrintWithUnitsAndEveryKeyHasAComment) {
  std::string text = ConfigToToml(IngestConfig{});
  EXPECT_NE(text.find("max_bytes = \"8GiB\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("max_segment_bytes = \"4MiB\"\n"), std::string::npos) << text;
  EXPECT_NE(text.find("connection_errors_per_second = 20.0\n"), std::string::npos) << text;
  // Each "key = value" line follows a "# ..." line.
  std::string previous;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    std::string line = text.substr(start, end - start);
    if (line.rfind("#", 0) != 0 && line.find(" = ") != std::string::npos) {
      EXPECT_EQ(previous.rfind("# ", 0), 0u) << "no comment above: " << line;
    }
    previous = line;
    start = end + 1;
  }
}

}  // namespace
}  // namespace ingest
