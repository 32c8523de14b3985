// Shard: the tick (every 100 ms) — ring counters, re-arming the accept,
// retrying paused sessions, polling sessions — and the deadlines of every
// connection (handshake, HELLO, idle, the close grace), looked at every 250 ms.
#include "common/monotonic_clock.h"
#include "proto/frame.h"
#include "server/shard/shard.h"

namespace ingest {
namespace {

constexpr absl::Duration kDeadlineScanInterval = absl::Milliseconds(250);
// Most cameras are quiet between segments: their TLS buffers go back after
// this long without a receive (not on every receive: that would be malloc
// churn on the hot path).
constexpr absl::Duration kIdleTrimAfter = absl::Seconds(1);
// A connection that has sent nothing this long after its accept is not a
// handshake the shard is working on (a real ClientHello follows the accept
// within a round trip): it gives up its place under
// max_handshakes_in_progress, keeping its handshake deadline, so sockets
// opened and left silent cannot keep the shard from accepting cameras.
constexpr absl::Duration kSilentHandshakeGrace = absl::Seconds(1);

}  // namespace

void Shard::Tick(absl::Time now) {
  last_tick_ = now;
  const RingCounters& ring = ring_->counters();
  counters_.ring_sq_full_flushes.store(ring.sq_full_flushes, std::memory_order_relaxed);
  counters_.ring_submit_busy.store(ring.submit_busy, std::memory_order_relaxed);
  counters_.ring_cq_overflows.store(ring.cq_overflows, std::memory_order_relaxed);
  // The writer counts its commits; /metrics reads the shard's copy.
  counters_.spool_commits.store(writer_->counters().commits, std::memory_order_relaxed);
  ArmAccept();  // tops up the accepts armed (re-armed after an error)
  if (!paused_.empty()) RetryBlocked();
  CountPhases();
  PollSessions();
  if (now - last_deadline_scan_ < kDeadlineScanInterval) return;
  last_deadline_scan_ = now;
  for (auto& c : connections_) EnforceDeadlines(*c, now);
}

void Shard::PollSessions() {
  for (auto& c : connections_) {
    Connection& conn = *c;
    if (conn.phase() == Phase::kSession && conn.http != nullptr) {
      PollHttp(conn);
      continue;
    }
    if (conn.phase() != Phase::kSession || conn.session == nullptr) continue;
    // An older connection of a camera that reconnected elsewhere (often a
    // half-open one nobody reads) leaves now rather than at its next SEGMENT.
    if (conn.session->CloseIfSuperseded()) {
      MarkDirty(conn);
      continue;
    }
    if (conn.session->needs_poll()) {
      conn.session->Poll();
      MarkDirty(conn);
    }
  }
}

void Shard::EnforceDeadlines(Connection& conn, absl::Time now) {
  const Phase phase = conn.phase();
  if (phase == Phase::kClosing) {
    conn.transport.CutIfOverdue(now);  // its last words took longer than the close grace
    return;
  }
  if (phase == Phase::kFree) return;
  if (phase == Phase::kSession) conn.transport.ReleaseIdleMemory(now, kIdleTrimAfter);
  if (phase == Phase::kSession && conn.http != nullptr) EnforceHttpDeadline(conn);
  const absl::Time accepted = conn.deadline - options_.handshake_timeout;
  if (conn.handshaking && conn.transport.last_receive() <= accepted && now - accepted >= kSilentHandshakeGrace) {
    EndHandshake(conn);
  }
  if (now >= conn.deadline) {
    if (phase == Phase::kSession) {
      Bump(counters_.hello_timeouts);
      conn.session->FailWith(
          camproto::MakeProtocolError(camproto::ErrorCode::kTimeout, "no HELLO in time"));
    } else {
      Bump(counters_.handshake_timeouts);
    }
    LogConnectionError("connection_timeout", conn, "handshake or HELLO deadline passed");
    BeginClose(conn);
  } else if (now - conn.transport.last_receive() >= options_.idle_timeout && !conn.blocked && !conn.held &&
             conn.transport.receive() != TlsTransport::Receive::kStarved) {
    // (A paused or buffer-starved camera has data waiting: not idle.)
    Bump(counters_.idle_timeouts);
    if (conn.session != nullptr) {
      conn.session->FailWith(camproto::MakeProtocolError(
          camproto::ErrorCode::kTimeout, "nothing received within the idle timeout"));
    }
    LogConnectionError("connection_timeout", conn, "idle");
    BeginClose(conn);
  }
}

}  // namespace ingest
