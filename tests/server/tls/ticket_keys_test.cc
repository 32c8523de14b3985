// The ticket keys file: parsing, formatting, errors with line numbers, and a
// private file mode.
#include "server/tls/ticket_keys.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace ingest {
namespace {

const std::string kName(32, 'a');
const std::string kHmac(64, 'b');
const std::string kAes(64, 'c');

std::string Line(const std::string& name, const std::string& hmac, const std::string& aes) {
  return name + " " + hmac + " " + aes + "\n";
}

TEST(TicketKeysTest, ParsesCommentsBlankLinesAndBothHexCases) {
  std::string text = "# zone a\n\n" + Line(kName, kHmac, kAes) +
                     Line(std::string(32, 'D'), std::string(64, 'E'), std::string(64, 'F'));
  auto keys = ParseTicketKeys(text, "test");
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 2u);
  EXPECT_EQ((*keys)[0].name[0], 0xaa);
  EXPECT_EQ((*keys)[0].hmac_key[31], 0xbb);
  EXPECT_EQ((*keys)[0].aes_key[0], 0xcc);
  EXPECT_EQ((*keys)[1].name[15], 0xdd);
}

TEST(TicketKeysTest, FormatRoundTrips) {
  std::vector<TicketKey> keys;
  for (int i = 0; i < 3; ++i) {
    auto key = GenerateTicketKey();
    ASSERT_TRUE(key.ok());
    keys.push_back(*key);
  }
  auto parsed = ParseTicketKeys(FormatTicketKeys(keys), "formatted");
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  ASSERT_EQ(parsed->size(), keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    EXPECT_EQ((*parsed)[i].name, keys[i].name);
    EXPECT_EQ((*parsed)[i].hmac_key, keys[i].hmac_key);
    EXPECT_EQ((*parsed)[i].aes_key, keys[i].aes_key);
  }
}

TEST(TicketKeysTest, ErrorsNameSourceAndLine) {
  struct Case {
    std::string text;
    std::string expect;
  };
  for (const Case& c : std::vector<Case>{
           {"# only comments\n", "src: no ticket keys"},
           {"", "src: no ticket keys"},
           {"\n" + kName + " " + kHmac + "\n", "src:2: expected"},
           {Line(std::string(31, 'a'), kHmac, kAes), "src:1: key name"},
           {Line(kName, std::string(64, 'g'), kAes), "src:1: HMAC key"},
           {Line(kName, kHmac, std::string(66, 'c')), "src:1: AES key"},
           {Line(kName, kHmac, kAes) + Line(kName, kAes, kHmac), "src:2: duplicate key name"},
       }) {
    auto keys = ParseTicketKeys(c.text, "src");
    ASSERT_FALSE(keys.ok()) << c.text;
    EXPECT_NE(std::string(keys.status().message()).find(c.expect), std::string::npos)
        << keys.status() << " for " << c.text;
  }
}

TEST(TicketKeysTest, WrittenFileIsPrivateAndReadsBack) {
  std::string pattern = std::filesystem::temp_directory_path() / "ticket_keys_test.XXXXXX";
  std::string dir = mkdtemp(pattern.data());
  std::string path = dir + "/ticket.keys";
  auto key = GenerateTicketKey();
  ASSERT_TRUE(key.ok());
  ASSERT_TRUE(WriteTicketKeysFile(path, {*key}).ok());
  struct stat st;
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto keys = ReadTicketKeysFile(path);
  ASSERT_TRUE(keys.ok()) << keys.status();
  ASSERT_EQ(keys->size(), 1u);
  EXPECT_EQ((*keys)[0].name, key->name);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  std::filesystem::remove_all(dir);
}

TEST(TicketKeysTest, MissingFileIsNotFound) {
  auto keys = ReadTicketKeysFile("/nonexistent-dir/ticket.keys");
  ASSERT_FALSE(keys.ok());
  EXPECT_EQ(keys.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(keys.status().message()).find("/nonexistent-dir/ticket.keys"),
            std::string::npos);
}

TEST(TicketKeysTest, ReplaceWithoutInstallIsRefused) {
  SSL_CTX* ctx = SSL_CTX_new(TLS_server_method());
  auto key = GenerateTicketKey();
  ASSERT_TRUE(key.ok());
  EXPECT_EQ(ReplaceTicketKeys(ctx, {*key}).code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(InstallTicketKeys(ctx, {*key}).ok());
  EXPECT_TRUE(ReplaceTicketKeys(ctx, {*key}).ok());
  EXPECT_FALSE(ReplaceTicketKeys(ctx, {}).ok());
  SSL_CTX_free(ctx);
}

}  // namespace
}  // namespace ingest
