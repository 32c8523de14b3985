// Shard: its metrics (loop turn times, connections by phase, session
// outcomes, the spool's full-disk state) and its log lines (session_open,
// session_close, rate-limited connection errors).
#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>

#include "common/monotonic_clock.h"
#include "proto/frame.h"
#include "server/shard/shard.h"

namespace ingest {
namespace {

// The peer's port, to match a session with firewall, NAT or proxy logs.
uint16_t PeerPort(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  return 0;
}

}  // namespace

void Shard::CountPhases() {
  std::array<uint32_t, kConnectionPhaseNames.size()> counts{};
  for (const auto& c : connections_) {
    const Connection& conn = *c;
    switch (conn.phase()) {
      case Phase::kFree:
        continue;
      case Phase::kPeerLookup:
        ++counts[static_cast<size_t>(ConnectionPhase::kPeerLookup)];
        continue;
      case Phase::kHandshake:
        ++counts[static_cast<size_t>(ConnectionPhase::kHandshake)];
        continue;
      case Phase::kClosing:
        ++counts[static_cast<size_t>(ConnectionPhase::kClosing)];
        continue;
      case Phase::kSession:
        break;
    }
    const bool streaming = conn.http != nullptr ||
                           (conn.session != nullptr && conn.session->state() == CameraSession::State::kStreaming);
    ++counts[static_cast<size_t>(streaming ? ConnectionPhase::kStreaming : ConnectionPhase::kAwaitingHello)];
  }
  for (size_t i = 0; i < counts.size(); ++i) {
    counters_.connections_by_phase[i].store(counts[i], std::memory_order_relaxed);
  }
  counters_.segment_memory_bytes.store(pool_.bytes_in_use(), std::memory_order_relaxed);
}

void Shard::CountOutcome(SessionOutcome outcome) {
  switch (outcome) {
    case SessionOutcome::kRejectedVersion: Bump(counters_.rejected_version); break;
    case SessionOutcome::kRejectedIdMismatch: Bump(counters_.rejected_id_mismatch); break;
    case SessionOutcome::kWindowExceeded: Bump(counters_.window_exceeded); break;
    case SessionOutcome::kSuperseded: Bump(counters_.superseded); break;
    case SessionOutcome::kRedirected: Bump(counters_.admission_redirected); break;
    case SessionOutcome::kRejectedUnknownCamera: Bump(counters_.admission_rejected_unknown); break;
    case SessionOutcome::kRejectedServerFull: Bump(counters_.server_full_rejects); break;
    case SessionOutcome::kCameraError: break;
    case SessionOutcome::kRefusedSegment: break;  // counted by reason in Count()
    case SessionOutcome::kRevoked: break;         // counted where it was revoked
    default: Bump(counters_.protocol_errors); break;
  }
}

void Shard::LogSessionOpen(Connection& conn) {
  const CameraSession& session = *conn.session;
  conn.opened = MonotonicNow();
  // The camera's own pace first, so one camera reconnecting in a loop cannot
  // use up the shard's budget and hide everyone else's sessions. A session
  // whose open line is skipped skips its close line too.
  uint64_t camera_suppressed = 0;
  if (!shared_.registry->Get(session.camera_id()).AllowSessionLog(conn.opened, camera_suppressed) ||
      !session_log_limiter_.Allow(conn.opened)) {
    Bump(counters_.session_lines_suppressed);
    return;
  }
  conn.welcome = Connection::Welcome::kLogged;
  log::Info("session_open", {{"shard", options_.index},
                             {"camera", session.camera_id()},
                             {"session", session.session_id()},
                             {"peer", conn.source},
                             {"peer_port", PeerPort(conn.transport.peer())},
                             {"firmware", session.firmware_version()},
                             // The only version a session is welcomed with.
                             {"protocol_version", int64_t{camproto::kProtocolVersion}},
                             {"tls", std::string_view(conn.transport.tls()->session_resumed() ? "resumed" : "full")},
                             {"hello_last_durable_seq", session.hello_last_durable_seq()},
                             {"base_seq", session.base_seq()},
                             {"camera_sessions_unlogged", camera_suppressed},
                             {"shard_sessions_unlogged", session_log_limiter_.TakeSuppressed()}});
}

void Shard::LogSessionClose(const Connection& conn) {
  const CameraSession& session = *conn.session;
  log::Info("session_close", {{"shard", options_.index},
                              {"camera", session.camera_id()},
                              {"session", session.session_id()},
                              {"seconds", absl::ToDoubleSeconds(MonotonicNow() - conn.opened)},
                              {"segments", session.segments_accepted()},
                              {"duplicates", session.segments_duplicate()},
                              {"payload_bytes", session.payload_bytes_accepted()},
                              {"goaway", session.goaway_sent()},
                              {"reason", session.close_reason().empty()
                                             ? std::string_view(conn.transport.peer_closed() ? "camera closed" : "server closed")
                                             : std::string_view(session.close_reason())}});
}

void Shard::LogConnectionError(std::string_view event, const Connection& conn,
                               std::string_view detail) {
  if (!error_log_limiter_.Allow(MonotonicNow())) return;
  uint64_t suppressed = error_log_limiter_.TakeSuppressed();
  std::string_view camera = conn.session != nullptr ? std::string_view(conn.session->camera_id())
                                                    : std::string_view();
  log::Warn(event, {{"shard", options_.index},
                    {"peer", conn.source},
                    {"camera", camera},
                    {"detail", detail},
                    {"suppressed", suppressed}});
}

void Shard::Count(SessionEvent event) {
  switch (event) {
    case SessionEvent::kDuplicate: Bump(counters_.segments_duplicate); return;
    case SessionEvent::kRefusedBadSequence: Bump(counters_.segments_refused_bad_sequence); return;
    case SessionEvent::kRefusedMismatch: Bump(counters_.segments_refused_mismatch); return;
    case SessionEvent::kRefusedInvalidField: Bump(counters_.segments_refused_invalid_field); return;
  }
}

}  // namespace ingest
