#include "bench/camera_bench/run_verdict.h"

#include <algorithm>
#include <type_traits>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"

namespace ingest::bench {
namespace {

// A resource this close to full counts as the one that ran out.
constexpr double kSaturated = 0.85;

// The 90th percentile of one figure over every second that has it.
template <typename Field>
double Percentile90(const std::vector<SecondSample>& series, double from_s, Field field) {
  std::vector<double> values;
  for (const SecondSample& s : series) {
    if (s.t_s <= from_s) continue;
    const auto& value = s.*field;
    if constexpr (std::is_same_v<std::decay_t<decltype(value)>, double>) {
      values.push_back(value);
    } else if (value) {
      values.push_back(*value);
    }
  }
  if (values.empty()) return 0;
  const size_t at = std::min(values.size() - 1, values.size() * 9 / 10);
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(at), values.end());
  return values[at];
}

}  // namespace

ResourceUse MeasureUse(const BenchRun& run) {
  ResourceUse use;
  use.machine_cores = std::max(1, run.machine.cores);
  use.generator_threads = std::max(1, run.total.rings);
  // Key loading is the generator's own business before any connect: its
  // seconds are not the run's.
  const double setup_s = absl::ToDoubleSeconds(run.setup);
  size_t loaded = 0;
  while (loaded < run.series.size() && run.series[loaded].t_s <= setup_s) ++loaded;
  const size_t from = loaded + (run.series.size() - loaded) / 2;
  double server = 0, generator = 0, mb = 0, rss = 0;
  int server_n = 0, n = 0;
  for (size_t i = from; i < run.series.size(); ++i) {
    const SecondSample& s = run.series[i];
    generator += s.generator_cpu_cores;
    mb += s.mb_per_s;
    ++n;
    if (s.server_cpu_cores) {
      server += *s.server_cpu_cores;
      rss = std::max(rss, s.server_rss_mib.value_or(0));
      ++server_n;
    }
  }
  if (n > 0) {
    use.generator_cpu_cores = std::max(generator / n, Percentile90(run.series, setup_s, &SecondSample::generator_cpu_cores));
    use.mb_per_s = mb / n;
  }
  if (server_n > 0) {
    use.server_cpu_cores = std::max(server / server_n, Percentile90(run.series, setup_s, &SecondSample::server_cpu_cores));
    use.server_rss_mib = rss;
  }
  use.memory_available_fraction = run.memory_available_min_fraction;
  const double ring_seconds = run.ActiveSeconds() * use.generator_threads;
  if (ring_seconds > 0) use.bound_wait_share = absl::ToDoubleSeconds(run.total.handshake_bound_wait) / ring_seconds;
  return use;
}

RunVerdict JudgeRun(const BenchRun& run, const RunTargets& targets) {
  RunVerdict v;
  v.use = MeasureUse(run);
  const ResourceUse& u = v.use;
  const FleetReport& r = run.total;
  // The targets.
  std::vector<std::string> failed;
  std::vector<std::string> unchecked;
  if (!r.all_acked) failed.push_back("not every recorded segment was acknowledged");
  if (r.protocol_errors + r.connect_failures > 0) {
    failed.push_back(absl::StrCat(r.protocol_errors, " protocol errors, ", r.connect_failures, " connect failures"));
  }
  if (run.server_handshake_timeouts.value_or(0) > 0) {
    failed.push_back(absl::StrCat(*run.server_handshake_timeouts, " handshake timeouts at the server"));
  }
  if (!run.server_handshake_timeouts) unchecked.push_back("the server's handshake timeouts (no --admin)");
  if (!run.ramp) failed.push_back("not every camera had WELCOME");
  // Slow cameras' latency is theirs by design: the target holds for the others.
  LatencyHistogram judged;
  for (const GroupResult& group : run.groups) {
    if (group.latency_judged) judged.Merge(group.report.ack_spooled);
  }
  const double p99 = absl::ToDoubleMilliseconds(judged.Quantile(0.99));
  if (targets.ack_p99_ms && judged.count() > 0 && p99 > *targets.ack_p99_ms) {
    failed.push_back(absl::StrFormat("ACK(spooled) p99 %.1f ms over the %.0f ms target", p99, *targets.ack_p99_ms));
  }
  v.ok = failed.empty();

  // What ran out. The generator first: a saturated generator makes every
  // server figure look worse than it is.
  const double machine_busy = u.generator_cpu_cores + u.server_cpu_cores.value_or(0);
  std::string figures = absl::StrFormat("server %s cores, generator %.2f cores (%d threads) of %.0f",
                                        u.server_cpu_cores ? absl::StrFormat("%.2f", *u.server_cpu_cores) : "?",
                                        u.generator_cpu_cores, u.generator_threads, u.machine_cores);
  if (u.generator_cpu_cores >= kSaturated * u.generator_threads) {
    v.binding_resource = "load_generator";
    v.why = absl::StrCat("the load generator's threads are saturated: ", figures);
  } else if (u.server_cpu_cores && machine_busy >= kSaturated * u.machine_cores &&
             u.generator_cpu_cores >= *u.server_cpu_cores) {
    v.binding_resource = "load_generator";
    v.why = absl::StrCat("the machine's cores are full and the generator takes the larger share: ", figures,
                         "; run it on another machine to find the server's limit");
  } else if (u.server_cpu_cores && (*u.server_cpu_cores >= kSaturated * u.machine_cores ||
                                    machine_busy >= kSaturated * u.machine_cores)) {
    v.binding_resource = "server_cpu";
    v.why = absl::StrCat("CPU is full: ", figures);
  } else if (u.memory_available_fraction < 1 - kSaturated) {
    // MemAvailable is this machine's: the server's only when it runs here.
    v.binding_resource = run.server.pid ? "server_memory" : "load_generator";
    v.why = absl::StrFormat("at worst %.0f%% of this machine's memory was left; server RSS %.0f MiB",
                            u.memory_available_fraction * 100, u.server_rss_mib.value_or(0));
  } else if (targets.spool_disk_mb_per_s && u.mb_per_s >= kSaturated * *targets.spool_disk_mb_per_s) {
    v.binding_resource = "spool_disk";
    v.why = absl::StrFormat("%.1f MB/s acknowledged of the %.1f MB/s the spool disk takes", u.mb_per_s,
                            *targets.spool_disk_mb_per_s);
  } else if (u.bound_wait_share > 0.5 && !v.ok) {
    v.binding_resource = "load_generator";
    v.why = absl::StrFormat("connects waited for the generator's handshake bound %.0f%% of the time: raise "
                            "--max_handshakes or find why handshakes are slow (%s)",
                            u.bound_wait_share * 100, figures);
  } else if (!v.ok && run.server_handshake_timeouts.value_or(0) > 0) {
    v.binding_resource = "handshakes";
    v.why = absl::StrCat("the server timed out handshakes with no resource saturated (", figures,
                         "): more were offered at once than it finishes before its deadline");
  } else if (!v.ok && r.protocol_errors + r.connect_failures > 0) {
    v.binding_resource = "errors";
    v.why = absl::StrCat("no resource saturated (", figures, ")");
  } else if (!v.ok) {
    // Nothing is full, but something is nearest its limit: name it with how
    // near, rather than blame "latency" alone.
    struct Near {
      const char* name;
      double fraction;
      std::string what;
    };
    std::vector<Near> near = {
        {"load_generator", u.generator_cpu_cores / u.generator_threads,
         absl::StrFormat("the generator's threads at %.0f%%", 100 * u.generator_cpu_cores / u.generator_threads)}};
    if (u.server_cpu_cores) {
      near.push_back({*u.server_cpu_cores >= u.generator_cpu_cores ? "server_cpu" : "load_generator",
                      machine_busy / u.machine_cores,
                      absl::StrFormat("the machine's CPU at %.0f%%", 100 * machine_busy / u.machine_cores)});
    }
    if (targets.spool_disk_mb_per_s) {
      near.push_back({"spool_disk", u.mb_per_s / *targets.spool_disk_mb_per_s,
                      absl::StrFormat("the spool disk at %.0f%%", 100 * u.mb_per_s / *targets.spool_disk_mb_per_s)});
    }
    const Near& nearest =
        *std::max_element(near.begin(), near.end(), [](const Near& a, const Near& b) { return a.fraction < b.fraction; });
    if (nearest.fraction >= 0.5) {
      v.binding_resource = nearest.name;
      v.why = absl::StrCat("nothing saturated; nearest its limit: ", nearest.what, " (", figures, ")");
    } else {
      v.binding_resource = "latency";
      v.why = absl::StrCat("no resource saturated (", figures, ")");
    }
  } else {
    v.why = absl::StrCat("no resource saturated: ", figures);
  }
  if (!failed.empty()) v.why = absl::StrCat(absl::StrJoin(failed, "; "), ". ", v.why);
  if (!unchecked.empty()) absl::StrAppend(&v.why, ". Not checked: ", absl::StrJoin(unchecked, "; "));
  return v;
}

}  // namespace ingest::bench
