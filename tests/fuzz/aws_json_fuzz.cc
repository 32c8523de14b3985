// Fuzzes what reads the answers of AWS's credential services, all with the
// same bytes: the flat JSON parser (server/s3/flat_json.h), the instance
// metadata token, role listing and credentials answers, and STS's
// AssumeRole answer (XML) under a 200 and an error status.
//
// Checked on every input: no crash or undefined behaviour; malformed input
// is an error, never a crash; a parsed object keeps its limits, and its
// members written back with our JSON string writer (common/json_string.h)
// parse to the same members; credentials that parse pass the credential
// checks and carry an expiry; an STS error status is never read as success.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/json_string.h"
#include "server/s3/assume_role_credentials.h"
#include "server/s3/flat_json.h"
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

void ParseFlatJson(std::string_view text) {
  const FlatJsonLimits limits;
  absl::StatusOr<FlatJsonObject> object = ParseFlatJsonObject(text, limits);
  if (!object.ok()) {
    FUZZ_CHECK_MSG(absl::IsInvalidArgument(object.status()), object.status().ToString());
    return;
  }
  FUZZ_CHECK(object->members().size() <= limits.max_members);
  // Every value written back as a JSON string reads back the same.
  std::string written = "{";
  for (const auto& [name, value] : object->members()) {
    if (written.size() > 1) written += ',';
    AppendJsonString(written, name);
    written += ':';
    AppendJsonString(written, value);
  }
  written += '}';
  absl::StatusOr<FlatJsonObject> again = ParseFlatJsonObject(written, {.max_bytes = written.size()});
  FUZZ_CHECK_MSG(again.ok(), again.status().ToString() + "\n" + written);
  FUZZ_CHECK(again->members() == object->members());
  for (const auto& [name, value] : object->members()) FUZZ_CHECK(object->Find(name) != nullptr);
}

}  // namespace
}  // namespace ingest

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ingest;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  ParseFlatJson(input);

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
