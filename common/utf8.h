// Appends a Unicode code point as UTF-8, for the decoders of text formats
// that carry escapes (JSON \u, XML &#...;). The caller checks the code point
// is a valid scalar value (not a surrogate, at most 0x10FFFF).
//
//   std::string out;
//   AppendUtf8(0x20AC, &out);  // "€"
#ifndef COMMON_UTF8_H_
#define COMMON_UTF8_H_

#include <cstdint>
#include <string>

namespace ingest {

inline void AppendUtf8(uint32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace ingest

#endif  // COMMON_UTF8_H_
