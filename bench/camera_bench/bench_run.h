// One camera-bench run: the plan's camera groups as fleets (one thread
// each, their rings inside), followed once a second from the control thread:
// a series point, a live line, the server's CPU and memory from /proc when it
// is local, its counters from /metrics when its admin address is known; and
// the scenario's actions at their moment (a storm's cut, a drain request,
// the end of an idle hold).
//
//   ASSIGN_OR_RETURN(BenchRun run, RunBench(plan, {.on_second = PrintLine}));
//   std::string json = ResultJson(run, command_line);
#ifndef BENCH_CAMERA_BENCH_BENCH_RUN_H_
#define BENCH_CAMERA_BENCH_BENCH_RUN_H_

#include <sys/types.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/camera_bench/machine_info.h"
#include "bench/camera_bench/scenario.h"
#include "bench/sim/camera_fleet.h"

namespace ingest::bench {

// One second of the run. Latencies are of the ACKs received in that second;
// std::nullopt where nothing was measured.
struct SecondSample {
  double t_s = 0;
  // Cameras with a WELCOME on their connection (the series' "connected"),
  // not FleetLive::connected's open connections.
  int64_t connected = 0;
  double handshakes_per_s = 0;
  int64_t handshakes_in_flight = 0;
  double mb_per_s = 0;  // payload acknowledged (spooled)
  double segments_per_s = 0;
  std::optional<double> ack_spooled_p50_ms, ack_spooled_p99_ms;
  std::optional<double> ack_persisted_p50_ms, ack_persisted_p99_ms;
  double reconnects_per_s = 0;
  double errors_per_s = 0;
  std::optional<double> server_cpu_cores;
  std::optional<double> server_rss_mib;
  double generator_cpu_cores = 0;
};

struct ServerInfo {
  std::string address;  // the first target
  std::string admin;    // "" when not given
  std::string version, commit, server_id;  // from /status, "" when unknown
  std::optional<pid_t> pid;                 // when local
};

struct GroupResult {
  std::string name;
  int cameras = 0;
  FleetReport report;
  bool latency_judged = true;  // CameraGroup::latency_judged
};

struct BenchRun {
  // The seconds the cameras were at work: the run without its key loading.
  double ActiveSeconds() const;
  // Server memory per camera, KB (10^3 bytes): what the first server grew by
  // from before the run to the moment every camera had WELCOME, over the
  // cameras it then held (its share of the targets).
  std::optional<double> ServerKbPerCamera() const;

  BenchPlan plan;
  MachineInfo machine;
  ServerInfo server;
  absl::Time started;
  absl::Duration elapsed;
  FleetReport total;  // every group merged
  std::vector<GroupResult> groups;
  std::vector<SecondSample> series;
  int64_t connected_peak = 0;
  int64_t connected_end = 0;
  double peak_handshakes_per_s = 0;
  // Loading every camera's certificate and key, before the first connect.
  absl::Duration setup;
  // From the first connect until every camera first had WELCOME; nullopt if never.
  std::optional<absl::Duration> ramp;
  // A storm: from the cut until every camera had WELCOME again.
  std::optional<absl::Duration> storm;
  bool storm_completed = false;
  // The server's side, when it could be seen (nullopt otherwise).
  std::optional<double> server_cpu_s;
  std::optional<double> server_rss_peak_mib;
  std::optional<double> server_rss_at_ramp_mib;  // when every camera had WELCOME (idle runs)
  std::optional<double> server_rss_before_mib;
  std::optional<double> server_handshake_timeouts;  // /metrics, during the run
  std::optional<double> server_handshake_timeouts_in_storm;  // ... from the storm's cut on
  std::optional<double> server_accept_errors;
  // The least of the machine's memory available during the run (MemAvailable), as a fraction.
  double memory_available_min_fraction = 1;
  double generator_cpu_s = 0;
  double generator_rss_peak_mib = 0;
  std::vector<std::string> notes;  // what the run noticed (drain answer, storm timeout, ...)
};

struct RunHooks {
  std::function<void(const BenchRun& run, const SecondSample& sample)> on_second;
  // Optional: stops the run early (SIGINT); the cameras still wait for their ACKs.
  const std::atomic<bool>* stop = nullptr;
  std::optional<pid_t> server_pid;  // overrides finding the server by its port
};

absl::StatusOr<BenchRun> RunBench(const BenchPlan& plan, const RunHooks& hooks);

// The live line for one second, as camera-bench prints it.
std::string FormatSecond(const BenchRun& run, const SecondSample& sample);

}  // namespace ingest::bench

#endif  // BENCH_CAMERA_BENCH_BENCH_RUN_H_
