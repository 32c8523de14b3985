// Fuzzes the daemon's configuration from text (server/config): the TOML
// parse with its per-key checks, the derived defaults, the whole-config
// validation and the printer.
//
// Checked on every input: no crash, exception or undefined behaviour; an
// error is InvalidArgument naming the source and line; a config that parses
// has every field within its own range, and prints as TOML that parses back
// to the same config (what --print-config promises); the validation of the
// whole either passes or names its problems.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "server/config/config_fields.h"
#include "server/config/ingest_config.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ingest;
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<IngestConfig> config = ParseConfigToml(text, "fuzz.toml");
  if (!config.ok()) {
    FUZZ_CHECK_MSG(absl::IsInvalidArgument(config.status()), config.status().ToString());
    FUZZ_CHECK_MSG(absl::StartsWith(config.status().message(), "fuzz.toml:"), config.status().ToString());
    return 0;
  }
  for (const config_internal::ConfigField& field : config_internal::ConfigFields()) {
    const absl::Status in_range = config_internal::CheckField(field, *config);
    FUZZ_CHECK_MSG(in_range.ok(), in_range.ToString());
  }

  const std::string printed = ConfigToToml(*config);
  absl::StatusOr<IngestConfig> reparsed = ParseConfigToml(printed, "printed.toml");
  FUZZ_CHECK_MSG(reparsed.ok(), reparsed.status().ToString() + "\n" + printed);
  FUZZ_CHECK_MSG(*reparsed == *config, printed);

  const absl::Status resolved = ResolveDefaults(*config);
  FUZZ_CHECK_MSG(resolved.ok(), resolved.ToString());
  const absl::Status valid = ValidateConfig(*config);
  FUZZ_CHECK_MSG(valid.ok() || (absl::IsInvalidArgument(valid) && !valid.message().empty()), valid.ToString());
  return 0;
}
