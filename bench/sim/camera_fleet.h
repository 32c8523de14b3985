// A fleet of simulated cameras: each camera has its own certificate, its own
// TLS connection (memory BIOs over an io_uring ring; large fleets are split
// over several rings, one thread each, see FleetOptions::rings),
// records segments at a set bitrate, keeps what the server has not
// acknowledged and re-sends it after a reconnect, exactly as firmware using
// proto/camera_client.h would. Used by `camera-sim`, by the integration tests
// and by the benchmarks.
//
//   FleetOptions options{.port = 7443, .certs_dir = "var/dev-certs", .cameras = 200};
//   ASSIGN_OR_RETURN(FleetReport report, RunCameraFleet(options));
//   report.cameras[0].sha256_hex   // of every payload camera 0 recorded, in seq order
#ifndef BENCH_SIM_CAMERA_FLEET_H_
#define BENCH_SIM_CAMERA_FLEET_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "bench/sim/latency_histogram.h"
#include "proto/frame.h"

namespace ingest {

struct FleetProgress {
  absl::Duration elapsed;
  uint64_t connected = 0;
  uint64_t segments_recorded = 0;
  uint64_t segments_acked = 0;       // spooled, cumulative
  uint64_t segments_persisted = 0;   // cumulative
  uint64_t bytes_acked = 0;          // payload, cumulative
  uint64_t reconnects = 0;
  uint64_t errors = 0;
  LatencyHistogram interval_ack_latency;  // since the previous progress report
};

// Counters every ring of a fleet adds to as it runs (each publishes what
// changed about five times a second), so a caller can follow the whole fleet
// from another thread without waiting for any one ring. Gauges may briefly
// lag by one publication.
struct FleetLive {
  std::atomic<int64_t> connected{0};             // open connections (TLS started)
  std::atomic<int64_t> welcomed{0};              // cameras with a WELCOME on their connection now
  std::atomic<int64_t> handshakes_in_flight{0};  // connect -> WELCOME
  std::atomic<uint64_t> handshakes{0};           // WELCOMEs, cumulative
  std::atomic<uint64_t> handshakes_resumed{0};   // of which on a resumed TLS session
  std::atomic<uint64_t> welcomed_after_cut{0};   // cameras welcomed again since FleetOptions::cut_all, each once
  std::atomic<uint64_t> segments_recorded{0};
  std::atomic<uint64_t> segments_acked{0};       // spooled
  std::atomic<uint64_t> segments_persisted{0};
  std::atomic<uint64_t> bytes_acked{0};          // payload, spooled
  std::atomic<uint64_t> reconnects{0};
  std::atomic<uint64_t> errors{0};               // protocol errors and connect failures
  // Set by the caller, before any fleet starts, to the rings of every fleet
  // following this (RingsFor summed). A ring counts itself down once its
  // cameras are loaded and connects only when the count reaches 0: a ramp
  // starts on every ring at once, and loading keys is not timed as ramp.
  std::atomic<int> rings_setting_up{0};
  // ACK latencies since the last TakeIntervals, merged in by the rings.
  void AddIntervals(const LatencyHistogram& spooled, const LatencyHistogram& persisted);
  std::pair<LatencyHistogram, LatencyHistogram> TakeIntervals();

 private:
  std::mutex mu_;
  LatencyHistogram spooled_;
  LatencyHistogram persisted_;
};

// One server the fleet connects to.
struct FleetTarget {
  std::string host;  // IPv4
  uint16_t port = 0;
};

struct FleetOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 7443;
  // More servers: with any here, camera n starts on targets[n % size] (host
  // and port above are then unused) and moves to the next one after a GOAWAY
  // or a lost connection, as a load balancer would send it elsewhere.
  std::vector<FleetTarget> targets;
  std::string server_name = "localhost";  // checked against the server certificate
  std::string certs_dir = "var/dev-certs";  // server-ca.crt, cameras/<id>.pem; missing cameras are issued if camera-ca.key is there
  int cameras = 10;
  int first_camera = 1;
  std::string id_format = "cam-%06d";
  uint64_t bitrate_bps = 1'000'000;
  absl::Duration segment_duration = absl::Seconds(2);
  uint32_t segment_bytes = 0;  // 0: bitrate x duration
  bool keyframe = true;        // every segment starts with a keyframe
  // Each camera records for this long from its first WELCOME; then the fleet
  // waits (up to drain_timeout) for the acks.
  absl::Duration record_for = absl::Seconds(10);
  uint64_t max_segments_per_camera = 0;           // 0: no limit
  bool idle = false;                              // connect and only keep alive (memory figures)
  // Closed loop (like wrk): a camera records its next segment as soon as
  // fewer than four are outstanding, whatever the bitrate. Measures
  // what the server can take rather than a fixed offered load.
  bool saturate = false;
  double connects_per_second = 1000;              // new connections, all cameras together
  // At most this many cameras between connect and WELCOME at once, all rings
  // together: offering more handshakes than the server completes before its
  // deadline makes most of them time out and be paid for again. 0: no bound.
  int max_handshakes_in_flight = 512;
  // Connections as io_uring direct descriptors, outside the process's
  // file-descriptor limit (a socket holds an fd only while it is set up).
  bool direct_descriptors = true;
  // Rings the cameras are split over, each on its own thread; a ring's
  // direct-descriptor table is capped by the process's descriptor limit.
  // 0: as few as hold the cameras.
  int rings = 0;
  // Source addresses 127.0.0.2, 127.0.0.3, ... (this many), the cameras spread
  // over them: one address has only about 28,000 ephemeral ports toward one
  // server address and port. 0: the kernel chooses. Needs a 127.x.y.z host.
  int source_addresses = 0;
  absl::Duration drain_timeout = absl::Seconds(30);  // after recording: wait this long for acks
  camproto::DurabilityLevel wait_for = camproto::DurabilityLevel::kSpooled;
  bool resume_tls = true;                         // offer TLS session tickets on reconnect
  absl::Duration report_interval = absl::Seconds(1);
  std::function<void(const FleetProgress&)> on_progress;
  const std::atomic<bool>* stop = nullptr;        // ends recording early when set
  // Drop every camera's connection once, this long after start (resume tests).
  absl::Duration disconnect_all_after = absl::InfiniteDuration();
  // After a GOAWAY a camera keeps its connection until every segment it sent
  // is acknowledged (so nothing the server spooled is sent twice), but no
  // longer than this: a server that never answers must not hold it forever.
  absl::Duration goaway_ack_timeout = absl::Seconds(15);
  // The camera certificates exist already (the caller issued them): skips
  // the fleet's own check of every one.
  bool certificates_ready = false;
  // Follow the fleet live from another thread (see FleetLive); not owned.
  FleetLive* live = nullptr;
  // A reconnect storm: once set, every ring cuts all its connections at once
  // (no close_notify, as a network blip would) and the cameras reconnect
  // after `cut_reconnect_delay`, all at once: connects_per_second no longer
  // paces them. max_handshakes_in_flight still bounds them unless
  // storm_unbounded: the generator's one core per ring doing every camera's
  // handshake at once would time them out itself, which real cameras, each
  // with its own CPU, would not. Obeyed once.
  const std::atomic<bool>* cut_all = nullptr;
  absl::Duration cut_reconnect_delay = absl::ZeroDuration();
  bool storm_unbounded = false;
  // Slow cameras. A slow reader stops reading for this long after each
  // receive (the server's ACKs pile up in its socket); 0: reads at once.
  absl::Duration read_pause = absl::ZeroDuration();
  // A slow sender writes at most this many plaintext bytes at a time, one
  // piece per send_piece_interval; 0: everything at once.
  uint32_t send_piece_bytes = 0;
  absl::Duration send_piece_interval = absl::Milliseconds(10);
};

struct CameraReport {
  std::string id;
  uint64_t segments = 0;         // recorded
  uint64_t bytes = 0;            // payload recorded
  std::string sha256_hex;        // of the recorded payloads in seq order
  uint64_t acked_spooled = 0;
  uint64_t acked_persisted = 0;
  uint64_t resent = 0;
  uint64_t connections = 0;
  // Welcomed connections after the first one.
  uint64_t reconnects = 0;
  // Longest time without a usable connection: from losing a welcomed
  // connection (GOAWAY received, or the connection dropped) to the next
  // WELCOME. A camera still without one when the run ends counts up to then.
  absl::Duration longest_gap = absl::ZeroDuration();
  int64_t first_capture_us = 0;
  int64_t end_capture_us = 0;
};

struct FleetReport {
  std::vector<CameraReport> cameras;
  absl::Duration elapsed;
  uint64_t segments_recorded = 0;
  uint64_t segments_acked = 0;
  uint64_t bytes_acked = 0;
  uint64_t handshakes_full = 0;
  uint64_t handshakes_resumed = 0;
  uint64_t connect_failures = 0;
  uint64_t protocol_errors = 0;
  uint64_t goaways = 0;
  uint64_t storage_full_drops = 0;
  uint64_t reconnects = 0;  // sum of CameraReport::reconnects
  absl::Duration longest_gap = absl::ZeroDuration();
  // Cameras that lost a welcomed connection and had no new WELCOME when the
  // run ended (their gap is in longest_gap, not in `gaps`).
  uint64_t open_gaps = 0;
  bool all_acked = false;  // every recorded segment acked at wait_for
  LatencyHistogram ack_spooled;    // segment recorded -> ACK spooled
  LatencyHistogram ack_persisted;  // segment recorded -> ACK persisted
  LatencyHistogram handshake;      // connect -> WELCOME
  // The load generator's own limit: the most handshakes it had in flight,
  // and how long connects that were due waited for max_handshakes_in_flight
  // (summed over rings). A long wait means the bound, not the server, paced
  // the fleet.
  uint64_t peak_handshakes_in_flight = 0;
  absl::Duration handshake_bound_wait = absl::ZeroDuration();
  int rings = 1;
  // A reconnect storm (cut_all): when the first ring cut its connections and
  // when the last camera had its first WELCOME after the cut; InfinitePast
  // when none.
  absl::Time storm_cut_at = absl::InfinitePast();
  absl::Time storm_last_welcome = absl::InfinitePast();
  LatencyHistogram gaps;           // connection lost -> next WELCOME, every camera
};

// Cameras per ring: three quarters of the process's descriptor limit (a
// ring's table cannot be larger), at most 16,384.
int CamerasPerRing();

// The rings RunCameraFleet splits `options.cameras` over.
int RingsFor(const FleetOptions& options);

absl::StatusOr<FleetReport> RunCameraFleet(const FleetOptions& options);

// Adds one part's report (a ring's, a fleet's) to a whole's: counts summed,
// histograms merged, cameras appended. Start `into` with all_acked = true.
void MergeFleetReport(FleetReport& into, FleetReport&& part);

}  // namespace ingest

#endif  // BENCH_SIM_CAMERA_FLEET_H_
