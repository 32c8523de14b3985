#include "bench/camera_bench/result_json.h"

#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_string.h"

namespace ingest::bench {
namespace {

std::string Bool(bool b) { return b ? "true" : "false"; }

std::string Percentiles(const LatencyHistogram& h) {
  if (h.count() == 0) return "{\"p50\":null,\"p90\":null,\"p99\":null,\"max\":null,\"count\":0}";
  auto ms = [](absl::Duration d) { return JsonNumber(absl::ToDoubleMilliseconds(d)); };
  return absl::StrCat("{\"p50\":", ms(h.Quantile(0.5)), ",\"p90\":", ms(h.Quantile(0.9)),
                      ",\"p99\":", ms(h.Quantile(0.99)), ",\"max\":", ms(h.max()), ",\"count\":", h.count(), "}");
}

// Non-empty buckets as [upper bound ms, count] pairs.
std::string Buckets(const LatencyHistogram& h) {
  std::string out = "[";
  bool first = true;
  const std::vector<uint64_t>& counts = h.bucket_counts();
  const std::span<const int64_t> bounds = h.upper_bounds_us();
  for (size_t i = 0; i < counts.size(); ++i) {
    if (counts[i] == 0) continue;
    // The last bucket has no upper bound: the maximum stands for it.
    const double upper_us = i < bounds.size() ? static_cast<double>(bounds[i]) : static_cast<double>(absl::ToInt64Microseconds(h.max()));
    absl::StrAppend(&out, first ? "" : ",", "[", JsonNumber(upper_us / 1000.0), ",", counts[i], "]");
    first = false;
  }
  return out + "]";
}

std::string Parameters(const BenchParams& p) {
  std::string targets;
  for (const FleetTarget& t : p.targets) {
    absl::StrAppend(&targets, targets.empty() ? "" : ",", HostPort{t.host, t.port}.ToString());
  }
  return absl::StrCat(
      "{\"targets\":", JsonString(targets), ",\"admin\":", JsonString(p.admin ? p.admin->ToString() : ""),
      ",\"cameras\":", p.cameras, ",\"first_camera\":", p.first_camera, ",\"bitrate_kbps\":", p.bitrate_kbps,
      ",\"bitrate_mix\":", JsonString(p.bitrate_mix), ",\"segment_ms\":", p.segment_ms,
      ",\"segment_bytes\":", p.segment_bytes, ",\"keyframe\":", Bool(p.keyframe),
      ",\"duration_s\":", JsonNumber(p.duration_s), ",\"connect_rate\":", JsonNumber(p.connect_rate),
      ",\"max_handshakes\":", p.max_handshakes, ",\"rings\":", p.rings, ",\"source_addresses\":", p.source_addresses,
      ",\"resume\":", Bool(p.resume), ",\"saturate\":", Bool(p.saturate), ",\"idle\":", Bool(p.idle),
      ",\"storm\":", Bool(p.storm), ",\"storm_unbounded\":", Bool(p.storm_unbounded), ",\"hold_s\":", JsonNumber(p.hold_s), ",\"drain_at_s\":", JsonNumber(p.drain_at_s),
      ",\"slow_share\":", JsonNumber(p.slow_share), ",\"idle_share\":", JsonNumber(p.idle_share),
      ",\"read_pause_ms\":", p.read_pause_ms, ",\"send_piece_bytes\":", p.send_piece_bytes,
      ",\"send_piece_ms\":", p.send_piece_ms, ",\"wait_for\":", JsonString(p.wait_for),
      ",\"max_duration_s\":", JsonNumber(p.max_duration_s), ",\"certs_dir\":", JsonString(p.certs_dir), "}");
}

std::string Series(const std::vector<SecondSample>& series) {
  std::string out = "{";
  auto column = [&](absl::string_view name, auto value_of) {
    absl::StrAppend(&out, out.size() > 1 ? "," : "", "\"", name, "\":[");
    for (size_t i = 0; i < series.size(); ++i) {
      absl::StrAppend(&out, i ? "," : "", JsonNumber(value_of(series[i])));
    }
    out += "]";
  };
  using S = SecondSample;
  column("t_s", [](const S& s) -> std::optional<double> { return std::round(s.t_s * 10) / 10; });
  column("connected", [](const S& s) -> std::optional<double> { return static_cast<double>(s.connected); });
  column("handshakes_per_s", [](const S& s) -> std::optional<double> { return std::round(s.handshakes_per_s); });
  column("handshakes_in_flight",
         [](const S& s) -> std::optional<double> { return static_cast<double>(s.handshakes_in_flight); });
  column("mb_per_s", [](const S& s) -> std::optional<double> { return s.mb_per_s; });
  column("segments_per_s", [](const S& s) -> std::optional<double> { return s.segments_per_s; });
  column("ack_spooled_p50_ms", [](const S& s) { return s.ack_spooled_p50_ms; });
  column("ack_spooled_p99_ms", [](const S& s) { return s.ack_spooled_p99_ms; });
  column("ack_persisted_p50_ms", [](const S& s) { return s.ack_persisted_p50_ms; });
  column("ack_persisted_p99_ms", [](const S& s) { return s.ack_persisted_p99_ms; });
  column("reconnects_per_s", [](const S& s) -> std::optional<double> { return s.reconnects_per_s; });
  column("errors_per_s", [](const S& s) -> std::optional<double> { return s.errors_per_s; });
  column("server_cpu_cores", [](const S& s) { return s.server_cpu_cores; });
  column("server_rss_mib", [](const S& s) { return s.server_rss_mib; });
  column("generator_cpu_cores", [](const S& s) -> std::optional<double> { return s.generator_cpu_cores; });
  return out + "}";
}

std::optional<double> Seconds(const std::optional<absl::Duration>& d) {
  if (!d) return std::nullopt;
  return absl::ToDoubleSeconds(*d);
}

std::string Summary(const BenchRun& run) {
  const FleetReport& r = run.total;
  const double seconds = run.ActiveSeconds();
  const double mb = static_cast<double>(r.bytes_acked) / 1e6;
  std::optional<double> cpu_per_gb;
  if (run.server_cpu_s && mb > 0) cpu_per_gb = *run.server_cpu_s / (mb / 1000.0);
  std::optional<double> server_cores;
  if (run.server_cpu_s) server_cores = *run.server_cpu_s / seconds;
  return absl::StrCat(
      "{\"elapsed_s\":", JsonNumber(absl::ToDoubleSeconds(run.elapsed)), ",\"cameras\":", run.plan.cameras,
      ",\"connected_peak\":", run.connected_peak, ",\"connected_end\":", run.connected_end,
      ",\"setup_s\":", JsonNumber(absl::ToDoubleSeconds(run.setup)),
      ",\"ramp_s\":", JsonNumber(Seconds(run.ramp)), ",\"segments_recorded\":", r.segments_recorded,
      ",\"segments_acked\":", r.segments_acked, ",\"all_acked\":", Bool(r.all_acked), ",\"mb_acked\":", JsonNumber(mb),
      ",\"mb_per_s\":", JsonNumber(mb / seconds),
      ",\"segments_per_s\":", JsonNumber(static_cast<double>(r.segments_acked) / seconds),
      ",\"ack_spooled_ms\":", Percentiles(r.ack_spooled), ",\"ack_persisted_ms\":", Percentiles(r.ack_persisted),
      ",\"welcome_ms\":", Percentiles(r.handshake), ",\"gap_ms\":", Percentiles(r.gaps),
      ",\"handshakes_full\":", r.handshakes_full, ",\"handshakes_resumed\":", r.handshakes_resumed,
      ",\"peak_handshakes_per_s\":", JsonNumber(run.peak_handshakes_per_s), ",\"reconnects\":", r.reconnects,
      ",\"open_gaps\":", r.open_gaps, ",\"errors\":", r.protocol_errors + r.connect_failures,
      ",\"connect_failures\":", r.connect_failures, ",\"protocol_errors\":", r.protocol_errors,
      ",\"goaways\":", r.goaways, ",\"storage_full_drops\":", r.storage_full_drops,
      ",\"server_cpu_s\":", JsonNumber(run.server_cpu_s), ",\"server_cpu_cores_mean\":", JsonNumber(server_cores),
      ",\"server_rss_peak_mib\":", JsonNumber(run.server_rss_peak_mib),
      ",\"server_rss_before_mib\":", JsonNumber(run.server_rss_before_mib),
      ",\"server_kb_per_camera\":", JsonNumber(run.ServerKbPerCamera()), ",\"server_cpu_s_per_gb\":", JsonNumber(cpu_per_gb),
      ",\"server_handshake_timeouts\":", JsonNumber(run.server_handshake_timeouts),
      ",\"server_accept_errors\":", JsonNumber(run.server_accept_errors),
      ",\"server_handshake_timeouts_in_storm\":", JsonNumber(run.server_handshake_timeouts_in_storm),
      ",\"generator_cpu_s\":", JsonNumber(run.generator_cpu_s),
      // The generator's CPU includes loading the keys: over the whole run.
      ",\"generator_cpu_cores_mean\":", JsonNumber(run.generator_cpu_s / std::max(1e-3, absl::ToDoubleSeconds(run.elapsed))),
      ",\"generator_rss_peak_mib\":", JsonNumber(run.generator_rss_peak_mib), ",\"generator_rings\":", r.rings, ",\"generator_peak_handshakes_in_flight\":", r.peak_handshakes_in_flight,
      ",\"generator_bound_wait_s\":", JsonNumber(absl::ToDoubleSeconds(r.handshake_bound_wait)),
      ",\"storm_s\":", JsonNumber(Seconds(run.storm)), "}");
}

std::string Groups(const BenchRun& run) {
  std::string out = "[";
  for (size_t i = 0; i < run.groups.size(); ++i) {
    const GroupResult& g = run.groups[i];
    absl::StrAppend(&out, i ? "," : "", "{\"name\":", JsonString(g.name), ",\"cameras\":", g.cameras,
                    ",\"segments_acked\":", g.report.segments_acked, ",\"all_acked\":", Bool(g.report.all_acked),
                    ",\"ack_spooled_ms\":", Percentiles(g.report.ack_spooled),
                    ",\"errors\":", g.report.protocol_errors + g.report.connect_failures,
                    ",\"reconnects\":", g.report.reconnects,
                    ",\"latency_judged\":", Bool(g.latency_judged), "}");
  }
  return out + "]";
}

std::string Title(const BenchRun& run) {
  const BenchParams& p = run.plan.params;
  std::string what = p.idle ? "idle" : (p.bitrate_mix.empty() ? absl::StrCat(p.bitrate_kbps, " kbit/s")
                                                              : absl::StrCat("mix ", p.bitrate_mix));
  return absl::StrCat(run.plan.scenario, ": ", run.plan.cameras, " cameras, ", what);
}

std::string TimeText(absl::Time t) { return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", t, absl::UTCTimeZone()); }

}  // namespace

std::string JsonNumber(std::optional<double> value) {
  if (!value || !std::isfinite(*value)) return "null";
  // Six significant digits say everything a bench figure can.
  return absl::StrFormat("%.6g", *value);
}

std::string CommonMembers(std::string_view kind, std::string_view title, absl::Time started,
                          std::string_view command, const MachineInfo& machine) {
  return absl::StrCat("\"tool\":\"camera-bench\",\"schema_version\":1,\"kind\":", JsonString(kind),
                      ",\"title\":", JsonString(title), ",\"started_at\":", JsonString(TimeText(started)),
                      ",\"command\":", JsonString(command), ",\"machine\":{\"cores\":", machine.cores,
                      ",\"kernel\":", JsonString(machine.kernel), ",\"openssl\":", JsonString(machine.openssl),
                      ",\"hostname\":", JsonString(machine.hostname), "}");
}

std::string RunMembers(const BenchRun& run, const RunVerdict& verdict) {
  const FleetReport& r = run.total;
  std::string notes = "[";
  for (size_t i = 0; i < run.notes.size(); ++i) absl::StrAppend(&notes, i ? "," : "", JsonString(run.notes[i]));
  notes += "]";
  return absl::StrCat(
      "\"scenario\":", JsonString(run.plan.scenario), ",\"parameters\":", Parameters(run.plan.params),
      ",\"server\":{\"address\":", JsonString(run.server.address), ",\"admin\":", JsonString(run.server.admin),
      ",\"version\":", JsonString(run.server.version), ",\"commit\":", JsonString(run.server.commit),
      ",\"server_id\":", JsonString(run.server.server_id),
      ",\"pid\":", run.server.pid ? absl::StrCat(*run.server.pid) : "null", "}",
      ",\"summary\":", Summary(run), ",\"series\":", Series(run.series),
      ",\"histograms\":{\"ack_spooled_ms\":", Buckets(r.ack_spooled), ",\"ack_persisted_ms\":", Buckets(r.ack_persisted),
      ",\"welcome_ms\":", Buckets(r.handshake), ",\"gap_ms\":", Buckets(r.gaps), "}",
      ",\"groups\":", Groups(run), ",\"notes\":", notes,
      ",\"verdict\":{\"ok\":", Bool(verdict.ok), ",\"binding_resource\":", JsonString(verdict.binding_resource),
      ",\"why\":", JsonString(verdict.why), "}");
}

std::string RunResultJson(const BenchRun& run, const RunVerdict& verdict, std::string_view command) {
  return absl::StrCat("{", CommonMembers("run", Title(run), run.started, command, run.machine), ",",
                      RunMembers(run, verdict), "}\n");
}

std::string RunSummaryText(const BenchRun& run, const RunVerdict& verdict) {
  const FleetReport& r = run.total;
  const double seconds = run.ActiveSeconds();
  auto ms = [](const LatencyHistogram& h, double q) {
    return h.count() == 0 ? std::string("-") : absl::StrFormat("%.1f", absl::ToDoubleMilliseconds(h.Quantile(q)));
  };
  std::string out = absl::StrFormat(
      "%s; %.1f s (%.1f s loading keys), peak %d with WELCOME, ramp %s\n"
      "acked %llu of %llu segments (all: %s), %.2f MB/s, %.1f segments/s\n"
      "ACK spooled p50 %s p99 %s ms; persisted p50 %s p99 %s ms; WELCOME p50 %s p99 %s ms\n"
      "handshakes %llu full + %llu resumed, peak %.0f/s; reconnects %llu, gap p99 %s ms, %llu open; "
      "errors %llu\n",
      Title(run), absl::ToDoubleSeconds(run.elapsed), absl::ToDoubleSeconds(run.setup), run.connected_peak,
      run.ramp ? absl::StrFormat("%.1f s", absl::ToDoubleSeconds(*run.ramp)) : "never complete",
      static_cast<unsigned long long>(r.segments_acked), static_cast<unsigned long long>(r.segments_recorded),
      r.all_acked ? "yes" : "no", static_cast<double>(r.bytes_acked) / 1e6 / seconds,
      static_cast<double>(r.segments_acked) / seconds, ms(r.ack_spooled, 0.5), ms(r.ack_spooled, 0.99),
      ms(r.ack_persisted, 0.5), ms(r.ack_persisted, 0.99), ms(r.handshake, 0.5), ms(r.handshake, 0.99),
      static_cast<unsigned long long>(r.handshakes_full), static_cast<unsigned long long>(r.handshakes_resumed),
      run.peak_handshakes_per_s, static_cast<unsigned long long>(r.reconnects), ms(r.gaps, 0.99),
      static_cast<unsigned long long>(r.open_gaps),
      static_cast<unsigned long long>(r.protocol_errors + r.connect_failures));
  if (run.storm) {
    absl::StrAppendFormat(&out, "storm: every camera had WELCOME again %.2f s after the cut; %s handshake timeouts "
                          "at the server since the cut\n",
                          absl::ToDoubleSeconds(*run.storm), JsonNumber(run.server_handshake_timeouts_in_storm));
  }
  if (run.server_cpu_s) {
    absl::StrAppendFormat(&out, "server: %.1f CPU-s (%.2f cores), RSS peak %.0f MiB", *run.server_cpu_s,
                          *run.server_cpu_s / seconds, run.server_rss_peak_mib.value_or(0));
    if (std::optional<double> kb = run.ServerKbPerCamera()) absl::StrAppendFormat(&out, ", %.1f KB per camera", *kb);
    out += "\n";
  }
  if (run.server_handshake_timeouts) {
    absl::StrAppendFormat(&out, "server handshake timeouts %.0f, accept errors %.0f\n", *run.server_handshake_timeouts,
                          run.server_accept_errors.value_or(0));
  }
  absl::StrAppendFormat(&out, "generator: %.1f CPU-s (%.2f cores, %d threads), RSS peak %.0f MiB, bound wait %.1f ring-s\n",
                        run.generator_cpu_s, run.generator_cpu_s / std::max(1e-3, absl::ToDoubleSeconds(run.elapsed)),
                        r.rings, run.generator_rss_peak_mib,
                        absl::ToDoubleSeconds(r.handshake_bound_wait));
  for (const std::string& note : run.notes) absl::StrAppend(&out, "note: ", note, "\n");
  absl::StrAppend(&out, "verdict: ", verdict.ok ? "ok" : "FAILED", "; binding resource: ", verdict.binding_resource,
                  " — ", verdict.why, "\n");
  return out;
}

}  // namespace ingest::bench
