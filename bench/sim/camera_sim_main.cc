// camera-sim: many simulated cameras from one process, streaming to ingestd.
//
//   camera-sim --target 127.0.0.1:7443 --certs_dir var/dev-certs --cameras 1000
//              --bitrate_kbps 1000 --segment_ms 2000 --duration_s 60
//
// Prints a live line per second and a final report (--json for tools, with
// per-camera SHA-256 of everything recorded when --per_camera is set).
// SIGTERM or SIGINT ends the recording early: the cameras still wait for the
// acknowledgements of what they recorded, then the report is printed (a
// second signal kills at once).
#include <atomic>
#include <cstdio>
#include <string>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "bench/sim/camera_fleet.h"
#include "bench/sim/stop_on_signals.h"
#include "common/host_port.h"
#include "common/json_string.h"

ABSL_FLAG(std::string, target, "127.0.0.1:7443", "ingestd address host:port (IPv4)");
ABSL_FLAG(std::string, server_name, "localhost", "name checked against the server certificate");
ABSL_FLAG(std::string, certs_dir, "var/dev-certs", "server-ca.crt and cameras/<id>.pem");
ABSL_FLAG(int, cameras, 10, "number of cameras");
ABSL_FLAG(int, first_camera, 1, "number of the first camera");
ABSL_FLAG(std::string, id_format, "cam-%06d", "camera id format");
ABSL_FLAG(int, bitrate_kbps, 1000, "per-camera bitrate");
ABSL_FLAG(int, segment_ms, 2000, "segment duration");
ABSL_FLAG(int, segment_bytes, 0, "segment size (0: bitrate x duration)");
ABSL_FLAG(double, duration_s, 10, "how long the cameras record");
ABSL_FLAG(int, max_segments, 0, "segments per camera (0: no limit)");
ABSL_FLAG(bool, idle, false, "connect and keep alive only");
ABSL_FLAG(bool, saturate, false,
          "closed loop: record the next segment as soon as fewer than four are outstanding");
ABSL_FLAG(double, connect_rate, 1000, "new connections per second");
ABSL_FLAG(int, max_handshakes, 512,
          "most cameras between connect and WELCOME at once (0: no bound); offering the "
          "server more handshakes than it finishes before its deadline makes them time out");
ABSL_FLAG(int, rings, 0, "io_uring rings (threads) the cameras are split over; 0: as few as hold them");
ABSL_FLAG(int, source_addresses, 0,
          "spread the cameras over this many source addresses 127.0.0.2... (0: the kernel's "
          "choice); one address has about 28,000 ports toward one server port");
ABSL_FLAG(bool, direct_descriptors, true,
          "connections as io_uring direct descriptors, outside the process's fd limit");
ABSL_FLAG(double, drain_timeout_s, 30, "after recording, wait this long for acks");
ABSL_FLAG(std::string, wait_for, "spooled", "acknowledgement level to wait for: spooled|persisted");
ABSL_FLAG(bool, resume, true, "offer TLS session tickets on reconnect");
ABSL_FLAG(bool, json, false, "print the final report as JSON on stdout");
ABSL_FLAG(bool, per_camera, false, "include per-camera lines (id, segments, sha256) in the JSON");
ABSL_FLAG(bool, quiet, false, "no live lines");

namespace {

double Ms(absl::Duration d) { return absl::ToDoubleMilliseconds(d); }

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage("simulated camera fleet for ingestd");
  absl::ParseCommandLine(argc, argv);
  ingest::FleetOptions options;
  absl::StatusOr<ingest::HostPort> target = ingest::ParseEndpoint(absl::GetFlag(FLAGS_target));
  if (!target.ok()) {
    std::fprintf(stderr, "camera-sim: --target: %s\n", std::string(target.status().message()).c_str());
    return 2;
  }
  options.host = target->host;  // the fleet checks that it is IPv4
  options.port = target->port;
  options.server_name = absl::GetFlag(FLAGS_server_name);
  options.certs_dir = absl::GetFlag(FLAGS_certs_dir);
  options.cameras = absl::GetFlag(FLAGS_cameras);
  options.first_camera = absl::GetFlag(FLAGS_first_camera);
  options.id_format = absl::GetFlag(FLAGS_id_format);
  options.bitrate_bps = static_cast<uint64_t>(absl::GetFlag(FLAGS_bitrate_kbps)) * 1000;
  options.segment_duration = absl::Milliseconds(absl::GetFlag(FLAGS_segment_ms));
  options.segment_bytes = static_cast<uint32_t>(absl::GetFlag(FLAGS_segment_bytes));
  options.record_for = absl::Seconds(absl::GetFlag(FLAGS_duration_s));
  options.max_segments_per_camera = static_cast<uint64_t>(absl::GetFlag(FLAGS_max_segments));
  options.idle = absl::GetFlag(FLAGS_idle);
  options.saturate = absl::GetFlag(FLAGS_saturate);
  options.connects_per_second = absl::GetFlag(FLAGS_connect_rate);
  options.max_handshakes_in_flight = absl::GetFlag(FLAGS_max_handshakes);
  options.rings = absl::GetFlag(FLAGS_rings);
  options.source_addresses = absl::GetFlag(FLAGS_source_addresses);
  options.direct_descriptors = absl::GetFlag(FLAGS_direct_descriptors);
  if (options.max_handshakes_in_flight < 0 || options.rings < 0 || options.rings > 64) {
    std::fprintf(stderr, "camera-sim: --max_handshakes must be >= 0 and --rings 0..64\n");
    return 2;
  }
  options.drain_timeout = absl::Seconds(absl::GetFlag(FLAGS_drain_timeout_s));
  std::string wait_for = absl::GetFlag(FLAGS_wait_for);
  if (wait_for != "spooled" && wait_for != "persisted") {
    std::fprintf(stderr, "camera-sim: --wait_for must be spooled or persisted\n");
    return 2;
  }
  options.wait_for = wait_for == "spooled" ? camproto::DurabilityLevel::kSpooled
                                           : camproto::DurabilityLevel::kPersisted;
  options.resume_tls = absl::GetFlag(FLAGS_resume);
  options.stop = ingest::StopOnSignals();
  if (options.cameras <= 0 || options.cameras > 100000) {
    std::fprintf(stderr, "camera-sim: --cameras must be 1..100000\n");
    return 2;
  }
  if (!absl::GetFlag(FLAGS_quiet)) {
    options.on_progress = [](const ingest::FleetProgress& p) {
      std::fprintf(stderr,
                   "[%6.1fs] connected %6llu  recorded %8llu  acked %8llu  persisted %8llu  "
                   "%7.2f MB acked  ack p50 %6.1f ms p99 %6.1f ms  reconnects %llu  errors %llu\n",
                   absl::ToDoubleSeconds(p.elapsed), static_cast<unsigned long long>(p.connected),
                   static_cast<unsigned long long>(p.segments_recorded),
                   static_cast<unsigned long long>(p.segments_acked),
                   static_cast<unsigned long long>(p.segments_persisted),
                   static_cast<double>(p.bytes_acked) / 1e6, Ms(p.interval_ack_latency.Quantile(0.5)),
                   Ms(p.interval_ack_latency.Quantile(0.99)),
                   static_cast<unsigned long long>(p.reconnects),
                   static_cast<unsigned long long>(p.errors));
    };
  }
  absl::StatusOr<ingest::FleetReport> report = ingest::RunCameraFleet(options);
  if (!report.ok()) {
    std::fprintf(stderr, "camera-sim: %s\n", report.status().ToString().c_str());
    return 1;
  }
  const ingest::FleetReport& r = *report;
  double seconds = absl::ToDoubleSeconds(r.elapsed);
  uint64_t bytes = 0;
  for (const auto& cam : r.cameras) bytes += cam.bytes;
  if (absl::GetFlag(FLAGS_json)) {
    std::string out = absl::StrCat(
        "{\"cameras\":", r.cameras.size(), ",\"elapsed_s\":", seconds,
        ",\"segments_recorded\":", r.segments_recorded, ",\"segments_acked\":", r.segments_acked,
        ",\"bytes_recorded\":", bytes, ",\"all_acked\":", r.all_acked ? "true" : "false",
        ",\"handshakes_full\":", r.handshakes_full, ",\"handshakes_resumed\":", r.handshakes_resumed,
        ",\"connect_failures\":", r.connect_failures, ",\"protocol_errors\":", r.protocol_errors,
        ",\"goaways\":", r.goaways, ",\"storage_full_drops\":", r.storage_full_drops,
        ",\"reconnects\":", r.reconnects, ",\"longest_gap_ms\":", Ms(r.longest_gap),
        ",\"gap_p50_ms\":", Ms(r.gaps.Quantile(0.5)), ",\"gap_p99_ms\":", Ms(r.gaps.Quantile(0.99)),
        ",\"open_gaps\":", r.open_gaps,
        ",\"ack_spooled_ms\":{\"p50\":", Ms(r.ack_spooled.Quantile(0.5)),
        ",\"p90\":", Ms(r.ack_spooled.Quantile(0.9)), ",\"p99\":", Ms(r.ack_spooled.Quantile(0.99)),
        ",\"max\":", Ms(r.ack_spooled.max()), "}",
        ",\"ack_persisted_ms\":{\"p50\":", Ms(r.ack_persisted.Quantile(0.5)),
        ",\"p99\":", Ms(r.ack_persisted.Quantile(0.99)), "}",
        ",\"welcome_ms\":{\"p50\":", Ms(r.handshake.Quantile(0.5)),
        ",\"p99\":", Ms(r.handshake.Quantile(0.99)), "}",
        ",\"rings\":", r.rings, ",\"peak_handshakes_in_flight\":", r.peak_handshakes_in_flight,
        ",\"handshake_bound_wait_s\":", absl::ToDoubleSeconds(r.handshake_bound_wait));
    if (absl::GetFlag(FLAGS_per_camera)) {
      absl::StrAppend(&out, ",\"per_camera\":[");
      for (size_t i = 0; i < r.cameras.size(); ++i) {
        const auto& c = r.cameras[i];
        absl::StrAppend(&out, i ? "," : "", "{\"id\":", ingest::JsonString(c.id), ",\"segments\":", c.segments,
                        ",\"bytes\":", c.bytes, ",\"sha256\":", ingest::JsonString(c.sha256_hex),
                        ",\"acked_spooled\":", c.acked_spooled,
                        ",\"acked_persisted\":", c.acked_persisted, ",\"resent\":", c.resent,
                        ",\"connections\":", c.connections, ",\"reconnects\":", c.reconnects,
                        ",\"longest_gap_ms\":", Ms(c.longest_gap),
                        ",\"first_capture_us\":", c.first_capture_us,
                        ",\"end_capture_us\":", c.end_capture_us, "}");
      }
      absl::StrAppend(&out, "]");
    }
    absl::StrAppend(&out, "}\n");
    std::fputs(out.c_str(), stdout);
  } else {
    std::printf(
        "%zu cameras, %.1f s: %llu segments recorded, %llu acked (all acked: %s), %.1f MB, "
        "%.1f segments/s, %.2f MB/s\n"
        "ack(spooled) p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms\n"
        "ack(persisted) p50 %.2f ms  p90 %.2f ms  p99 %.2f ms  max %.2f ms (%llu segments)\n"
        "handshakes: %llu full, %llu resumed; connect failures %llu; protocol errors %llu; "
        "goaways %llu\n"
        "reconnects %llu; gap (connection lost -> next WELCOME) p50 %.1f ms  p99 %.1f ms  "
        "longest %.1f ms; %llu cameras without a connection at the end\n"
        "load generator: %d rings, at most %llu handshakes in flight; connects waited %.1f s "
        "(ring-seconds) for the handshake bound\n",
        r.cameras.size(), seconds, static_cast<unsigned long long>(r.segments_recorded),
        static_cast<unsigned long long>(r.segments_acked), r.all_acked ? "yes" : "no",
        static_cast<double>(bytes) / 1e6, static_cast<double>(r.segments_acked) / seconds,
        static_cast<double>(bytes) / 1e6 / seconds, Ms(r.ack_spooled.Quantile(0.5)),
        Ms(r.ack_spooled.Quantile(0.9)), Ms(r.ack_spooled.Quantile(0.99)), Ms(r.ack_spooled.max()),
        Ms(r.ack_persisted.Quantile(0.5)), Ms(r.ack_persisted.Quantile(0.9)), Ms(r.ack_persisted.Quantile(0.99)),
        Ms(r.ack_persisted.max()), static_cast<unsigned long long>(r.ack_persisted.count()),
        static_cast<unsigned long long>(r.handshakes_full),
        static_cast<unsigned long long>(r.handshakes_resumed),
        static_cast<unsigned long long>(r.connect_failures),
        static_cast<unsigned long long>(r.protocol_errors),
        static_cast<unsigned long long>(r.goaways), static_cast<unsigned long long>(r.reconnects),
        Ms(r.gaps.Quantile(0.5)), Ms(r.gaps.Quantile(0.99)), Ms(r.longest_gap),
        static_cast<unsigned long long>(r.open_gaps), r.rings,
        static_cast<unsigned long long>(r.peak_handshakes_in_flight),
        absl::ToDoubleSeconds(r.handshake_bound_wait));
  }
  return r.all_acked ? 0 : 3;
}
