// A small, bounded parser for the flat JSON objects AWS metadata services
// return (instance metadata credentials: {"Code": "Success", "AccessKeyId":
// ...}). Only the top-level members are kept: strings decoded, numbers,
// true/false/null kept as their literal text, nested objects and arrays
// skipped (bounded depth). Anything malformed is an InvalidArgument that says
// where, never a crash.
//
//   ASSIGN_OR_RETURN(FlatJsonObject object, ParseFlatJsonObject(response.BodyText()));
//   const std::string* key_id = object.Find("AccessKeyId");
#ifndef SERVER_S3_FLAT_JSON_H_
#define SERVER_S3_FLAT_JSON_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace ingest {

struct FlatJsonLimits {
  size_t max_bytes = 64 << 10;
  size_t max_members = 256;
  size_t max_depth = 16;  // nesting of skipped objects and arrays
};

class FlatJsonObject {
 public:
  // The value of the first top-level member named `name`, or null. Strings
  // are unescaped; other scalars are their JSON text; nested values are "".
  const std::string* Find(std::string_view name) const;

  const std::vector<std::pair<std::string, std::string>>& members() const { return members_; }

 private:
  friend class FlatJsonParser;
  std::vector<std::pair<std::string, std::string>> members_;
};

// Parses `text`, which must be exactly one JSON object (whitespace around it
// allowed). InvalidArgument with the byte offset for malformed input or
// input over `limits` (strings with invalid escapes or raw control
// characters, unpaired surrogates, trailing bytes, too deep, too many
// members).
absl::StatusOr<FlatJsonObject> ParseFlatJsonObject(std::string_view text,
                                                   const FlatJsonLimits& limits = {});

}  // namespace ingest

#endif  // SERVER_S3_FLAT_JSON_H_
