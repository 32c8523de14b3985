// Reading and writing the TOML form of IngestConfig. The keys, types and
// ranges come from the field table in config_fields.h.
#include "server/config/ingest_config.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
// Debian's toml++ is a shared library built with exceptions and exports only
// the throwing parser, so TOML_EXCEPTIONS stays on and parse_error is caught
// right at the call in ParseConfigToml; nothing else in toml++ we use throws.
#include "toml++/toml.h"
#include "common/bounded_file.h"
#include "common/status_macros.h"
#include "server/config/config_fields.h"

namespace ingest {
namespace {

using config_internal::ConfigField;

// Config files are a few kilobytes; anything this big is the wrong file.
constexpr size_t kMaxConfigFileBytes = 1 << 20;

std::string S(std::string_view s) { return std::string(s); }

absl::Status AtLine(absl::Status status, std::string_view source, const toml::source_region& where) {
  if (status.ok()) return status;
  return absl::Status(status.code(),
                      absl::StrCat(S(source), ":", where.begin.line, ": ", std::string(status.message())));
}

std::string_view TomlTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a floating-point number";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    case toml::node_type::none: break;
  }
  return "nothing";
}

// Hands one TOML value to the field's setter, which checks type and range.
absl::Status StoreTomlValue(const ConfigField& field, const toml::node& node, IngestConfig& config) {
  if (const auto* v = node.as_string()) return config_internal::SetFieldString(field, config, v->get());
  if (const auto* v = node.as_integer()) return config_internal::SetFieldInteger(field, config, v->get());
  if (const auto* v = node.as_boolean()) return config_internal::SetFieldBool(field, config, v->get());
  if (const auto* v = node.as_floating_point()) return config_internal::SetFieldDouble(field, config, v->get());
  return absl::InvalidArgumentError(absl::StrCat(S(field.name), ": wrong type: got ",
                                                 S(TomlTypeName(node))));
}

// Levenshtein distance, to suggest the key a typo was meant to be.
size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string UnknownKeyMessage(std::string_view section, std::string_view key) {
  std::string message = absl::StrCat(S(section), ".", S(key), ": unknown key");
  for (const ConfigField& field : config_internal::ConfigFields()) {
    if (field.section() != section) continue;
    // Close spellings, or a key with a word added or left off ("listen_addr").
    bool prefix = key.size() >= 4 && (key.starts_with(field.key()) || field.key().starts_with(key));
    if (prefix || EditDistance(field.key(), key) <= 2) {
      absl::StrAppend(&message, " (did you mean ", S(field.name), "?)");
      break;
    }
  }
  return message;
}

bool IsSection(std::string_view name) {
  auto sections = config_internal::ConfigSections();
  return std::find(sections.begin(), sections.end(), name) != sections.end();
}

std::string SectionList() {
  std::vector<std::string> names;
  for (std::string_view name : config_internal::ConfigSections()) names.push_back(absl::StrCat("[", S(name), "]"));
  return absl::StrJoin(names, ", ");
}

absl::Status ParseSection(std::string_view section, const toml::table& table,
                          std::string_view source, IngestConfig& config) {
  for (const auto& [key, node] : table) {
    std::string name = absl::StrCat(S(section), ".", S(key.str()));
    const ConfigField* field = config_internal::FindConfigField(name);
    if (field == nullptr) {
      return AtLine(absl::InvalidArgumentError(UnknownKeyMessage(section, key.str())), source,
                    key.source());
    }
    RETURN_IF_ERROR(AtLine(StoreTomlValue(*field, node, config), source, key.source()));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<IngestConfig> ParseConfigToml(std::string_view text, std::string_view source_name) {
  toml::table document;
  try {
    document = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(S(source_name), ":", e.source().begin.line,
                                                   ": not valid TOML: ", S(e.description()),
                                                   " (column ", e.source().begin.column, ")"));
  }

  IngestConfig config;
  for (const auto& [key, node] : document) {
    std::string_view name = key.str();
    if (!IsSection(name)) {
      std::string problem = node.is_table()
                                ? absl::StrCat(S(name), ": unknown section (sections are ", SectionList(), ")")
                                : absl::StrCat(S(name), ": unknown key: every key belongs in a section (",
                                               SectionList(), ")");
      return AtLine(absl::InvalidArgumentError(problem), source_name, key.source());
    }
    const toml::table* table = node.as_table();
    if (table == nullptr) {
      return AtLine(absl::InvalidArgumentError(absl::StrCat(
                        S(name), ": wrong type: expected a section [", S(name), "], got ",
                        S(TomlTypeName(node)))),
                    source_name, key.source());
    }
    RETURN_IF_ERROR(ParseSection(name, *table, source_name, config));
  }
  return config;
}

absl::StatusOr<IngestConfig> LoadConfigFile(const std::string& path) {
  ASSIGN_OR_RETURN(std::string text, ReadBoundedFile(path, kMaxConfigFileBytes, "config file"));
  return ParseConfigToml(text, path);
}

std::string ConfigToToml(const IngestConfig& config) {
  std::string out =
      "# ingestd configuration. Sizes take B, KiB, MiB, GiB or TiB (\"64MiB\");\n"
      "# durations are milliseconds. Unknown keys are errors.\n";
  std::string_view section;
  for (const ConfigField& field : config_internal::ConfigFields()) {
    if (field.section() != section) {
      section = field.section();
      absl::StrAppend(&out, "\n[", S(section), "]\n");
    }
    absl::StrAppend(&out, "# ", S(field.help), "\n", S(field.key()), " = ",
                    config_internal::FieldToToml(field, config), "\n");
  }
  return out;
}

}  // namespace ingest
