// Shard: its HTTPS ingest connections (encoders pushing HLS or MPEG-TS,
// docs/https-ingest.md) — the session started after the handshake, decrypted
// bytes driven through it, its answers sent, its records spooled, and its
// input held while a request waits for its answer.
#include "absl/strings/str_cat.h"
#include "common/monotonic_clock.h"
#include "common/std_string_view.h"
#include "server/shard/shard.h"

namespace ingest {

bool Shard::StartHttpSession(Connection& conn) {
  EndHandshake(conn);
  camproto::TlsChannel& tls = *conn.transport.tls();
  std::string camera;
  if (tls.peer_certificate() != nullptr) {
    std::optional<std::string> camera_id = CameraIdOrClose(conn);
    if (!camera_id.has_value()) return false;
    conn.certificate = CertificateSerial::Of(tls.peer_certificate());
    camera = std::move(*camera_id);
    if (std::optional<std::string> reason = tls_->revocation->Check(camera, conn.certificate)) {
      ReportRevocation(conn, camera, conn.certificate.serial_hex, *reason, /*session_closed=*/false);
      LogConnectionError("https_refused", conn, absl::StrCat("camera ", camera, " revoked: ", *reason));
      BeginClose(conn);
      return false;
    }
  }
  tls.ForgetPeerCertificate();
  if (conn.admission == Connection::Admission::kRefusing) {
    // Over a connection limit: an encoder has no REJECT to read; it retries.
    BeginClose(conn);
    return false;
  }
  Bump(tls.session_resumed() ? counters_.handshakes_resumed : counters_.handshakes_full);
  Bump(counters_.https_connections);
  conn.http = std::make_unique<HttpIngestSession>(*this, options_.https, std::move(camera));
  conn.http->set_host_tag((uint64_t{conn.id} << 32) | conn.generation);
  conn.stage = Phase::kSession;
  conn.deadline = absl::InfiniteFuture();  // the request-head deadline applies instead
  return true;
}

bool Shard::DriveHttp(Connection& conn) {
  HttpIngestSession& http = *conn.http;
  camproto::TlsChannel& tls = *conn.transport.tls();
  http.Resume();
  while (!http.closing()) {
    if (http.blocked_on_memory()) {
      PauseForMemory(conn);  // as a camera without memory for its next segment
      return false;
    }
    absl::Span<uint8_t> target = http.WritableSpan();
    if (target.empty()) {
      // A request waits for its answer and the bytes after it fill the
      // session's input: they wait in the socket until it is answered.
      if (!conn.held) {
        conn.held = true;
        conn.transport.StopReceiving();
      }
      MarkDirty(conn);
      return false;
    }
    absl::StatusOr<size_t> n = tls.ReadPlaintext(target);
    if (!n.ok()) {
      if (!camproto::IsPeerClosedCleanly(n.status())) {
        LogConnectionError("tls_read_failed", conn, ToStd(n.status().message()));
      }
      http.OnPeerClosed();
      BeginClose(conn);
      return false;
    }
    if (*n == 0) break;
    http.CommitWritten(*n);
  }
  MarkDirty(conn);
  if (http.needs_poll()) urgent_poll_.push_back(conn.id);
  return !http.closing();
}

bool Shard::FlushHttp(Connection& conn) {
  HttpIngestSession& http = *conn.http;
  camproto::TlsChannel* tls = conn.transport.tls();
  if (!http.outbox().empty()) {
    absl::Status s =
        tls->WritePlaintext({reinterpret_cast<const uint8_t*>(http.outbox().data()), http.outbox().size()});
    http.outbox().clear();
    if (!s.ok()) {
      BeginClose(conn);
      return false;
    }
  }
  if (http.closing() && conn.phase() != Phase::kClosing) {
    BeginClose(conn);
    return false;
  }
  return true;
}

void Shard::SpoolHttpRecord(HttpIngestSession& session, const SegmentBuffer& buffer, size_t record_bytes,
                            uint64_t seq, uint32_t payload_bytes) {
  AppendRecord(session.host_tag(), session.camera_id(), buffer, record_bytes, seq, payload_bytes);
}

void Shard::OnHttpDurable(Connection& conn, uint64_t seq) {
  conn.http->OnDurable(seq);
  MarkDirty(conn);
  http_resume_.push_back(conn.id);
}

void Shard::PollHttp(Connection& conn) {
  if (!conn.http->needs_poll()) return;
  conn.http->Resume();
  MarkDirty(conn);
  if (!conn.http->needs_poll()) http_resume_.push_back(conn.id);
}

void Shard::ResumeHttp() {
  std::vector<uint32_t> ids;
  ids.swap(http_resume_);
  for (uint32_t id : ids) {
    Connection& conn = *connections_[id];
    if (conn.phase() != Phase::kSession || conn.http == nullptr) continue;
    conn.held = false;
    PumpInput(conn);
    if (conn.phase() != Phase::kSession || conn.blocked || conn.held) continue;
    if (conn.transport.peer_closed()) {
      if (HttpInputWaits(conn)) continue;
      conn.http->OnPeerClosed();
      BeginClose(conn);
    } else if (conn.transport.receive() == TlsTransport::Receive::kOff) {
      conn.transport.ArmRecv();
    }
  }
}

bool Shard::HttpInputWaits(const Connection& conn) const {
  return conn.http != nullptr && (conn.held || conn.blocked || conn.http->waiting());
}

void Shard::EnforceHttpDeadline(Connection& conn) {
  const int64_t started = conn.http->head_started_us();
  if (started == 0 || NowUnixMicros() - started < absl::ToInt64Microseconds(options_.hello_timeout)) return;
  // A request head dribbled in (slowloris) or never finished.
  conn.http->TimeOut();
  LogConnectionError("connection_timeout", conn, "HTTP request head not complete in time");
  MarkDirty(conn);
}

void Shard::Count(HttpIngestEvent event) {
  if (event == HttpIngestEvent::kCount) return;
  counters_.https_requests[static_cast<size_t>(event)].fetch_add(1, std::memory_order_relaxed);
}

}  // namespace ingest
