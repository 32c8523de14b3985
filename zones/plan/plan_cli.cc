#include "zones/plan/plan_cli.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <functional>
#include <set>
#include <system_error>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "zones/plan/bench_result.h"
#include "zones/plan/bitrate_mix.h"
#include "zones/plan/plan_report.h"
#include "zones/plan/zone_demand_from_map.h"
#include "zones/zone_map.h"

namespace ingest::zones {
namespace {

constexpr char kUsage[] =
    "usage: zonectl plan --cameras N --bench FILE [flags]\n"
    "Sizes zones from a camera count, a bitrate mix and a bench result (bench/results/*.json).\n"
    "Flags (--name=value or --name value; dashes or underscores):\n"
    "  --cameras N                 cameras in the fleet (required)\n"
    "  --bench FILE                bench result JSON, see zones/plan/bench_result.h (required)\n"
    "  --bitrate_mix LIST          kbit/s:share,... shares summing to 1 (default 1000:1)\n"
    "  --cameras_per_zone N        most cameras in one zone (default 13000)\n"
    "  --zone_map FILE             take the zones, their weights and capacity_per_server from a zone map\n"
    "  --instance_cores N          vCPUs of a server (default 8, deploy/terraform's c6in.2xlarge)\n"
    "  --instance_memory_gib N     memory of a server (default 16)\n"
    "  --instance_network_gbps N   sustained network bandwidth per direction (default 5, an assumption:\n"
    "                              set your instance type's baseline)\n"
    "  --spool_disk_mib_per_s N    spool volume throughput, reads plus writes (default 500, deploy/terraform)\n"
    "  --max_connections N         server.max_connections (default 50000)\n"
    "  --nofile N                  RLIMIT_NOFILE of ingestd (default 65536, LimitNOFILE in deploy/systemd)\n"
    "  --shard_memory_bytes SIZE   spool.shard_memory_bytes (default 256MiB)\n"
    "  --seal_bytes SIZE           store.seal_bytes (default 16MiB)\n"
    "  --seal_age_ms N             store.seal_age_ms (default 10000)\n"
    "  --index_interval_s N        store.index_interval_s, whole seconds: the index interval planned; the\n"
    "                              index table compares it with 60, 300, 600, 1800 and 3600 (default 600,\n"
    "                              the server's default)\n"
    "  --upload_threads N          store.upload_threads (default 4)\n"
    "  --put_price_per_1000 USD    S3 PUT price per 1,000 requests (default 0.005)\n"
    "  --hours_per_month N         (default 730)\n"
    "  --target_utilisation F      highest share of a server's capacity in use, all up or after a loss\n"
    "                              (default 0.8)\n"
    "  --azs N                     availability zones a zone's servers spread over (default 3)\n"
    "  --outage_s N                S3 outage the spool must absorb (default 3600)\n"
    "  --spool_max_bytes SIZE      spool.max_bytes, compared with what the outage needs (default 8GiB)\n"
    "  --json                      print JSON instead of the table\n"
    "SIZE: bytes, or a number with B, KiB, MiB, GiB or TiB (\"16MiB\").\n"
    "Exit codes: 0 fine, 1 bad bench result or zone map, 2 usage error.\n";

absl::Status FlagError(std::string_view name, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("--", ToAbsl(name), ": ", ToAbsl(problem)));
}

absl::StatusOr<uint64_t> ParseUnsigned(std::string_view name, std::string_view text, uint64_t max) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) {
    return FlagError(name, absl::StrCat("\"", ToAbsl(text), "\" is not a whole number"));
  }
  if (value > max) return FlagError(name, absl::StrCat(value, " is more than ", max));
  return value;
}

absl::StatusOr<double> ParseDouble(std::string_view name, std::string_view text) {
  double value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size() || !std::isfinite(value)) {
    return FlagError(name, absl::StrCat("\"", ToAbsl(text), "\" is not a number"));
  }
  return value;
}

absl::StatusOr<uint64_t> ParseSize(std::string_view name, std::string_view text) {
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {{"TiB", uint64_t{1} << 40},
                                                                     {"GiB", uint64_t{1} << 30},
                                                                     {"MiB", uint64_t{1} << 20},
                                                                     {"KiB", uint64_t{1} << 10},
                                                                     {"B", 1}};
  uint64_t unit = 1;
  std::string_view number = text;
  for (const auto& [suffix, bytes] : kUnits) {
    if (absl::EndsWith(ToAbsl(text), ToAbsl(suffix))) {
      unit = bytes;
      number = ToStd(absl::StripTrailingAsciiWhitespace(ToAbsl(text.substr(0, text.size() - suffix.size()))));
      break;
    }
  }
  absl::StatusOr<uint64_t> value = ParseUnsigned(name, number, (uint64_t{1} << 50) / unit);
  if (!value.ok()) {
    return FlagError(name, absl::StrCat("\"", ToAbsl(text),
                                        "\" is not a size (bytes, or a whole number with B, KiB, MiB, GiB or TiB, "
                                        "at most 1 PiB)"));
  }
  return *value * unit;
}

absl::StatusOr<bool> ParseBool(std::string_view name, std::string_view text) {
  if (text == "true" || text == "1") return true;
  if (text == "false" || text == "0") return false;
  return FlagError(name, absl::StrCat("\"", ToAbsl(text), "\" is not true or false"));
}

// One flag: whether it takes a value, and how to store it.
struct FlagSpec {
  std::string_view name;
  bool is_bool;
  std::function<absl::Status(std::string_view value, PlanFlags* flags)> set;
};

template <typename T>
absl::Status Store(absl::StatusOr<T> parsed, T* field) {
  if (!parsed.ok()) return parsed.status();
  *field = *parsed;
  return absl::OkStatus();
}

template <typename T>
absl::Status StoreNarrow(absl::StatusOr<uint64_t> parsed, T* field) {
  if (!parsed.ok()) return parsed.status();
  *field = static_cast<T>(*parsed);
  return absl::OkStatus();
}

const std::vector<FlagSpec>& FlagSpecs() {
  static const auto* specs = new std::vector<FlagSpec>{
      {"cameras", false,
       [](auto v, PlanFlags* f) { return Store(ParseUnsigned("cameras", v, 1'000'000'000), &f->options.cameras); }},
      {"bench", false,
       [](auto v, PlanFlags* f) {
         if (v.empty()) return FlagError("bench", "needs a file");
         f->bench_path = std::string(v);
         return absl::OkStatus();
       }},
      {"bitrate_mix", false, [](auto v, PlanFlags* f) { return Store(ParseBitrateMix(v), &f->options.mix); }},
      {"cameras_per_zone", false,
       [](auto v, PlanFlags* f) {
         return StoreNarrow(ParseUnsigned("cameras_per_zone", v, 10'000'000), &f->options.cameras_per_zone);
       }},
      {"zone_map", false,
       [](auto v, PlanFlags* f) {
         if (v.empty()) return FlagError("zone_map", "needs a file");
         f->zone_map_path = std::string(v);
         return absl::OkStatus();
       }},
      {"instance_cores", false,
       [](auto v, PlanFlags* f) { return Store(ParseDouble("instance_cores", v), &f->options.instance.cores); }},
      {"instance_memory_gib", false,
       [](auto v, PlanFlags* f) {
         return Store(ParseDouble("instance_memory_gib", v), &f->options.instance.memory_gib);
       }},
      {"instance_network_gbps", false,
       [](auto v, PlanFlags* f) {
         return Store(ParseDouble("instance_network_gbps", v), &f->options.instance.network_gbps);
       }},
      {"spool_disk_mib_per_s", false,
       [](auto v, PlanFlags* f) {
         f->spool_disk_given = true;
         return Store(ParseDouble("spool_disk_mib_per_s", v), &f->options.instance.spool_disk_mib_per_s);
       }},
      {"max_connections", false,
       [](auto v, PlanFlags* f) {
         return StoreNarrow(ParseUnsigned("max_connections", v, 10'000'000), &f->options.instance.max_connections);
       }},
      {"nofile", false,
       [](auto v, PlanFlags* f) {
         return Store(ParseUnsigned("nofile", v, uint64_t{1} << 31), &f->options.instance.nofile);
       }},
      {"shard_memory_bytes", false,
       [](auto v, PlanFlags* f) {
         return Store(ParseSize("shard_memory_bytes", v), &f->options.instance.shard_memory_bytes);
       }},
      {"seal_bytes", false,
       [](auto v, PlanFlags* f) { return Store(ParseSize("seal_bytes", v), &f->options.store.seal_bytes); }},
      {"seal_age_ms", false,
       [](auto v, PlanFlags* f) { return Store(ParseDouble("seal_age_ms", v), &f->options.store.seal_age_ms); }},
      {"index_interval_s", false,
       [](auto v, PlanFlags* f) {
         return StoreNarrow(ParseUnsigned("index_interval_s", v, 86'400), &f->options.store.index_interval_s);
       }},
      {"upload_threads", false,
       [](auto v, PlanFlags* f) {
         return StoreNarrow(ParseUnsigned("upload_threads", v, 1024), &f->options.store.upload_threads);
       }},
      {"put_price_per_1000", false,
       [](auto v, PlanFlags* f) {
         return Store(ParseDouble("put_price_per_1000", v), &f->options.store.put_price_per_1000);
       }},
      {"hours_per_month", false,
       [](auto v, PlanFlags* f) {
         return Store(ParseDouble("hours_per_month", v), &f->options.store.hours_per_month);
       }},
      {"target_utilisation", false,
       [](auto v, PlanFlags* f) {
         return Store(ParseDouble("target_utilisation", v), &f->options.target_utilisation);
       }},
      {"azs", false, [](auto v, PlanFlags* f) { return StoreNarrow(ParseUnsigned("azs", v, 1000), &f->options.azs); }},
      {"outage_s", false, [](auto v, PlanFlags* f) { return Store(ParseDouble("outage_s", v), &f->options.outage_s); }},
      {"spool_max_bytes", false,
       [](auto v, PlanFlags* f) { return Store(ParseSize("spool_max_bytes", v), &f->options.spool_max_bytes); }},
      {"json", true, [](auto v, PlanFlags* f) { return Store(ParseBool("json", v), &f->json); }},
      {"help", true, [](auto v, PlanFlags* f) { return Store(ParseBool("help", v), &f->help); }},
  };
  return *specs;
}

const FlagSpec* FindFlag(std::string_view name) {
  for (const FlagSpec& spec : FlagSpecs()) {
    if (spec.name == name) return &spec;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<PlanFlags> ParsePlanFlags(const std::vector<std::string>& args) {
  PlanFlags flags;
  flags.options.mix.entries = {{.kbps = 1000, .share = 1}};
  std::set<std::string_view> seen;
  for (size_t i = 0; i < args.size(); ++i) {
    std::string_view arg = args[i];
    if (arg == "-h") arg = "--help";
    if (!absl::StartsWith(ToAbsl(arg), "--") || arg.size() == 2) {
      return absl::InvalidArgumentError(
          absl::StrCat("unexpected argument \"", ToAbsl(arg), "\" (flags start with --)"));
    }
    std::string_view body = arg.substr(2);
    size_t eq = body.find('=');
    std::string name = absl::StrReplaceAll(ToAbsl(body.substr(0, eq)), {{"-", "_"}});
    const FlagSpec* spec = FindFlag(name);
    if (spec == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag --", name, " (zonectl plan --help lists them)"));
    }
    if (!seen.insert(spec->name).second) return FlagError(spec->name, "given twice");
    std::string_view value;
    if (eq != std::string_view::npos) {
      value = body.substr(eq + 1);
    } else if (spec->is_bool) {
      value = "true";
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return FlagError(spec->name, "needs a value");
    }
    RETURN_IF_ERROR(spec->set(value, &flags));
  }
  if (flags.help) return flags;
  if (!seen.contains("cameras")) return FlagError("cameras", "missing: how many cameras to plan for");
  if (!seen.contains("bench")) {
    return FlagError("bench", "missing: a bench result JSON for per-server capacity (e.g. bench/results/*.json)");
  }
  RETURN_IF_ERROR(ValidatePlanOptions(flags.options));
  return flags;
}

int RunPlan(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::vector<std::string> flag_args(args.begin() + std::min<size_t>(1, args.size()), args.end());
  absl::StatusOr<PlanFlags> flags = ParsePlanFlags(flag_args);
  if (!flags.ok()) {
    err << "zonectl plan: " << flags.status().message() << "\n" << kUsage;
    return kPlanExitUsage;
  }
  if (flags->help) {
    out << kUsage;
    return kPlanExitOk;
  }
  auto input_error = [&](const absl::Status& status) {
    err << "zonectl plan: " << status.message() << "\n";
    return kPlanExitBadInput;
  };
  absl::StatusOr<BenchResult> bench = LoadBenchResult(flags->bench_path);
  if (!bench.ok()) return input_error(bench.status());

  PlanOptions options = flags->options;
  std::vector<ZoneDemand> zones;
  PlanSources sources{.bench_path = flags->bench_path, .bench = &*bench, .zones_from = ""};
  if (bench->spool_disk_mb_per_s && !flags->spool_disk_given) {
    // Measured on the machine the bench ran on beats the assumed default.
    options.instance.spool_disk_mib_per_s = *bench->spool_disk_mb_per_s * 1e6 / (1024 * 1024);
    sources.spool_disk_measured = true;
  }
  if (flags->zone_map_path.empty()) {
    zones = EvenZones(options.cameras, options.cameras_per_zone);
    sources.zones_from = absl::StrCat("--cameras_per_zone ", FormatCount(options.cameras_per_zone),
                                      ": cameras spread evenly over the fewest zones that hold them");
  } else {
    absl::StatusOr<ZoneMap> map = ZoneMap::Load(flags->zone_map_path);
    if (!map.ok()) return input_error(map.status());
    absl::StatusOr<std::vector<ZoneDemand>> from_map = ZoneDemandsFromMap(*map, options.cameras);
    if (!from_map.ok())
      return input_error(
          absl::InvalidArgumentError(absl::StrCat(flags->zone_map_path, ": ", from_map.status().message())));
    zones = *std::move(from_map);
    sources.zones_from = absl::StrCat("zone map ", flags->zone_map_path,
                                      ": hashed cameras shared by weight; pinned cameras not counted");
  }
  absl::StatusOr<CapacityPlan> plan = ComputePlan(options, *bench, zones);
  if (!plan.ok()) return input_error(plan.status());
  if (flags->json) {
    WritePlanJson(*plan, sources, out);
  } else {
    WritePlanText(*plan, sources, out);
  }
  return kPlanExitOk;
}

}  // namespace ingest::zones
