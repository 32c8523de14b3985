#include "bench/camera_bench/scenario.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace ingest::bench {
namespace {

// Four times the server's default protocol.max_segment_bytes, so a bench can
// probe that limit, and small enough that the cameras' buffers stay bounded.
constexpr int kMaxSegmentBytes = 16 << 20;

struct MixEntry {
  int kbps = 0;
  double share = 0;
};

absl::StatusOr<std::vector<MixEntry>> ParseMix(const BenchParams& params) {
  if (params.bitrate_mix.empty()) return std::vector<MixEntry>{{params.bitrate_kbps, 1.0}};
  std::vector<MixEntry> mix;
  double total = 0;
  for (absl::string_view part : absl::StrSplit(params.bitrate_mix, ',')) {
    std::vector<absl::string_view> fields = absl::StrSplit(part, ':');
    MixEntry entry;
    if (fields.size() != 2 || !absl::SimpleAtoi(fields[0], &entry.kbps) || !absl::SimpleAtod(fields[1], &entry.share) ||
        entry.kbps <= 0 || entry.kbps > 100'000 || !(entry.share > 0)) {
      return absl::InvalidArgumentError(absl::StrCat("--bitrate_mix: \"", part,
                                                     "\" is not kbps:share (kbps 1..100000, share > 0)"));
    }
    total += entry.share;
    mix.push_back(entry);
  }
  for (MixEntry& entry : mix) entry.share /= total;
  return mix;
}

absl::Status Validate(const BenchParams& p) {
  auto bad = [](absl::string_view what) { return absl::InvalidArgumentError(what); };
  if (p.targets.empty()) return bad("--target: at least one server");
  for (const FleetTarget& target : p.targets) {
    if (!p.allow_remote && !absl::StartsWith(target.host, "127.")) {
      return bad(absl::StrCat("--target ", target.host, " is not on loopback: aim load only at servers you run "
                              "(--allow_remote to do so elsewhere)"));
    }
  }
  if (p.admin && !p.allow_remote && !absl::StartsWith(p.admin->host, "127.")) {
    return bad(absl::StrCat("--admin ", p.admin->host, " is not on loopback (--allow_remote)"));
  }
  if (p.cameras < 1 || p.cameras > 200'000) return bad("--cameras must be 1..200000");
  if (p.first_camera < 1 || p.first_camera > 10'000'000 - p.cameras) {
    return bad("--first_camera must be >= 1, and --first_camera + --cameras at most 10000000");
  }
  if (p.bitrate_kbps < 1 || p.bitrate_kbps > 100'000) return bad("--bitrate_kbps must be 1..100000");
  if (p.segment_ms < 10 || p.segment_ms > 60'000) return bad("--segment_ms must be 10..60000");
  if (p.segment_bytes < 0 || p.segment_bytes > kMaxSegmentBytes) return bad("--segment_bytes must be 0..16777216");
  if (p.segment_bytes == 0 && EffectiveSegmentBytes(p) > kMaxSegmentBytes) {
    return bad("--bitrate_kbps x --segment_ms makes segments over 16 MiB: shorten --segment_ms");
  }
  if (!(p.duration_s > 0) || p.duration_s > 86'400) return bad("--duration_s must be in (0, 86400]");
  if (!(p.connect_rate > 0) || p.connect_rate > 1e7) return bad("--connect_rate must be in (0, 1e7]");
  if (p.max_handshakes < 0) return bad("--max_handshakes must be >= 0");
  if (p.rings < 0 || p.rings > 64) return bad("--rings must be 0..64");
  if (p.source_addresses < 0 || p.source_addresses > 65'000) return bad("--source_addresses must be 0..65000");
  if (!(p.hold_s >= 0) || p.hold_s > 86'400) return bad("--hold_s must be 0..86400");
  if (!(p.drain_at_s >= 0)) return bad("--drain_at_s must be >= 0");
  if (!(p.storm_timeout_s > 0)) return bad("--storm_timeout_s must be > 0");
  if (p.read_pause_ms < 0 || p.read_pause_ms > 60'000) return bad("--read_pause_ms must be 0..60000");
  if (p.send_piece_bytes < 0 || p.send_piece_bytes > (1 << 20)) return bad("--send_piece_bytes must be 0..1048576");
  if (p.send_piece_ms < 1 || p.send_piece_ms > 10'000) return bad("--send_piece_ms must be 1..10000");
  if (!(p.slow_share >= 0 && p.slow_share <= 1) || !(p.idle_share >= 0 && p.idle_share <= 1) ||
      p.slow_share + p.idle_share > 1) {
    return bad("--slow_share and --idle_share must be 0..1 and add up to at most 1");
  }
  if (!(p.max_duration_s > 0) || p.max_duration_s > 86'400) return bad("--max_duration_s must be in (0, 86400]");
  if (p.wait_for != "spooled" && p.wait_for != "persisted") return bad("--wait_for must be spooled or persisted");
  return absl::OkStatus();
}

// The fleet settings every group shares.
FleetOptions BaseFleet(const BenchParams& p) {
  FleetOptions fleet;
  fleet.targets = p.targets;
  fleet.host = p.targets.front().host;
  fleet.port = p.targets.front().port;
  fleet.server_name = p.server_name;
  fleet.certs_dir = p.certs_dir;
  fleet.bitrate_bps = static_cast<uint64_t>(p.bitrate_kbps) * 1000;
  fleet.segment_duration = absl::Milliseconds(p.segment_ms);
  fleet.segment_bytes = static_cast<uint32_t>(p.segment_bytes);
  fleet.keyframe = p.keyframe;
  fleet.record_for = absl::Seconds(p.duration_s);
  fleet.idle = p.idle;
  // An all-idle run ends when the bench says so (hold_s after every camera
  // has WELCOME, or a storm's end), not after a recording time.
  if (p.idle) fleet.record_for = absl::Seconds(p.max_duration_s);
  fleet.saturate = p.saturate;
  fleet.max_handshakes_in_flight = p.max_handshakes;
  fleet.rings = p.rings;
  fleet.source_addresses = p.source_addresses;
  fleet.resume_tls = p.resume;
  fleet.storm_unbounded = p.storm_unbounded;
  fleet.wait_for = p.wait_for == "persisted" ? camproto::DurabilityLevel::kPersisted
                                            : camproto::DurabilityLevel::kSpooled;
  fleet.report_interval = absl::ZeroDuration();  // followed through FleetLive instead
  return fleet;
}

}  // namespace

uint64_t EffectiveSegmentBytes(const BenchParams& params) {
  if (params.segment_bytes > 0) return static_cast<uint64_t>(params.segment_bytes);
  return static_cast<uint64_t>(params.bitrate_kbps) * 1000 / 8 * static_cast<uint64_t>(params.segment_ms) / 1000;
}

const std::vector<ScenarioProfile>& Profiles() {
  static const auto* profiles = new std::vector<ScenarioProfile>{
      {"steady", "cameras streaming at a bitrate (or a --bitrate_mix) for --duration_s",
       {{"cameras", "100"}, {"bitrate_kbps", "1000"}, {"duration_s", "30"}, {"connect_rate", "500"}}},
      {"ramp", "cameras joining at --connect_rate while those already in stream: latency as load climbs",
       {{"cameras", "2000"}, {"bitrate_kbps", "256"}, {"connect_rate", "100"}, {"duration_s", "30"}}},
      {"idle", "cameras that only keep alive: how many one server holds, ramp time and memory per camera",
       {{"cameras", "10000"}, {"idle", "true"}, {"connect_rate", "1000"}, {"hold_s", "10"}}},
      {"storm", "idle cameras ramped in, then every connection cut at once and reconnecting unpaced (still "
                "--max_handshakes at a time, unless --storm_unbounded): time until all have WELCOME again",
       {{"cameras", "5000"}, {"idle", "true"}, {"storm", "true"}, {"hold_s", "3"}}},
      {"drain", "streaming cameras; the first server is asked to drain mid-run: each camera's gap",
       {{"cameras", "200"}, {"bitrate_kbps", "1000"}, {"duration_s", "30"}, {"drain_at_s", "10"}}},
      {"slow", "streaming cameras, --slow_share of them slow: half read ACKs late, half send in small pieces",
       {{"cameras", "200"}, {"bitrate_kbps", "1000"}, {"duration_s", "30"}, {"slow_share", "0.5"},
        {"read_pause_ms", "500"}, {"send_piece_bytes", "1024"}, {"send_piece_ms", "5"}}},
      {"mixed", "a bitrate mix with some slow and some idle cameras, as a real zone has",
       {{"cameras", "500"}, {"bitrate_mix", "1000:60,4000:20,256:20"}, {"duration_s", "30"},
        {"slow_share", "0.1"}, {"idle_share", "0.1"}, {"read_pause_ms", "500"},
        {"send_piece_bytes", "1024"}, {"send_piece_ms", "5"}}},
  };
  return *profiles;
}

const ScenarioProfile* FindProfile(std::string_view name) {
  for (const ScenarioProfile& profile : Profiles()) {
    if (profile.name == name) return &profile;
  }
  return nullptr;
}

absl::StatusOr<BenchPlan> MakePlan(std::string_view scenario, const BenchParams& params) {
  if (absl::Status s = Validate(params); !s.ok()) return s;
  absl::StatusOr<std::vector<MixEntry>> mix = ParseMix(params);
  if (!mix.ok()) return mix.status();
  BenchPlan plan{.scenario = std::string(scenario), .params = params, .groups = {}, .cameras = params.cameras};
  const FleetOptions base = BaseFleet(params);
  // Shares of the cameras, largest remainder first so they add up exactly.
  struct Share {
    std::string name;
    double share;
    FleetOptions fleet;
    bool latency_judged = true;
  };
  std::vector<Share> shares;
  const double streaming = 1.0 - params.slow_share - params.idle_share;
  for (const MixEntry& entry : *mix) {
    FleetOptions fleet = base;
    fleet.bitrate_bps = static_cast<uint64_t>(entry.kbps) * 1000;
    shares.push_back({absl::StrCat(entry.kbps, "kbps"), entry.share * streaming, fleet, true});
  }
  if (params.slow_share > 0) {
    FleetOptions readers = base;
    readers.read_pause = absl::Milliseconds(params.read_pause_ms);
    shares.push_back({"slow-readers", params.slow_share / 2, readers, false});
    FleetOptions senders = base;
    senders.send_piece_bytes = static_cast<uint32_t>(params.send_piece_bytes);
    senders.send_piece_interval = absl::Milliseconds(params.send_piece_ms);
    shares.push_back({"slow-senders", params.slow_share / 2, senders, false});
  }
  if (params.idle_share > 0) {
    FleetOptions idle = base;
    idle.idle = true;
    shares.push_back({"idle", params.idle_share, idle, true});
  }
  // Largest remainder: each share's whole cameras, then one more to the
  // shares with the largest fractions until every camera has a group (a
  // share of 0 never gets one).
  int assigned = 0;
  std::vector<int> counts;
  std::vector<std::pair<double, size_t>> remainders;
  for (size_t i = 0; i < shares.size(); ++i) {
    const double exact = shares[i].share * params.cameras;
    counts.push_back(static_cast<int>(std::floor(exact)));
    assigned += counts.back();
    if (shares[i].share > 0) remainders.push_back({exact - counts.back(), i});
  }
  std::stable_sort(remainders.begin(), remainders.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  for (size_t k = 0; assigned < params.cameras && !remainders.empty(); k = (k + 1) % remainders.size()) {
    ++counts[remainders[k].second];
    ++assigned;
  }
  int next = params.first_camera;
  for (size_t i = 0; i < shares.size(); ++i) {
    if (counts[i] == 0) continue;
    CameraGroup group{.name = shares[i].name, .fleet = shares[i].fleet, .latency_judged = shares[i].latency_judged};
    group.fleet.cameras = counts[i];
    group.fleet.first_camera = next;
    next += counts[i];
    const double fraction = static_cast<double>(counts[i]) / params.cameras;
    group.fleet.connects_per_second = std::max(1.0, params.connect_rate * fraction);
    if (params.max_handshakes > 0) {
      group.fleet.max_handshakes_in_flight = std::max(1, static_cast<int>(params.max_handshakes * fraction));
    }
    plan.groups.push_back(std::move(group));
  }
  return plan;
}

}  // namespace ingest::bench
