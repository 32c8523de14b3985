// Per-shard counters and gauges, written by the shard thread and read by
// anyone (stats lines, tests, /metrics). Relaxed atomics: each number is
// exact, a snapshot across them is not.
//
// Each is declared once below with what it means: the text is the HELP line
// of its Prometheus family (ingest_<name>_total for a counter, ingest_<name>
// for a gauge), so /metrics says what each number counts.
#ifndef SERVER_SHARD_SHARD_COUNTERS_H_
#define SERVER_SHARD_SHARD_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstdint>

#include "common/histogram.h"
#include "server/http_ingest/http_ingest_event.h"

namespace ingest {

// Counters: only ever go up. F(X, name, help) for each; see the macros below.
#define INGEST_SHARD_COUNTER_TABLE(F, X)                                                                               \
  F(X, connections_accepted, "Camera connections the kernel handed to the shard.")                                     \
  F(X, connections_closed, "Camera connections closed, for any reason.")                                               \
  F(X, refused_total_limit,                                                                                           \
    "Connections over server.max_connections or the shard's capacity (REJECT SERVER_FULL, or closed at accept).")     \
  F(X, refused_source_limit, "Connections over server.max_connections_per_source (REJECT SERVER_FULL, or closed).")    \
  F(X, accept_errors, "Accepts that failed (EMFILE, ENFILE, ENOMEM, ...) while the listener was open.")                \
  F(X, accept_pauses, "Times the shard stopped accepting at tls.max_handshakes_in_progress (the rest wait queued).")    \
  F(X, peer_lookup_failures, "Accepted connections whose peer address could not be read; closed.")                     \
  F(X, handshakes_full, "TLS handshakes completed with a full key exchange.")                                          \
  F(X, handshakes_resumed, "TLS handshakes completed by session resumption (a ticket).")                               \
  F(X, https_connections, "HTTPS ingest connections (encoders) through their handshake.")                              \
  F(X, handshake_failures_cert, "TLS handshakes refused for the client certificate: none, expired or untrusted.")      \
  F(X, handshake_failures_other, "TLS handshakes failed otherwise: garbage, protocol or cipher mismatch.")             \
  F(X, handshake_timeouts, "Connections closed for not finishing the TLS handshake in time.")                          \
  F(X, bad_camera_identity, "Handshakes whose certificate names no usable camera id; closed.")                         \
  F(X, hello_timeouts, "Connections closed for sending no HELLO in time after the handshake.")                         \
  F(X, idle_timeouts, "Sessions closed for silence longer than the idle timeout.")                                     \
  F(X, rejected_version, "HELLOs refused with REJECT UNSUPPORTED_VERSION.")                                            \
  F(X, rejected_id_mismatch, "HELLOs refused with REJECT CAMERA_ID_MISMATCH (id differs from the certificate).")       \
  F(X, protocol_errors, "Sessions ended by a malformed, oversized or unknown frame.")                                  \
  F(X, window_exceeded, "Sessions ended for sending more unacknowledged segments than the window allows.")             \
  F(X, superseded, "Sessions closed because the same camera connected again.")                                         \
  F(X, revoked_handshakes, "Handshakes refused because the camera is on the deny list or a CRL.")                      \
  F(X, revoked_sessions_closed, "Open sessions closed with ERROR REVOKED after a TLS reload revoked the camera.")      \
  F(X, slow_readers, "Connections closed for leaving too much sent data unread.")                                      \
  F(X, sessions_welcomed, "HELLOs answered with WELCOME.")                                                             \
  F(X, session_lines_suppressed, "session_open/session_close log lines skipped by the log rate limits.")               \
  F(X, admission_redirected, "HELLOs from another zone's camera, answered with REDIRECT.")                             \
  F(X, admission_rejected_unknown, "HELLOs from a camera no zone rule places, answered REJECT UNKNOWN_CAMERA.")        \
  F(X, rezone_goaways, "GOAWAY REZONED sent to cameras a reloaded zone map placed elsewhere.")                         \
  F(X, segments_accepted, "Segments written to the spool (first copy).")                                               \
  F(X, segments_duplicate, "Segments re-sent with the same contents: acknowledged again, not stored again.")           \
  F(X, segments_refused_bad_sequence, "Segments refused: a seq jump without SKIP, or a re-send not held here.")        \
  F(X, segments_refused_mismatch, "Segments refused: a re-sent seq with other contents.")                              \
  F(X, segments_refused_invalid_field, "Segments refused: capture time, duration or flags out of range.")              \
  F(X, server_full_rejects, "HELLOs answered REJECT SERVER_FULL (over a connection limit).")                           \
  F(X, refused_at_accept, "Connections closed at accept: over a limit with too many refusals in progress.")            \
  F(X, payload_bytes_accepted, "Segment payload bytes written to the spool.")                                          \
  F(X, acks_spooled, "ACK frames sent at level spooled (fsync'd to the local spool).")                                 \
  F(X, acks_persisted, "ACK frames sent at level persisted (in the object store).")                                    \
  F(X, spool_commits, "Group commits to the spool (one writev + fdatasync each).")                                     \
  F(X, spool_records, "Spool records made durable (written and fdatasync'd).")                                         \
  F(X, spool_bytes, "Bytes of spool records made durable, record framing included.")                                   \
  F(X, recv_enobufs, "Multishot receives that ran out of provided buffers.")                                           \
  F(X, recv_rearms, "Multishot receives that ended without IORING_CQE_F_MORE and were armed again.")                   \
  F(X, backpressure_pauses, "Times a session stopped reading: segment memory or the spool full.")                      \
  F(X, spool_disk_full_errors, "Spool writes or syncs refused with ENOSPC or EDQUOT.")                                 \
  F(X, ack_latency_us_sum, "Microseconds from receiving a segment to its durable spool commit, summed.")               \
  F(X, ack_latency_count, "Segments whose receipt-to-commit time is in ingest_ack_latency_us_sum_total.")              \
  F(X, ring_sq_full_flushes, "Submissions made early because the io_uring submission queue was full.")                 \
  F(X, ring_submit_busy, "io_uring submits that returned -EBUSY (completions reaped first).")                          \
  F(X, ring_cq_overflows, "Completions the kernel held back because the completion queue was full.")                   \
  F(X, closes_with_cancel, "Connections closed by cancelling their requests, then close_direct.")                      \
  F(X, goaways_sent, "GOAWAY frames queued (drain or stop).")                                                          \
  F(X, connections_accepted_while_draining, "Connections the kernel handed over after a drain began.")

// Gauges: go up and down.
#define INGEST_SHARD_GAUGE_TABLE(F, X)                                                                                 \
  F(X, connections_open, "Camera connections open now.")                                                               \
  F(X, handshakes_in_progress, "Connections accepted and not yet through their TLS handshake.")                       \
  F(X, spool_write_stalled, "1 while the shard's spool batch waits for disk space, else 0.")                           \
  F(X, segment_memory_bytes,                                                                                           \
    "Segment record memory in use (sessions filling records, the spool writing them); at most "                        \
    "spool.shard_memory_bytes per shard. Sampled every 100 ms.")

// F for the tables above: X(name) or X(name, help).
#define INGEST_SHARD_NAME_ONLY(X, name, help) X(name)
#define INGEST_SHARD_NAME_AND_HELP(X, name, help) X(name, help)

// Every counter and gauge by name alone, for code that treats them alike
// (IngestStats sums each across shards).
#define INGEST_SHARD_COUNTERS(X)                         \
  INGEST_SHARD_COUNTER_TABLE(INGEST_SHARD_NAME_ONLY, X) \
  INGEST_SHARD_GAUGE_TABLE(INGEST_SHARD_NAME_ONLY, X)

// Upper bounds (microseconds) of the loop turn-time histogram buckets; one
// more bucket counts the rest. A turn is the work between two waits.
inline constexpr std::array<int64_t, 11> kLoopTurnBucketsUs = {50,   100,   250,   500,   1000,  2500,
                                                               5000, 10000, 25000, 50000, 100000};

// Upper bounds (microseconds) of the spool histograms: a segment's time from
// its last byte received to its durable commit (what ACK(spooled) waits for on
// the server), and one group commit's time from writev to fdatasync done.
// Fine around the tens of milliseconds an ACK should take.
inline constexpr std::array<int64_t, 18> kSpoolLatencyBucketsUs = {
    250,   500,   1000,   2000,   3000,   5000,   7500,    10000,   15000,
    20000, 30000, 50000, 100000, 250000, 500000, 1000000, 2500000, 10000000};

// Connections by phase of their life, recounted every tick (100 ms).
enum class ConnectionPhase : uint8_t { kPeerLookup, kHandshake, kAwaitingHello, kStreaming, kClosing };
inline constexpr std::array<const char*, 5> kConnectionPhaseNames = {"peer_lookup", "handshake", "awaiting_hello",
                                                                     "streaming", "closing"};

struct ShardCounters {
#define INGEST_DECLARE_COUNTER(name) std::atomic<uint64_t> name{0};
  INGEST_SHARD_COUNTER_TABLE(INGEST_SHARD_NAME_ONLY, INGEST_DECLARE_COUNTER)
  INGEST_SHARD_GAUGE_TABLE(INGEST_SHARD_NAME_ONLY, INGEST_DECLARE_COUNTER)
#undef INGEST_DECLARE_COUNTER
  AtomicHistogram loop_turn{kLoopTurnBucketsUs};  // work per loop turn
  AtomicHistogram ack_spooled{kSpoolLatencyBucketsUs};   // segment received -> durable
  AtomicHistogram spool_commit{kSpoolLatencyBucketsUs};  // group commit started -> durable
  std::array<std::atomic<uint32_t>, kConnectionPhaseNames.size()> connections_by_phase{};
  // HTTPS ingest requests by outcome (HttpIngestEvent).
  std::array<std::atomic<uint64_t>, kHttpIngestEventCount> https_requests{};
};

inline void Bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace ingest

#endif  // SERVER_SHARD_SHARD_COUNTERS_H_
