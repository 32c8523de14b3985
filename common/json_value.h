// The one JSON reader: RFC 8259 only — no comments, no trailing commas, no
// NaN or Infinity, no duplicate member names, strings valid UTF-8 — with
// limits on size, nesting and value count, so input from the network
// (instance metadata answers) and hand-edited files (bench results) get the
// same strict reading. Errors name the line and column, never crash.
//
//   ASSIGN_OR_RETURN(JsonValue doc, ParseJson(text));
//   const JsonValue* cores = doc.Find("server_cpu_cores");
//   if (cores != nullptr && cores->is_number()) use(cores->number());
//
// Writing JSON is common/json_string.h (string literals, for documents built
// by hand); AppendJson below writes a parsed value back.
#ifndef COMMON_JSON_VALUE_H_
#define COMMON_JSON_VALUE_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ingest {

struct JsonLimits {
  size_t max_bytes = 4 << 20;     // the whole document
  size_t max_depth = 32;          // arrays and objects inside one another
  size_t max_values = 1 << 18;    // values of any kind, members and items included
};

class JsonValue {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }

  bool boolean() const { return bool_; }
  double number() const { return number_; }
  const std::string& string() const { return string_; }
  const std::vector<JsonValue>& items() const { return items_; }
  // Object members in document order (names are unique).
  const std::vector<std::pair<std::string, JsonValue>>& members() const { return members_; }
  // The member named `key` of an object, or null when absent (or not an object).
  const JsonValue* Find(std::string_view key) const;
  // The string member named `key`, or null when absent or not a string.
  const std::string* FindString(std::string_view key) const;
  // Line (1-based) where the value starts in the parsed text.
  int line() const { return line_; }

  // Same type and content; where each value stood in its text is ignored.
  friend bool operator==(const JsonValue& a, const JsonValue& b);

 private:
  friend class JsonParser;
  Type type_ = Type::kNull;
  bool bool_ = false;
  double number_ = 0;
  std::string string_;
  std::vector<JsonValue> items_;
  std::vector<std::pair<std::string, JsonValue>> members_;
  int line_ = 0;
};

// A type's name for error messages: "a number", "a string", "null", ...
const char* JsonTypeName(JsonValue::Type type);

// InvalidArgument "line L, column C: <problem>" for anything that is not one
// complete JSON value (surrounding whitespace allowed) or is over `limits`.
absl::StatusOr<JsonValue> ParseJson(std::string_view text, const JsonLimits& limits = {});

// Appends `value` as compact JSON (numbers in their shortest form that reads
// back the same); ParseJson reads it back equal.
void AppendJson(std::string& out, const JsonValue& value);

}  // namespace ingest

#endif  // COMMON_JSON_VALUE_H_
