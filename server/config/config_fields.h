// The one list of configuration keys: name, type, range and a one-line
// description for each field of IngestConfig. The TOML parser, the printer,
// the flag overrides and the validator all walk this list, so a field added
// here is parsed, printed, overridable and checked everywhere at once.
// Internal to server/config/.
//
//   const ConfigField* field = FindConfigField("spool.commit_interval_ms");
//   RETURN_IF_ERROR(SetFieldInteger(*field, config, 5));
//   std::string literal = FieldToToml(*field, config);  // "5"
#ifndef SERVER_CONFIG_CONFIG_FIELDS_H_
#define SERVER_CONFIG_CONFIG_FIELDS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "absl/status/status.h"
#include "absl/types/span.h"
#include "server/config/ingest_config.h"

namespace ingest::config_internal {

enum class FieldKind {
  kString,
  kBool,
  kInteger,   // counts and durations: TOML integers only
  kByteSize,  // TOML integers or strings with a unit ("64MiB")
  kDouble,    // TOML floats or integers
};

template <typename T>
using FieldRef = T& (*)(IngestConfig&);

struct ConfigField {
  std::string_view name;  // "spool.commit_interval_ms": the section, a dot, the key
  FieldKind kind;
  std::variant<FieldRef<std::string>, FieldRef<bool>, FieldRef<int>, FieldRef<uint32_t>,
               FieldRef<uint64_t>, FieldRef<double>>
      ref;
  std::string_view help;  // one line; printed above the key by ConfigToToml
  // Inclusive bounds of kInteger and kByteSize fields.
  int64_t min = 0;
  int64_t max = 0;
  // Inclusive bounds of kDouble fields.
  double min_double = 0;
  double max_double = 0;
  // Extra check of a kString field's value; nullptr = any string. Returns the
  // problem without the key ("must be one of ...").
  absl::Status (*check_string)(std::string_view value) = nullptr;

  std::string_view section() const { return name.substr(0, name.find('.')); }
  std::string_view key() const { return name.substr(name.find('.') + 1); }
};

// Every field, in the order ConfigToToml prints them (grouped by section).
absl::Span<const ConfigField> ConfigFields();

// The sections, in printing order: "server", "tls", ...
absl::Span<const std::string_view> ConfigSections();

// The field called `name` ("section.key"), or nullptr.
const ConfigField* FindConfigField(std::string_view name);

// Stores a value into `config` after checking the field's range (and string
// check). Errors are InvalidArgument reading "<name>: <problem>"; a value of
// the wrong type for the field is "<name>: wrong type: ...".
absl::Status SetFieldString(const ConfigField& field, IngestConfig& config, std::string value);
absl::Status SetFieldBool(const ConfigField& field, IngestConfig& config, bool value);
absl::Status SetFieldInteger(const ConfigField& field, IngestConfig& config, int64_t value);
absl::Status SetFieldDouble(const ConfigField& field, IngestConfig& config, double value);

// Checks the value already in `config` against the field's range and string
// check, with the same messages as the setters.
absl::Status CheckField(const ConfigField& field, const IngestConfig& config);

// The field's value as a TOML literal: "\"dev\"", "true", "5", "\"64MiB\"", "20.0".
std::string FieldToToml(const ConfigField& field, const IngestConfig& config);

}  // namespace ingest::config_internal

#endif  // SERVER_CONFIG_CONFIG_FIELDS_H_
