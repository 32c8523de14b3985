// Per-shard counters, written by the shard thread and read by anyone (stats
// lines, tests, later the metrics endpoint). Relaxed atomics: each counter is
// exact, a snapshot across counters is not.
#ifndef SERVER_SHARD_SHARD_COUNTERS_H_
#define SERVER_SHARD_SHARD_COUNTERS_H_

#include <array>
#include <atomic>
#include <cstdint>

#include "common/histogram.h"

namespace ingest {

#define INGEST_SHARD_COUNTERS(X)                                                        \
  X(connections_accepted)     /* accepted by the kernel */                             \
  X(connections_open)         /* gauge: currently open */                              \
  X(connections_closed)                                                                \
  X(refused_total_limit)      /* over --max_connections */                              \
  X(refused_source_limit)     /* over --max_connections_per_source */                   \
  X(accept_errors)                                                                     \
  X(peer_lookup_failures)                                                              \
  X(handshakes_full)                                                                   \
  X(handshakes_resumed)                                                                \
  X(handshake_failures_cert) /* no/expired/untrusted client certificate */              \
  X(handshake_failures_other) /* garbage, protocol mismatch */                          \
  X(handshake_timeouts)                                                                \
  X(bad_camera_identity)      /* certificate without a usable camera id */             \
  X(hello_timeouts)                                                                    \
  X(idle_timeouts)                                                                     \
  X(rejected_version)                                                                  \
  X(rejected_id_mismatch)                                                              \
  X(protocol_errors)          /* malformed/oversized/unknown frames */                  \
  X(window_exceeded)                                                                   \
  X(superseded)               /* an older connection replaced by a newer one */        \
  X(revoked_handshakes)       /* deny list or CRL: refused at (or right after) the handshake */ \
  X(revoked_sessions_closed)  /* open sessions closed with ERROR REVOKED after a TLS reload */ \
  X(slow_readers)             /* closed: too much unsent data */                        \
  X(sessions_welcomed)                                                                 \
  X(session_lines_suppressed) /* session_open/close lines skipped by the rate limits */ \
  X(admission_redirected)     /* HELLO from another zone's camera: REDIRECT */          \
  X(admission_rejected_unknown) /* HELLO from a camera no zone rule places: REJECT */   \
  X(rezone_goaways)           /* GOAWAY (rezoned) after a zone map reload */            \
  X(segments_accepted)                                                                 \
  X(segments_duplicate)       /* re-sent, same contents: acked again, not stored again */ \
  X(segments_refused_bad_sequence)  /* jumped without SKIP, or a re-send not held here */ \
  X(segments_refused_mismatch)      /* re-sent seq with other contents */             \
  X(segments_refused_invalid_field) /* capture time, duration or flags out of range */ \
  X(server_full_rejects)      /* over a connection limit: REJECT SERVER_FULL after HELLO */ \
  X(refused_at_accept)        /* over a limit with too many refusals in progress: closed */ \
  X(payload_bytes_accepted)                                                            \
  X(acks_spooled)             /* ACK frames at level spooled */                        \
  X(acks_persisted)           /* ACK frames at level persisted (in the object store) */ \
  X(spool_commits)                                                                     \
  X(spool_records)                                                                     \
  X(spool_bytes)                                                                       \
  X(recv_enobufs)             /* multishot recv ran out of provided buffers */         \
  X(recv_rearms)              /* multishot recv ended without F_MORE and re-armed */    \
  X(backpressure_pauses)      /* a session stopped reading: memory or spool full */    \
  X(spool_disk_full_errors)   /* spool writes or syncs refused: ENOSPC / EDQUOT */     \
  X(spool_write_stalled)      /* gauge: 1 while a batch waits for disk space */        \
  X(ack_latency_us_sum)       /* receipt of a segment -> durable, summed */            \
  X(ack_latency_count)                                                                 \
  X(ring_sq_full_flushes)     /* SQ full: submitted early to make room */              \
  X(ring_submit_busy)         /* -EBUSY on submit: reaped completions first */         \
  X(ring_cq_overflows)        /* completions the kernel held back (CQ full) */          \
  X(closes_with_cancel)       /* connections closed via cancel-all + close_direct */    \
  X(goaways_sent)             /* GOAWAY frames queued (drain or stop) */              \
  X(connections_accepted_while_draining) /* handed to us by the kernel after a drain began */

// Upper bounds (microseconds) of the loop turn-time histogram buckets; one
// more bucket counts the rest. A turn is the work between two waits.
inline constexpr std::array<int64_t, 11> kLoopTurnBucketsUs = {50,   100,   250,   500,   1000,  2500,
                                                               5000, 10000, 25000, 50000, 100000};

// Connections by phase of their life, recounted every tick (100 ms).
enum class ConnectionPhase : uint8_t { kPeerLookup, kHandshake, kAwaitingHello, kStreaming, kClosing };
inline constexpr std::array<const char*, 5> kConnectionPhaseNames = {"peer_lookup", "handshake", "awaiting_hello",
                                                                     "streaming", "closing"};

struct ShardCounters {
#define INGEST_DECLARE_COUNTER(name) std::atomic<uint64_t> name{0};
  INGEST_SHARD_COUNTERS(INGEST_DECLARE_COUNTER)
#undef INGEST_DECLARE_COUNTER
  AtomicHistogram loop_turn{kLoopTurnBucketsUs};  // work per loop turn
  // The raw counters under loop_turn, under their old names, for
  // Shard::RecordTurn, which bumps a bucket and the sum itself; once it calls
  // loop_turn.Record(turn) these two go.
  std::atomic<uint64_t>* const loop_turn_buckets = loop_turn.bucket_counters();
  std::atomic<uint64_t>& loop_turn_us_sum = loop_turn.sum_us_counter();
  std::array<std::atomic<uint32_t>, kConnectionPhaseNames.size()> connections_by_phase{};
};

inline void Bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace ingest

#endif  // SERVER_SHARD_SHARD_COUNTERS_H_
