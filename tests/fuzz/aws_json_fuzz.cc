// Fuzzes what reads the answers of AWS's credential services, all with the
// same bytes: the JSON reader (common/json_value.h), the instance
// metadata token, role listing and credentials answers, and STS's
// AssumeRole answer (XML) under a 200 and an error status.
//
// Checked on every input: no crash or undefined behaviour; malformed input
// is an error, never a crash; a parsed value keeps its limits, and written
// back (AppendJson, through our JSON string writer common/json_string.h) it
// parses to the same value; credentials that parse pass the credential
// checks and carry an expiry; an STS error status is never read as success.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/json_value.h"
#include "server/s3/assume_role_credentials.h"
#include "server/s3/instance_metadata_credentials.h"
#include "server/s3/refreshing_credentials.h"
#include "tests/fuzz/fuzz_check.h"

namespace ingest {
namespace {

void CheckCredentialsParsed(const absl::StatusOr<AwsCredentials>& credentials) {
  if (!credentials.ok()) return;
  const absl::Status valid = CheckCredentials("fuzz", *credentials);
  FUZZ_CHECK_MSG(valid.ok(), valid.ToString());
  FUZZ_CHECK(!credentials->session_token.empty());
  FUZZ_CHECK(credentials->expiration != absl::InfiniteFuture());
}

// How many values `value` holds, itself included, and how deep it nests.
size_t CountValues(const JsonValue& value, size_t depth, size_t* max_depth) {
  *max_depth = std::max(*max_depth, depth);
  size_t count = 1;
  for (const JsonValue& item : value.items()) count += CountValues(item, depth + 1, max_depth);
  for (const auto& [name, member] : value.members()) count += CountValues(member, depth + 1, max_depth);
  return count;
}

void ParseAnyJson(std::string_view text) {
  const JsonLimits limits{.max_bytes = 64 << 10, .max_depth = 16, .max_values = 1024};
  absl::StatusOr<JsonValue> value = ParseJson(text, limits);
  if (!value.ok()) {
    FUZZ_CHECK_MSG(absl::IsInvalidArgument(value.status()), value.status().ToString());
    return;
  }
  size_t depth = 0;
  FUZZ_CHECK(CountValues(*value, 0, &depth) <= limits.max_values);
  FUZZ_CHECK(depth <= limits.max_depth);
  // Written back compactly, it reads back the same.
  std::string written;
  AppendJson(written, *value);
  absl::StatusOr<JsonValue> again = ParseJson(written, {.max_bytes = written.size() + 1});
  FUZZ_CHECK_MSG(again.ok(), again.status().ToString() + "\n" + written);
  FUZZ_CHECK(*again == *value);
  for (const auto& [name, member] : value->members()) FUZZ_CHECK(value->Find(name) != nullptr);
}

}  // namespace
}  // namespace ingest

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ingest;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ParseAnyJson(input);

  absl::StatusOr<std::string> token = ParseImdsToken(input);
  if (token.ok()) FUZZ_CHECK(CheckCredentialText("token", *token, 4096).ok());
  absl::StatusOr<std::string> role = ParseImdsRoleName(input);
  if (role.ok()) FUZZ_CHECK(!role->empty() && role->size() <= 128);
  CheckCredentialsParsed(ParseImdsCredentials("fuzz-role", input));

  absl::StatusOr<AwsCredentials> sts = ParseAssumeRoleResponse(200, input);
  CheckCredentialsParsed(sts);
  if (!sts.ok()) FUZZ_CHECK(sts.status().code() == absl::StatusCode::kInvalidArgument);
  for (int status : {400, 403, 500}) FUZZ_CHECK(!ParseAssumeRoleResponse(status, input).ok());

  absl::StatusOr<absl::Time> time = ParseAwsTimestamp(input);
  if (time.ok()) FUZZ_CHECK(*time != absl::InfiniteFuture() && *time != absl::InfinitePast());
  return 0;
}
