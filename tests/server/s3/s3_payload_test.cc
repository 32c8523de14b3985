// The headers that vouch for an upload's body (s3_payload.h): which ones
// each mode sends, the x-amz-checksum-crc32c encoding against known answers,
// and how "auto" resolves per scheme.
#include "server/s3/s3_payload.h"

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/escaping.h"
#include "common/crc32c.h"
#include "gtest/gtest.h"
#include "server/s3/sigv4.h"

namespace ingest {
namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

absl::Span<const uint8_t> Bytes(std::string_view s) { return {reinterpret_cast<const uint8_t*>(s.data()), s.size()}; }

TEST(S3PayloadTest, Crc32cHeaderValueIsBase64OfTheBigEndianCrc) {
  // CRC-32C check value: "123456789" -> 0xE3069283 -> bytes E3 06 92 83.
  ASSERT_EQ(Crc32c({Bytes("123456789").data(), 9}), 0xE3069283u);
  EXPECT_EQ(Crc32cBase64(0xE3069283u), "4waSgw==");
  std::string raw;
  ASSERT_TRUE(absl::Base64Unescape(Crc32cBase64(0xE3069283u), &raw));
  EXPECT_EQ(raw, std::string("\xE3\x06\x92\x83", 4));
  // The empty body's CRC is 0; AWS's documented value for it is "AAAAAA==".
  EXPECT_EQ(Crc32cBase64(0), "AAAAAA==");
  // RFC 3720 (iSCSI) B.4: 32 bytes of zeros -> 0x8A9136AA, of 0xFF -> 0x62A8AB43.
  const std::string zeros(32, '\0');
  const std::string ones(32, '\xff');
  EXPECT_EQ(Crc32c({Bytes(zeros).data(), 32}), 0x8A9136AAu);
  EXPECT_EQ(Crc32c({Bytes(ones).data(), 32}), 0x62A8AB43u);
  EXPECT_EQ(Crc32cBase64(0x8A9136AAu), "ipE2qg==");
  EXPECT_EQ(Crc32cBase64(0x62A8AB43u), "YqirQw==");
}

TEST(S3PayloadTest, UnsignedSendsUnsignedPayloadAndTheCrcOnly) {
  const S3PayloadHeaders payload = PrepareS3Payload(Bytes("123456789"), /*sign_payload=*/false);
  EXPECT_EQ(payload.payload_sha256, "UNSIGNED-PAYLOAD");
  EXPECT_EQ(payload.headers, (Headers{{"x-amz-checksum-crc32c", "4waSgw=="}}));
}

TEST(S3PayloadTest, UnsignedTakesAKnownCrcWithoutReadingTheBody) {
  // The body is not read: a CRC the caller vouches for is used as given
  // (here deliberately not the body's, to tell the two apart).
  const S3PayloadHeaders payload = PrepareS3Payload(Bytes("123456789"), /*sign_payload=*/false, 0x01020304u);
  EXPECT_EQ(payload.payload_sha256, "UNSIGNED-PAYLOAD");
  EXPECT_EQ(payload.headers, (Headers{{"x-amz-checksum-crc32c", "AQIDBA=="}}));
}

TEST(S3PayloadTest, SignedIsTheOldRequest) {
  const S3PayloadHeaders payload = PrepareS3Payload(Bytes("123456789"), /*sign_payload=*/true, 7);
  EXPECT_EQ(payload.payload_sha256, "15e2b0d3c33891ebb0f1ef609ec419420c20e320ce94c65fbc8c3312448eb225");
  EXPECT_EQ(payload.payload_sha256, Sha256Hex("123456789"));
  EXPECT_EQ(payload.headers, (Headers{{"content-md5", "JfnnlDI7RTiF9RgfG2JNCw=="}}));
}

TEST(S3PayloadTest, EmptyBody) {
  EXPECT_EQ(PrepareS3Payload({}, false).headers, (Headers{{"x-amz-checksum-crc32c", "AAAAAA=="}}));
  const S3PayloadHeaders is_signed = PrepareS3Payload({}, true);
  EXPECT_EQ(is_signed.payload_sha256, Sha256Hex(std::string_view()));
  EXPECT_EQ(is_signed.headers, (Headers{{"content-md5", "1B2M2Y8AsgTpgAmY7PhCfg=="}}));
}

TEST(S3PayloadTest, AutoSignsOnlyWhereNoTlsProtectsTheBody) {
  EXPECT_FALSE(SignsPayload(S3PayloadSigning::kAuto, /*tls=*/true));
  EXPECT_TRUE(SignsPayload(S3PayloadSigning::kAuto, /*tls=*/false));
  EXPECT_FALSE(SignsPayload(S3PayloadSigning::kUnsigned, true));
  EXPECT_FALSE(SignsPayload(S3PayloadSigning::kUnsigned, false));
  EXPECT_TRUE(SignsPayload(S3PayloadSigning::kSigned, true));
  EXPECT_TRUE(SignsPayload(S3PayloadSigning::kSigned, false));
}

TEST(S3PayloadTest, NamesParseAndPrint) {
  for (S3PayloadSigning signing : {S3PayloadSigning::kAuto, S3PayloadSigning::kUnsigned, S3PayloadSigning::kSigned}) {
    absl::StatusOr<S3PayloadSigning> parsed = ParseS3PayloadSigning(S3PayloadSigningName(signing));
    ASSERT_TRUE(parsed.ok()) << parsed.status();
    EXPECT_EQ(*parsed, signing);
  }
  absl::StatusOr<S3PayloadSigning> bad = ParseS3PayloadSigning("UNSIGNED");
  EXPECT_TRUE(absl::IsInvalidArgument(bad.status()));
  EXPECT_EQ(bad.status().message(), "must be \"auto\", \"unsigned\" or \"signed\", got \"UNSIGNED\"");
}

}  // namespace
}  // namespace ingest
