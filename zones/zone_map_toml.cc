// Reading the TOML form of the zone map (docs/zones.md has the format) and
// checking each field on its own; checks across zones are in
// zone_map_validation.cc.
#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/host_port.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "zones/zone_map_spec.h"

// Debian's toml++ is a shared library built with exceptions and exports only
// the throwing parser, so parse_error is caught right at the one parse call;
// nothing else in toml++ we use throws.
#include "toml++/toml.h"

namespace ingest::zones::zone_map_internal {
namespace {

constexpr size_t kMaxZoneIdBytes = 64;
// The camera-id rule of the wire protocol (proto's IsValidCameraId); zones/
// sits below proto/ and does not link it.
constexpr size_t kMaxCameraIdBytes = 128;

int LineOf(const toml::source_region& where) { return static_cast<int>(where.begin.line); }

const char* TomlTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a floating-point number";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

bool IsZoneIdChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

// Empty if `id` may name a zone, else what is wrong with it.
std::string ZoneIdProblem(std::string_view id) {
  if (id.empty()) return "must not be empty";
  if (id.size() > kMaxZoneIdBytes) return absl::StrCat("longer than ", kMaxZoneIdBytes, " bytes");
  for (char c : id) {
    if (!IsZoneIdChar(c)) return "only letters, digits, '-', '_' and '.' are allowed";
  }
  return "";
}

// Empty if `text` may be (the start of) a camera id, else what is wrong.
std::string CameraIdProblem(std::string_view text) {
  if (text.empty()) return "must not be empty";
  if (text.size() > kMaxCameraIdBytes) return absl::StrCat("longer than a camera id (", kMaxCameraIdBytes, " bytes)");
  if (text.front() == '.') return "camera ids do not start with '.'";
  for (char c : text) {
    if (!IsZoneIdChar(c)) return "camera ids have only letters, digits, '-', '_' and '.'";
  }
  return "";
}

// One TOML table whose keys are known in advance, with errors that name the
// field ("zone[euw1-a].store.bucket") and the line of the key, or of the
// table's header when a required key is missing.
class TableReader {
 public:
  TableReader(std::string_view source, const toml::table& table, std::string field_prefix)
      : source_(source), table_(table), prefix_(std::move(field_prefix)) {}

  int table_line() const { return LineOf(table_.source()); }
  std::string Field(std::string_view key) const { return absl::StrCat(prefix_, ".", ToAbsl(key)); }

  absl::Status Error(int line, std::string_view field, std::string_view problem) const {
    return ErrorAt(source_, line, field, problem);
  }
  absl::Status ErrorAtKey(std::string_view key, std::string_view problem) const {
    return Error(KeyLine(key), Field(key), problem);
  }

  int KeyLine(std::string_view key) const {
    auto it = table_.find(key);
    return it == table_.end() ? table_line() : LineOf(it->first.source());
  }

  absl::Status RejectUnknownKeys(std::initializer_list<const char*> known) const {
    for (const auto& [key, node] : table_) {
      bool found = false;
      for (const char* k : known) found = found || key.str() == k;
      if (found) continue;
      std::string problem = absl::StrCat(node.is_table() ? "unknown table" : "unknown key", " (", prefix_, " takes ",
                                         absl::StrJoin(known, ", "), ")");
      return Error(LineOf(key.source()), Field(key.str()), problem);
    }
    return absl::OkStatus();
  }

  // The node at `key`, or an error if it is required and missing; null if
  // optional and missing.
  absl::StatusOr<const toml::node*> Get(std::string_view key, bool required) const {
    const toml::node* node = table_.get(key);
    if (node == nullptr && required) return Error(table_line(), Field(key), "missing (required)");
    return node;
  }

  absl::Status WrongType(std::string_view key, const toml::node& node, std::string_view expected) const {
    return ErrorAtKey(key, absl::StrCat("wrong type: expected ", ToAbsl(expected), ", got ", TomlTypeName(node)));
  }

  // A string that must be present and non-empty when `required`.
  absl::Status String(std::string_view key, bool required, std::string& out) const {
    ASSIGN_OR_RETURN(const toml::node* node, Get(key, required));
    if (node == nullptr) return absl::OkStatus();
    const auto* value = node->as_string();
    if (value == nullptr) return WrongType(key, *node, "a string");
    if (required && value->get().empty()) return ErrorAtKey(key, "must not be empty");
    out = value->get();
    return absl::OkStatus();
  }

  absl::Status Bool(std::string_view key, bool& out) const {
    ASSIGN_OR_RETURN(const toml::node* node, Get(key, false));
    if (node == nullptr) return absl::OkStatus();
    const auto* value = node->as_boolean();
    if (value == nullptr) return WrongType(key, *node, "true or false");
    out = value->get();
    return absl::OkStatus();
  }

  absl::Status Integer(std::string_view key, bool required, int64_t& out) const {
    ASSIGN_OR_RETURN(const toml::node* node, Get(key, required));
    if (node == nullptr) return absl::OkStatus();
    const auto* value = node->as_integer();
    if (value == nullptr) return WrongType(key, *node, "an integer");
    out = value->get();
    return absl::OkStatus();
  }

  // A number: "weight = 2" reads as naturally as "weight = 2.0".
  absl::Status Number(std::string_view key, double& out) const {
    ASSIGN_OR_RETURN(const toml::node* node, Get(key, false));
    if (node == nullptr) return absl::OkStatus();
    if (const auto* value = node->as_floating_point()) {
      out = value->get();
    } else if (const auto* integer = node->as_integer()) {
      out = static_cast<double>(integer->get());
    } else {
      return WrongType(key, *node, "a number");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<const toml::array*> Array(std::string_view key, bool required) const {
    ASSIGN_OR_RETURN(const toml::node* node, Get(key, required));
    if (node == nullptr) return nullptr;
    const toml::array* array = node->as_array();
    if (array == nullptr) return WrongType(key, *node, "an array");
    return array;
  }

  // An array of strings, each element's line kept for later errors.
  absl::Status StringArray(std::string_view key, bool required, std::vector<std::string>& out,
                           std::vector<int>& lines) const {
    ASSIGN_OR_RETURN(const toml::array* array, Array(key, required));
    if (array == nullptr) return absl::OkStatus();
    for (size_t i = 0; i < array->size(); ++i) {
      const toml::node& element = (*array)[i];
      const auto* value = element.as_string();
      if (value == nullptr) {
        return Error(LineOf(element.source()), absl::StrCat(Field(key), "[", i, "]"),
                     absl::StrCat("wrong type: expected a string, got ", TomlTypeName(element)));
      }
      out.push_back(value->get());
      lines.push_back(LineOf(element.source()));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<const toml::table*> Table(std::string_view key, bool required) const {
    ASSIGN_OR_RETURN(const toml::node* node, Get(key, required));
    if (node == nullptr) return nullptr;
    const toml::table* table = node->as_table();
    if (table == nullptr) return WrongType(key, *node, absl::StrCat("a table [", prefix_, ".", ToAbsl(key), "]"));
    return table;
  }

  std::string_view source() const { return source_; }
  const std::string& prefix() const { return prefix_; }

 private:
  std::string_view source_;
  const toml::table& table_;
  std::string prefix_;
};

absl::Status ParseStore(const TableReader& zone_reader, ZoneStore& store) {
  ASSIGN_OR_RETURN(const toml::table* table, zone_reader.Table("store", true));
  TableReader reader(zone_reader.source(), *table, zone_reader.Field("store"));
  RETURN_IF_ERROR(reader.RejectUnknownKeys({"bucket", "prefix", "region", "role_arn", "endpoint"}));
  RETURN_IF_ERROR(reader.String("bucket", true, store.bucket));
  RETURN_IF_ERROR(reader.String("region", true, store.region));
  RETURN_IF_ERROR(reader.String("prefix", false, store.prefix));
  RETURN_IF_ERROR(reader.String("role_arn", false, store.role_arn));
  RETURN_IF_ERROR(reader.String("endpoint", false, store.endpoint));
  if (store.prefix.starts_with('/') || store.prefix.ends_with('/')) {
    return reader.ErrorAtKey("prefix", "no leading or trailing '/': object keys are prefix/...");
  }
  if (!store.role_arn.empty() && !store.role_arn.starts_with("arn:")) {
    return reader.ErrorAtKey("role_arn", "not an ARN (arn:aws:iam::ACCOUNT:role/NAME)");
  }
  if (!store.endpoint.empty() && !store.endpoint.starts_with("http://") && !store.endpoint.starts_with("https://")) {
    return reader.ErrorAtKey("endpoint", "an S3 endpoint is a URL starting with http:// or https://");
  }
  return absl::OkStatus();
}

absl::Status ParseCameraRanges(const TableReader& reader, Zone& zone, ZoneLines& lines) {
  ASSIGN_OR_RETURN(const toml::array* ranges, reader.Array("ranges", false));
  if (ranges == nullptr) return absl::OkStatus();
  for (size_t i = 0; i < ranges->size(); ++i) {
    const toml::node& element = (*ranges)[i];
    const int line = LineOf(element.source());
    const std::string field = absl::StrCat(reader.Field("ranges"), "[", i, "]");
    const toml::array* pair = element.as_array();
    if (pair == nullptr || pair->size() != 2 || !(*pair)[0].is_string() || !(*pair)[1].is_string()) {
      return reader.Error(line, field, "expected a pair of camera ids [\"first\", \"last\"]");
    }
    CameraRange range{.first = *(*pair)[0].value<std::string>(), .last = *(*pair)[1].value<std::string>()};
    for (const std::string* bound : {&range.first, &range.last}) {
      if (std::string problem = CameraIdProblem(*bound); !problem.empty()) {
        return reader.Error(line, field, absl::StrCat("\"", *bound, "\": ", problem));
      }
    }
    if (range.first > range.last) {
      return reader.Error(line, field,
                          absl::StrCat("first \"", range.first, "\" sorts after last \"", range.last,
                                       "\" (ranges compare ids byte by byte)"));
    }
    zone.camera_ranges.push_back(std::move(range));
    lines.camera_ranges.push_back(line);
  }
  return absl::OkStatus();
}

absl::Status ParseCameras(const TableReader& zone_reader, Zone& zone, ZoneLines& lines) {
  ASSIGN_OR_RETURN(const toml::table* table, zone_reader.Table("cameras", false));
  if (table == nullptr) return absl::OkStatus();
  TableReader reader(zone_reader.source(), *table, zone_reader.Field("cameras"));
  RETURN_IF_ERROR(reader.RejectUnknownKeys({"ids", "ranges", "prefixes"}));

  RETURN_IF_ERROR(reader.StringArray("ids", false, zone.camera_ids, lines.camera_ids));
  for (size_t i = 0; i < zone.camera_ids.size(); ++i) {
    if (std::string problem = CameraIdProblem(zone.camera_ids[i]); !problem.empty()) {
      return reader.Error(lines.camera_ids[i], absl::StrCat(reader.Field("ids"), "[", i, "]"),
                          absl::StrCat("\"", zone.camera_ids[i], "\": ", problem));
    }
  }
  RETURN_IF_ERROR(ParseCameraRanges(reader, zone, lines));
  RETURN_IF_ERROR(reader.StringArray("prefixes", false, zone.camera_prefixes, lines.camera_prefixes));
  for (size_t i = 0; i < zone.camera_prefixes.size(); ++i) {
    if (std::string problem = CameraIdProblem(zone.camera_prefixes[i]); !problem.empty()) {
      return reader.Error(lines.camera_prefixes[i], absl::StrCat(reader.Field("prefixes"), "[", i, "]"),
                          absl::StrCat("\"", zone.camera_prefixes[i], "\": ", problem));
    }
  }
  return absl::OkStatus();
}

absl::Status ParseZone(std::string_view source, const toml::table& table, size_t ordinal, Zone& zone,
                       ZoneLines& lines) {
  lines.table = LineOf(table.source());
  // Errors name the zone by its id when it has a usable one, else by its
  // place in the file.
  if (const auto* id = table.get_as<std::string>("id"); id != nullptr && ZoneIdProblem(id->get()).empty()) {
    zone.id = id->get();
  }
  TableReader reader(source, table, ZoneFieldName(zone, ordinal, ""));
  RETURN_IF_ERROR(reader.RejectUnknownKeys(
      {"id", "subnets", "endpoint", "capacity_per_server", "hash", "weight", "store", "cameras"}));
  RETURN_IF_ERROR(reader.String("id", true, zone.id));
  lines.id = reader.KeyLine("id");
  if (std::string problem = ZoneIdProblem(zone.id); !problem.empty()) {
    return reader.ErrorAtKey("id", absl::StrCat("\"", zone.id, "\": ", problem));
  }

  std::vector<std::string> subnets;
  RETURN_IF_ERROR(reader.StringArray("subnets", true, subnets, lines.subnets));
  if (subnets.empty()) {
    return reader.ErrorAtKey("subnets", "must list at least one CIDR (where this zone's servers live)");
  }
  for (size_t i = 0; i < subnets.size(); ++i) {
    absl::StatusOr<Cidr> cidr = Cidr::Parse(subnets[i]);
    if (!cidr.ok()) {
      return reader.Error(lines.subnets[i], absl::StrCat(reader.Field("subnets"), "[", i, "]"),
                          ToStd(cidr.status().message()));
    }
    zone.subnets.push_back(*cidr);
  }

  RETURN_IF_ERROR(reader.String("endpoint", true, zone.endpoint));
  // The same grammar the server's REDIRECT carries and the camera client
  // parses (common/host_port.h).
  if (absl::StatusOr<HostPort> endpoint = ParseEndpoint(zone.endpoint); !endpoint.ok()) {
    return reader.ErrorAtKey("endpoint", ToStd(endpoint.status().message()));
  }

  int64_t capacity = 0;
  RETURN_IF_ERROR(reader.Integer("capacity_per_server", true, capacity));
  if (capacity < 1 || capacity > std::numeric_limits<uint32_t>::max()) {
    return reader.ErrorAtKey("capacity_per_server", absl::StrCat(capacity, " is out of range: cameras per server, 1..",
                                                                 std::numeric_limits<uint32_t>::max()));
  }
  zone.capacity_per_server = static_cast<uint32_t>(capacity);

  RETURN_IF_ERROR(reader.Bool("hash", zone.hash));
  lines.hash = reader.KeyLine("hash");
  RETURN_IF_ERROR(reader.Number("weight", zone.weight));
  if (!std::isfinite(zone.weight) || zone.weight <= 0) {
    return reader.ErrorAtKey("weight", absl::StrCat(zone.weight, " must be a finite number above 0"));
  }

  RETURN_IF_ERROR(ParseStore(reader, zone.store));
  return ParseCameras(reader, zone, lines);
}

absl::Status ParseMapSection(std::string_view source, const toml::node& node, int key_line, ZoneMapSpec& spec) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    return ErrorAt(source, key_line, "map",
                   absl::StrCat("wrong type: expected a table [map], got ", TomlTypeName(node)));
  }
  TableReader reader(source, *table, "map");
  RETURN_IF_ERROR(reader.RejectUnknownKeys({"default"}));
  std::string rule = "hash";
  RETURN_IF_ERROR(reader.String("default", false, rule));
  spec.default_line = table->get("default") != nullptr ? reader.KeyLine("default") : reader.table_line();
  if (rule == "hash") {
    spec.default_rule = DefaultRule::kHash;
  } else if (rule == "none") {
    spec.default_rule = DefaultRule::kNone;
  } else {
    return reader.ErrorAtKey("default", absl::StrCat("\"", rule, "\": expected \"hash\" or \"none\""));
  }
  return absl::OkStatus();
}

absl::Status ParseZones(std::string_view source, const toml::node& node, int key_line, ZoneMapSpec& spec) {
  const toml::array* array = node.as_array();
  if (array == nullptr || !array->is_array_of_tables()) {
    return ErrorAt(source, key_line, "zone",
                   absl::StrCat("wrong type: expected [[zone]] tables, got ", TomlTypeName(node)));
  }
  for (size_t i = 0; i < array->size(); ++i) {
    Zone& zone = spec.zones.emplace_back();
    ZoneLines& lines = spec.lines.emplace_back();
    RETURN_IF_ERROR(ParseZone(source, *(*array)[i].as_table(), i, zone, lines));
  }
  return absl::OkStatus();
}

}  // namespace

std::string ZoneFieldName(const Zone& zone, size_t ordinal, std::string_view field) {
  std::string name = zone.id.empty() || !ZoneIdProblem(zone.id).empty() ? absl::StrCat("zone[#", ordinal + 1, "]")
                                                                        : absl::StrCat("zone[", zone.id, "]");
  if (!field.empty()) absl::StrAppend(&name, ".", ToAbsl(field));
  return name;
}

absl::Status ErrorAt(std::string_view source, int line, std::string_view field, std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat(ToAbsl(source), ":", line, ": ", ToAbsl(field), ": ", ToAbsl(problem)));
}

absl::StatusOr<ZoneMapSpec> ParseZoneMapToml(std::string_view text, std::string_view source_name) {
  ZoneMapSpec spec;
  spec.source_name = std::string(source_name);
  if (text.size() > kMaxZoneMapBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(source_name), ": larger than ", kMaxZoneMapBytes, " bytes; is this the right file?"));
  }
  toml::table document;
  try {
    document = toml::parse(text, source_name);
  } catch (const toml::parse_error& e) {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(source_name), ":", e.source().begin.line,
                                                   ": not valid TOML: ", ToAbsl(e.description()), " (column ",
                                                   e.source().begin.column, ")"));
  }

  for (const auto& [key, node] : document) {
    const int line = LineOf(key.source());
    if (key.str() == "map") {
      RETURN_IF_ERROR(ParseMapSection(source_name, node, line, spec));
    } else if (key.str() == "zone") {
      RETURN_IF_ERROR(ParseZones(source_name, node, line, spec));
    } else {
      return ErrorAt(source_name, line, key.str(),
                     absl::StrCat(node.is_table() || node.is_array_of_tables() ? "unknown table" : "unknown key",
                                  " (a zone map has [map] and [[zone]] tables)"));
    }
  }
  return spec;
}

}  // namespace ingest::zones::zone_map_internal
