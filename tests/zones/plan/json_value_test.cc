// The strict JSON reader under the bench-result parser: what it accepts and
// the line and column it names for what it refuses.
#include "zones/plan/json_value.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace ingest::zones {
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

}  // namespace
}  // namespace ingest::zones
