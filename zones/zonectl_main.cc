// zonectl: checks a zone map, says which zone a camera belongs to and why,
// counts how many cameras a change of the map moves, and plans zone sizes.
//
//   zonectl check /etc/ingestd/zones.toml
//   zonectl where --map /etc/ingestd/zones.toml cam-000001 acme-0042
//   zonectl diff zones-old.toml zones-new.toml                  # 1,000,000 ids cam-0000001..
//   zonectl diff old.toml new.toml --cameras camera-ids.txt
//   zonectl plan --help
//
// Exit codes: 0 fine, 1 a bad map or input file (or an unknown camera for
// `where`), 2 a usage error.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/strip.h"
#include "common/std_string_view.h"
#include "zones/camera_id_format.h"
#include "zones/plan/plan_command.h"
#include "zones/zone_map.h"
#include "zones/zone_map_diff.h"

ABSL_FLAG(std::string, map, "", "where: the zone map file");
ABSL_FLAG(std::string, cameras, "", "diff: a file of camera ids, one per line ('#' starts a comment line)");
ABSL_FLAG(std::optional<int64_t>, synthetic, std::nullopt,
          "diff: count N synthetic camera ids numbered 1..N (the default: 1000000)");
ABSL_FLAG(std::string, id_format, "cam-%07d", "diff: the pattern of synthetic camera ids");

namespace ingest::zones {
namespace {

constexpr char kUsage[] =
    "checks zone maps and answers where cameras go.\n"
    "  zonectl check FILE                        validate a zone map and print a summary\n"
    "  zonectl where --map FILE CAMERA...        each camera's zone, endpoint and why\n"
    "  zonectl diff OLD NEW [--cameras FILE | --synthetic N --id_format cam-%07d]\n"
    "                                            how many cameras move between which zones\n"
    "                                            (default: 1000000 synthetic ids)\n"
    "  zonectl plan [flags]                      servers and zones from a camera count and a bench\n"
    "                                            result (zonectl plan --help)\n"
    "Exit codes: 0 fine, 1 bad map or input (or an unknown camera), 2 usage error.";

constexpr int64_t kDefaultSyntheticCameras = 1'000'000;
constexpr int64_t kMaxSyntheticCameras = 100'000'000;

// An error and the exit code it maps to.
struct Failure {
  int exit_code;
  std::string message;
};

int Fail(const Failure& failure) {
  std::fprintf(stderr, "zonectl: %s\n", failure.message.c_str());
  if (failure.exit_code == 2) std::fprintf(stderr, "%s\n", kUsage);
  return failure.exit_code;
}
int UsageError(std::string message) { return Fail({2, std::move(message)}); }
int InputError(const absl::Status& status) { return Fail({1, std::string(status.message())}); }

// absl flags are snake_case and exit 1 on a bad flag; operators type
// dashes, and a bad flag is a usage error (2). Rewrites "--id-format" to
// "--id_format" and refuses unknown flags and unparsable values up front.
std::vector<char*> NormalizeAndCheckFlags(int argc, char** argv, std::vector<std::string>& storage,
                                          std::optional<Failure>& failure) {
  storage.reserve(static_cast<size_t>(argc));
  std::vector<char*> out;
  bool flags_ended = false;
  bool is_value = false;  // the argument after "--map", not a flag itself
  for (int i = 0; i < argc; ++i) {
    std::string arg = argv[i];
    const bool is_flag = i > 0 && !flags_ended && !is_value && arg.size() > 1 && arg[0] == '-';
    is_value = false;
    if (arg == "--") flags_ended = true;
    if (is_flag && arg != "--" && !failure) {
      size_t start = std::min(arg.find_first_not_of('-'), arg.size());
      size_t end = std::max(start, std::min(arg.find('='), arg.size()));
      for (size_t j = start; j < end; ++j) {
        if (arg[j] == '-') arg[j] = '_';
      }
      std::string name = arg.substr(start, end - start);
      absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
      if (flag == nullptr) {
        failure = Failure{2, absl::StrCat("unknown flag ", arg.substr(0, end))};
      } else if (!flag->IsOfType<bool>()) {
        std::optional<std::string> value;
        if (end < arg.size()) {
          value = arg.substr(end + 1);
        } else if (i + 1 < argc) {
          value = argv[i + 1];
          is_value = true;
        }
        std::string error;
        if (!value)
          failure = Failure{2, absl::StrCat("--", name, " needs a value")};
        else if (!flag->ParseFrom(*value, &error))
          failure = Failure{2, absl::StrCat("--", name, ": ", error)};
      }
    }
    storage.push_back(std::move(arg));
  }
  for (std::string& s : storage) out.push_back(s.data());
  return out;
}

// Columns padded to their widest cell; the last column is not padded.
void PrintTable(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (widths.size() < row.size()) widths.resize(row.size(), 0);
    for (size_t c = 0; c < row.size(); ++c) widths[c] = std::max(widths[c], row[c].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (size_t c = 0; c < row.size(); ++c) {
      line += row[c];
      if (c + 1 < row.size()) line.append(widths[c] - row[c].size() + 2, ' ');
    }
    std::printf("%s\n", line.c_str());
  }
}

std::string Percent(double share) {
  char buffer[32];
  std::snprintf(buffer, sizeof(buffer), "%.2f%%", 100.0 * share);
  return buffer;
}

std::string Plural(size_t n, std::string_view one, std::string_view many) {
  return absl::StrCat(n, " ",
                      n == 1 ? ToAbsl(one) : ToAbsl(many));
}

std::string StoreSummary(const ZoneStore& store) {
  std::string text = absl::StrCat("s3://", store.bucket, "/", store.prefix, "  region ", store.region);
  if (!store.role_arn.empty()) absl::StrAppend(&text, "  role ", store.role_arn);
  if (!store.endpoint.empty()) absl::StrAppend(&text, "  endpoint ", store.endpoint);
  return text;
}

int RunCheck(const std::vector<std::string>& operands) {
  if (operands.size() != 1) return UsageError("check takes one zone map file");
  absl::StatusOr<ZoneMap> map = ZoneMap::Load(operands[0]);
  if (!map.ok()) return InputError(map.status());

  double hashed_weight = 0;
  std::vector<std::string> hashed;
  for (const Zone& zone : map->zones()) {
    if (zone.hash) {
      hashed_weight += zone.weight;
      hashed.push_back(zone.id);
    }
  }
  std::printf("%s: ok, %s, sha256 %s\n", operands[0].c_str(), Plural(map->zones().size(), "zone", "zones").c_str(),
              map->digest().c_str());
  if (map->default_rule() == DefaultRule::kHash) {
    std::printf("cameras no pin matches: rendezvous hash over %s (%s)\n",
                Plural(hashed.size(), "zone", "zones").c_str(), absl::StrJoin(hashed, ", ").c_str());
  } else {
    std::printf("cameras no pin matches: unknown, rejected (default = \"none\")\n");
  }
  for (const Zone& zone : map->zones()) {
    std::vector<std::string> subnets;
    for (const Cidr& net : zone.subnets) subnets.push_back(net.ToString());
    std::string hash = "no (pinned cameras only)";
    if (zone.hash && map->default_rule() == DefaultRule::kHash) {
      hash = absl::StrCat("weight ", zone.weight, " (", Percent(zone.weight / hashed_weight), " of hashed cameras)");
    } else if (zone.hash) {
      hash = absl::StrCat("weight ", zone.weight, " (unused: default = \"none\")");
    }
    std::printf("\nzone %s\n", zone.id.c_str());
    PrintTable({{"  endpoint", zone.endpoint},
                {"  subnets", absl::StrJoin(subnets, ", ")},
                {"  store", StoreSummary(zone.store)},
                {"  capacity", absl::StrCat(zone.capacity_per_server, " cameras per server")},
                {"  hash", hash},
                {"  pins", absl::StrCat(Plural(zone.camera_ids.size(), "id", "ids"), ", ",
                                        Plural(zone.camera_ranges.size(), "range", "ranges"), ", ",
                                        Plural(zone.camera_prefixes.size(), "prefix", "prefixes"))}});
  }
  return 0;
}

int RunWhere(const std::vector<std::string>& cameras) {
  const std::string path = absl::GetFlag(FLAGS_map);
  if (path.empty()) return UsageError("where needs --map FILE");
  if (cameras.empty()) return UsageError("where needs at least one camera id");
  absl::StatusOr<ZoneMap> map = ZoneMap::Load(path);
  if (!map.ok()) return InputError(map.status());

  std::vector<std::vector<std::string>> rows = {{"camera", "zone", "endpoint", "rule", "reason"}};
  bool any_unknown = false;
  for (const std::string& camera : cameras) {
    Placement placement = map->Place(camera);
    any_unknown = any_unknown || placement.zone == nullptr;
    rows.push_back({camera, placement.zone ? placement.zone->id : "-", placement.zone ? placement.zone->endpoint : "-",
                    PlacementRuleName(placement.rule), placement.reason});
  }
  PrintTable(rows);
  return any_unknown ? 1 : 0;
}

absl::StatusOr<std::vector<std::string>> ReadCameraList(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read camera list ", path));
  std::vector<std::string> ids;
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view id = absl::StripAsciiWhitespace(line);
    if (id.empty() || id.front() == '#') continue;
    ids.emplace_back(id);
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading camera list ", path));
  if (ids.empty()) return absl::InvalidArgumentError(absl::StrCat(path, ": no camera ids"));
  return ids;
}

std::string ZoneName(const std::string& id) { return id.empty() ? "(unknown)" : id; }

void PrintDiff(const ZoneMapDiff& diff) {
  std::vector<std::vector<std::string>> zones = {{"zone", "old", "new", "change"}};
  std::map<std::string, std::pair<uint64_t, uint64_t>> counts;
  for (const auto& [zone, n] : diff.old_counts) counts[zone].first = n;
  for (const auto& [zone, n] : diff.new_counts) counts[zone].second = n;
  for (const auto& [zone, n] : counts) {
    int64_t change = static_cast<int64_t>(n.second) - static_cast<int64_t>(n.first);
    zones.push_back(
        {ZoneName(zone), absl::StrCat(n.first), absl::StrCat(n.second), absl::StrCat(change > 0 ? "+" : "", change)});
  }
  PrintTable(zones);

  std::printf("\n");
  std::vector<std::vector<std::string>> moves = {{"from", "to", "cameras", "share"}};
  for (const ZoneMove& move : diff.moves) {
    moves.push_back({ZoneName(move.from), ZoneName(move.to), absl::StrCat(move.cameras),
                     Percent(static_cast<double>(move.cameras) / static_cast<double>(diff.cameras))});
  }
  if (diff.moves.empty()) moves.push_back({"-", "-", "0", Percent(0)});
  PrintTable(moves);
  std::printf("\nmoved: %llu of %llu cameras (%s)\n", static_cast<unsigned long long>(diff.moved),
              static_cast<unsigned long long>(diff.cameras),
              Percent(static_cast<double>(diff.moved) / static_cast<double>(diff.cameras)).c_str());
}

int RunDiff(const std::vector<std::string>& operands) {
  if (operands.size() != 2) return UsageError("diff takes two zone map files: OLD NEW");
  const std::string camera_file = absl::GetFlag(FLAGS_cameras);
  const std::optional<int64_t> synthetic = absl::GetFlag(FLAGS_synthetic);
  if (!camera_file.empty() && synthetic) return UsageError("give --cameras or --synthetic, not both");
  const int64_t count = synthetic.value_or(kDefaultSyntheticCameras);
  if (count < 1 || count > kMaxSyntheticCameras) {
    return UsageError(absl::StrCat("--synthetic must be 1..", kMaxSyntheticCameras));
  }
  absl::StatusOr<CameraIdFormat> format = CameraIdFormat::Parse(absl::GetFlag(FLAGS_id_format));
  if (!format.ok()) return UsageError(absl::StrCat("--id_format: ", format.status().message()));

  absl::StatusOr<ZoneMap> old_map = ZoneMap::Load(operands[0]);
  if (!old_map.ok()) return InputError(old_map.status());
  absl::StatusOr<ZoneMap> new_map = ZoneMap::Load(operands[1]);
  if (!new_map.ok()) return InputError(new_map.status());

  ZoneMapDiffer differ(*old_map, *new_map);
  if (!camera_file.empty()) {
    absl::StatusOr<std::vector<std::string>> ids = ReadCameraList(camera_file);
    if (!ids.ok()) return InputError(ids.status());
    for (const std::string& id : *ids) differ.Add(id);
    std::printf("cameras: %zu from %s\n\n", ids->size(), camera_file.c_str());
  } else {
    std::string id;
    for (int64_t n = 1; n <= count; ++n) {
      format->FormatTo(static_cast<uint64_t>(n), id);
      differ.Add(id);
    }
    std::printf("cameras: %lld synthetic ids %s .. %s\n\n", static_cast<long long>(count), format->Format(1).c_str(),
                format->Format(static_cast<uint64_t>(count)).c_str());
  }
  PrintDiff(differ.Finish());
  return 0;
}

bool AsksForHelp(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (arg == "--") return false;
    if ((i == 1 && arg == "help") || arg == "-h" || arg == "--help" || arg == "-help" || arg == "--helpfull") {
      return true;
    }
  }
  return false;
}

int Run(int argc, char** argv) {
  if (AsksForHelp(argc, argv)) {
    std::printf("zonectl %s\n", kUsage);
    return 0;
  }
  std::vector<std::string> storage;
  std::optional<Failure> failure;
  std::vector<char*> normalized = NormalizeAndCheckFlags(argc, argv, storage, failure);
  if (failure) return Fail(*failure);
  std::vector<char*> args = absl::ParseCommandLine(static_cast<int>(normalized.size()), normalized.data());
  if (args.size() < 2) return UsageError("missing command");
  const std::string command = args[1];
  std::vector<std::string> operands(args.begin() + 2, args.end());
  if (command == "check") return RunCheck(operands);
  if (command == "where") return RunWhere(operands);
  if (command == "diff") return RunDiff(operands);
  return UsageError(absl::StrCat("unknown command \"", command, "\""));
}

}  // namespace
}  // namespace ingest::zones

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(ingest::zones::kUsage);
  // `plan` parses its own flags, so it is handed the command line before
  // absl sees flags it does not know.
  if (argc >= 2 && std::string_view(argv[1]) == "plan") return ingest::zones::RunPlanCommand(argc - 1, argv + 1);
  return ingest::zones::Run(argc, argv);
}
