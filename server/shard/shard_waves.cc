// Shard: what it does to its open sessions when something outside changes —
// a stop, a drain wave, a zone map reload (re-zoning wave), a TLS reload that
// revokes cameras — and the revocation checks at the handshake.
#include <algorithm>
#include <optional>
#include <random>

#include "common/monotonic_clock.h"
#include "server/shard/shard.h"
#include "server/tls/camera_identity.h"

namespace ingest {

void Shard::StartStopping() {
  stopping_ = true;
  stop_deadline_ = MonotonicNow() + options_.stop_grace;
  for (auto& c : connections_) {
    Connection& conn = *c;
    if (conn.phase() == Phase::kSession && conn.session != nullptr &&
        conn.session->state() == CameraSession::State::kStreaming) {
      // Told already by a drain wave: it is finishing its in-flight segments.
      if (!conn.session->goaway_sent()) SendGoaway(conn);
    } else if (conn.phase() == Phase::kSession && conn.http != nullptr) {
      conn.http->CloseAfterAnswer();  // a request waiting for durability is answered first
      MarkDirty(conn);
    } else if (conn.phase() == Phase::kHandshake || conn.phase() == Phase::kPeerLookup ||
               conn.phase() == Phase::kSession) {
      BeginClose(conn);
    }
  }
}

bool Shard::SendGoaway(Connection& conn, camproto::GoawayReason reason) {
  // Cameras reconnect to a peer; jitter spreads their arrival there.
  const int64_t min_ms = absl::ToInt64Milliseconds(options_.reconnect_after_min);
  const int64_t max_ms = std::max(min_ms, absl::ToInt64Milliseconds(options_.reconnect_after_max));
  std::uniform_int_distribution<int64_t> reconnect_after(min_ms, max_ms);
  const bool rezoned = reason == camproto::GoawayReason::kRezoned;
  if (!conn.session->SendGoaway(reason, static_cast<uint32_t>(reconnect_after(goaway_rng_)),
                                rezoned ? "camera moved to another zone" : "server draining")) {
    return false;
  }
  Bump(counters_.goaways_sent);
  if (rezoned) Bump(counters_.rezone_goaways);
  MarkDirty(conn);
  return true;
}

void Shard::SendGoawayWave(uint64_t budget) {
  for (auto& c : connections_) {
    if (budget == 0) return;
    Connection& conn = *c;
    if (conn.phase() == Phase::kSession && conn.http != nullptr && !conn.http->close_after_answer()) {
      // An encoder has no GOAWAY: its connection closes after the answer
      // it waits for (or now, between requests), and it reconnects.
      conn.http->CloseAfterAnswer();
      MarkDirty(conn);
      --budget;
      continue;
    }
    if (conn.phase() != Phase::kSession || conn.session == nullptr ||
        conn.session->state() != CameraSession::State::kStreaming || conn.session->goaway_sent()) {
      continue;
    }
    if (SendGoaway(conn)) --budget;
  }
}

void Shard::SendRezoneWave(uint64_t budget) {
  if (shared_.admission == nullptr) return;
  uint64_t misplaced = 0;
  for (auto& c : connections_) {
    Connection& conn = *c;
    if (conn.phase() != Phase::kSession || conn.session == nullptr ||
        conn.session->state() != CameraSession::State::kStreaming || conn.session->goaway_sent() ||
        shared_.admission->BelongsHere(conn.session->camera_id())) {
      continue;
    }
    ++misplaced;
    // Its data goes up with this zone's recordings first; the sealer does
    // that within the batch age, and a later wave moves the camera.
    if (!conn.session->PersistedUpToMoveMark() || budget == 0) continue;
    if (SendGoaway(conn, camproto::GoawayReason::kRezoned)) --budget;
  }
  misplaced_sessions_.store(misplaced, std::memory_order_relaxed);
}

void Shard::AdoptTls() {
  ServingTls::Current current = shared_.tls->Get();
  tls_ = std::move(current.tls);
  tls_generation_ = current.generation;
  CloseRevokedSessions();
}

void Shard::CloseRevokedSessions() {
  const CameraRevocation& revocation = *tls_->revocation;
  if (revocation.denied_cameras() == 0 && revocation.crl_count() == 0) return;
  for (auto& c : connections_) {
    Connection& conn = *c;
    if (conn.phase() == Phase::kSession && conn.http != nullptr && !conn.http->certified_camera().empty() &&
        !conn.http->closing()) {
      // An encoder with a client certificate: its next answer is the last.
      const std::string& camera = conn.http->certified_camera();
      std::optional<std::string> reason = revocation.Check(camera, conn.certificate);
      if (!reason.has_value()) continue;
      conn.http->Close(403, *reason);
      Bump(counters_.revoked_sessions_closed);
      ReportRevocation(conn, camera, conn.certificate.serial_hex, *reason, /*session_closed=*/true);
      MarkDirty(conn);
      continue;
    }
    if (conn.phase() != Phase::kSession || conn.session == nullptr ||
        conn.session->state() == CameraSession::State::kClosing) {
      continue;
    }
    // The certificate the session was opened with (the one verified in a
    // full handshake, or the one a resumed ticket carried), as kept.
    std::optional<std::string> reason = revocation.Check(conn.session->camera_id(), conn.certificate);
    if (!reason.has_value() || !conn.session->CloseAsRevoked(*reason)) continue;
    Bump(counters_.revoked_sessions_closed);
    ReportRevocation(conn, conn.session->camera_id(), conn.certificate.serial_hex, *reason,
                     /*session_closed=*/true);
    MarkDirty(conn);
  }
}

bool Shard::RefuseIfRevoked(Connection& conn, const std::string& camera_id) {
  std::optional<std::string> reason = tls_->revocation->Check(camera_id, conn.certificate);
  if (!reason.has_value()) return false;
  Bump(counters_.revoked_handshakes);
  ReportRevocation(conn, camera_id, conn.certificate.serial_hex, *reason, /*session_closed=*/false);
  // A session only to say why: ERROR REVOKED, close_notify, close (Flush).
  conn.session = std::make_unique<CameraSession>(*this, options_.session, camera_id);
  conn.session->set_host_tag((uint64_t{conn.id} << 32) | conn.generation);
  conn.session->CloseAsRevoked(*reason);
  conn.stage = Phase::kSession;
  MarkDirty(conn);
  return true;
}

void Shard::NoteRevokedHandshake(Connection& conn) {
  X509* cert = RevokedPeerCertificate(conn.transport.tls()->ssl());
  if (cert == nullptr) return;
  Bump(counters_.revoked_handshakes);
  absl::StatusOr<std::string> camera_id = CameraIdFromCertificate(cert);
  ReportRevocation(conn, camera_id.ok() ? *camera_id : std::string(), SerialHex(cert),
                   "certificate revoked by a CRL (tls.crl_file)", /*session_closed=*/false);
}

void Shard::ReportRevocation(const Connection& conn, const std::string& camera_id,
                             const std::string& serial_hex, const std::string& reason,
                             bool session_closed) {
  if (shared_.revocations == nullptr) return;
  shared_.revocations->Add(RevocationEvent{.session_closed = session_closed,
                                           .shard = options_.index,
                                           .camera = camera_id,
                                           .serial = serial_hex,
                                           .peer = conn.source,
                                           .reason = reason});
}

}  // namespace ingest
