#include "common/json_value.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/json_string.h"
#include "common/std_string_view.h"
#include "common/utf8.h"

namespace ingest {

const JsonValue* JsonValue::Find(std::string_view key) const {
  for (const auto& [name, value] : members_) {
    if (name == key) return &value;
  }
  return nullptr;
}

const std::string* JsonValue::FindString(std::string_view key) const {
  const JsonValue* value = Find(key);
  return value != nullptr && value->is_string() ? &value->string_ : nullptr;
}

bool operator==(const JsonValue& a, const JsonValue& b) {
  return a.type_ == b.type_ && a.bool_ == b.bool_ && a.number_ == b.number_ && a.string_ == b.string_ &&
         a.items_ == b.items_ && a.members_ == b.members_;
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

// Recursive descent over the text, bounded by JsonLimits::max_depth. Lines
// are counted as whitespace is skipped (a raw newline can be nowhere else),
// so every value knows its line without rescanning.
class JsonParser {
 public:
  JsonParser(std::string_view text, const JsonLimits& limits) : text_(text), limits_(limits) {}

  absl::StatusOr<JsonValue> ParseDocument() {
    if (text_.size() > limits_.max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat("JSON document of ", text_.size(),
                                                     " bytes is over the limit of ", limits_.max_bytes, " bytes"));
    }
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
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return text_[pos_]; }

  // Records the error at the current position; false, for `return Error(...)`.
  bool Error(std::string_view problem) {
    error_ = absl::InvalidArgumentError(
        absl::StrCat("line ", line_, ", column ", pos_ - line_start_ + 1, ": ", ToAbsl(problem)));
    return false;
  }

  void SkipWhitespace() {
    while (!AtEnd() && (Peek() == ' ' || Peek() == '\t' || Peek() == '\n' || Peek() == '\r')) {
      if (Peek() == '\n') {
        ++line_;
        line_start_ = pos_ + 1;
      }
      ++pos_;
    }
  }

  bool ParseValue(size_t depth, JsonValue* out) {
    if (AtEnd()) return Error("unexpected end of input, expected a value");
    if (++values_ > limits_.max_values) return Error(absl::StrCat("more than ", limits_.max_values, " values"));
    out->line_ = line_;
    char c = Peek();
    if (c == '{' || c == '[') {
      if (depth >= limits_.max_depth) return Error(absl::StrCat("nested more than ", limits_.max_depth, " deep"));
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

  bool ParseObject(size_t depth, JsonValue* out) {
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
      const size_t key_pos = pos_;
      if (!ParseString(&key)) return false;
      // Readers differ on which of two same-named members wins; refusing the
      // document means no two readers of it can disagree.
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

  bool ParseArray(size_t depth, JsonValue* out) {
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
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Error("bad hex digit in a \\u escape");
      }
    }
    pos_ += 4;
    *out = v;
    return true;
  }

  // Length of the well-formed UTF-8 sequence starting at pos_ (lead byte
  // >= 0x80), or 0: no overlong forms, no surrogates, nothing past U+10FFFF.
  size_t Utf8SequenceLength() const {
    auto byte = [&](size_t i) -> unsigned {
      return pos_ + i < text_.size() ? static_cast<unsigned char>(text_[pos_ + i]) : 0u;
    };
    auto tail = [&](size_t i, unsigned lo, unsigned hi) { return byte(i) >= lo && byte(i) <= hi; };
    const unsigned lead = byte(0);
    if (lead >= 0xC2 && lead <= 0xDF) return tail(1, 0x80, 0xBF) ? 2 : 0;
    if (lead == 0xE0) return tail(1, 0xA0, 0xBF) && tail(2, 0x80, 0xBF) ? 3 : 0;
    if ((lead >= 0xE1 && lead <= 0xEC) || lead == 0xEE || lead == 0xEF) {
      return tail(1, 0x80, 0xBF) && tail(2, 0x80, 0xBF) ? 3 : 0;
    }
    if (lead == 0xED) return tail(1, 0x80, 0x9F) && tail(2, 0x80, 0xBF) ? 3 : 0;
    if (lead == 0xF0) return tail(1, 0x90, 0xBF) && tail(2, 0x80, 0xBF) && tail(3, 0x80, 0xBF) ? 4 : 0;
    if (lead >= 0xF1 && lead <= 0xF3) {
      return tail(1, 0x80, 0xBF) && tail(2, 0x80, 0xBF) && tail(3, 0x80, 0xBF) ? 4 : 0;
    }
    if (lead == 0xF4) return tail(1, 0x80, 0x8F) && tail(2, 0x80, 0xBF) && tail(3, 0x80, 0xBF) ? 4 : 0;
    return 0;
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
      if (static_cast<unsigned char>(c) >= 0x80) {
        const size_t length = Utf8SequenceLength();
        if (length == 0) return Error("invalid UTF-8 in a string");
        out->append(text_.substr(pos_, length));
        pos_ += length;
        continue;
      }
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
        case '\\':
        case '/':
          out->push_back(e);
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
    if (!digit(p)) {
      pos_ = p;
      return Error("bad number: expected a digit");
    }
    if (text_[p] == '0') {
      ++p;
      if (digit(p)) {
        pos_ = p;
        return Error("bad number: leading zero");
      }
    } else {
      while (digit(p)) ++p;
    }
    if (p < text_.size() && text_[p] == '.') {
      ++p;
      if (!digit(p)) {
        pos_ = p;
        return Error("bad number: expected a digit after '.'");
      }
      while (digit(p)) ++p;
    }
    if (p < text_.size() && (text_[p] == 'e' || text_[p] == 'E')) {
      ++p;
      if (p < text_.size() && (text_[p] == '+' || text_[p] == '-')) ++p;
      if (!digit(p)) {
        pos_ = p;
        return Error("bad number: expected a digit in the exponent");
      }
      while (digit(p)) ++p;
    }
    double value = 0;
    auto [end, ec] = std::from_chars(text_.data() + start, text_.data() + p, value);
    if (ec == std::errc::result_out_of_range || !std::isfinite(value)) return Error("number out of range");
    if (ec != std::errc() || end != text_.data() + p) return Error("bad number");
    out->type_ = JsonValue::Type::kNumber;
    out->number_ = value;
    pos_ = p;
    return true;
  }

  std::string_view text_;
  const JsonLimits& limits_;
  size_t pos_ = 0;
  int line_ = 1;
  size_t line_start_ = 0;
  size_t values_ = 0;
  absl::Status error_;
};

absl::StatusOr<JsonValue> ParseJson(std::string_view text, const JsonLimits& limits) {
  return JsonParser(text, limits).ParseDocument();
}

void AppendJson(std::string& out, const JsonValue& value) {
  switch (value.type()) {
    case JsonValue::Type::kNull:
      out += "null";
      return;
    case JsonValue::Type::kBool:
      out += value.boolean() ? "true" : "false";
      return;
    case JsonValue::Type::kNumber: {
      char buffer[32];
      auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value.number());
      out.append(buffer, ec == std::errc() ? end : buffer);
      return;
    }
    case JsonValue::Type::kString:
      AppendJsonString(out, value.string());
      return;
    case JsonValue::Type::kArray: {
      out.push_back('[');
      for (size_t i = 0; i < value.items().size(); ++i) {
        if (i > 0) out.push_back(',');
        AppendJson(out, value.items()[i]);
      }
      out.push_back(']');
      return;
    }
    case JsonValue::Type::kObject: {
      out.push_back('{');
      bool first = true;
      for (const auto& [name, member] : value.members()) {
        if (!first) out.push_back(',');
        first = false;
        AppendJsonString(out, name);
        out.push_back(':');
        AppendJson(out, member);
      }
      out.push_back('}');
      return;
    }
  }
}

}  // namespace ingest
