#include "server/s3/flat_json.h"

#include <cstdint>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/utf8.h"

namespace ingest {

const std::string* FlatJsonObject::Find(std::string_view name) const {
  for (const auto& [key, value] : members_) {
    if (key == name) return &value;
  }
  return nullptr;
}

// Recursive descent over a string_view with an explicit position. Nested
// values are walked (to find where they end) but not kept.
class FlatJsonParser {
 public:
  FlatJsonParser(std::string_view text, const FlatJsonLimits& limits)
      : text_(text), limits_(limits) {}

  absl::StatusOr<FlatJsonObject> Parse() {
    if (text_.size() > limits_.max_bytes) {
      return absl::InvalidArgumentError(absl::StrCat(
          "JSON document of ", text_.size(), " bytes is over the limit of ", limits_.max_bytes));
    }
    FlatJsonObject object;
    SkipSpace();
    if (!Consume('{')) return Error("expected '{'");
    SkipSpace();
    if (!Consume('}')) {
      while (true) {
        SkipSpace();
        std::string key;
        if (Peek() != '"') return Error("expected a member name");
        absl::Status status = ParseString(&key);
        if (!status.ok()) return status;
        SkipSpace();
        if (!Consume(':')) return Error("expected ':'");
        SkipSpace();
        std::string value;
        status = ParseValue(&value, /*depth=*/1);
        if (!status.ok()) return status;
        if (object.members_.size() >= limits_.max_members) {
          return Error(absl::StrCat("more than ", limits_.max_members, " members"));
        }
        object.members_.emplace_back(std::move(key), std::move(value));
        SkipSpace();
        if (Consume(',')) continue;
        if (Consume('}')) break;
        return Error("expected ',' or '}'");
      }
    }
    SkipSpace();
    if (pos_ != text_.size()) return Error("unexpected bytes after the object");
    return object;
  }

 private:
  char Peek() const { return pos_ < text_.size() ? text_[pos_] : '\0'; }
  bool AtEnd() const { return pos_ >= text_.size(); }
  bool Consume(char c) {
    if (AtEnd() || text_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  void SkipSpace() {
    while (!AtEnd() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' ||
                        text_[pos_] == '\r')) {
      ++pos_;
    }
  }
  absl::Status Error(std::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed JSON at byte ", pos_, ": ", std::string(what)));
  }

  // `out` receives the decoded string for strings, the literal text for
  // other scalars, and nothing for nested objects and arrays.
  absl::Status ParseValue(std::string* out, size_t depth) {
    if (depth > limits_.max_depth) return Error("nested too deeply");
    char c = Peek();
    if (c == '"') return ParseString(out);
    if (c == '{' || c == '[') return SkipContainer(depth);
    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(out);
    for (std::string_view literal : {"true", "false", "null"}) {
      if (text_.substr(pos_, literal.size()) == literal) {
        pos_ += literal.size();
        *out = std::string(literal);
        return absl::OkStatus();
      }
    }
    return Error("expected a value");
  }

  absl::Status SkipContainer(size_t depth) {
    const char close = Peek() == '{' ? '}' : ']';
    const bool is_object = close == '}';
    ++pos_;
    SkipSpace();
    if (Consume(close)) return absl::OkStatus();
    while (true) {
      SkipSpace();
      std::string ignored;
      if (is_object) {
        if (Peek() != '"') return Error("expected a member name");
        absl::Status status = ParseString(&ignored);
        if (!status.ok()) return status;
        SkipSpace();
        if (!Consume(':')) return Error("expected ':'");
        SkipSpace();
      }
      absl::Status status = ParseValue(&ignored, depth + 1);
      if (!status.ok()) return status;
      SkipSpace();
      if (Consume(',')) continue;
      if (Consume(close)) return absl::OkStatus();
      return Error(is_object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }

  absl::Status ParseNumber(std::string* out) {
    const size_t start = pos_;
    Consume('-');
    if (Consume('0')) {
    } else if (Peek() >= '1' && Peek() <= '9') {
      while (Peek() >= '0' && Peek() <= '9') ++pos_;
    } else {
      return Error("expected a digit");
    }
    if (Consume('.')) {
      if (!(Peek() >= '0' && Peek() <= '9')) return Error("expected a digit after '.'");
      while (Peek() >= '0' && Peek() <= '9') ++pos_;
    }
    if (Peek() == 'e' || Peek() == 'E') {
      ++pos_;
      if (Peek() == '+' || Peek() == '-') ++pos_;
      if (!(Peek() >= '0' && Peek() <= '9')) return Error("expected an exponent");
      while (Peek() >= '0' && Peek() <= '9') ++pos_;
    }
    *out = std::string(text_.substr(start, pos_ - start));
    return absl::OkStatus();
  }

  absl::Status ParseHex4(uint32_t* value) {
    if (text_.size() - pos_ < 4) return Error("truncated \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      char c = text_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Error("bad hex digit in \\u escape");
      }
    }
    *value = v;
    return absl::OkStatus();
  }


  absl::Status ParseString(std::string* out) {
    out->clear();
    if (!Consume('"')) return Error("expected '\"'");
    while (true) {
      if (AtEnd()) return Error("unterminated string");
      const char c = text_[pos_++];
      if (c == '"') return absl::OkStatus();
      if (static_cast<unsigned char>(c) < 0x20) {
        --pos_;
        return Error("raw control character in string");
      }
      if (c != '\\') {
        out->push_back(c);
        continue;
      }
      if (AtEnd()) return Error("unterminated escape");
      const char e = text_[pos_++];
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
          absl::Status status = ParseHex4(&cp);
          if (!status.ok()) return status;
          if (cp >= 0xDC00 && cp <= 0xDFFF) return Error("unpaired low surrogate");
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            if (!Consume('\\') || !Consume('u')) return Error("unpaired high surrogate");
            uint32_t low = 0;
            status = ParseHex4(&low);
            if (!status.ok()) return status;
            if (low < 0xDC00 || low > 0xDFFF) return Error("unpaired high surrogate");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          }
          AppendUtf8(cp, out);
          break;
        }
        default:
          --pos_;
          return Error("bad escape in string");
      }
    }
  }

  std::string_view text_;
  const FlatJsonLimits& limits_;
  size_t pos_ = 0;
};

absl::StatusOr<FlatJsonObject> ParseFlatJsonObject(std::string_view text,
                                                   const FlatJsonLimits& limits) {
  return FlatJsonParser(text, limits).Parse();
}

}  // namespace ingest
