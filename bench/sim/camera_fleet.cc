// The fleet as a whole: checks the options, issues missing dev certificates
// once, splits the cameras over rings (bench/sim/fleet_ring.h, one thread
// each) and merges their progress and reports.
#include "bench/sim/camera_fleet.h"

#include <malloc.h>

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "bench/sim/fleet_ring.h"
#include "common/status_macros.h"
#include "server/tls/dev_certs.h"

namespace ingest {

void MergeFleetReport(FleetReport& into, FleetReport&& ring) {
  for (CameraReport& cam : ring.cameras) into.cameras.push_back(std::move(cam));
  into.elapsed = std::max(into.elapsed, ring.elapsed);
  into.segments_recorded += ring.segments_recorded;
  into.segments_acked += ring.segments_acked;
  into.bytes_acked += ring.bytes_acked;
  into.handshakes_full += ring.handshakes_full;
  into.handshakes_resumed += ring.handshakes_resumed;
  into.connect_failures += ring.connect_failures;
  into.protocol_errors += ring.protocol_errors;
  into.goaways += ring.goaways;
  into.storage_full_drops += ring.storage_full_drops;
  into.reconnects += ring.reconnects;
  into.longest_gap = std::max(into.longest_gap, ring.longest_gap);
  into.open_gaps += ring.open_gaps;
  into.all_acked = into.all_acked && ring.all_acked;
  into.ack_spooled.Merge(ring.ack_spooled);
  into.ack_persisted.Merge(ring.ack_persisted);
  into.handshake.Merge(ring.handshake);
  into.gaps.Merge(ring.gaps);
  into.peak_handshakes_in_flight += ring.peak_handshakes_in_flight;
  if (ring.storm_cut_at != absl::InfinitePast()) {
    into.storm_cut_at = into.storm_cut_at == absl::InfinitePast() ? ring.storm_cut_at
                                                                  : std::min(into.storm_cut_at, ring.storm_cut_at);
  }
  into.storm_last_welcome = std::max(into.storm_last_welcome, ring.storm_last_welcome);
  into.handshake_bound_wait += ring.handshake_bound_wait;
}

namespace {

// Each ring reports its progress on its own thread; the caller sees one
// line for the fleet, made when the first ring reports, from every ring's
// latest figures (the interval latencies of rings that reported since).
class ProgressCombiner {
 public:
  ProgressCombiner(int rings, std::function<void(const FleetProgress&)> on_progress)
      : latest_(static_cast<size_t>(rings)), fresh_(static_cast<size_t>(rings), false),
        on_progress_(std::move(on_progress)) {}

  void Report(int ring, const FleetProgress& progress) {
    std::lock_guard<std::mutex> lock(mu_);
    if (fresh_[static_cast<size_t>(ring)]) {
      pending_.Merge(latest_[static_cast<size_t>(ring)].interval_ack_latency);
    }
    latest_[static_cast<size_t>(ring)] = progress;
    fresh_[static_cast<size_t>(ring)] = true;
    if (ring != 0) return;
    FleetProgress sum;
    sum.interval_ack_latency = pending_;
    for (size_t i = 0; i < latest_.size(); ++i) {
      const FleetProgress& p = latest_[i];
      sum.elapsed = std::max(sum.elapsed, p.elapsed);
      sum.connected += p.connected;
      sum.segments_recorded += p.segments_recorded;
      sum.segments_acked += p.segments_acked;
      sum.segments_persisted += p.segments_persisted;
      sum.bytes_acked += p.bytes_acked;
      sum.reconnects += p.reconnects;
      sum.errors += p.errors;
      if (fresh_[i]) sum.interval_ack_latency.Merge(p.interval_ack_latency);
      fresh_[i] = false;
    }
    pending_.Reset();
    on_progress_(sum);
  }

 private:
  std::mutex mu_;
  std::vector<FleetProgress> latest_;
  std::vector<bool> fresh_;
  LatencyHistogram pending_;  // intervals a ring reported twice before ring 0 did
  std::function<void(const FleetProgress&)> on_progress_;
};

}  // namespace

void FleetLive::AddIntervals(const LatencyHistogram& spooled, const LatencyHistogram& persisted) {
  std::lock_guard<std::mutex> lock(mu_);
  spooled_.Merge(spooled);
  persisted_.Merge(persisted);
}

std::pair<LatencyHistogram, LatencyHistogram> FleetLive::TakeIntervals() {
  std::lock_guard<std::mutex> lock(mu_);
  std::pair<LatencyHistogram, LatencyHistogram> taken{spooled_, persisted_};
  spooled_.Reset();
  persisted_.Reset();
  return taken;
}

int CamerasPerRing() {
  rlimit limit{};
  rlim_t files = getrlimit(RLIMIT_NOFILE, &limit) == 0 ? limit.rlim_cur : 1024;
  return static_cast<int>(std::clamp<rlim_t>(files / 4 * 3, 1, 16384));
}

int RingsFor(const FleetOptions& options) {
  const int per_ring_cap = options.direct_descriptors ? CamerasPerRing() : options.cameras;
  const int rings = options.rings > 0 ? options.rings : (options.cameras + per_ring_cap - 1) / per_ring_cap;
  return std::max(1, std::min(rings, options.cameras));
}

namespace {

// What RunCameraFleet checks and prepares before its rings start.
absl::Status PrepareFleet(const FleetOptions& options) {
  if (options.cameras <= 0) return absl::InvalidArgumentError("cameras must be at least 1");
  if (options.source_addresses < 0 || options.source_addresses > 65000) {
    return absl::InvalidArgumentError("source_addresses must be 0..65000");
  }
  std::vector<FleetTarget> targets = options.targets;
  if (targets.empty()) targets.push_back({options.host, options.port});
  for (const FleetTarget& target : targets) {
    if (options.source_addresses > 0 && !absl::StartsWith(target.host, "127.")) {
      return absl::InvalidArgumentError(absl::StrCat(
          "source_addresses spreads cameras over 127.0.0.2 and up: the host must be on loopback, not ",
          target.host));
    }
  }
  // Dev set-ups issue missing camera certificates (the CA key is there), once
  // for every ring.
  DevCertPaths paths = DevCertPathsIn(options.certs_dir);
  if (!options.certificates_ready && access(paths.camera_ca_key.c_str(), R_OK) == 0) {
    RETURN_IF_ERROR(MakeDevCertificates(DevCertOptions{
        .out_dir = options.certs_dir,
        .camera_count = options.first_camera - 1 + options.cameras,
        .camera_id_format = options.id_format}));
  }
  const int rings = RingsFor(options);
  if (options.direct_descriptors && (options.cameras + rings - 1) / rings > CamerasPerRing()) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.cameras, " cameras over ", rings, " rings exceed ", CamerasPerRing(),
        " per ring (the descriptor limit caps a ring's table): use more rings"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<FleetReport> RunCameraFleet(const FleetOptions& options) {
  // A segment and its ciphertext are strings of hundreds of KiB, above
  // glibc's mmap threshold: each was mapped, zero-filled by the kernel and
  // unmapped again, 12% of the simulator's CPU in a saturating run (the
  // server's share of the machine). Kept in the heap they are reused.
  mallopt(M_MMAP_THRESHOLD, 32 << 20);
  mallopt(M_TRIM_THRESHOLD, 512 << 20);
  if (absl::Status prepared = PrepareFleet(options); !prepared.ok()) {
    // These rings will never count themselves down: others must not wait for them.
    if (options.live != nullptr) options.live->rings_setting_up.fetch_sub(RingsFor(options));
    return prepared;
  }
  const int rings = RingsFor(options);
  if (rings == 1) {
    absl::StatusOr<FleetReport> report = RunFleetRing(options);
    if (report.ok()) report->rings = 1;
    return report;
  }
  std::unique_ptr<ProgressCombiner> combiner;
  if (options.on_progress) combiner = std::make_unique<ProgressCombiner>(rings, options.on_progress);
  std::vector<absl::StatusOr<FleetReport>> reports(static_cast<size_t>(rings),
                                                   absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  int first = options.first_camera;
  for (int ring = 0; ring < rings; ++ring) {
    FleetOptions part = options;
    part.cameras = options.cameras / rings + (ring < options.cameras % rings ? 1 : 0);
    part.first_camera = first;
    first += part.cameras;
    part.connects_per_second = options.connects_per_second / rings;
    if (options.max_handshakes_in_flight > 0) {
      part.max_handshakes_in_flight = std::max(1, options.max_handshakes_in_flight / rings);
    }
    part.on_progress = nullptr;
    if (combiner != nullptr) {
      part.on_progress = [&combiner, ring](const FleetProgress& p) { combiner->Report(ring, p); };
    }
    threads.emplace_back([part, &reports, ring] {
      reports[static_cast<size_t>(ring)] = RunFleetRing(part);
    });
  }
  for (std::thread& thread : threads) thread.join();
  FleetReport total;
  total.all_acked = true;
  total.rings = rings;
  for (absl::StatusOr<FleetReport>& report : reports) {
    if (!report.ok()) return report.status();
    MergeFleetReport(total, std::move(*report));
  }
  return total;
}

}  // namespace ingest
