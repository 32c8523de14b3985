// The one JSON reader (common/json_value.h), under the bench-result parser
// and the instance metadata credentials: what it accepts, the line and column
// it names for what it refuses, its limits, and writing a value back.
#include "common/json_value.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ingest {
namespace {

using ::testing::HasSubstr;

TEST(JsonValueTest, ReadsEveryType) {
  absl::StatusOr<JsonValue> doc = ParseJson(
      R"({"n": -1.5e2, "i": 0, "s": "a\"b\\c\u00e9\ud83d\ude00", "t": true, "f": false, "z": null,
          "a": [1, [2], {}], "o": {"k": "v"}})");
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_TRUE(doc->is_object());
  EXPECT_EQ(doc->Find("n")->number(), -150);
  EXPECT_EQ(doc->Find("i")->number(), 0);
  EXPECT_EQ(doc->Find("s")->string(), "a\"b\\c\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_TRUE(doc->Find("t")->boolean());
  EXPECT_FALSE(doc->Find("f")->boolean());
  EXPECT_TRUE(doc->Find("z")->is_null());
  EXPECT_EQ(doc->Find("a")->items().size(), 3u);
  EXPECT_EQ(doc->Find("o")->Find("k")->string(), "v");
  EXPECT_EQ(doc->Find("missing"), nullptr);
  EXPECT_EQ(doc->Find("a")->line(), 2);
}

TEST(JsonValueTest, RefusesWhatIsNotJson) {
  const char* bad[] = {
      "",                      // nothing
      "{",                     // unterminated object
      "{\"a\": 1,}",           // trailing comma
      "{\"a\": 1 \"b\": 2}",   // missing comma
      "{a: 1}",                // unquoted name
      "{\"a\": NaN}",          // NaN is not JSON
      "{\"a\": Infinity}",     // nor is Infinity
      "{\"a\": 01}",           // leading zero
      "{\"a\": 1.}",           // no digit after the point
      "{\"a\": .5}",           // no digit before it
      "{\"a\": 1e}",           // empty exponent
      "{\"a\": 1e999}",        // out of range
      "{\"a\": \"x\ny\"}",     // raw control character
      "{\"a\": \"\\x\"}",      // unknown escape
      "{\"a\": \"\\ud800\"}",  // unpaired surrogate
      "{\"a\": 1} x",          // text after the value
      "// comment\n{}",        // comments are not JSON
      "[]x",                   // text after the value
      "\"x\"\"",                // two strings
      "{\"a\"}",               // member without a value
      "{\"a\":}",              // nor after the colon
      "{\"a\": -}",            // minus without digits
      "{\"a\": tru}",          // a cut-off literal
      "{\"a\": [1, }",         // a cut-off array
      "{\"a\": \"\\u12\"}",    // a short \\u escape
      "{\"a\": \"\\udc00\"}",  // a low surrogate alone
      "{\"a\": \"\\ud800\\u0041\"}",  // a high surrogate without its low half
      "{\"a\": \"unterminated",
      "{\"a\": 1, \"a\": 1}",   // duplicate names, even with equal values
      "\"\xff\"",                // not UTF-8
      "\"\xc0\xaf\"",            // overlong '/'
      "\"\xed\xa0\x80\"",        // a surrogate in UTF-8
      "\"\xf4\x90\x80\x80\"",    // past U+10FFFF
      "\"\xe2\x82\"",            // cut-off sequence
  };
  for (const char* text : bad) {
    EXPECT_FALSE(ParseJson(text).ok()) << text;
  }
}

TEST(JsonValueTest, DuplicateMemberIsAnErrorWithItsPosition) {
  absl::StatusOr<JsonValue> doc = ParseJson("{\n  \"a\": 1,\n  \"a\": 2\n}");
  ASSERT_FALSE(doc.ok());
  EXPECT_THAT(std::string(doc.status().message()), HasSubstr("line 3, column 3: duplicate member \"a\""));
}

TEST(JsonValueTest, NestingIsBounded) {
  EXPECT_TRUE(ParseJson(std::string(32, '[') + std::string(32, ']')).ok());
  absl::StatusOr<JsonValue> deep = ParseJson(std::string(33, '[') + std::string(33, ']'));
  ASSERT_FALSE(deep.ok());
  EXPECT_THAT(std::string(deep.status().message()), HasSubstr("nested more than 32 deep"));
}

TEST(JsonValueTest, ReadsAnInstanceMetadataAnswer) {
  absl::StatusOr<JsonValue> doc = ParseJson(R"({
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
  ASSERT_TRUE(doc.ok()) << doc.status();
  ASSERT_NE(doc->FindString("AccessKeyId"), nullptr);
  EXPECT_EQ(*doc->FindString("AccessKeyId"), "ASIAEXAMPLE");
  EXPECT_EQ(*doc->FindString("SecretAccessKey"), "wJalr/K7MDENG");
  EXPECT_EQ(*doc->FindString("Token"), "tokenA\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(doc->Find("Count")->number(), -12500);
  EXPECT_EQ(doc->FindString("Count"), nullptr);  // a number, not a string
  EXPECT_EQ(doc->FindString("b"), nullptr);      // nested members are not top-level
  EXPECT_EQ(doc->Find("Nested")->Find("a")->items()[1].Find("b")->string(), "c");
  EXPECT_EQ(doc->members().size(), 11u);
}

TEST(JsonValueTest, KeepsValidUtf8AsIs) {
  absl::StatusOr<JsonValue> doc = ParseJson("\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  ASSERT_TRUE(doc.ok()) << doc.status();
  EXPECT_EQ(doc->string(), "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

TEST(JsonValueTest, ErrorsNameLineAndColumn) {
  EXPECT_EQ(std::string(ParseJson("{\"a\": 1 x}").status().message()),
            "line 1, column 9: expected ',' or '}' in an object");
  EXPECT_EQ(std::string(ParseJson("{\n  \"a\": [1,\n    2,,\n  ]\n}").status().message()),
            "line 3, column 7: unexpected character ',', expected a value (NaN and Infinity are not JSON)");
  EXPECT_EQ(std::string(ParseJson("[1, 01]").status().message()), "line 1, column 6: bad number: leading zero");
  EXPECT_THAT(std::string(ParseJson("\"a\xff\"").status().message()),
              HasSubstr("line 1, column 3: invalid UTF-8"));
}

TEST(JsonValueTest, LimitsAreEnforced) {
  const std::string big = "{\"a\": \"" + std::string(100, 'x') + "\"}";
  absl::StatusOr<JsonValue> over = ParseJson(big, {.max_bytes = 64});
  EXPECT_EQ(over.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(over.status().message()), HasSubstr("over the limit of 64 bytes"));
  EXPECT_TRUE(ParseJson(big, {.max_bytes = 200}).ok());

  std::string many = "{";
  for (int i = 0; i < 10; ++i) many += (i ? ",\"k" : "\"k") + std::to_string(i) + "\": 1";
  many += "}";  // 11 values: the object and its 10 members
  EXPECT_THAT(std::string(ParseJson(many, {.max_values = 10}).status().message()), HasSubstr("more than 10 values"));
  EXPECT_TRUE(ParseJson(many, {.max_values = 11}).ok());

  EXPECT_TRUE(ParseJson("[[[1]]]", {.max_depth = 3}).ok());
  EXPECT_THAT(std::string(ParseJson("[[[[1]]]]", {.max_depth = 3}).status().message()),
              HasSubstr("nested more than 3 deep"));
  // Deep nesting is refused, not followed until the stack runs out.
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  absl::StatusOr<JsonValue> too_deep = ParseJson(deep);
  EXPECT_EQ(too_deep.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(too_deep.status().message()), HasSubstr("nested more than 32 deep"));
}

TEST(JsonValueTest, WrittenBackReadsTheSame) {
  const char* text = R"({"n": -1.5e2, "tiny": 5e-324, "pi": 3.141592653589793, "big": 1e308, "i": 9007199254740993,
                         "s": "q\"b\\n\n\u0001\u00e9", "t": true, "z": null, "a": [[], {}, [1, "x"]]})";
  absl::StatusOr<JsonValue> doc = ParseJson(text);
  ASSERT_TRUE(doc.ok()) << doc.status();
  std::string written;
  AppendJson(written, *doc);
  absl::StatusOr<JsonValue> again = ParseJson(written);
  ASSERT_TRUE(again.ok()) << again.status() << "\n" << written;
  EXPECT_EQ(*again, *doc) << written;
  EXPECT_EQ(again->Find("s")->string(), "q\"b\\n\n\x01\xc3\xa9");
  EXPECT_EQ(written.find('\n'), std::string::npos) << written;  // compact, one line
}

}  // namespace
}  // namespace ingest
