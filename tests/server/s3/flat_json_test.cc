// The flat JSON reader takes what instance metadata sends and turns every
// malformed or oversize document into an error, never a crash.
#include "server/s3/flat_json.h"

#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace ingest {
namespace {

TEST(FlatJsonTest, ReadsAnInstanceMetadataAnswer) {
  absl::StatusOr<FlatJsonObject> object = ParseFlatJsonObject(R"({
    "Code" : "Success",
    "LastUpdated" : "2026-04-26T16:39:16Z",
    "Type" : "AWS-HMAC",
    "AccessKeyId" : "ASIAEXAMPLE",
    "SecretAccessKey" : "wJalr\/K7MDENG",
    "Token" : "token\u0041\u00e9\ud83d\ude00",
    "Expiration" : "2026-05-17T15:09:54Z",
    "Count": -12.5e3, "Ok": true, "Nothing": null,
    "Nested": {"a": [1, {"b": "c"}], "d": []}
  })");
  ASSERT_TRUE(object.ok()) << object.status();
  ASSERT_NE(object->Find("AccessKeyId"), nullptr);
  EXPECT_EQ(*object->Find("AccessKeyId"), "ASIAEXAMPLE");
  EXPECT_EQ(*object->Find("SecretAccessKey"), "wJalr/K7MDENG");
  EXPECT_EQ(*object->Find("Token"), "tokenA\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(*object->Find("Count"), "-12.5e3");
  EXPECT_EQ(*object->Find("Ok"), "true");
  EXPECT_EQ(*object->Find("Nothing"), "null");
  EXPECT_EQ(*object->Find("Nested"), "");
  EXPECT_EQ(object->Find("b"), nullptr);  // nested members are not top-level
  EXPECT_EQ(object->Find("Missing"), nullptr);
  EXPECT_EQ(object->members().size(), 11u);
}

TEST(FlatJsonTest, EmptyObject) {
  absl::StatusOr<FlatJsonObject> object = ParseFlatJsonObject(" { } \n");
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_TRUE(object->members().empty());
}

TEST(FlatJsonTest, FirstOfRepeatedMembersWins) {
  absl::StatusOr<FlatJsonObject> object = ParseFlatJsonObject(R"({"a": "1", "a": "2"})");
  ASSERT_TRUE(object.ok()) << object.status();
  EXPECT_EQ(*object->Find("a"), "1");
}

TEST(FlatJsonTest, MalformedInputIsAnErrorWithItsOffset) {
  for (const char* bad : {"",
                          "[]",
                          "\"x\"",
                          "{",
                          "{\"a\"}",
                          "{\"a\":}",
                          "{\"a\": \"b\",}",
                          "{\"a\": \"b\"} x",
                          "{\"a\": \"b\" \"c\": 1}",
                          "{a: 1}",
                          "{\"a\": \"\\x\"}",
                          "{\"a\": \"\\u12\"}",
                          "{\"a\": \"\\ud800\"}",
                          "{\"a\": \"\\udc00\"}",
                          "{\"a\": \"\\ud800\\u0041\"}",
                          "{\"a\": \"line\nbreak\"}",
                          "{\"a\": 01}",
                          "{\"a\": -}",
                          "{\"a\": 1.}",
                          "{\"a\": 1e}",
                          "{\"a\": tru}",
                          "{\"a\": [1, }",
                          "{\"a\": {\"b\" 1}}",
                          "{\"a\": \"unterminated"}) {
    absl::StatusOr<FlatJsonObject> object = ParseFlatJsonObject(bad);
    EXPECT_EQ(object.status().code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(object.status().message().find("JSON"), absl::string_view::npos) << bad;
  }
  EXPECT_EQ(std::string(ParseFlatJsonObject("{\"a\": 1 x}").status().message()),
            "malformed JSON at byte 8: expected ',' or '}'");
}

TEST(FlatJsonTest, LimitsAreEnforced) {
  const std::string big = "{\"a\": \"" + std::string(100, 'x') + "\"}";
  EXPECT_FALSE(ParseFlatJsonObject(big, {.max_bytes = 64}).ok());
  EXPECT_TRUE(ParseFlatJsonObject(big, {.max_bytes = 200}).ok());

  std::string many = "{";
  for (int i = 0; i < 10; ++i) many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\": 1";
  many += "}";
  EXPECT_FALSE(ParseFlatJsonObject(many, {.max_members = 9}).ok());
  EXPECT_TRUE(ParseFlatJsonObject(many, {.max_members = 10}).ok());

  // Deep nesting is refused, not followed until the stack runs out.
  const std::string deep = "{\"a\": " + std::string(100000, '[') + std::string(100000, ']') + "}";
  absl::StatusOr<FlatJsonObject> object = ParseFlatJsonObject(deep, {.max_bytes = 1 << 20});
  EXPECT_EQ(object.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(object.status().message().find("nested too deeply"), absl::string_view::npos);
}

}  // namespace
}  // namespace ingest
