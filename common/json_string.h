// JSON string literals for the JSON this project writes by hand (log lines,
// /status, /readyz, the drain state, zonectl --json): quotes and backslashes
// escaped, control characters as \uXXXX. Bytes >= 0x80 pass through, so
// UTF-8 stays UTF-8.
//
//   std::string out = "{\"zone\":";
//   AppendJsonString(out, zone);   // {"zone":"eu-west-1a"
#ifndef COMMON_JSON_STRING_H_
#define COMMON_JSON_STRING_H_

#include <string>
#include <string_view>

namespace ingest {

void AppendJsonString(std::string& out, std::string_view s);
std::string JsonString(std::string_view s);

}  // namespace ingest

#endif  // COMMON_JSON_STRING_H_
