#include "zones/plan/json_value.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "common/std_string_view.h"
#include "common/utf8.h"

namespace ingest::zones {

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (const auto& [name, value] : members_) {
    if (name == key) return &value;
  }
  return nullptr;
}

const char* JsonTypeName(JsonValue::Type type) {
  switch (type) {
    case JsonValue::Type::kNull:
      return "null";
    case JsonValue::Type::kBool:
      return "a boolean";
    case JsonValue::Type::kNumber:
      return "a number";
    case JsonValue::Type::kString:
      return "a string";
    case JsonValue::Type::kArray:
      return "an array";
    case JsonValue::Type::kObject:
      return "an object";
  }
  return "?";
}

// Recursive descent over the text; positions are tracked as line/column for
// errors only.
class JsonParser {
 public:
  explicit JsonParser(std::string_view text) : text_(text) {}

  absl::StatusOr<JsonValue> ParseDocument() {
    SkipWhitespace();
    JsonValue value;
    if (!ParseValue(0, &value)) return error_;
    SkipWhitespace();
    if (pos_ != text_.size()) {
      Error("unexpected text after the JSON value");
      return error_;
    }
    return value;
  }

 private:
  static constexpr int kMaxDepth = 32;

  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }

  // Records the first error at the current position; false, for `return Error(...)`.
  bool Error(std::string_view problem) {
    int line = 1;
    int column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    error_ = absl::InvalidArgumentError(absl::StrCat("line ", line, ", column ", column, ": ", ToAbsl(problem)));
    return false;
  }

  int CurrentLine() const {
    int line = 1;
    for (size_t i = 0; i < pos_; ++i) line += text_[i] == '\n';
    return line;
  }

  void SkipWhitespace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) ++pos_;
  }

  bool ParseValue(int depth, JsonValue* out) {
    if (AtEnd()) return Error("unexpected end of input, expected a value");
    out->line_ = CurrentLine();
    char c = Peek();
    if (c == '{' || c == '[') {
      if (depth >= kMaxDepth) return Error("nested more than 32 deep");
      return c == '{' ? ParseObject(depth, out) : ParseArray(depth, out);
    }
    if (c == '"') {
      out->type_ = JsonValue::Type::kString;
      return ParseString(&out->string_);
    }
    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(out);
    if (ConsumeLiteral("true")) {
      out->type_ = JsonValue::Type::kBool;
      out->bool_ = true;
      return true;
    }
    if (ConsumeLiteral("false")) {
      out->type_ = JsonValue::Type::kBool;
      return true;
    }
    if (ConsumeLiteral("null")) return true;
    return Error(absl::StrCat("unexpected character '", absl::string_view(&text_[pos_], 1),
                              "', expected a value (NaN and Infinity are not JSON)"));
  }

  bool ConsumeLiteral(std::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal) return false;
    pos_ += literal.size();
    return true;
  }

  bool ParseObject(int depth, JsonValue* out) {
    out->type_ = JsonValue::Type::kObject;
    ++pos_;  // '{'
    SkipWhitespace();
    if (!AtEnd() && Peek() == '}') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipWhitespace();
      if (AtEnd()) return Error("unexpected end of input inside an object");
      if (Peek() != '"') return Error("expected a member name in double quotes");
      std::string key;
      size_t key_pos = pos_;
      if (!ParseString(&key)) return false;
      if (out->Find(key) != nullptr) {
        pos_ = key_pos;
        return Error(absl::StrCat("duplicate member \"", key, "\""));
      }
      SkipWhitespace();
      if (AtEnd() || Peek() != ':') return Error("expected ':' after the member name");
      ++pos_;
      SkipWhitespace();
      JsonValue value;
      if (!ParseValue(depth + 1, &value)) return false;
      out->members_.emplace_back(std::move(key), std::move(value));
      SkipWhitespace();
      if (AtEnd()) return Error("unexpected end of input inside an object");
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == '}') {
        ++pos_;
        return true;
      }
      return Error("expected ',' or '}' in an object");
    }
  }

  bool ParseArray(int depth, JsonValue* out) {
    out->type_ = JsonValue::Type::kArray;
    ++pos_;  // '['
    SkipWhitespace();
    if (!AtEnd() && Peek() == ']') {
      ++pos_;
      return true;
    }
    while (true) {
      SkipWhitespace();
      JsonValue value;
      if (!ParseValue(depth + 1, &value)) return false;
      out->items_.push_back(std::move(value));
      SkipWhitespace();
      if (AtEnd()) return Error("unexpected end of input inside an array");
      if (Peek() == ',') {
        ++pos_;
        continue;
      }
      if (Peek() == ']') {
        ++pos_;
        return true;
      }
      return Error("expected ',' or ']' in an array");
    }
  }

  bool ParseHex4(uint32_t* out) {
    if (pos_ + 4 > text_.size()) return Error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_ + i];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= c - '0';
      } else if (c >= 'a' && c <= 'f') {
        v |= c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        v |= c - 'A' + 10;
      } else {
        return Error("bad hex digit in a \\u escape");
      }
    }
    pos_ += 4;
    *out = v;
    return true;
  }

  bool ParseString(std::string* out) {
    ++pos_;  // '"'
    while (true) {
      if (AtEnd()) return Error("unterminated string");
      char c = Peek();
      if (c == '"') {
        ++pos_;
        return true;
      }
      if (static_cast<unsigned char>(c) < 0x20) return Error("control character in a string (escape it)");
      if (c != '\\') {
        out->push_back(c);
        ++pos_;
        continue;
      }
      ++pos_;
      if (AtEnd()) return Error("unterminated escape");
      char e = Peek();
      ++pos_;
      switch (e) {
        case '"':
          out->push_back('"');
          break;
        case '\\':
          out->push_back('\\');
          break;
        case '/':
          out->push_back('/');
          break;
        case 'b':
          out->push_back('\b');
          break;
        case 'f':
          out->push_back('\f');
          break;
        case 'n':
          out->push_back('\n');
          break;
        case 'r':
          out->push_back('\r');
          break;
        case 't':
          out->push_back('\t');
          break;
        case 'u': {
          uint32_t cp = 0;
          if (!ParseHex4(&cp)) return false;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return Error("unpaired low surrogate in a \\u escape");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low = 0;
            if (text_.substr(pos_, 2) != "\\u") return Error("unpaired high surrogate in a \\u escape");
            pos_ += 2;
            if (!ParseHex4(&low)) return false;
            if (low < 0xDC00 || low > 0xDFFF) return Error("unpaired high surrogate in a \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          --pos_;
          return Error("unknown escape in a string");
      }
    }
  }

  bool ParseNumber(JsonValue* out) {
    // Check the JSON grammar first: from_chars alone would accept "01",
    // "1." or ".5", which JSON does not.
    size_t start = pos_;
    size_t p = pos_;
    auto digit = [&](size_t i) { return i < text_.size() && text_[i] >= '0' && text_[i] <= '9'; };
    if (p < text_.size() && text_[p] == '-') ++p;
    if (!digit(p)) return Error("bad number: expected a digit");
    if (text_[p] == '0') {
      ++p;
      if (digit(p)) return Error("bad number: leading zero");
    } else {
      while (digit(p)) ++p;
    }
    if (p < text_.size() && text_[p] == '.') {
      ++p;
      if (!digit(p)) return Error("bad number: expected a digit after '.'");
      while (digit(p)) ++p;
    }
    if (p < text_.size() && (text_[p] == 'e' || text_[p] == 'E')) {
      ++p;
      if (p < text_.size() && (text_[p] == '+' || text_[p] == '-')) ++p;
      if (!digit(p)) return Error("bad number: expected a digit in the exponent");
      while (digit(p)) ++p;
    }
    double value = 0;
    auto [end, ec] = std::from_chars(text_.data() + start, text_.data() + p, value);
    if (ec == std::errc::result_out_of_range || !std::isfinite(value)) {
      return Error("number out of range");
    }
    if (ec != std::errc() || end != text_.data() + p) return Error("bad number");
    out->type_ = JsonValue::Type::kNumber;
    out->number_ = value;
    pos_ = p;
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
  absl::Status error_;
};

absl::StatusOr<JsonValue> ParseJson(std::string_view text) { return JsonParser(text).ParseDocument(); }

}  // namespace ingest::zones
