// Bearer tokens and signed URLs for encoders without client certificates:
// the file's lines and its errors with file and line, tokens kept as digests,
// several per camera, a signature good for one camera until its expiry, and
// each refusal's status (401 without or with expired credentials, 403 with
// wrong ones).
#include "server/tls/encoder_credentials.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/s3/sigv4.h"  // Sha256Hex

namespace ingest {
namespace {

constexpr int64_t kNow = 1'800'000'000;
const std::string kKey = std::string(32, 'Z');  // 0x5a
const std::string kKeyHex = "5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a";

EncoderCredentials Credentials() {
  const std::string text = absl::StrCat("# encoders\n\ntoken cam-1 sha256:", Sha256Hex("old-token"),
                                        "\ntoken cam-1 sha256:", Sha256Hex("new-token"),
                                        "\ntoken cam-2\tsha256:", Sha256Hex("two"), "\r\nkey k1 ", kKeyHex, "\n");
  absl::StatusOr<EncoderCredentials> parsed = EncoderCredentials::Parse(text, "creds.txt");
  EXPECT_TRUE(parsed.ok()) << parsed.status();
  return *std::move(parsed);
}

SignedPath Signed(const std::string& camera, int64_t expires, const std::string& key_id = "k1") {
  SignedPath path;
  path.expires_unix = expires;
  path.key_id = key_id;
  path.signature_hex = SignEncoderPath(kKey, camera, expires);
  return path;
}

TEST(EncoderCredentialsTest, TokensOfTheCameraAreAcceptedAndOthersRefused) {
  const EncoderCredentials creds = Credentials();
  EXPECT_EQ(creds.token_count(), 3u);
  EXPECT_EQ(creds.key_count(), 1u);
  EXPECT_TRUE(creds.Check("cam-1", "Bearer old-token", std::nullopt, kNow).allowed);
  EXPECT_TRUE(creds.Check("cam-1", "Bearer new-token", std::nullopt, kNow).allowed);
  EncoderVerdict other = creds.Check("cam-1", "Bearer two", std::nullopt, kNow);
  EXPECT_FALSE(other.allowed);
  EXPECT_EQ(other.status, 403u);
  EXPECT_NE(other.reason.find("cam-1"), std::string::npos);
  EXPECT_EQ(creds.Check("cam-9", "Bearer two", std::nullopt, kNow).status, 403u);
  EXPECT_EQ(creds.Check("cam-1", "", std::nullopt, kNow).status, 401u);
  EXPECT_EQ(creds.Check("cam-1", "Basic dXNlcjpwYXNz", std::nullopt, kNow).status, 401u);
}

TEST(EncoderCredentialsTest, ASignedPathIsGoodForItsCameraUntilItExpires) {
  const EncoderCredentials creds = Credentials();
  EXPECT_TRUE(creds.Check("cam-7", "", Signed("cam-7", kNow + 60), kNow).allowed);
  SignedPath upper = Signed("cam-7", kNow + 60);
  for (char& c : upper.signature_hex) c = static_cast<char>(std::toupper(c));
  EXPECT_TRUE(creds.Check("cam-7", "", upper, kNow).allowed) << "hex in either case";

  EncoderVerdict expired = creds.Check("cam-7", "", Signed("cam-7", kNow), kNow);
  EXPECT_EQ(expired.status, 401u);
  EXPECT_NE(expired.reason.find("expired"), std::string::npos);
  EXPECT_EQ(creds.Check("cam-8", "", Signed("cam-7", kNow + 60), kNow).status, 403u) << "another camera's";
  SignedPath later = Signed("cam-7", kNow + 60);
  later.expires_unix += 3600;
  EXPECT_EQ(creds.Check("cam-7", "", later, kNow).status, 403u) << "expiry changed after signing";
  EXPECT_EQ(creds.Check("cam-7", "", Signed("cam-7", kNow + 60, "k2"), kNow).status, 403u) << "unknown key";
  SignedPath short_signature = Signed("cam-7", kNow + 60);
  short_signature.signature_hex.pop_back();
  EXPECT_EQ(creds.Check("cam-7", "", short_signature, kNow).status, 403u);
}

TEST(EncoderCredentialsTest, BadLinesAreRefusedWithFileAndLine) {
  struct Case {
    std::string text;
    std::string says;
  };
  for (const Case& c : std::vector<Case>{
           {"token cam-1 plain-token\n", "creds.txt:1: the token must be given as sha256:"},
           {"\ntoken .cam sha256:" + std::string(64, '0'), "creds.txt:2: bad camera id"},
           {"token cam-1 sha256:" + std::string(63, '0'), "sha256:<64 hex>"},
           {"key k1 00ff\n", "creds.txt:1: key k1 must be 32 to 128 bytes"},
           {"key k/1 " + kKeyHex, "bad key id"},
           {"key k1 " + kKeyHex + "\nkey k1 " + kKeyHex, "creds.txt:2: duplicate key id k1"},
           {"secret cam-1 x\n", "unknown line kind \"secret\""},
           {"token cam-1\n", "expected \"token <camera> sha256:<64 hex>\""},
       }) {
    absl::StatusOr<EncoderCredentials> parsed = EncoderCredentials::Parse(c.text, "creds.txt");
    ASSERT_FALSE(parsed.ok()) << c.text;
    EXPECT_NE(parsed.status().message().find(c.says), absl::string_view::npos) << parsed.status();
  }
  EXPECT_FALSE(ReadEncoderCredentialsFile("/nonexistent/creds").ok());
}

}  // namespace
}  // namespace ingest
