#include "zones/plan/bench_result.h"

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "common/json_value.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"

namespace ingest::zones {
namespace {

constexpr size_t kMaxTextBytes = 1000;
constexpr size_t kMaxCommands = 32;
// Lets a run's throughput exceed its nominal offered load by this much: the
// camera clock and the bench's timing are not exact.
constexpr double kOfferedLoadSlack = 1.10;

// Whole numbers in full ("10000000", not "1e+07"), so limits read plainly.
std::string Num(double v) { return absl::StrFormat("%.15g", v); }

bool IsDate(std::string_view s) {
  if (s.size() != 10 || s[4] != '-' || s[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9}) {
    if (s[i] < '0' || s[i] > '9') return false;
  }
  int month = (s[5] - '0') * 10 + (s[6] - '0');
  int day = (s[8] - '0') * 10 + (s[9] - '0');
  return month >= 1 && month <= 12 && day >= 1 && day <= 31;
}

// Reads the members of one bench document, remembering which it has seen so
// unknown ones can be reported; every error names the field.
class FieldReader {
 public:
  FieldReader(const JsonValue& doc, std::string_view source) : doc_(doc), source_(source) {}

  absl::Status Error(std::string_view field, std::string_view problem) const {
    return absl::InvalidArgumentError(absl::StrCat(source_, ": ", ToAbsl(field), ": ", ToAbsl(problem)));
  }

  const JsonValue* Get(std::string_view field) {
    seen_.insert(std::string(field));
    return doc_.Find(field);
  }

  // A number within [min, max] (`min_exclusive`: must exceed min).
  absl::StatusOr<double> Number(std::string_view field, double min, double max, bool min_exclusive = true) {
    const JsonValue* v = Get(field);
    if (v == nullptr) return Error(field, "missing");
    return CheckNumber(field, *v, min, max, min_exclusive);
  }

  absl::StatusOr<std::optional<double>> OptionalNumber(std::string_view field, double min, double max) {
    const JsonValue* v = Get(field);
    if (v == nullptr) return std::optional<double>();
    ASSIGN_OR_RETURN(double value, CheckNumber(field, *v, min, max, true));
    return std::optional<double>(value);
  }

  absl::StatusOr<uint64_t> Integer(std::string_view field, uint64_t min, uint64_t max) {
    ASSIGN_OR_RETURN(double value, Number(field, static_cast<double>(min), static_cast<double>(max), false));
    if (value != std::floor(value)) return Error(field, absl::StrCat("must be a whole number, got ", Num(value)));
    return static_cast<uint64_t>(value);
  }

  absl::StatusOr<std::optional<uint64_t>> OptionalInteger(std::string_view field, uint64_t min, uint64_t max) {
    if (doc_.Find(field) == nullptr) {
      seen_.insert(std::string(field));
      return std::optional<uint64_t>();
    }
    ASSIGN_OR_RETURN(uint64_t value, Integer(field, min, max));
    return std::optional<uint64_t>(value);
  }

  absl::StatusOr<std::string> Text(std::string_view field) {
    const JsonValue* v = Get(field);
    if (v == nullptr) return Error(field, "missing");
    return CheckText(field, *v);
  }

  // An array of non-empty strings; `allow_single` also takes one plain string.
  absl::StatusOr<std::vector<std::string>> TextList(std::string_view field, bool required, bool allow_single) {
    const JsonValue* v = Get(field);
    std::vector<std::string> out;
    if (v == nullptr) {
      if (required) return Error(field, "missing");
      return out;
    }
    if (allow_single && v->is_string()) {
      ASSIGN_OR_RETURN(std::string text, CheckText(field, *v));
      out.push_back(std::move(text));
      return out;
    }
    if (!v->is_array()) return Error(field, absl::StrCat("must be an array of strings, got ", JsonTypeName(v->type())));
    if (v->items().empty() && required) return Error(field, "must not be empty");
    if (v->items().size() > kMaxCommands) return Error(field, absl::StrCat("more than ", kMaxCommands, " entries"));
    for (size_t i = 0; i < v->items().size(); ++i) {
      ASSIGN_OR_RETURN(std::string text, CheckText(absl::StrCat(ToAbsl(field), "[", i, "]"), v->items()[i]));
      out.push_back(std::move(text));
    }
    return out;
  }

  absl::Status CheckNoUnknownFields() const {
    for (const auto& [name, value] : doc_.members()) {
      if (!seen_.contains(name)) {
        return absl::InvalidArgumentError(
            absl::StrCat(source_, ":", value.line(), ": unknown field \"", name, "\" (see zones/plan/bench_result.h)"));
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<double> CheckNumber(std::string_view field, const JsonValue& v, double min, double max,
                                     bool min_exclusive) const {
    if (!v.is_number()) return Error(field, absl::StrCat("must be a number, got ", JsonTypeName(v.type())));
    double value = v.number();
    bool too_small = min_exclusive ? value <= min : value < min;
    if (too_small || value > max) {
      return Error(field, absl::StrCat("must be in ", min_exclusive ? "(" : "[", Num(min), ", ", Num(max), "], got ",
                                       Num(value)));
    }
    return value;
  }

  absl::StatusOr<std::string> CheckText(std::string_view field, const JsonValue& v) const {
    if (!v.is_string()) return Error(field, absl::StrCat("must be a string, got ", JsonTypeName(v.type())));
    if (v.string().empty()) return Error(field, "must not be empty");
    if (v.string().size() > kMaxTextBytes) return Error(field, absl::StrCat("longer than ", kMaxTextBytes, " bytes"));
    return v.string();
  }

  const JsonValue& doc_;
  std::string source_;
  std::set<std::string, std::less<>> seen_;
};

}  // namespace

double BenchResult::IngestCoresPerMBps() const {
  double cores = server_cpu_cores / throughput_mb_per_s;
  if (closed_loop_mb_per_s && closed_loop_cpu_cores) {
    cores = std::max(cores, *closed_loop_cpu_cores / *closed_loop_mb_per_s);
  }
  return cores;
}

double BenchResult::UploadCoresPerMBps() const {
  if (!upload_cpu_ms_per_put || !upload_put_bytes) return 0;
  return (*upload_cpu_ms_per_put / 1000) / (static_cast<double>(*upload_put_bytes) / 1e6);
}

namespace {

absl::StatusOr<BenchResult> ParseBenchObject(const JsonValue& doc, std::string_view source_name) {
  if (!doc.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(ToAbsl(source_name), ": must be a JSON object, got ", JsonTypeName(doc.type())));
  }
  FieldReader r(doc, source_name);
  BenchResult b;

  ASSIGN_OR_RETURN(uint64_t version, r.Integer("schema_version", 1, 1000));
  if (version != 1) return r.Error("schema_version", absl::StrCat("this zonectl reads version 1, got ", version));
  ASSIGN_OR_RETURN(b.date, r.Text("date"));
  if (!IsDate(b.date)) return r.Error("date", absl::StrCat("must be YYYY-MM-DD, got \"", b.date, "\""));
  ASSIGN_OR_RETURN(b.machine, r.Text("machine"));
  ASSIGN_OR_RETURN(b.machine_cores, r.Number("machine_cores", 0, 1024));
  ASSIGN_OR_RETURN(b.commands, r.TextList("commands", /*required=*/true, /*allow_single=*/false));

  ASSIGN_OR_RETURN(uint64_t cameras, r.Integer("cameras", 1, 10'000'000));
  b.cameras = static_cast<uint32_t>(cameras);
  ASSIGN_OR_RETURN(b.bitrate_kbps, r.Number("bitrate_kbps", 0, 1'000'000));
  ASSIGN_OR_RETURN(b.segment_bytes, r.Integer("segment_bytes", 1, uint64_t{256} << 20));
  ASSIGN_OR_RETURN(b.throughput_mb_per_s, r.Number("throughput_mb_per_s", 0, 1'000'000));
  double offered_mb_per_s = b.cameras * b.bitrate_kbps * 1000 / 8 / 1e6;
  if (b.throughput_mb_per_s > offered_mb_per_s * kOfferedLoadSlack) {
    return r.Error(
        "throughput_mb_per_s",
        absl::StrCat(b.throughput_mb_per_s, " MB/s is more than ", b.cameras, " cameras at ", b.bitrate_kbps,
                     " kbit/s can send (", offered_mb_per_s, " MB/s); check the units (MB/s = 10^6 bytes per second)"));
  }
  ASSIGN_OR_RETURN(b.server_cpu_cores, r.Number("server_cpu_cores", 0, 1024));
  if (b.server_cpu_cores > b.machine_cores) {
    return r.Error("server_cpu_cores",
                   absl::StrCat(b.server_cpu_cores, " is more than the machine's ", b.machine_cores, " cores"));
  }
  ASSIGN_OR_RETURN(b.idle_kb_per_camera, r.Number("idle_kb_per_camera", 0, 10'000));

  ASSIGN_OR_RETURN(b.rss_mib, r.OptionalNumber("rss_mib", 0, 1 << 20));
  ASSIGN_OR_RETURN(b.closed_loop_mb_per_s, r.OptionalNumber("closed_loop_mb_per_s", 0, 1'000'000));
  ASSIGN_OR_RETURN(b.closed_loop_cpu_cores, r.OptionalNumber("closed_loop_cpu_cores", 0, 1024));
  if (b.closed_loop_mb_per_s.has_value() != b.closed_loop_cpu_cores.has_value()) {
    return r.Error(b.closed_loop_mb_per_s ? "closed_loop_cpu_cores" : "closed_loop_mb_per_s",
                   "missing: closed_loop_mb_per_s and closed_loop_cpu_cores go together");
  }
  if (b.closed_loop_cpu_cores && *b.closed_loop_cpu_cores > b.machine_cores) {
    return r.Error("closed_loop_cpu_cores",
                   absl::StrCat(*b.closed_loop_cpu_cores, " is more than the machine's ", b.machine_cores, " cores"));
  }
  ASSIGN_OR_RETURN(b.upload_cpu_ms_per_put, r.OptionalNumber("upload_cpu_ms_per_put", 0, 60'000));
  ASSIGN_OR_RETURN(b.upload_put_bytes, r.OptionalInteger("upload_put_bytes", 1, uint64_t{5} << 30));
  if (b.upload_cpu_ms_per_put.has_value() != b.upload_put_bytes.has_value()) {
    return r.Error(b.upload_cpu_ms_per_put ? "upload_put_bytes" : "upload_cpu_ms_per_put",
                   "missing: upload_cpu_ms_per_put and upload_put_bytes go together");
  }
  ASSIGN_OR_RETURN(std::optional<uint64_t> cap, r.OptionalInteger("max_cameras_per_server", 1, 10'000'000));
  if (cap) b.max_cameras_per_server = static_cast<uint32_t>(*cap);
  ASSIGN_OR_RETURN(b.spool_disk_mb_per_s, r.OptionalNumber("spool_disk_mb_per_s", 0, 1'000'000));
  ASSIGN_OR_RETURN(b.notes, r.TextList("notes", /*required=*/false, /*allow_single=*/true));
  RETURN_IF_ERROR(r.CheckNoUnknownFields());
  return b;
}

}  // namespace

absl::StatusOr<BenchResult> ParseBenchResult(std::string_view json, std::string_view source_name) {
  absl::StatusOr<JsonValue> doc = ParseJson(json);
  if (!doc.ok()) return absl::InvalidArgumentError(absl::StrCat(ToAbsl(source_name), ": ", doc.status().message()));
  const std::string* tool = doc->is_object() ? doc->FindString("tool") : nullptr;
  if (tool == nullptr) return ParseBenchObject(*doc, source_name);
  // A camera-bench result: `camera-bench capacity` puts what a plan needs in
  // plan_input (when it could see the server's CPU and memory).
  if (*tool != "camera-bench") {
    return absl::InvalidArgumentError(absl::StrCat(ToAbsl(source_name), ": a result of \"", *tool,
                                                   "\", not a bench result or a camera-bench result"));
  }
  const JsonValue* input = doc->Find("plan_input");
  if (input == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        ToAbsl(source_name),
        ": a camera-bench result without plan_input: plans need a `camera-bench capacity` result from a run that "
        "saw the server's CPU and memory (the server on the same machine)"));
  }
  return ParseBenchObject(*input, absl::StrCat(ToAbsl(source_name), ": plan_input"));
}

absl::StatusOr<BenchResult> LoadBenchResult(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::exists(path, ec) && !std::filesystem::is_regular_file(path, ec)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::InvalidArgumentError(absl::StrCat(path, ": cannot open: ", std::strerror(errno)));
  std::string text;
  char buf[64 * 1024];
  while (in.read(buf, sizeof(buf)) || in.gcount() > 0) {
    text.append(buf, static_cast<size_t>(in.gcount()));
    if (text.size() > kMaxBenchResultBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": larger than ", kMaxBenchResultBytes, " bytes; not a bench result"));
    }
  }
  if (in.bad()) return absl::InvalidArgumentError(absl::StrCat(path, ": read error"));
  return ParseBenchResult(text, path);
}

}  // namespace ingest::zones
