// A strict JSON reader for the small documents the planner reads (bench
// results): RFC 8259 only — no comments, no trailing commas, no NaN or
// Infinity, no duplicate keys, nesting at most 32 deep. Errors name the line
// and column, so a hand-edited file is easy to fix.
//
//   ASSIGN_OR_RETURN(JsonValue doc, ParseJson(text));
//   const JsonValue* cores = doc.Find("server_cpu_cores");
//   if (cores != nullptr && cores->is_number()) use(cores->number());
#ifndef ZONES_PLAN_JSON_VALUE_H_
#define ZONES_PLAN_JSON_VALUE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ingest::zones {

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
  // Object members in file order.
  const std::vector<std::pair<std::string, JsonValue>>& members() const { return members_; }
  // The member named `key` of an object, or null when absent (or not an object).
  const JsonValue* Find(std::string_view key) const;
  // Line (1-based) where the value starts in the parsed text.
  int line() const { return line_; }

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
// complete JSON value (surrounding whitespace allowed).
absl::StatusOr<JsonValue> ParseJson(std::string_view text);

}  // namespace ingest::zones

#endif  // ZONES_PLAN_JSON_VALUE_H_
