#include "bench/camera_bench/bench_run.h"

#include <sys/sysinfo.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <thread>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/camera_bench/admin_client.h"
#include "bench/camera_bench/local_process.h"
#include "common/json_value.h"
#include "common/status_macros.h"
#include "server/tls/dev_certs.h"

namespace ingest::bench {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;
constexpr absl::Duration kTick = absl::Milliseconds(50);
// A storm's end: this long after the last camera's new WELCOME, to see the
// server settle.
constexpr absl::Duration kAfterStorm = absl::Seconds(2);

std::optional<double> Ms(const LatencyHistogram& h, double q) {
  if (h.count() == 0) return std::nullopt;
  return absl::ToDoubleMilliseconds(h.Quantile(q));
}

// What /status says about the server (version, commit, id); notes a failure.
void DescribeServer(const HostPort& admin, BenchRun& run) {
  absl::StatusOr<AdminReply> reply = AdminRequest(admin, "GET", "/status");
  if (!reply.ok() || reply->code != 200) {
    run.notes.push_back(absl::StrCat("GET /status from ", admin.ToString(), " failed: ",
                                     reply.ok() ? absl::StrCat("HTTP ", reply->code) : reply.status().ToString()));
    return;
  }
  absl::StatusOr<JsonValue> status = ParseJson(reply->body);
  if (!status.ok()) return;
  auto text = [&](std::string_view key) {
    const std::string* value = status->FindString(key);
    return value != nullptr ? *value : std::string();
  };
  run.server.version = text("version");
  run.server.commit = text("commit");
  run.server.server_id = text("server_id");
}

// Counters from /metrics that say how the server coped: nullopt when unknown.
struct ServerCounters {
  std::optional<double> handshake_timeouts;
  std::optional<double> accept_errors;
};

ServerCounters ReadCounters(const std::optional<HostPort>& admin) {
  ServerCounters counters;
  if (!admin) return counters;
  absl::StatusOr<AdminReply> reply = AdminRequest(*admin, "GET", "/metrics");
  if (!reply.ok() || reply->code != 200) return counters;
  auto read = [&](std::string_view name) -> std::optional<double> {
    const double value = SumMetric(reply->body, name);
    if (value < 0) return std::nullopt;
    return value;
  };
  counters.handshake_timeouts = read("ingest_handshake_timeouts_total");
  counters.accept_errors = read("ingest_accept_errors_total");
  return counters;
}

std::optional<double> Delta(std::optional<double> before, std::optional<double> after) {
  if (!before || !after) return std::nullopt;
  return *after - *before;
}

// The server's CPU time and memory: from /proc when it runs here, else from
// the process metrics of its /metrics; nullopt when neither answers.
std::optional<ProcessSample> SampleServer(std::optional<pid_t> pid, const std::optional<HostPort>& admin) {
  if (pid) {
    absl::StatusOr<ProcessSample> sample = SampleProcess(*pid);
    if (sample.ok()) return *sample;
    return std::nullopt;
  }
  if (!admin) return std::nullopt;
  absl::StatusOr<AdminReply> reply = AdminRequest(*admin, "GET", "/metrics", absl::Seconds(1));
  if (!reply.ok() || reply->code != 200) return std::nullopt;
  const double cpu = SumMetric(reply->body, "process_cpu_seconds_total");
  const double rss = SumMetric(reply->body, "process_resident_memory_bytes");
  if (cpu < 0 || rss < 0) return std::nullopt;
  return ProcessSample{.cpu_s = cpu, .rss_bytes = static_cast<uint64_t>(rss)};
}

// Follows the fleets once a second and turns what changed into a sample.
class Sampler {
 public:
  Sampler(FleetLive& live, std::optional<pid_t> server_pid, std::optional<HostPort> admin, absl::Time start)
      : live_(live), server_pid_(server_pid), admin_(std::move(admin)), start_(start), last_(start) {
    self_ = SampleSelf();
    if (std::optional<ProcessSample> s = SampleServer(server_pid_, admin_)) server_ = *s;
  }

  SecondSample Take(absl::Time now, BenchRun& run) {
    const double dt = std::max(1e-3, absl::ToDoubleSeconds(now - last_));
    SecondSample sample;
    sample.t_s = absl::ToDoubleSeconds(now - start_);
    sample.connected = live_.welcomed.load(std::memory_order_relaxed);
    sample.handshakes_in_flight = live_.handshakes_in_flight.load(std::memory_order_relaxed);
    const uint64_t handshakes = live_.handshakes.load(std::memory_order_relaxed);
    const uint64_t bytes = live_.bytes_acked.load(std::memory_order_relaxed);
    const uint64_t segments = live_.segments_acked.load(std::memory_order_relaxed);
    const uint64_t reconnects = live_.reconnects.load(std::memory_order_relaxed);
    const uint64_t errors = live_.errors.load(std::memory_order_relaxed);
    sample.handshakes_per_s = static_cast<double>(handshakes - handshakes_) / dt;
    sample.mb_per_s = static_cast<double>(bytes - bytes_) / 1e6 / dt;
    sample.segments_per_s = static_cast<double>(segments - segments_) / dt;
    sample.reconnects_per_s = static_cast<double>(reconnects - reconnects_) / dt;
    sample.errors_per_s = static_cast<double>(errors - errors_) / dt;
    handshakes_ = handshakes;
    bytes_ = bytes;
    segments_ = segments;
    reconnects_ = reconnects;
    errors_ = errors;
    auto [spooled, persisted] = live_.TakeIntervals();
    sample.ack_spooled_p50_ms = Ms(spooled, 0.5);
    sample.ack_spooled_p99_ms = Ms(spooled, 0.99);
    sample.ack_persisted_p50_ms = Ms(persisted, 0.5);
    sample.ack_persisted_p99_ms = Ms(persisted, 0.99);
    const ProcessSample self = SampleSelf();
    sample.generator_cpu_cores = (self.cpu_s - self_.cpu_s) / dt;
    run.generator_rss_peak_mib = std::max(run.generator_rss_peak_mib, static_cast<double>(self.rss_bytes) / kMiB);
    self_ = self;
    if (std::optional<ProcessSample> server = SampleServer(server_pid_, admin_); server && server_) {
      sample.server_cpu_cores = (server->cpu_s - server_->cpu_s) / dt;
      sample.server_rss_mib = static_cast<double>(server->rss_bytes) / kMiB;
      run.server_rss_peak_mib = std::max(run.server_rss_peak_mib.value_or(0), *sample.server_rss_mib);
      server_ = *server;
    }
    last_ = now;
    return sample;
  }

  // The server's CPU time at the latest sample; nullopt if it was never seen.
  std::optional<double> server_cpu_s() const {
    if (!server_) return std::nullopt;
    return server_->cpu_s;
  }

 private:
  FleetLive& live_;
  std::optional<pid_t> server_pid_;
  std::optional<HostPort> admin_;
  absl::Time start_;
  absl::Time last_;
  ProcessSample self_;
  std::optional<ProcessSample> server_;
  uint64_t handshakes_ = 0, bytes_ = 0, segments_ = 0, reconnects_ = 0, errors_ = 0;
};

// Issues missing dev certificates once for every group (each fleet would
// otherwise check the whole range again).
absl::Status PrepareCertificates(const BenchPlan& plan) {
  const DevCertPaths paths = DevCertPathsIn(plan.params.certs_dir);
  if (access(paths.camera_ca_key.c_str(), R_OK) != 0) return absl::OkStatus();
  return MakeDevCertificates(DevCertOptions{.out_dir = plan.params.certs_dir,
                                            .camera_count = plan.params.first_camera - 1 + plan.cameras,
                                            .camera_id_format = plan.groups.front().fleet.id_format});
}

// MemAvailable as a fraction of the machine's memory, 1 when unknown.
double MemoryAvailableFraction() {
  struct sysinfo info {};
  if (sysinfo(&info) != 0 || info.totalram == 0) return 1;
  return static_cast<double>(MemoryAvailableBytes()) / (static_cast<double>(info.totalram) * info.mem_unit);
}

}  // namespace

double BenchRun::ActiveSeconds() const { return std::max(1e-3, absl::ToDoubleSeconds(elapsed - setup)); }

std::optional<double> BenchRun::ServerKbPerCamera() const {
  if (!server_rss_before_mib || !server_rss_at_ramp_mib || plan.cameras == 0) return std::nullopt;
  // The server watched is the first target, which holds its share of the
  // cameras (they start spread evenly over the targets).
  const double on_first = std::ceil(static_cast<double>(plan.cameras) / std::max<size_t>(1, plan.params.targets.size()));
  return std::max(0.0, *server_rss_at_ramp_mib - *server_rss_before_mib) * kMiB / 1000.0 / on_first;
}

absl::StatusOr<BenchRun> RunBench(const BenchPlan& plan, const RunHooks& hooks) {
  if (plan.groups.empty()) return absl::InvalidArgumentError("no cameras to run");
  BenchRun run;
  run.plan = plan;
  run.machine = DescribeMachine();
  const BenchParams& params = plan.params;
  run.server.address = HostPort{params.targets.front().host, params.targets.front().port}.ToString();
  if (params.admin) {
    run.server.admin = params.admin->ToString();
    DescribeServer(*params.admin, run);
  }
  run.server.pid = hooks.server_pid;
  if (!run.server.pid && absl::StartsWith(params.targets.front().host, "127.")) {
    run.server.pid = FindListeningProcess(params.targets.front().port);
  }
  if (std::optional<ProcessSample> before = SampleServer(run.server.pid, params.admin)) {
    run.server_rss_before_mib = static_cast<double>(before->rss_bytes) / kMiB;
  }
  RETURN_IF_ERROR(PrepareCertificates(plan));
  const ServerCounters counters_before = ReadCounters(params.admin);

  FleetLive live;
  std::atomic<bool> stop{false};
  std::atomic<bool> cut{false};
  std::atomic<int> running{static_cast<int>(plan.groups.size())};
  std::vector<absl::StatusOr<FleetReport>> reports(plan.groups.size(), absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  int rings = 0;
  for (const CameraGroup& group : plan.groups) rings += RingsFor(group.fleet);
  live.rings_setting_up.store(rings);
  run.started = absl::Now();
  const double generator_cpu_before = SampleSelf().cpu_s;
  Sampler sampler(live, run.server.pid, params.admin, run.started);
  const std::optional<double> server_cpu_before = sampler.server_cpu_s();
  for (size_t i = 0; i < plan.groups.size(); ++i) {
    FleetOptions fleet = plan.groups[i].fleet;
    fleet.live = &live;
    fleet.stop = &stop;
    fleet.cut_all = &cut;
    fleet.certificates_ready = true;
    threads.emplace_back([fleet, &reports, &running, &stop, i] {
      reports[i] = RunCameraFleet(fleet);
      if (!reports[i].ok()) stop.store(true);  // the run has failed: the other groups end too
      running.fetch_sub(1);
    });
  }

  const absl::Duration hold = absl::Seconds(params.hold_s);
  const absl::Time hard_end = run.started + absl::Seconds(params.max_duration_s);
  absl::Time next_second = run.started + absl::Seconds(1);
  absl::Time connecting_from = absl::InfiniteFuture();  // every ring loaded its cameras
  absl::Time ramp_done = absl::InfiniteFuture();
  absl::Time cut_at = absl::InfiniteFuture();
  absl::Time storm_done = absl::InfiniteFuture();
  bool storm_given_up = false;
  ServerCounters counters_at_cut;
  bool drain_requested = false;
  while (running.load() > 0) {
    absl::SleepFor(kTick);
    const absl::Time now = absl::Now();
    const auto cameras = static_cast<int64_t>(plan.cameras);
    if (connecting_from == absl::InfiniteFuture() && live.rings_setting_up.load() <= 0) {
      connecting_from = now;
      run.setup = now - run.started;
    }
    if (ramp_done == absl::InfiniteFuture() && live.welcomed.load() >= cameras) {
      ramp_done = now;
      run.ramp = now - std::min(now, connecting_from);
      if (std::optional<ProcessSample> at_ramp = SampleServer(run.server.pid, params.admin)) {
        run.server_rss_at_ramp_mib = static_cast<double>(at_ramp->rss_bytes) / kMiB;
      }
    }
    if (params.storm) {
      if (cut_at == absl::InfiniteFuture() && now >= ramp_done + hold) {
        counters_at_cut = ReadCounters(params.admin);
        cut_at = absl::Now();
        cut.store(true);
      }
      if (cut_at != absl::InfiniteFuture() && storm_done == absl::InfiniteFuture() &&
          live.welcomed_after_cut.load() >= static_cast<uint64_t>(cameras)) {
        storm_done = now;
        run.storm_completed = true;
      }
      if (now >= storm_done + kAfterStorm) stop.store(true);
      if (!storm_given_up && storm_done == absl::InfiniteFuture() &&
          now - cut_at > absl::Seconds(params.storm_timeout_s)) {
        storm_given_up = true;
        run.notes.push_back(absl::StrFormat("storm: %d of %d cameras had WELCOME again after %.0f s; stopped",
                                            live.welcomed_after_cut.load(), cameras, params.storm_timeout_s));
        stop.store(true);
      }
    } else if (params.idle && now >= ramp_done + hold) {
      stop.store(true);
    }
    // The drain's moment counts from the first connect, as the cameras see the run.
    if (params.drain_at_s > 0 && !drain_requested && connecting_from != absl::InfiniteFuture() &&
        now - connecting_from >= absl::Seconds(params.drain_at_s)) {
      drain_requested = true;
      if (!params.admin) {
        run.notes.push_back("drain: no --admin address, so no drain was requested");
      } else {
        absl::StatusOr<AdminReply> reply = AdminRequest(*params.admin, "POST", "/admin/drain");
        run.notes.push_back(absl::StrFormat(
            "drain requested %.1f s after the first connect: %s", absl::ToDoubleSeconds(now - connecting_from),
            reply.ok() ? absl::StrCat("HTTP ", reply->code) : reply.status().ToString()));
      }
    }
    if (now >= hard_end || (hooks.stop != nullptr && hooks.stop->load())) stop.store(true);
    if (now >= next_second) {
      SecondSample sample = sampler.Take(now, run);
      run.memory_available_min_fraction = std::min(run.memory_available_min_fraction, MemoryAvailableFraction());
      run.connected_peak = std::max(run.connected_peak, sample.connected);
      run.peak_handshakes_per_s = std::max(run.peak_handshakes_per_s, sample.handshakes_per_s);
      run.series.push_back(sample);
      if (hooks.on_second) hooks.on_second(run, sample);
      next_second += absl::Seconds(1);
    }
  }
  for (std::thread& thread : threads) thread.join();
  const absl::Time end = absl::Now();
  run.elapsed = end - run.started;
  run.connected_end = run.series.empty() ? 0 : run.series.back().connected;
  run.generator_cpu_s = SampleSelf().cpu_s - generator_cpu_before;
  if (server_cpu_before) {
    // A server that drained and exited is counted up to its last sample.
    std::optional<ProcessSample> after = SampleServer(run.server.pid, params.admin);
    std::optional<double> cpu_after = after ? std::optional<double>(after->cpu_s) : sampler.server_cpu_s();
    if (cpu_after) run.server_cpu_s = *cpu_after - *server_cpu_before;
  }
  const ServerCounters counters_after = ReadCounters(params.admin);
  run.server_handshake_timeouts = Delta(counters_before.handshake_timeouts, counters_after.handshake_timeouts);
  run.server_accept_errors = Delta(counters_before.accept_errors, counters_after.accept_errors);
  run.server_handshake_timeouts_in_storm =
      Delta(counters_at_cut.handshake_timeouts, counters_after.handshake_timeouts);
  run.total.all_acked = true;
  for (size_t i = 0; i < plan.groups.size(); ++i) {
    if (!reports[i].ok()) return reports[i].status();
    GroupResult group{.name = plan.groups[i].name,
                      .cameras = plan.groups[i].fleet.cameras,
                      .report = *reports[i],
                      .latency_judged = plan.groups[i].latency_judged};
    group.report.cameras.clear();  // per-camera detail stays in the total
    run.groups.push_back(std::move(group));
    MergeFleetReport(run.total, std::move(*reports[i]));
  }
  run.total.elapsed = run.elapsed;
  run.total.rings = 0;
  for (const GroupResult& group : run.groups) run.total.rings += group.report.rings;
  if (run.total.storm_cut_at != absl::InfinitePast() && run.storm_completed) {
    run.storm = run.total.storm_last_welcome - run.total.storm_cut_at;
  }
  return run;
}

std::string FormatSecond(const BenchRun& run, const SecondSample& s) {
  auto ms = [](std::optional<double> v) { return v ? absl::StrFormat("%.1f", *v) : std::string("-"); };
  std::string line = absl::StrFormat(
      "[%5.0fs] cameras %d/%d  hs/s %.0f  MB/s %.2f  seg/s %.0f  ack spooled p50 %s p99 %s ms  persisted p50 %s "
      "p99 %s ms  reconnects/s %.0f  errors/s %.0f",
      s.t_s, s.connected, run.plan.cameras, s.handshakes_per_s, s.mb_per_s, s.segments_per_s,
      ms(s.ack_spooled_p50_ms), ms(s.ack_spooled_p99_ms), ms(s.ack_persisted_p50_ms), ms(s.ack_persisted_p99_ms),
      s.reconnects_per_s, s.errors_per_s);
  if (s.server_cpu_cores) {
    absl::StrAppendFormat(&line, "  server %.2f cores %.0f MiB", *s.server_cpu_cores, s.server_rss_mib.value_or(0));
  }
  absl::StrAppendFormat(&line, "  generator %.2f cores", s.generator_cpu_cores);
  return line;
}

}  // namespace ingest::bench
