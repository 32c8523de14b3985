// camera-bench: the bench suite SREs run against ingestd.
//
//   camera-bench run steady --target 127.0.0.1:7443 --admin 127.0.0.1:9090 --out steady.json
//   camera-bench run storm --cameras 10000 --resume=false --out storm.json
//   camera-bench capacity --bitrate_kbps 1000 --ack_p99_ms 500 --out capacity.json
//   camera-bench disk --dir /var/lib/ingestd/spool
//   camera-bench report steady.json            # renders steady.html again
//   camera-bench scenarios                     # what each scenario does, and its defaults
//
// Every run prints a live line a second and a summary, and writes a JSON
// result (bench/camera_bench/RESULT_SCHEMA.md) with a self-contained HTML
// report beside it. A scenario's defaults are overridden by any flag given.
#include <atomic>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/flags/usage.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "bench/camera_bench/bench_run.h"
#include "bench/camera_bench/capacity_search.h"
#include "bench/camera_bench/result_json.h"
#include "bench/camera_bench/run_verdict.h"
#include "bench/camera_bench/scenario.h"
#include "bench/camera_bench/spool_disk_probe.h"
#include "bench/report/html_report.h"
#include "bench/sim/stop_on_signals.h"
#include "common/host_port.h"
#include "common/std_string_view.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7443", "ingestd address host:port (IPv4); several comma-separated");
ABSL_FLAG(bool, allow_remote, false, "aim load at servers off loopback (only ever at servers you run)");
ABSL_FLAG(std::string, admin, "", "the first server's admin listener host:port: /status, /metrics, drain");
ABSL_FLAG(int, server_pid, 0, "the server's process id (0: found by the port it listens on, when local)");
ABSL_FLAG(std::string, certs_dir, "var/dev-certs", "server-ca.crt and cameras/<id>.pem (missing ones issued)");
ABSL_FLAG(std::string, server_name, "localhost", "name checked against the server certificate");
ABSL_FLAG(int, cameras, 100, "number of cameras");
ABSL_FLAG(int, first_camera, 1, "number of the first camera");
ABSL_FLAG(int, bitrate_kbps, 1000, "per-camera bitrate");
ABSL_FLAG(std::string, bitrate_mix, "", "kbps:share,... e.g. 1000:70,4000:30 (instead of --bitrate_kbps)");
ABSL_FLAG(int, segment_ms, 2000, "segment duration");
ABSL_FLAG(int, segment_bytes, 0, "segment size (0: bitrate x duration)");
ABSL_FLAG(bool, keyframe, true, "segments start with a keyframe");
ABSL_FLAG(double, duration_s, 30, "how long each camera records, from its first WELCOME");
ABSL_FLAG(double, connect_rate, 1000, "new connections per second, all cameras");
ABSL_FLAG(int, max_handshakes, 512, "most cameras between connect and WELCOME at once (0: no bound)");
ABSL_FLAG(int, rings, 0, "io_uring rings (threads) per camera group; 0: as few as hold it");
ABSL_FLAG(int, source_addresses, 0, "spread cameras over 127.0.0.2... (this many); 0: the kernel's choice");
ABSL_FLAG(bool, resume, true, "offer TLS session tickets on reconnect");
ABSL_FLAG(bool, saturate, false, "closed loop: a camera records its next segment when fewer than 4 are outstanding");
ABSL_FLAG(bool, idle, false, "cameras only keep alive");
ABSL_FLAG(bool, storm, false, "once every camera has WELCOME and hold_s passed, cut every connection at once");
ABSL_FLAG(bool, storm_unbounded, false,
          "storm: reconnect without --max_handshakes too (the generator then times out handshakes itself "
          "once its cores are full; say so when quoting the result)");
ABSL_FLAG(double, hold_s, 10, "idle, storm: how long to hold once every camera has WELCOME");
ABSL_FLAG(double, drain_at_s, 0, "ask the first server (--admin) to drain this long into the run (0: never)");
ABSL_FLAG(double, storm_timeout_s, 120, "storm: stop waiting for every camera's new WELCOME after this long");
ABSL_FLAG(double, slow_share, 0, "share of the cameras that are slow: half slow readers, half slow senders");
ABSL_FLAG(double, idle_share, 0, "share of the cameras that only keep alive");
ABSL_FLAG(int, read_pause_ms, 500, "slow readers: pause after each read");
ABSL_FLAG(int, send_piece_bytes, 1024, "slow senders: bytes per piece");
ABSL_FLAG(int, send_piece_ms, 5, "slow senders: interval between pieces");
ABSL_FLAG(double, max_duration_s, 600, "the whole run, whatever happens");
ABSL_FLAG(std::string, wait_for, "spooled", "acknowledgement level the cameras wait for: spooled|persisted");
ABSL_FLAG(std::string, out, "", "result JSON path (the HTML report goes beside it, .html); default: none");
ABSL_FLAG(bool, quiet, false, "no live lines");
// capacity
ABSL_FLAG(double, ack_p99_ms, 500, "the ACK(spooled) p99 target of a run's verdict and of capacity");
ABSL_FLAG(int, start_cameras, 100, "capacity: the first step's cameras");
ABSL_FLAG(int, max_cameras, 20000, "capacity: search no higher");
ABSL_FLAG(double, step_s, 20, "capacity: how long each step records");
ABSL_FLAG(double, spool_disk_mb_per_s, 0,
          "the spool disk's throughput, for the verdict (capacity: 0 measures it with --spool_dir)");
ABSL_FLAG(std::string, spool_dir, "", "capacity, disk: a directory on the server's spool volume");
ABSL_FLAG(uint32_t, disk_competing_mb_per_s, 0,
          "disk: also write this many MB/s in 16 MiB fsync'd files, as a dir: store on the same volume would");
ABSL_FLAG(std::string, html, "", "report: where to write the HTML (default: beside the JSON)");

namespace {

using ingest::bench::BenchParams;

int Fail(const std::string& message, int code = 2) {
  std::fprintf(stderr, "camera-bench: %s\n", message.c_str());
  return code;
}

// A bad parameter is the caller's to fix (exit 2); anything else went wrong
// while running (exit 1).
int Fail(const absl::Status& status) {
  return Fail(std::string(status.message()), absl::IsInvalidArgument(status) ? 2 : 1);
}

// The scenario of `camera-bench run SCENARIO ...`, read before the flags are
// parsed: its defaults must be in place for the flags to override them. The
// command and the scenario come first, so a flag's value is never mistaken
// for either.
absl::StatusOr<std::string> ScenarioOf(int argc, char** argv) {
  if (argc < 2 || absl::string_view(argv[1]) != "run") return std::string();
  if (argc < 3 || absl::StartsWith(argv[2], "-")) {
    return absl::InvalidArgumentError("run needs the scenario first: camera-bench run SCENARIO [flags]");
  }
  return std::string(argv[2]);
}

absl::Status ApplyProfileDefaults(const ingest::bench::ScenarioProfile& profile) {
  for (const auto& [name, value] : profile.defaults) {
    absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    std::string error;
    if (flag == nullptr || !flag->ParseFrom(value, &error)) {
      return absl::InternalError(absl::StrCat("scenario ", profile.name, ": default --", name, "=", value, ": ", error));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<BenchParams> ParamsFromFlags() {
  BenchParams p;
  for (absl::string_view part : absl::StrSplit(absl::GetFlag(FLAGS_target), ',', absl::SkipEmpty())) {
    absl::StatusOr<ingest::HostPort> target = ingest::ParseEndpoint(ingest::ToStd(absl::StripAsciiWhitespace(part)));
    if (!target.ok()) return absl::InvalidArgumentError(absl::StrCat("--target: ", target.status().message()));
    p.targets.push_back({target->host, target->port});
  }
  if (!absl::GetFlag(FLAGS_admin).empty()) {
    absl::StatusOr<ingest::HostPort> admin = ingest::ParseEndpoint(absl::GetFlag(FLAGS_admin));
    if (!admin.ok()) return absl::InvalidArgumentError(absl::StrCat("--admin: ", admin.status().message()));
    p.admin = *admin;
  }
  p.certs_dir = absl::GetFlag(FLAGS_certs_dir);
  p.server_name = absl::GetFlag(FLAGS_server_name);
  p.cameras = absl::GetFlag(FLAGS_cameras);
  p.first_camera = absl::GetFlag(FLAGS_first_camera);
  p.bitrate_kbps = absl::GetFlag(FLAGS_bitrate_kbps);
  p.bitrate_mix = absl::GetFlag(FLAGS_bitrate_mix);
  p.segment_ms = absl::GetFlag(FLAGS_segment_ms);
  p.segment_bytes = absl::GetFlag(FLAGS_segment_bytes);
  p.keyframe = absl::GetFlag(FLAGS_keyframe);
  p.duration_s = absl::GetFlag(FLAGS_duration_s);
  p.connect_rate = absl::GetFlag(FLAGS_connect_rate);
  p.max_handshakes = absl::GetFlag(FLAGS_max_handshakes);
  p.rings = absl::GetFlag(FLAGS_rings);
  p.source_addresses = absl::GetFlag(FLAGS_source_addresses);
  p.resume = absl::GetFlag(FLAGS_resume);
  p.saturate = absl::GetFlag(FLAGS_saturate);
  p.idle = absl::GetFlag(FLAGS_idle);
  p.storm = absl::GetFlag(FLAGS_storm);
  p.storm_unbounded = absl::GetFlag(FLAGS_storm_unbounded);
  p.hold_s = absl::GetFlag(FLAGS_hold_s);
  p.drain_at_s = absl::GetFlag(FLAGS_drain_at_s);
  p.storm_timeout_s = absl::GetFlag(FLAGS_storm_timeout_s);
  p.slow_share = absl::GetFlag(FLAGS_slow_share);
  p.idle_share = absl::GetFlag(FLAGS_idle_share);
  p.read_pause_ms = absl::GetFlag(FLAGS_read_pause_ms);
  p.send_piece_bytes = absl::GetFlag(FLAGS_send_piece_bytes);
  p.send_piece_ms = absl::GetFlag(FLAGS_send_piece_ms);
  p.max_duration_s = absl::GetFlag(FLAGS_max_duration_s);
  p.wait_for = absl::GetFlag(FLAGS_wait_for);
  p.allow_remote = absl::GetFlag(FLAGS_allow_remote);
  if (p.storm && !p.idle) return absl::InvalidArgumentError("--storm needs --idle (a storm of idle cameras)");
  return p;
}

std::string CommandLine(int argc, char** argv) {
  std::vector<std::string> args(argv, argv + argc);
  args[0] = "camera-bench";
  return absl::StrJoin(args, " ");
}

absl::Status WriteFile(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  file << text;
  file.close();
  if (!file) return absl::UnavailableError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Writes the result JSON and the HTML report beside it.
int WriteResult(const std::string& json, const std::string& out) {
  if (out.empty()) return 0;
  if (absl::Status s = WriteFile(out, json); !s.ok()) return Fail(s.ToString(), 1);
  absl::StatusOr<std::string> html = ingest::bench::RenderHtmlReport(json);
  if (!html.ok()) return Fail(absl::StrCat("report: ", html.status().ToString()), 1);
  const std::string html_path = absl::StrCat(absl::StripSuffix(out, ".json"), ".html");
  if (absl::Status s = WriteFile(html_path, *html); !s.ok()) return Fail(s.ToString(), 1);
  std::fprintf(stderr, "camera-bench: wrote %s and %s\n", out.c_str(), html_path.c_str());
  return 0;
}

ingest::bench::RunHooks Hooks() {
  ingest::bench::RunHooks hooks;
  hooks.stop = ingest::StopOnSignals();
  if (absl::GetFlag(FLAGS_server_pid) > 0) hooks.server_pid = absl::GetFlag(FLAGS_server_pid);
  if (!absl::GetFlag(FLAGS_quiet)) {
    hooks.on_second = [](const ingest::bench::BenchRun& run, const ingest::bench::SecondSample& s) {
      std::fprintf(stderr, "%s\n", ingest::bench::FormatSecond(run, s).c_str());
    };
  }
  return hooks;
}

int Run(const std::string& scenario, const std::string& command) {
  absl::StatusOr<BenchParams> params = ParamsFromFlags();
  if (!params.ok()) return Fail(std::string(params.status().message()));
  absl::StatusOr<ingest::bench::BenchPlan> plan = ingest::bench::MakePlan(scenario, *params);
  if (!plan.ok()) return Fail(std::string(plan.status().message()));
  absl::StatusOr<ingest::bench::BenchRun> run = ingest::bench::RunBench(*plan, Hooks());
  if (!run.ok()) return Fail(run.status());
  ingest::bench::RunTargets targets;
  targets.ack_p99_ms = absl::GetFlag(FLAGS_ack_p99_ms);
  if (absl::GetFlag(FLAGS_spool_disk_mb_per_s) > 0) targets.spool_disk_mb_per_s = absl::GetFlag(FLAGS_spool_disk_mb_per_s);
  const ingest::bench::RunVerdict verdict = ingest::bench::JudgeRun(*run, targets);
  std::fputs(ingest::bench::RunSummaryText(*run, verdict).c_str(), stdout);
  if (int rc = WriteResult(ingest::bench::RunResultJson(*run, verdict, command), absl::GetFlag(FLAGS_out)); rc != 0) {
    return rc;
  }
  return verdict.ok ? 0 : 3;
}

int Capacity(const std::string& command) {
  absl::StatusOr<BenchParams> params = ParamsFromFlags();
  if (!params.ok()) return Fail(std::string(params.status().message()));
  ingest::bench::CapacityOptions options{
      .base = *params,
      .ack_p99_ms = absl::GetFlag(FLAGS_ack_p99_ms),
      .start_cameras = absl::GetFlag(FLAGS_start_cameras),
      .max_cameras = absl::GetFlag(FLAGS_max_cameras),
      .step_s = absl::GetFlag(FLAGS_step_s),
      .hooks = Hooks(),
      .spool_disk_mb_per_s = std::nullopt,
  };
  if (absl::GetFlag(FLAGS_spool_disk_mb_per_s) > 0) {
    options.spool_disk_mb_per_s = absl::GetFlag(FLAGS_spool_disk_mb_per_s);
  } else if (!absl::GetFlag(FLAGS_spool_dir).empty()) {
    absl::StatusOr<ingest::bench::DiskThroughput> disk =
        ingest::bench::MeasureSpoolDisk(absl::GetFlag(FLAGS_spool_dir), ingest::bench::DiskProbeOptions{});
    if (!disk.ok()) return Fail(absl::StrCat("--spool_dir: ", disk.status().ToString()), 1);
    options.spool_disk_mb_per_s = disk->mb_per_s;
  }
  absl::StatusOr<ingest::bench::CapacityResult> result = ingest::bench::SearchCapacity(options);
  if (!result.ok()) return Fail(result.status());
  std::fputs(ingest::bench::CapacitySummaryText(*result).c_str(), stdout);
  return WriteResult(ingest::bench::CapacityResultJson(*result, command), absl::GetFlag(FLAGS_out));
}

int Disk() {
  const std::string dir = absl::GetFlag(FLAGS_spool_dir);
  if (dir.empty()) return Fail("disk needs --spool_dir: a directory on the spool volume");
  ingest::bench::DiskProbeOptions probe;
  probe.competing_mb_per_s = absl::GetFlag(FLAGS_disk_competing_mb_per_s);
  absl::StatusOr<ingest::bench::DiskThroughput> disk = ingest::bench::MeasureSpoolDisk(dir, probe);
  if (!disk.ok()) return Fail(disk.status().ToString(), 1);
  std::printf("%s: %.1f MB/s fdatasync'd sequential writes (%llu MB in %llu writes of %u KiB, fdatasync every %u, %s)\n",
              dir.c_str(), disk->mb_per_s, static_cast<unsigned long long>(disk->bytes / 1'000'000),
              static_cast<unsigned long long>(disk->writes), disk->write_bytes / 1024, disk->writes_per_sync,
              disk->direct ? "O_DIRECT" : "buffered");
  std::printf("commit (write + fdatasync): p50 %.2f ms, p99 %.2f ms, max %.2f ms%s\n",
              absl::ToDoubleMilliseconds(disk->commit_p50), absl::ToDoubleMilliseconds(disk->commit_p99),
              absl::ToDoubleMilliseconds(disk->commit_max),
              probe.competing_mb_per_s > 0
                  ? absl::StrCat(", beside ", probe.competing_mb_per_s, " MB/s of store-like writes").c_str()
                  : "");
  return 0;
}

int Report(const std::string& json_path) {
  std::ifstream in(json_path);
  if (!in) return Fail(absl::StrCat("cannot read ", json_path), 1);
  std::stringstream text;
  text << in.rdbuf();
  absl::StatusOr<std::string> html = ingest::bench::RenderHtmlReport(text.str());
  if (!html.ok()) return Fail(absl::StrCat(json_path, ": ", html.status().message()), 1);
  std::string out = absl::GetFlag(FLAGS_html);
  if (out.empty()) out = absl::StrCat(absl::StripSuffix(json_path, ".json"), ".html");
  if (absl::Status s = WriteFile(out, *html); !s.ok()) return Fail(s.ToString(), 1);
  std::fprintf(stderr, "camera-bench: wrote %s\n", out.c_str());
  return 0;
}

void PrintScenarios() {
  for (const auto& profile : ingest::bench::Profiles()) {
    std::vector<std::string> defaults;
    for (const auto& [flag, value] : profile.defaults) defaults.push_back(absl::StrCat("--", flag, "=", value));
    std::printf("%-7s %s\n        %s\n", profile.name.c_str(), profile.description.c_str(),
                absl::StrJoin(defaults, " ").c_str());
  }
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the bench suite for ingestd\n"
      "  camera-bench run SCENARIO [flags]   scenarios: steady ramp idle storm drain slow mixed\n"
      "  camera-bench capacity [flags]       the most cameras held at --bitrate_kbps under --ack_p99_ms\n"
      "  camera-bench disk --spool_dir DIR   fdatasync'd write throughput and commit latency of the spool volume\n"
      "  camera-bench report RESULT.json     render the HTML report again\n"
      "  camera-bench scenarios              each scenario and its defaults");
  if (argc >= 2 && absl::StartsWith(argv[1], "-") && !absl::StartsWith(argv[1], "--help")) {
    return Fail("the command comes first: camera-bench run SCENARIO [flags], capacity, disk, report, scenarios");
  }
  const absl::StatusOr<std::string> scenario = ScenarioOf(argc, argv);
  if (!scenario.ok()) return Fail(scenario.status());
  if (!scenario->empty()) {
    const ingest::bench::ScenarioProfile* profile = ingest::bench::FindProfile(*scenario);
    if (profile == nullptr) return Fail(absl::StrCat("unknown scenario \"", *scenario, "\" (camera-bench scenarios)"));
    if (absl::Status s = ApplyProfileDefaults(*profile); !s.ok()) return Fail(s.ToString(), 1);
  }
  std::vector<char*> positional = absl::ParseCommandLine(argc, argv);
  const std::string command = CommandLine(argc, argv);
  if (positional.size() < 2) return Fail("which command? run, capacity, disk, report or scenarios (--help)");
  const std::string sub = positional[1];
  if (sub == "run" && positional.size() == 3) return Run(positional[2], command);
  if (sub == "capacity" && positional.size() == 2) return Capacity(command);
  if (sub == "disk" && positional.size() == 2) return Disk();
  if (sub == "report" && positional.size() == 3) return Report(positional[2]);
  if (sub == "scenarios" && positional.size() == 2) {
    PrintScenarios();
    return 0;
  }
  return Fail(absl::StrCat("bad command line: ", command, " (--help)"));
}
