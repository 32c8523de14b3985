// SigV4 against published vectors: AWS's "aws-sig-v4-test-suite" (service
// "service", example.amazonaws.com, 2015-08-30T12:36:00Z) and the worked
// examples of the S3 API reference ("Signature Calculations for the
// Authorization Header" and "Authenticating Requests: Using Query
// Parameters"). Expected values are copied from those documents, never
// computed by us.
#include "server/s3/sigv4.h"

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/s3/aws_credentials.h"

namespace ingest {
namespace {

using ::testing::StartsWith;

constexpr char kEmptySha256[] = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

// ---- aws-sig-v4-test-suite ----

constexpr char kSuiteHost[] = "example.amazonaws.com";
constexpr char kSuiteCredential[] =
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, ";
// From the suite's post-sts-token/post-sts-header-before vector.
constexpr char kSuiteSessionToken[] =
    "AQoDYXdzEPT//////////wEXAMPLEtc764bNrC9SAPBSM22wDOk4x4HIZ8j4FZTwdQWLWsKWHGBuFqwAeMicRXmxfpSPf"
    "IeoIYRqTflfKD8YUuwthAx7mSEI/qkPpKPi/kMcGdQrmGdeehM4IC1NtBmUpp2wUE8phUZampKsburEDy0KPkyQDYwT7"
    "WZ0wq5VSXDvp75YU9HFvlRd8Tx6q6fE8YQcHNVXAkiY9q6d+xo0rKwT38xVqr7ZD0u0iPPkUL64lIZbqBAz+scqKml"
    "zm8FDrypNC9Yjc8fPOLn9FX9KSYvKTr4rvx3iSIlTJabIQwj2ICCR/oLxBA==";

absl::Time SuiteTime() {
  return absl::FromCivil(absl::CivilSecond(2015, 8, 30, 12, 36, 0), absl::UTCTimeZone());
}

using Pairs = std::vector<std::pair<std::string, std::string>>;

AwsCredentials Credentials(std::string access_key_id, std::string secret_access_key) {
  AwsCredentials credentials;
  credentials.access_key_id = std::move(access_key_id);
  credentials.secret_access_key = std::move(secret_access_key);
  return credentials;
}

AwsCredentials SuiteCredentials() {
  return Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY");
}

SigV4Request Request(std::string method, std::string host, std::string path, Pairs query,
                     Pairs headers, std::string payload_sha256) {
  SigV4Request request;
  request.method = std::move(method);
  request.host = std::move(host);
  request.path = std::move(path);
  request.query = std::move(query);
  request.headers = std::move(headers);
  request.payload_sha256 = std::move(payload_sha256);
  return request;
}

const SigV4Scope kSuiteScope{.region = "us-east-1", .service = "service"};

std::string HeaderValue(const SignedHeaders& signed_headers, const std::string& name) {
  for (const auto& [key, value] : signed_headers.headers) {
    if (key == name) return value;
  }
  return "<missing " + name + ">";
}

bool HasHeader(const SignedHeaders& signed_headers, const std::string& name) {
  for (const auto& header : signed_headers.headers) {
    if (header.first == name) return true;
  }
  return false;
}

struct SuiteVector {
  SuiteVector(std::string name, SigV4Request request, std::string expected_authorization,
              std::string session_token = "")
      : name(std::move(name)),
        request(std::move(request)),
        expected_authorization(std::move(expected_authorization)),
        session_token(std::move(session_token)) {}

  std::string name;
  SigV4Request request;
  std::string expected_authorization;  // after "Credential=...aws4_request, "
  std::string session_token;
};

SigV4Request SuiteRequest(std::string method, std::string path, Pairs query = {},
                          Pairs headers = {}, std::string_view body = "") {
  return Request(std::move(method), kSuiteHost, std::move(path), std::move(query),
                 std::move(headers), Sha256Hex(body));
}

std::vector<SuiteVector> SuiteVectors() {
  const std::string unreserved =
      "-._~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
  return {
      {"get-vanilla", SuiteRequest("GET", "/"),
       "SignedHeaders=host;x-amz-date, "
       "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      // The .req of get-vanilla-query carries no query at all.
      {"get-vanilla-query", SuiteRequest("GET", "/"),
       "SignedHeaders=host;x-amz-date, "
       "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-vanilla-empty-query-key", SuiteRequest("GET", "/", {{"Param1", "value1"}}),
       "SignedHeaders=host;x-amz-date, "
       "Signature=a67d582fa61cc504c4bae71f336f98b97f1ea3c7a6bfe1b6e45aec72011b9aeb"},
      {"get-vanilla-query-order-key-case",
       SuiteRequest("GET", "/", {{"Param2", "value2"}, {"Param1", "value1"}}),
       "SignedHeaders=host;x-amz-date, "
       "Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"},
      {"get-vanilla-query-unreserved", SuiteRequest("GET", "/", {{unreserved, unreserved}}),
       "SignedHeaders=host;x-amz-date, "
       "Signature=9c3e54bfcdf0b19771a7f523ee5669cdf59bc7cc0884027167c21bb143a40197"},
      {"get-vanilla-utf8-query", SuiteRequest("GET", "/", {{"\xE1\x88\xB4", "bar"}}),
       "SignedHeaders=host;x-amz-date, "
       "Signature=2cdec8eed098649ff3a119c94853b13c643bcf08f8b0a1d91e12c9027818dd04"},
      {"get-unreserved", SuiteRequest("GET", "/" + unreserved),
       "SignedHeaders=host;x-amz-date, "
       "Signature=07ef7494c76fa4850883e2b006601f940f8a34d404d0cfa977f52a65bbf5f24f"},
      // The suite's path is the raw UTF-8 "/\u1234"; services other than S3
      // encode the path they receive.
      {"get-utf8", SuiteRequest("GET", "/\xE1\x88\xB4"),
       "SignedHeaders=host;x-amz-date, "
       "Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"},
      {"get-header-key-duplicate",
       SuiteRequest("GET", "/", {},
                    {{"My-Header1", "value2"}, {"My-Header1", "value2"}, {"My-Header1", "value1"}}),
       "SignedHeaders=host;my-header1;x-amz-date, "
       "Signature=c9d5ea9f3f72853aea855b47ea873832890dbdd183b4468f858259531a5138ea"},
      {"get-header-value-order",
       SuiteRequest("GET", "/", {},
                    {{"My-Header1", "value4"},
                     {"My-Header1", "value1"},
                     {"My-Header1", "value3"},
                     {"My-Header1", "value2"}}),
       "SignedHeaders=host;my-header1;x-amz-date, "
       "Signature=08c7e5a9acfcfeb3ab6b2185e75ce8b1deb5e634ec47601a50643f830c755c01"},
      {"get-header-value-trim",
       SuiteRequest("GET", "/", {}, {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}),
       "SignedHeaders=host;my-header1;my-header2;x-amz-date, "
       "Signature=acc3ed3afb60bb290fc8d2dd0098b9911fcaa05412b367055dee359757a9c736"},
      // normalize-path/
      {"get-relative", SuiteRequest("GET", "/example/.."),
       "SignedHeaders=host;x-amz-date, "
       "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-relative-relative", SuiteRequest("GET", "/example1/example2/../.."),
       "SignedHeaders=host;x-amz-date, "
       "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash", SuiteRequest("GET", "//"),
       "SignedHeaders=host;x-amz-date, "
       "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash-dot-slash", SuiteRequest("GET", "/./"),
       "SignedHeaders=host;x-amz-date, "
       "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
      {"get-slash-pointless-dot", SuiteRequest("GET", "/./example"),
       "SignedHeaders=host;x-amz-date, "
       "Signature=ef75d96142cf21edca26f06005da7988e4f8dc83a165a80865db7089db637ec5"},
      {"get-slashes", SuiteRequest("GET", "//example//"),
       "SignedHeaders=host;x-amz-date, "
       "Signature=9a624bd73a37c9a373b5312afbebe7a714a789de108f0bdfe846570885f57e84"},
      {"get-space", SuiteRequest("GET", "/example space/"),
       "SignedHeaders=host;x-amz-date, "
       "Signature=652487583200325589f1fba4c7e578f72c47cb61beeca81406b39ddec1366741"},
      {"post-vanilla", SuiteRequest("POST", "/"),
       "SignedHeaders=host;x-amz-date, "
       "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-vanilla-query", SuiteRequest("POST", "/", {{"Param1", "value1"}}),
       "SignedHeaders=host;x-amz-date, "
       "Signature=28038455d6de14eafc1f9222cf5aa6f1a96197d7deb8263271d420d138af7f11"},
      {"post-vanilla-query-nonunreserved",
       SuiteRequest("POST", "/", {{"@#$%^", ""}, {"+", "/,?><`\";:\\|][{}"}}),
       "SignedHeaders=host;x-amz-date, "
       "Signature=66c82657c86e26fb25238d0e69f011edc4c6df5ae71119d7cb98ed9b87393c1e"},
      {"post-header-key-case", SuiteRequest("POST", "/"),
       "SignedHeaders=host;x-amz-date, "
       "Signature=5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b"},
      {"post-header-key-sort", SuiteRequest("POST", "/", {}, {{"My-Header1", "value1"}}),
       "SignedHeaders=host;my-header1;x-amz-date, "
       "Signature=c5410059b04c1ee005303aed430f6e6645f61f4dc9e1461ec8f8916fdf18852c"},
      {"post-header-value-case", SuiteRequest("POST", "/", {}, {{"My-Header1", "VALUE1"}}),
       "SignedHeaders=host;my-header1;x-amz-date, "
       "Signature=cdbc9802e29d2942e5e10b5bccfdd67c5f22c7c4e8ae67b53629efa58b974b7d"},
      {"post-x-www-form-urlencoded",
       SuiteRequest("POST", "/", {}, {{"Content-Type", "application/x-www-form-urlencoded"}},
                    "Param1=value1"),
       "SignedHeaders=content-type;host;x-amz-date, "
       "Signature=ff11897932ad3f4e8b18135d722051e5ac45fc38421b1da7b9d196a0fe09473a"},
      {"post-x-www-form-urlencoded-parameters",
       SuiteRequest("POST", "/", {},
                    {{"Content-Type", "application/x-www-form-urlencoded; charset=utf8"}},
                    "Param1=value1"),
       "SignedHeaders=content-type;host;x-amz-date, "
       "Signature=1a72ec8f64bd914b0e42e42607c7fbce7fb2c7465f63e3092b3b0d39fa77a6fe"},
      // post-sts-token/post-sts-header-before: the token is a signed header.
      {"post-sts-header-before", SuiteRequest("POST", "/"),
       "SignedHeaders=host;x-amz-date;x-amz-security-token, "
       "Signature=85d96828115b5dc0cfc3bd16ad9e210dd772bbebba041836c64533a82be05ead",
       kSuiteSessionToken},
  };
}

TEST(SigV4Test, ReproducesTheAwsTestSuite) {
  for (const SuiteVector& vector : SuiteVectors()) {
    SCOPED_TRACE(vector.name);
    AwsCredentials credentials = SuiteCredentials();
    credentials.session_token = vector.session_token;
    const SignedHeaders signed_headers =
        SignRequest(vector.request, credentials, kSuiteScope, SuiteTime());
    EXPECT_EQ(HeaderValue(signed_headers, "authorization"),
              kSuiteCredential + vector.expected_authorization)
        << signed_headers.canonical_request;
    EXPECT_EQ(HeaderValue(signed_headers, "x-amz-date"), "20150830T123600Z");
    // The generic service signs no payload-hash header; S3 does.
    EXPECT_FALSE(HasHeader(signed_headers, "x-amz-content-sha256"));
    EXPECT_EQ(HasHeader(signed_headers, "x-amz-security-token"), !vector.session_token.empty());
  }
}

TEST(SigV4Test, GetVanillaCanonicalRequestAndStringToSign) {
  const SignedHeaders signed_headers =
      SignRequest(SuiteRequest("GET", "/"), SuiteCredentials(), kSuiteScope, SuiteTime());
  EXPECT_EQ(signed_headers.canonical_request,
            "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\n"
            "host;x-amz-date\n" +
                std::string(kEmptySha256));
  EXPECT_EQ(signed_headers.string_to_sign,
            "AWS4-HMAC-SHA256\n20150830T123600Z\n20150830/us-east-1/service/aws4_request\n"
            "bb579772317eb040ac9ed261061d46c1f17a8133879d6129b6e1c25292927e63");
}

TEST(SigV4Test, CanonicalFormsOfTheSuiteCornerCases) {
  AwsCredentials credentials = SuiteCredentials();
  const auto canonical = [&](const SigV4Request& request) {
    return SignRequest(request, credentials, kSuiteScope, SuiteTime()).canonical_request;
  };
  // Header values trimmed and inner runs collapsed; duplicates joined in order.
  EXPECT_NE(canonical(SuiteRequest("GET", "/", {},
                                   {{"My-Header1", " value1"}, {"My-Header2", " \"a   b   c\""}}))
                .find("my-header1:value1\nmy-header2:\"a b c\"\n"),
            std::string::npos);
  EXPECT_NE(
      canonical(SuiteRequest("GET", "/", {}, {{"X-A", "2"}, {"x-a", "1"}})).find("\nx-a:2,1\n"),
      std::string::npos);
  EXPECT_THAT(canonical(SuiteRequest("GET", "/", {{"Param2", "value2"}, {"Param1", "value1"}})),
              StartsWith("GET\n/\nParam1=value1&Param2=value2\n"));
  EXPECT_THAT(canonical(SuiteRequest("GET", "/", {{"\xE1\x88\xB4", "bar"}})),
              StartsWith("GET\n/\n%E1%88%B4=bar\n"));
  EXPECT_THAT(canonical(SuiteRequest("GET", "//example//")), StartsWith("GET\n/example/\n"));
  EXPECT_THAT(canonical(SuiteRequest("GET", "/example space/")),
              StartsWith("GET\n/example%20space/\n"));
}

// ---- S3 API reference examples (examplebucket, 2013-05-24) ----

constexpr char kS3Host[] = "examplebucket.s3.amazonaws.com";

absl::Time S3ExampleTime() {
  return absl::FromCivil(absl::CivilSecond(2013, 5, 24, 0, 0, 0), absl::UTCTimeZone());
}

AwsCredentials S3ExampleCredentials() {
  return Credentials("AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY");
}

SigV4Request S3Request(std::string method, std::string path, Pairs query = {}, Pairs headers = {},
                       std::string payload_sha256 = kEmptySha256) {
  return Request(std::move(method), kS3Host, std::move(path), std::move(query), std::move(headers),
                 std::move(payload_sha256));
}

const SigV4Scope kS3Scope{.region = "us-east-1", .service = "s3"};

std::string SignatureOf(const SignedHeaders& signed_headers) {
  const std::string authorization = HeaderValue(signed_headers, "authorization");
  const size_t at = authorization.find("Signature=");
  return at == std::string::npos ? authorization : authorization.substr(at + 10);
}

TEST(SigV4Test, S3GetObjectWithRange) {
  const SigV4Request request =
      S3Request("GET", "/test.txt", {}, {{"Range", "bytes=0-9"}}, kEmptySha256);
  const SignedHeaders signed_headers =
      SignRequest(request, S3ExampleCredentials(), kS3Scope, S3ExampleTime());
  EXPECT_EQ(signed_headers.canonical_request,
            "GET\n/test.txt\n\nhost:examplebucket.s3.amazonaws.com\nrange:bytes=0-9\n"
            "x-amz-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            "\nx-amz-date:20130524T000000Z\n\nhost;range;x-amz-content-sha256;x-amz-date\n"
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(signed_headers.string_to_sign,
            "AWS4-HMAC-SHA256\n20130524T000000Z\n20130524/us-east-1/s3/aws4_request\n"
            "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(HeaderValue(signed_headers, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
  EXPECT_EQ(HeaderValue(signed_headers, "x-amz-content-sha256"), kEmptySha256);
  EXPECT_EQ(HeaderValue(signed_headers, "x-amz-date"), "20130524T000000Z");
}

TEST(SigV4Test, S3PutObject) {
  const std::string body = "Welcome to Amazon S3.";
  ASSERT_EQ(Sha256Hex(body), "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  const SigV4Request request = S3Request(
      "PUT", "/" + UriEncode("test$file.text", true), {},
      {{"Date", "Fri, 24 May 2013 00:00:00 GMT"}, {"x-amz-storage-class", "REDUCED_REDUNDANCY"}},
      Sha256Hex(body));
  const SignedHeaders signed_headers =
      SignRequest(request, S3ExampleCredentials(), kS3Scope, S3ExampleTime());
  EXPECT_EQ(signed_headers.string_to_sign.substr(signed_headers.string_to_sign.rfind('\n') + 1),
            "9e0e90d9c76de8fa5b200d8c849cd5b8dc7a3be3951ddb7f6a76b4158342019d");
  EXPECT_EQ(HeaderValue(signed_headers, "authorization"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, "
            "Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

TEST(SigV4Test, S3GetBucketLifecycle) {
  const SigV4Request request = S3Request("GET", "/", {{"lifecycle", ""}}, {}, kEmptySha256);
  const SignedHeaders signed_headers =
      SignRequest(request, S3ExampleCredentials(), kS3Scope, S3ExampleTime());
  EXPECT_THAT(signed_headers.canonical_request, StartsWith("GET\n/\nlifecycle=\n"));
  EXPECT_EQ(signed_headers.string_to_sign.substr(signed_headers.string_to_sign.rfind('\n') + 1),
            "9766c798316ff2757b517bc739a67f6213b4ab36dd5da2f94eaebf79c77395ca");
  EXPECT_EQ(SignatureOf(signed_headers),
            "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543");
}

TEST(SigV4Test, S3ListObjects) {
  const SigV4Request request =
      S3Request("GET", "/", {{"prefix", "J"}, {"max-keys", "2"}}, {}, kEmptySha256);
  const SignedHeaders signed_headers =
      SignRequest(request, S3ExampleCredentials(), kS3Scope, S3ExampleTime());
  EXPECT_THAT(signed_headers.canonical_request, StartsWith("GET\n/\nmax-keys=2&prefix=J\n"));
  EXPECT_EQ(signed_headers.string_to_sign.substr(signed_headers.string_to_sign.rfind('\n') + 1),
            "df57d21db20da04d7fa30298dd4488ba3a2b47ca3a489c74750e0f1e7df1b9b7");
  EXPECT_EQ(SignatureOf(signed_headers),
            "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
}

TEST(SigV4Test, S3PresignedGet) {
  const SigV4Request request = S3Request("GET", "/test.txt", {}, {}, "");
  EXPECT_EQ(PresignUrl(request, S3ExampleCredentials(), kS3Scope, S3ExampleTime(), absl::Hours(24)),
            "/test.txt?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
            "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404");
}

// ---- behaviour of our own beyond the vectors ----

TEST(SigV4Test, S3SignsThePathAsGivenAndOtherServicesNormalizeIt) {
  SigV4Request request = S3Request("GET", "/a/./b/../c//d%20e", {}, {}, kEmptySha256);
  EXPECT_THAT(
      SignRequest(request, S3ExampleCredentials(), kS3Scope, S3ExampleTime()).canonical_request,
      StartsWith("GET\n/a/./b/../c//d%20e\n"));
  // Elsewhere the path is normalized and its '%' encoded once more.
  EXPECT_THAT(
      SignRequest(request, S3ExampleCredentials(), kSuiteScope, S3ExampleTime()).canonical_request,
      StartsWith("GET\n/a/c/d%2520e\n\nh"));
  request.path = "";
  EXPECT_THAT(
      SignRequest(request, S3ExampleCredentials(), kS3Scope, S3ExampleTime()).canonical_request,
      StartsWith("GET\n/\n"));
}

TEST(SigV4Test, S3SessionTokenIsSentAndSigned) {
  AwsCredentials credentials = S3ExampleCredentials();
  credentials.session_token = "token/with+chars=";
  const SigV4Request request = S3Request("HEAD", "/k", {}, {}, kEmptySha256);
  const SignedHeaders signed_headers = SignRequest(request, credentials, kS3Scope, S3ExampleTime());
  EXPECT_EQ(HeaderValue(signed_headers, "x-amz-security-token"), "token/with+chars=");
  EXPECT_NE(HeaderValue(signed_headers, "authorization")
                .find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token,"),
            std::string::npos);
  EXPECT_NE(signed_headers.canonical_request.find("\nx-amz-security-token:token/with+chars=\n"),
            std::string::npos);
}

TEST(SigV4Test, SignerOwnedHeadersFromTheCallerAreNotSignedTwice) {
  const SigV4Request plain = S3Request("GET", "/k", {}, {}, kEmptySha256);
  SigV4Request with_extra = plain;
  with_extra.headers = {{"Host", "evil.example"}, {"X-Amz-Date", "19700101T000000Z"}};
  EXPECT_EQ(SignRequest(with_extra, S3ExampleCredentials(), kS3Scope, S3ExampleTime()).headers,
            SignRequest(plain, S3ExampleCredentials(), kS3Scope, S3ExampleTime()).headers);
}

TEST(SigV4Test, WhitespaceOfEveryKindIsTrimmedAndCollapsed) {
  const SigV4Request request = S3Request(
      "GET", "/k", {}, {{"X-Amz-Meta-A", "\t a \t\t b  "}, {"x-amz-meta-b", "   "}}, kEmptySha256);
  const std::string canonical =
      SignRequest(request, S3ExampleCredentials(), kS3Scope, S3ExampleTime()).canonical_request;
  EXPECT_NE(canonical.find("\nx-amz-meta-a:a b\nx-amz-meta-b:\n"), std::string::npos) << canonical;
}

TEST(SigV4Test, QueryPairsSortByEncodedKeyThenValue) {
  const SigV4Request request =
      S3Request("GET", "/", {{"b", "2"}, {"a b", "x"}, {"b", "1"}, {"a", "z/y"}}, {}, kEmptySha256);
  const std::string canonical =
      SignRequest(request, S3ExampleCredentials(), kS3Scope, S3ExampleTime()).canonical_request;
  EXPECT_THAT(canonical, StartsWith("GET\n/\na=z%2Fy&a%20b=x&b=1&b=2\nhost"));
}

TEST(SigV4Test, PresignSignsExtraHeadersQueryAndToken) {
  AwsCredentials credentials = S3ExampleCredentials();
  credentials.session_token = "tok+en";
  const SigV4Request request = S3Request("GET", "/a%20b", {{"response-content-type", "video/mp2t"}},
                                         {{"Range", "bytes=0-9"}}, "");
  const std::string url =
      PresignUrl(request, credentials, kS3Scope, S3ExampleTime(), absl::Minutes(5));
  EXPECT_EQ(url.substr(0, url.find("&X-Amz-Signature=")),
            "/a%20b?X-Amz-Algorithm=AWS4-HMAC-SHA256"
            "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
            "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=300&X-Amz-Security-Token=tok%2Ben"
            "&X-Amz-SignedHeaders=host%3Brange&response-content-type=video%2Fmp2t");
  EXPECT_EQ(url.size() - url.find("&X-Amz-Signature=") - 17, 64u);
}

TEST(SigV4Test, PresignExpiryIsClampedToWhatS3Accepts) {
  const SigV4Request request = S3Request("GET", "/k", {}, {}, "");
  const auto expires = [&](absl::Duration d) {
    const std::string url =
        PresignUrl(request, S3ExampleCredentials(), kS3Scope, S3ExampleTime(), d);
    const size_t at = url.find("X-Amz-Expires=") + 14;
    return url.substr(at, url.find('&', at) - at);
  };
  EXPECT_EQ(expires(absl::Seconds(1)), "1");
  EXPECT_EQ(expires(absl::ZeroDuration()), "1");
  EXPECT_EQ(expires(-absl::Hours(1)), "1");
  EXPECT_EQ(expires(absl::Hours(24 * 7)), "604800");
  EXPECT_EQ(expires(absl::Hours(24 * 30)), "604800");
  EXPECT_EQ(expires(absl::InfiniteDuration()), "604800");
}

TEST(UriEncodeTest, KeepsUnreservedAndEncodesEverythingElseUpperCase) {
  EXPECT_EQ(UriEncode("", true), "");
  EXPECT_EQ(UriEncode("AZaz09-._~", false), "AZaz09-._~");
  EXPECT_EQ(UriEncode("a b/c", true), "a%20b/c");
  EXPECT_EQ(UriEncode("a b/c", false), "a%20b%2Fc");
  EXPECT_EQ(UriEncode("x y+z.batch", true), "x%20y%2Bz.batch");
  EXPECT_EQ(UriEncode("*=&%?#:@!$'()", false), "%2A%3D%26%25%3F%23%3A%40%21%24%27%28%29");
  EXPECT_EQ(UriEncode("\xE1\x88\xB4", false), "%E1%88%B4");
  EXPECT_EQ(UriEncode(std::string_view("\0\xff", 2), false), "%00%FF");
}

TEST(DigestTest, Sha256HexKnownVectors) {
  EXPECT_EQ(Sha256Hex(""), kEmptySha256);
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  const std::vector<uint8_t> abc = {'a', 'b', 'c'};
  EXPECT_EQ(Sha256Hex(absl::MakeConstSpan(abc)),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(Sha256Hex(absl::Span<const uint8_t>()), kEmptySha256);
}

TEST(DigestTest, Md5Base64KnownVectors) {
  const auto md5 = [](std::string_view s) {
    return Md5Base64(absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(s.data()), s.size()));
  };
  // RFC 1321 test suite digests, base64-encoded.
  EXPECT_EQ(md5(""), "1B2M2Y8AsgTpgAmY7PhCfg==");
  EXPECT_EQ(md5("abc"), "kAFQmDzST7DWlj99KOF/cg==");
  EXPECT_EQ(md5("The quick brown fox jumps over the lazy dog"), "nhB9nTcrtoJr2B01QqQZ1g==");
}

}  // namespace
}  // namespace ingest
