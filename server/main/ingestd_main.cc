// ingestd: the camera ingest daemon.
//
//   ingestd --config /etc/ingestd/ingestd.toml        # run
//   ingestd --dev_certs --listen 127.0.0.1:7443       # run on the embedded defaults
//   ingestd --config ... --print_config               # show the effective configuration
//   ingestd certs --out DIR --cameras N               # development CA and certificates
//   ingestd check --config FILE [--installed_config_dir DIR [--staged_config_dir DIR]]
//                                                     # open every file the server would (release_check.h)
//   ingestd --help                                    # ingestd's and every configuration flag
//                                                     #   (--helpfull: every library's too)
//
// Flags may be spelled with dashes or underscores (--max-connections).
// SIGTERM (or POST /admin/drain): graceful drain — readiness fails, cameras
// are moved to peers in waves, the spool is uploaded, exit 0 (1 if the
// drain deadline came first; nothing is lost, the spool keeps it). A second
// SIGTERM hurries the drain. SIGINT (Ctrl-C) drains fast from the start.
// SIGHUP re-reads the TLS files (certificate, key, camera CA, CRL, deny list,
// ticket keys; also re-read within seconds when one changes) and the zone map
// (likewise).
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"
#include "absl/strings/str_cat.h"
#include "common/json_log.h"
#include "server/config/ingest_config.h"
#include "server/config/ingest_flags.h"
#include "server/ingestd/ingest_server.h"
#include "server/ingestd/ingestd_usage.h"
#include "server/ingestd/startup_config.h"
#include "server/release/release_check.h"
#include "server/tls/dev_certs.h"

ABSL_FLAG(std::string, config, "", "TOML configuration file (flags override its values)");
ABSL_FLAG(bool, print_config, false, "Print the effective configuration as TOML and exit");
ABSL_FLAG(int, stats_interval_s, 10, "Seconds between 'stats' log lines (0: never)");
ABSL_FLAG(std::string, out, "", "certs: output folder");
ABSL_FLAG(int, cameras, 0, "certs: number of camera certificates");
ABSL_FLAG(std::string, installed_config_dir, "",
          "check: the folder the configuration will be installed into; files it names there are read from the "
          "staged folder when the release ships them, from the host otherwise");
ABSL_FLAG(std::string, staged_config_dir, "", "check: the release's staged configuration folder (default: that of --config)");

namespace ingest {
namespace {

log::Level ParseLevel(const std::string& level) {
  if (level == "debug") return log::Level::kDebug;
  if (level == "warn") return log::Level::kWarn;
  if (level == "error") return log::Level::kError;
  return log::Level::kInfo;
}

void LogStats(const IngestServer& server) {
  IngestStats s = server.Stats();
  double ack_ms =
      s.ack_latency_count == 0 ? 0.0 : static_cast<double>(s.ack_latency_us_sum) / s.ack_latency_count / 1000.0;
  log::Info("stats", {{"connections_open", s.connections_open},
                      {"sessions_welcomed", s.sessions_welcomed},
                      {"segments_accepted", s.segments_accepted},
                      {"segments_duplicate", s.segments_duplicate},
                      {"payload_bytes", s.payload_bytes_accepted},
                      {"mean_spool_ack_ms", ack_ms},
                      {"handshakes_full", s.handshakes_full},
                      {"handshakes_resumed", s.handshakes_resumed},
                      {"handshake_failures", s.handshake_failures_cert + s.handshake_failures_other},
                      {"refused", s.refused_total_limit + s.refused_source_limit},
                      {"protocol_errors", s.protocol_errors},
                      {"backpressure_pauses", s.backpressure_pauses},
                      {"recv_enobufs", s.recv_enobufs},
                      {"ring_cq_overflows", s.ring_cq_overflows},
                      {"spool_bytes_live", s.spool_bytes_live},
                      {"segments_persisted", s.sealer.segments_persisted},
                      {"segments_pending", s.sealer.pending_segments},
                      {"batches_written", s.sealer.batches_written},
                      {"batch_bytes_written", s.sealer.batch_bytes_written},
                      {"batches_in_flight", s.sealer.batches_in_flight},
                      {"index_objects_written", s.sealer.index_objects_written},
                      {"store_ok", s.sealer.store_ok},
                      {"store_errors", s.sealer.store_errors},
                      {"s3_requests", s.store.requests},
                      {"s3_retries", s.store.retries}});
}

int RunCerts() {
  std::string out = absl::GetFlag(FLAGS_out);
  if (out.empty()) {
    std::fprintf(stderr, "ingestd certs: --out DIR is required\n");
    return 2;
  }
  absl::Status s = MakeDevCertificates(DevCertOptions{.out_dir = out, .camera_count = absl::GetFlag(FLAGS_cameras)});
  if (!s.ok()) {
    std::fprintf(stderr, "ingestd certs: %s\n", s.ToString().c_str());
    return 1;
  }
  std::printf("development certificates in %s (%d cameras)\n", out.c_str(), absl::GetFlag(FLAGS_cameras));
  return 0;
}

// Exit 2 on any problem, like a configuration the server refuses.
int RunCheck() {
  ReleaseCheckReport report = CheckRelease(ReleaseCheckOptions{
      .config_file = absl::GetFlag(FLAGS_config),
      .installed_config_dir = absl::GetFlag(FLAGS_installed_config_dir),
      .staged_config_dir = absl::GetFlag(FLAGS_staged_config_dir)});
  PrintReleaseCheckReport(report, stdout, stderr);
  return report.ok() ? 0 : 2;
}

// SIGTERM and SIGINT drain (a second one hurries the drain), SIGHUP reloads.
void HandleSignal(IngestServer& server, int sig) {
  if (sig == SIGTERM || sig == SIGINT) {
    const char* name = sig == SIGTERM ? "SIGTERM" : "SIGINT";
    log::Info("ingestd_signal", {{"signal", name}});
    server.Drain(name, /*fast=*/sig == SIGINT);
  }
  if (sig == SIGHUP) {
    // Certificate, key, camera CA, CRL, deny list and ticket keys, as one
    // set: all valid, or the old set stays (the audit log says which).
    absl::Status reloaded = server.ReloadTls("SIGHUP");
    if (!reloaded.ok()) log::Error("tls_reload_failed", {{"error", reloaded.ToString()}});
    if (!server.config().server.zone_map.empty()) {
      absl::Status zones = server.ReloadZoneMap();
      if (!zones.ok()) log::Error("zone_map_reload_failed", {{"error", zones.ToString()}});
    }
  }
}

// What the main thread does now and then while the server runs.
class Chores {
 public:
  explicit Chores(absl::Duration stats_interval) : stats_interval_(stats_interval) {}

  absl::Time next_due() const {
    absl::Time next = std::min(next_zone_check_, next_trim_);
    return stats_interval_ > absl::ZeroDuration() ? std::min(next, next_stats_) : next;
  }

  void RunDue(IngestServer& server) {
    const absl::Time now = absl::Now();
    if (now >= next_zone_check_) {
      server.ReloadZoneMapIfChanged();
      next_zone_check_ = now + absl::Seconds(1);
    }
    if (stats_interval_ > absl::ZeroDuration() && now >= next_stats_) {
      LogStats(server);
      next_stats_ = now + stats_interval_;
    }
    // Handshake storms leave freed memory scattered through the shards'
    // malloc arenas; hand it back to the kernel so RSS follows the cameras
    // actually connected. Off the shard threads, a few ms every 5 s.
    if (now >= next_trim_) {
      malloc_trim(0);
      next_trim_ = now + absl::Seconds(5);
    }
  }

 private:
  const absl::Duration stats_interval_;
  absl::Time next_stats_ = absl::Now() + stats_interval_;
  absl::Time next_trim_ = absl::Now() + absl::Seconds(5);
  absl::Time next_zone_check_ = absl::Now() + absl::Seconds(1);
};

// Until the server has ended (a shard failed, or a drain flushed it), waits
// for a signal, the end, or the next chore, whichever comes first.
void ServeUntilEnded(IngestServer& server, int signal_fd) {
  Chores chores(absl::Seconds(absl::GetFlag(FLAGS_stats_interval_s)));
  while (!server.ended()) {
    pollfd fds[2] = {{.fd = signal_fd, .events = POLLIN, .revents = 0},
                     {.fd = server.ended_fd(), .events = POLLIN, .revents = 0}};
    const absl::Duration wait = std::max(absl::ZeroDuration(), chores.next_due() - absl::Now());
    const int timeout_ms = static_cast<int>(absl::ToInt64Milliseconds(absl::Ceil(wait, absl::Milliseconds(1))));
    if (poll(fds, 2, timeout_ms) > 0 && (fds[0].revents & POLLIN) != 0) {
      signalfd_siginfo info{};
      if (read(signal_fd, &info, sizeof(info)) == sizeof(info)) HandleSignal(server, static_cast<int>(info.ssi_signo));
    }
    chores.RunDue(server);
  }
}

// Buffers of 128 KiB and more (segment buffers, batch objects) get their own
// mapping, unmapped when freed. glibc starts there, but raises the threshold to
// the size of each mapped chunk freed (up to 32 MiB), so after the first batch
// object is freed every later one is carved from the sealer's arena, where freed
// chunks stay resident until the next malloc_trim and fragment. malloc_stats at
// 1,000 cameras offering 250 MB/s (2 shards, 2026-12-03): the sealer's arena
// held 151 MB for 87 MB in use and three upload threads' arenas 16 MB each for
// 16 KB; 120 MB mapped and not in use in all. Setting the threshold also stops
// it moving (and keeps the trim threshold at its 128 KiB default).
void KeepLargeBuffersMapped() { mallopt(M_MMAP_THRESHOLD, 128 << 10); }

int RunServer() {
  KeepLargeBuffersMapped();
  absl::StatusOr<IngestConfig> config = BuildStartupConfig(absl::GetFlag(FLAGS_config));
  if (!config.ok()) {
    std::fprintf(stderr, "ingestd: configuration error: %s\n", std::string(config.status().message()).c_str());
    return 2;
  }
  if (absl::GetFlag(FLAGS_print_config)) {
    std::fputs(ConfigToToml(*config).c_str(), stdout);
    return 0;
  }
  log::SetMinLevel(ParseLevel(config->log.level));
  // Signals reach this thread only, through a signalfd; the shard threads
  // inherit the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  signal(SIGPIPE, SIG_IGN);
  const int signal_fd = signalfd(-1, &signals, SFD_CLOEXEC);
  if (signal_fd < 0) {
    log::Error("ingestd_start_failed", {{"error", absl::StrCat("signalfd: ", std::strerror(errno))}});
    return 1;
  }

  absl::StatusOr<std::unique_ptr<IngestServer>> server = IngestServer::Start(*config);
  if (!server.ok()) {
    log::Error("ingestd_start_failed", {{"error", server.status().ToString()}});
    return 1;
  }
  ServeUntilEnded(**server, signal_fd);
  absl::Status stopped = (*server)->Stop();
  LogStats(**server);
  if (!stopped.ok()) {
    log::Error("ingestd_failed", {{"error", stopped.ToString()}});
    return 1;
  }
  const DrainProgress drain = (*server)->drain().Progress();
  return drain.phase == DrainPhase::kDone ? drain.exit_code : 0;
}

}  // namespace
}  // namespace ingest

int main(int argc, char** argv) {
  // --help lists the configuration flags as well as these.
  ingest::SetIngestdUsage(
      "camera ingest daemon\n  ingestd [--config FILE] [flags]\n  ingestd certs --out DIR --cameras N\n"
      "  ingestd check --config FILE [--installed_config_dir DIR] [--staged_config_dir DIR]");
  std::vector<std::string> storage;
  std::vector<char*> args = ingest::NormalizeFlagSpelling(argc, argv, storage);
  std::vector<char*> positional = absl::ParseCommandLine(static_cast<int>(args.size()), args.data());
  if (positional.size() > 1) {
    std::string command = positional[1];
    if (command == "certs") return ingest::RunCerts();
    if (command == "check") return ingest::RunCheck();
    std::fprintf(stderr, "ingestd: unknown command '%s' (try --help)\n", command.c_str());
    return 2;
  }
  return ingest::RunServer();
}
