// Per-shard counters, written by the shard thread and read by anyone (stats
// lines, tests, later the metrics endpoint). Relaxed atomics: each counter is
// exact, a snapshot across counters is not.
#ifndef SERVER_SHARD_SHARD_COUNTERS_H_
#define SERVER_SHARD_SHARD_COUNTERS_H_

#include <atomic>
#include <cstdint>

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
  X(slow_readers)             /* closed: too much unsent data */                        \
  X(sessions_welcomed)                                                                 \
  X(segments_accepted)                                                                 \
  X(segments_duplicate)       /* re-sent after resume: acked, not stored again */      \
  X(payload_bytes_accepted)                                                            \
  X(acks_sent)                                                                         \
  X(spool_commits)                                                                     \
  X(spool_records)                                                                     \
  X(spool_bytes)                                                                       \
  X(recv_enobufs)             /* multishot recv ran out of provided buffers */         \
  X(recv_rearms)              /* multishot recv ended without F_MORE and re-armed */    \
  X(backpressure_pauses)      /* a session stopped reading: memory or spool full */    \
  X(ack_latency_us_sum)       /* receipt of a segment -> durable, summed */            \
  X(ack_latency_count)                                                                 \
  X(ring_sq_full_flushes)     /* SQ full: submitted early to make room */              \
  X(ring_submit_busy)         /* -EBUSY on submit: reaped completions first */         \
  X(ring_cq_overflows)        /* completions the kernel held back (CQ full) */          \
  X(closes_with_cancel)       /* connections closed via cancel-all + close_direct */

struct ShardCounters {
#define INGEST_DECLARE_COUNTER(name) std::atomic<uint64_t> name{0};
  INGEST_SHARD_COUNTERS(INGEST_DECLARE_COUNTER)
#undef INGEST_DECLARE_COUNTER
};

inline void Bump(std::atomic<uint64_t>& counter, uint64_t by = 1) {
  counter.fetch_add(by, std::memory_order_relaxed);
}

}  // namespace ingest

#endif  // SERVER_SHARD_SHARD_COUNTERS_H_
