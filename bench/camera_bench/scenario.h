// camera-bench's scenarios: named profiles of defaults (what `steady`,
// `storm`, ... mean) and the plan a run follows, built from the parameters
// once the command line has overridden any of them.
//
//   for (auto& [flag, value] : FindProfile("storm")->defaults) SetFlagDefault(flag, value);
//   ... parse the command line into BenchParams ...
//   ASSIGN_OR_RETURN(BenchPlan plan, MakePlan("storm", params));
#ifndef BENCH_CAMERA_BENCH_SCENARIO_H_
#define BENCH_CAMERA_BENCH_SCENARIO_H_

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/sim/camera_fleet.h"
#include "common/host_port.h"

namespace ingest::bench {

struct ScenarioProfile {
  std::string name;
  std::string description;  // one line, for --help and the report
  // Flag defaults for this scenario (flag name, value as typed on a command line).
  std::vector<std::pair<std::string, std::string>> defaults;
};

const std::vector<ScenarioProfile>& Profiles();
const ScenarioProfile* FindProfile(std::string_view name);

// Everything a run can be told, after the profile's defaults and the command line.
struct BenchParams {
  std::vector<FleetTarget> targets;  // servers; cameras start spread over them
  std::optional<HostPort> admin;     // the first server's admin listener, if known
  std::string certs_dir = "var/dev-certs";
  std::string server_name = "localhost";
  int cameras = 100;
  int first_camera = 1;
  // "kbps:share,...", e.g. "1000:70,4000:30"; empty: every camera at bitrate_kbps.
  std::string bitrate_mix;
  int bitrate_kbps = 1000;
  int segment_ms = 2000;
  int segment_bytes = 0;  // 0: bitrate x duration
  bool keyframe = true;
  double duration_s = 30;          // each camera records this long from its first WELCOME
  double connect_rate = 1000;      // new connections per second, all cameras
  int max_handshakes = 512;        // 0: no bound
  int rings = 0;                   // per camera group; 0: as few as hold it
  int source_addresses = 0;
  bool resume = true;
  bool saturate = false;
  double hold_s = 10;               // idle and storm: how long to hold once every camera has WELCOME
  double drain_at_s = 0;            // drain: when to ask the first server to drain (0: never)
  double storm_timeout_s = 120;     // storm: give up waiting for every camera's new WELCOME
  int read_pause_ms = 0;            // slow readers' pause after each read
  int send_piece_bytes = 0;         // slow senders' piece size
  int send_piece_ms = 10;           // ... and interval
  double slow_share = 0;            // share of cameras that are slow (slow, mixed)
  double idle_share = 0;            // share of cameras that only keep alive (mixed)
  double max_duration_s = 600;      // the whole run, whatever happens
  bool idle = false;
  bool storm = false;
  bool storm_unbounded = false;  // the storm's reconnects ignore max_handshakes too
  std::string wait_for = "spooled";
  // Load is only aimed at 127.0.0.0/8 unless this is set: a load test of
  // someone else's server is an attack.
  bool allow_remote = false;
};

// One group of cameras with the same behaviour, run as one fleet.
struct CameraGroup {
  std::string name;  // "1000kbps", "slow-readers", "idle", ...
  FleetOptions fleet;
  // Slow cameras are slow by design: their ACK latency is reported but not
  // held to the run's latency target.
  bool latency_judged = true;
};

struct BenchPlan {
  std::string scenario;
  BenchParams params;
  std::vector<CameraGroup> groups;  // consecutive camera numbers
  int cameras = 0;                  // all groups
};

absl::StatusOr<BenchPlan> MakePlan(std::string_view scenario, const BenchParams& params);

// The bytes of one segment: --segment_bytes, or the bitrate over the segment's duration.
uint64_t EffectiveSegmentBytes(const BenchParams& params);

}  // namespace ingest::bench

#endif  // BENCH_CAMERA_BENCH_SCENARIO_H_
