// Every kind of bad input in a config file is an error that names the file,
// the line and the key.
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/config/ingest_config.h"
#include "tests/server/config/config_test_util.h"

namespace ingest {
namespace {

absl::Status Parse(std::string_view text) { return ParseConfigToml(text, "ingestd.toml").status(); }

TEST(ConfigErrorsTest, AcceptsAValidFileAndAppliesIt) {
  absl::StatusOr<IngestConfig> config = ParseConfigToml(R"(
[server]
zone = "eu-1"
[spool]
commit_interval_ms = 5
file_bytes = "32MiB"
max_bytes = 1073741824
[log]
connection_errors_per_second = 5
)", "ingestd.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->server.zone, "eu-1");
  EXPECT_EQ(config->spool.commit_interval_ms, 5u);
  EXPECT_EQ(config->spool.file_bytes, 32u << 20);
  EXPECT_EQ(config->spool.max_bytes, 1u << 30);
  EXPECT_EQ(config->log.connection_errors_per_second, 5.0);
  EXPECT_EQ(config->server.listen, IngestConfig{}.server.listen);  // untouched keys keep defaults
}

TEST(ConfigErrorsTest, EmptyFileGivesDefaults) {
  absl::StatusOr<IngestConfig> config = ParseConfigToml("# nothing\n", "ingestd.toml");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(*config, IngestConfig{});
}

TEST(ConfigErrorsTest, OutOfRangeNamesFileLineKeyAndBounds) {
  absl::Status status = Parse("[spool]\n\n\n\n\n\n\n\n\n\n\ncommit_interval_ms = 0\n");
  EXPECT_EQ(status.message(),
            "ingestd.toml:12: spool.commit_interval_ms: must be between 1 and 1000, got 0");
  EXPECT_TRUE(HasError(Parse("[server]\nshards = 257\n"), "ingestd.toml:2: ", "server.shards"));
  EXPECT_TRUE(HasError(Parse("[server]\nmax_connections = -1\n"), "ingestd.toml:2: ",
                       "server.max_connections"));
  EXPECT_TRUE(HasError(Parse("[protocol]\nmax_segment_bytes = \"1GiB\"\n"), "ingestd.toml:2: ",
                       "protocol.max_segment_bytes: must be between 1KiB and 256MiB, got 1GiB"));
  EXPECT_TRUE(HasError(Parse("[log]\nconnection_errors_per_second = nan\n"), "ingestd.toml:2: ",
                       "log.connection_errors_per_second"));
  EXPECT_TRUE(HasError(Parse("[log]\nlevel = \"verbose\"\n"), "ingestd.toml:2: ", "log.level"));
  EXPECT_TRUE(HasError(Parse("[server]\nzone = \"eu/1\"\n"), "ingestd.toml:2: ", "server.zone"));
  EXPECT_TRUE(HasError(Parse("[store]\nurl = \"ftp://x\"\n"), "ingestd.toml:2: ", "store.url"));
  EXPECT_EQ(Parse("[store]\nurl = \"s3://b/p\"\n\npayload_signing = \"none\"\n").message(),
            "ingestd.toml:4: store.payload_signing: must be \"auto\", \"unsigned\" or \"signed\", got \"none\"");
  EXPECT_TRUE(HasError(Parse("[store]\npayload_signing = true\n"), "ingestd.toml:2: ",
                       "store.payload_signing: wrong type"));
}

TEST(ConfigErrorsTest, UnknownKeyIsAnErrorWithASuggestion) {
  absl::Status status = Parse("[server]\nzone = \"a\"\nlisten_addr = \"127.0.0.1:1\"\n");
  EXPECT_TRUE(HasError(status, "ingestd.toml:3: ", "server.listen_addr: unknown key"));
  EXPECT_NE(status.message().find("did you mean server.listen?"), absl::string_view::npos) << status;
  EXPECT_TRUE(HasError(Parse("[spool]\ncommit_intervall_ms = 3\n"), "ingestd.toml:2: ",
                       "did you mean spool.commit_interval_ms?"));
  // A key from another section is still unknown here.
  EXPECT_TRUE(HasError(Parse("[tls]\nlisten = \"127.0.0.1:1\"\n"), "ingestd.toml:2: ", "tls.listen"));
  // Sub-tables of a section are not keys we know either.
  EXPECT_TRUE(HasError(Parse("[server.extra]\nx = 1\n"), "ingestd.toml:1: ", "server.extra"));
}

TEST(ConfigErrorsTest, UnknownSectionAndTopLevelKeysAreErrors) {
  EXPECT_TRUE(HasError(Parse("\n[servre]\nzone = \"a\"\n"), "ingestd.toml:2: ",
                       "servre: unknown section"));
  EXPECT_TRUE(HasError(Parse("listen = \"127.0.0.1:1\"\n"), "ingestd.toml:1: ", "listen: unknown key"));
  EXPECT_TRUE(HasError(Parse("server = 3\n"), "ingestd.toml:1: ", "server: wrong type"));
  EXPECT_TRUE(HasError(Parse("[[server]]\nzone = \"a\"\n"), "ingestd.toml:1: ", "server: wrong type"));
}

TEST(ConfigErrorsTest, WrongTypesAreErrors) {
  EXPECT_TRUE(HasError(Parse("[server]\nshards = \"4\"\n"), "ingestd.toml:2: ",
                       "server.shards: wrong type: expected an integer, got a string"));
  EXPECT_TRUE(HasError(Parse("[server]\nlisten = 7443\n"), "ingestd.toml:2: ", "server.listen: wrong type"));
  EXPECT_TRUE(HasError(Parse("[tls]\ndev_certs = \"yes\"\n"), "ingestd.toml:2: ", "tls.dev_certs: wrong type"));
  EXPECT_TRUE(HasError(Parse("[tls]\ndev_certs = 1\n"), "ingestd.toml:2: ", "tls.dev_certs: wrong type"));
  EXPECT_TRUE(HasError(Parse("[spool]\ncommit_interval_ms = 2.5\n"), "ingestd.toml:2: ",
                       "spool.commit_interval_ms: wrong type"));
  EXPECT_TRUE(HasError(Parse("[spool]\nmax_bytes = true\n"), "ingestd.toml:2: ", "spool.max_bytes: wrong type"));
  EXPECT_TRUE(HasError(Parse("[spool]\ndir = [\"a\"]\n"), "ingestd.toml:2: ", "spool.dir: wrong type"));
  EXPECT_TRUE(HasError(Parse("[log]\nlevel = 1979-05-27\n"), "ingestd.toml:2: ", "log.level: wrong type"));
}

TEST(ConfigErrorsTest, BadSizeUnitIsAnError) {
  absl::Status status = Parse("[spool]\nfile_bytes = \"64MB\"\n");
  EXPECT_TRUE(HasError(status, "ingestd.toml:2: ", "spool.file_bytes: bad size \"64MB\": unknown unit"));
  EXPECT_TRUE(HasError(Parse("[spool]\nfile_bytes = \"lots\"\n"), "ingestd.toml:2: ", "spool.file_bytes"));
  EXPECT_TRUE(HasError(Parse("[spool]\nfile_bytes = \"1.5GiB\"\n"), "ingestd.toml:2: ", "spool.file_bytes"));
}

TEST(ConfigErrorsTest, BadListenAddressIsAnError) {
  for (const char* listen : {"127.0.0.1", "::1:7443", "127.0.0.1:70000", "localhost:7443", ""}) {
    std::string text = absl::StrCat("[server]\nlisten = \"", listen, "\"\n");
    EXPECT_TRUE(HasError(Parse(text), "ingestd.toml:2: ", "server.listen: bad address")) << listen;
  }
  EXPECT_TRUE(ParseConfigToml("[server]\nlisten = \"[::]:0\"\n", "x").ok());
  EXPECT_TRUE(ParseConfigToml("[server]\nlisten = \"0.0.0.0:7443\"\n", "x").ok());
}

TEST(ConfigErrorsTest, TomlSyntaxErrorNamesFileAndLine) {
  EXPECT_TRUE(HasError(Parse("[server]\nzone = \"unterminated\n"), "ingestd.toml:2: ", "not valid TOML"));
  EXPECT_TRUE(HasError(Parse("[server]\nzone = \"a\"\nzone = \"b\"\n"), "ingestd.toml:3: ",
                       "not valid TOML"));
}

}  // namespace
}  // namespace ingest
