#include "server/shard/shard.h"

#include <algorithm>

#include "common/monotonic_clock.h"
#include "common/std_string_view.h"
#include "proto/frame.h"
#include "server/tls/camera_identity.h"
#include "server/uring/prepare.h"

namespace ingest {
namespace {

constexpr absl::Duration kTick = absl::Milliseconds(100);
// How long a closing connection may take to send its last words (alert,
// ERROR, REJECT) before it is cut.
constexpr absl::Duration kCloseGrace = absl::Seconds(5);
// A camera that stops reading its ACKs is cut off before its unsent data grows.
constexpr size_t kMaxUnsentBytes = 1 << 20;

}  // namespace

Shard::Shard(const ShardOptions& options, const ShardShared& shared)
    : options_(options),
      shared_(shared),
      goaway_rng_(static_cast<uint32_t>(options.index * 7919 + 17)),
      pool_(options.memory_budget_bytes),
      error_log_limiter_(options.connection_errors_per_second,
                         std::max(1.0, options.connection_errors_per_second)),
      session_log_limiter_(options.session_lines_per_second, std::max(1.0, 10 * options.session_lines_per_second)) {}

Shard::~Shard() = default;

absl::Status Shard::Setup() {
  auto ring = Ring::Create(RingOptions{.sq_entries = 4096,
                                       .cq_entries = 65536,
                                       .registered_files = options_.registered_files});
  if (!ring.ok()) return ring.status();
  ring_ = std::move(*ring);
  auto buffers = ProvidedBufferRing::Create(ring_->raw(), /*group=*/0, options_.recv_buffers,
                                            options_.recv_buffer_bytes);
  if (!buffers.ok()) return buffers.status();
  buffers_ = std::move(*buffers);
  transport_shared_ = TransportShared{.ring = ring_.get(), .buffers = buffers_.get()};
  writer_ = std::make_unique<SpoolWriter>(*ring_, *shared_.catalog, options_.index,
                                          options_.writer);
  connections_.reserve(options_.registered_files);
  return absl::OkStatus();
}

absl::Status Shard::Run() {
  absl::Status setup = Setup();
  if (!setup.ok()) return setup;
  AdoptTls();
  ArmAccept();
  last_tick_ = last_deadline_scan_ = MonotonicNow();
  // A shard that serves has turned now: /healthz, which needs a recent turn
  // from every serving shard, holds from the first look, before the loop's
  // first turn records one.
  last_turn_us_.store(absl::ToUnixMicros(last_tick_), std::memory_order_relaxed);
  serving_.store(true, std::memory_order_release);
  if (options_.on_serving) options_.on_serving();
  Loop();
  serving_.store(false, std::memory_order_release);
  return fatal_;
}

void Shard::Loop() {
  while (fatal_.ok()) {
    absl::Time now = MonotonicNow();
    last_turn_us_.store(absl::ToUnixMicros(now), std::memory_order_relaxed);
    if (!stopping_ && stop_requested_.load(std::memory_order_acquire)) StartStopping();
    if (stopping_) {
      bool connections_gone = counters_.connections_open.load() == 0;
      if ((writer_->idle() && connections_gone) || now >= stop_deadline_) break;
    }
    absl::Duration wait = std::min(kTick - (now - last_tick_), writer_->TimeUntilDue(now));
    absl::Status s = ring_->SubmitAndWait(std::max(wait, absl::ZeroDuration()));
    if (!s.ok()) {
      fatal_ = s;
      break;
    }
    const absl::Time turn_start = MonotonicNow();
    if (shared_.tls->generation() != tls_generation_) AdoptTls();
    if (uint64_t budget = goaway_budget_.exchange(0, std::memory_order_relaxed); budget > 0) {
      SendGoawayWave(budget);
    }
    if (uint64_t budget = rezone_budget_.exchange(0, std::memory_order_relaxed); budget > 0) {
      SendRezoneWave(budget);
    }
    const uint64_t recycled_before = buffers_->recycled();
    ring_->ForEachCompletion([this](const io_uring_cqe& cqe) { Dispatch(cqe); });
    // A connection can be both paused (blocked) and out of receive buffers
    // (starved); once unpaused it needs its receive armed again even if no
    // buffer came back this turn (during a long pause every buffer already
    // did), so starved ones are looked at after every retry of paused ones.
    const bool retried_blocked = !paused_.empty();
    if (retried_blocked) RetryBlocked();
    if (!starved_.empty() && (buffers_->recycled() != recycled_before || retried_blocked)) {
      RearmStarved();
    }
    if (!urgent_poll_.empty()) PollUrgent();
    if (!http_resume_.empty()) ResumeHttp();
    now = MonotonicNow();
    if (now - last_tick_ >= kTick) Tick(now);
    writer_->MaybeCommit(now, /*force=*/stopping_);
    for (size_t i = 0; i < dirty_.size(); ++i) {
      Connection& conn = *connections_[dirty_[i]];
      conn.dirty = false;
      Flush(conn);
    }
    dirty_.clear();
    counters_.loop_turn.Record(MonotonicNow() - turn_start);
  }
  // Whatever is still open when the loop ends (stop deadline, fatal error)
  // goes away with the ring; nothing unacknowledged was promised.
}

void Shard::PollUrgent() {
  std::vector<uint32_t> ids;
  ids.swap(urgent_poll_);
  for (uint32_t id : ids) {
    Connection& conn = *connections_[id];
    if (conn.http != nullptr && conn.phase() == Phase::kSession) {
      PollHttp(conn);
      if (conn.http->needs_poll()) urgent_poll_.push_back(id);
      continue;
    }
    if (conn.session == nullptr || conn.phase() != Phase::kSession) continue;
    conn.session->Poll();
    MarkDirty(conn);
    if (conn.session->needs_poll() &&
        conn.session->state() == CameraSession::State::kWaitingForPredecessor) {
      urgent_poll_.push_back(id);
    }
  }
}

Shard::Connection* Shard::Find(uint32_t id, uint32_t generation) {
  if (id >= connections_.size()) return nullptr;
  Connection* conn = connections_[id].get();
  if (conn->generation != generation || conn->stage == Phase::kFree) return nullptr;
  return conn;
}

Shard::Connection& Shard::NewConnection() {
  uint32_t id;
  if (!free_ids_.empty()) {
    id = free_ids_.back();
    free_ids_.pop_back();
  } else {
    id = static_cast<uint32_t>(connections_.size());
    connections_.push_back(std::make_unique<Connection>());
    connections_.back()->id = id;
  }
  Connection& conn = *connections_[id];
  uint32_t generation = conn.generation + 1;
  conn = Connection{};
  conn.id = id;
  conn.generation = generation;
  return conn;
}

void Shard::Dispatch(const io_uring_cqe& cqe) {
  const UserData ud = UserData::Unpack(cqe.user_data);
  switch (ud.op) {
    case Op::kAccept:
      OnAccept(cqe);
      return;
    case Op::kSpoolWrite:
    case Op::kSpoolSync:
      OnSpoolCompletion(ud.op, cqe.res);
      return;
    default:
      break;
  }
  Connection* conn = Find(ud.id, ud.generation);
  if (conn == nullptr) {
    // Every connection stays allocated until its last completion, so this is
    // a bug; say so loudly rather than corrupt another connection.
    log::Error("stale_completion", {{"shard", options_.index}, {"op", static_cast<int>(ud.op)}});
    if (std::optional<uint16_t> buffer = SelectedBuffer(cqe)) {
      buffers_->MarkTaken();
      buffers_->Recycle(*buffer);
    }
    return;
  }
  const TlsTransport::Event event = conn->transport.OnCompletion(ud.op, cqe);
  switch (event) {
    case TlsTransport::Event::kPeerName:
      OnPeerName(*conn, cqe.res);
      break;
    case TlsTransport::Event::kReceived:
    case TlsTransport::Event::kPeerClosed:
    case TlsTransport::Event::kReceiveFailed:
    case TlsTransport::Event::kStarved:
    case TlsTransport::Event::kReceiveStopped:
      OnReceive(*conn, event);
      break;
    default:
      break;  // sends, cancels and closes are the transport's own business
  }
  if (conn->transport.Finish()) Free(*conn);
}

void Shard::OnReceive(Connection& conn, TlsTransport::Event event) {
  switch (event) {
    case TlsTransport::Event::kStarved:
      // Every receive buffer of the shard holds unprocessed data: this
      // connection waits until buffers come back (RearmStarved).
      Bump(counters_.recv_enobufs);
      starved_.push_back(conn.id);
      return;
    case TlsTransport::Event::kReceiveStopped:
      // We stopped it: for a close, or for backpressure — which may already be
      // over, in which case RetryBlocked found it still armed and skipped it.
      if (conn.phase() == Phase::kSession && !conn.blocked && !conn.held) conn.transport.ArmRecv();
      return;
    case TlsTransport::Event::kReceiveFailed:
      // A reset (ffmpeg's trap: a request head, then a reset): an encoder's
      // request cut off is counted as truncated, and never answered.
      if (conn.http != nullptr) conn.http->OnPeerClosed();
      BeginClose(conn);
      return;
    default:  // bytes, or the peer's end of stream
      break;
  }
  if (conn.phase() == Phase::kClosing) return;
  PumpInput(conn);
  if (conn.phase() == Phase::kClosing) return;
  if (conn.transport.peer_closed()) {
    // The camera closed its side; a partial frame left behind is simply dropped
    // (never acknowledged, so the camera re-sends it). So is an encoder's
    // request cut off (counted as truncated, never answered); but requests
    // it sent whole before closing are served first (ffmpeg closes right
    // after its last upload without reading the answer).
    if (!HttpInputWaits(conn)) {
      if (conn.http != nullptr) conn.http->OnPeerClosed();
      BeginClose(conn);
    }
    return;
  }
  if (conn.transport.receive() == TlsTransport::Receive::kOff && !conn.held) {
    Bump(counters_.recv_rearms);
    conn.transport.ArmRecv();
  }
}

void Shard::PumpInput(Connection& conn) {
  // Ciphertext already inside TLS (left from a paused read) goes first.
  if (!DriveConnection(conn)) return;
  conn.transport.ConsumeReceived([&] { return DriveConnection(conn); });
}

bool Shard::DriveConnection(Connection& conn) {
  camproto::TlsChannel& tls = *conn.transport.tls();
  if (conn.phase() == Phase::kHandshake) {
    absl::StatusOr<camproto::TlsChannel::HandshakeResult> hs = tls.Handshake();
    if (!hs.ok()) {
      if (hs.status().code() == absl::StatusCode::kUnauthenticated) {
        Bump(counters_.handshake_failures_cert);
      } else {
        Bump(counters_.handshake_failures_other);
      }
      NoteRevokedHandshake(conn);
      LogConnectionError("tls_handshake_failed", conn, ToStd(hs.status().message()));
      BeginClose(conn);  // sends the alert TLS queued
      return false;
    }
    if (*hs == camproto::TlsChannel::HandshakeResult::kWantMoreInput) {
      MarkDirty(conn);  // handshake replies to send
      return true;
    }
    if (!(conn.https ? StartHttpSession(conn) : FinishHandshake(conn))) return false;
  }
  if (conn.phase() != Phase::kSession) return false;
  if (conn.http != nullptr) return DriveHttp(conn);
  CameraSession& session = *conn.session;
  while (session.state() != CameraSession::State::kClosing) {
    absl::Span<uint8_t> target = session.decoder().WritableSpan(session);
    if (target.empty()) {
      if (!session.pending_error().ok()) {
        session.FailWith(session.pending_error());
        break;
      }
      // No memory for the next segment (pool budget or spool full): stop
      // reading this camera until the spool catches up. A paused camera must
      // not keep filling the shard's receive buffers: the cameras whose
      // segments are half received need them to finish, and their finishing
      // is what frees the memory the paused camera waits for.
      PauseForMemory(conn);
      return false;
    }
    absl::StatusOr<size_t> n = tls.ReadPlaintext(target);
    if (!n.ok()) {
      if (!camproto::IsPeerClosedCleanly(n.status())) {
        LogConnectionError("tls_read_failed", conn, ToStd(n.status().message()));
      }
      BeginClose(conn);
      return false;
    }
    if (*n == 0) break;
    absl::Status s = session.decoder().CommitWritten(*n, session);
    if (!s.ok()) {
      if (!session.pending_error().ok()) s = session.pending_error();
      session.FailWith(s);
    }
  }
  MarkDirty(conn);
  if (session.needs_poll() && session.state() == CameraSession::State::kWaitingForPredecessor) {
    urgent_poll_.push_back(conn.id);
  }
  return session.state() != CameraSession::State::kClosing;
}

std::optional<std::string> Shard::CameraIdOrClose(Connection& conn) {
  absl::StatusOr<std::string> camera_id = CameraIdFromCertificate(conn.transport.tls()->peer_certificate());
  if (!camera_id.ok()) {
    Bump(counters_.bad_camera_identity);
    LogConnectionError("bad_camera_identity", conn, ToStd(camera_id.status().message()));
    BeginClose(conn);
    return std::nullopt;
  }
  return *std::move(camera_id);
}

void Shard::PauseForMemory(Connection& conn) {
  if (!conn.blocked) {
    conn.blocked = true;
    paused_.Pause(conn.id);
    Bump(counters_.backpressure_pauses);
    conn.transport.StopReceiving();
  }
  MarkDirty(conn);
}

bool Shard::FinishHandshake(Connection& conn) {
  EndHandshake(conn);
  camproto::TlsChannel& tls = *conn.transport.tls();
  std::optional<std::string> camera_id = CameraIdOrClose(conn);
  if (!camera_id.has_value()) return false;
  conn.certificate = CertificateSerial::Of(tls.peer_certificate());
  // A parsed certificate is most of what an idle camera's TLS would cost.
  tls.ForgetPeerCertificate();
  if (RefuseIfRevoked(conn, *camera_id)) return false;
  Bump(tls.session_resumed() ? counters_.handshakes_resumed : counters_.handshakes_full);
  conn.session = std::make_unique<CameraSession>(*this, options_.session, std::move(*camera_id));
  conn.session->set_host_tag((uint64_t{conn.id} << 32) | conn.generation);
  if (conn.admission == Connection::Admission::kRefusing) {
    conn.session->RefuseAsFull("server at its connection limit; try another server or later");
  }
  conn.stage = Phase::kSession;
  conn.deadline = MonotonicNow() + options_.hello_timeout;
  return true;
}

void Shard::MarkDirty(Connection& conn) {
  if (conn.dirty) return;
  conn.dirty = true;
  dirty_.push_back(conn.id);
}

void Shard::Flush(Connection& conn) {
  if (conn.phase() == Phase::kFree) return;
  camproto::TlsChannel* tls = conn.transport.tls();
  if (conn.http != nullptr) {
    if (!FlushHttp(conn)) return;
  } else if (conn.session != nullptr) {
    CameraSession& session = *conn.session;
    const CameraSession::AcksQueued acks = session.FlushAcks();
    if (acks.spooled) Bump(counters_.acks_spooled);
    if (acks.persisted) Bump(counters_.acks_persisted);
    if (!session.outbox().empty() && tls->handshake_done()) {
      absl::Status s = tls->WritePlaintext(
          {reinterpret_cast<const uint8_t*>(session.outbox().data()), session.outbox().size()});
      session.outbox().clear();
      if (!s.ok()) {
        BeginClose(conn);
        return;
      }
    }
    // Counted from the session's own flag: a HELLO and a bad frame in one
    // read welcome and close the session within the same turn.
    if (session.welcomed() && conn.welcome == Connection::Welcome::kNotYet) {
      conn.welcome = Connection::Welcome::kWelcomed;
      if (conn.phase() == Phase::kSession) conn.deadline = absl::InfiniteFuture();
      Bump(counters_.sessions_welcomed);
      LogSessionOpen(conn);
    }
    if (session.state() == CameraSession::State::kClosing && conn.phase() != Phase::kClosing) {
      EndSession(conn);
      return;
    }
  }
  if (tls != nullptr && tls->pending_ciphertext() > kMaxUnsentBytes) {
    Bump(counters_.slow_readers);
    LogConnectionError("slow_reader", conn, "camera is not reading its acknowledgements");
    conn.transport.Cut();
    return;
  }
  conn.transport.Send();
}

void Shard::EndSession(Connection& conn) {
  const CameraSession& session = *conn.session;
  CountOutcome(session.outcome());
  // A welcomed session says why it ended in its session_close line.
  if (session.outcome() != SessionOutcome::kRedirected && conn.welcome == Connection::Welcome::kNotYet) {
    LogConnectionError("session_refused", conn, session.close_reason());
  }
  BeginClose(conn);
}

void Shard::BeginClose(Connection& conn) {
  if (conn.phase() == Phase::kClosing || conn.phase() == Phase::kFree) return;
  // Alerts, ERROR and REJECT frames go out before the socket closes (and the
  // transport's close_notify after them).
  camproto::TlsChannel* tls = conn.transport.tls();
  if (conn.session != nullptr && !conn.session->outbox().empty() && tls->handshake_done()) {
    (void)tls->WritePlaintext({reinterpret_cast<const uint8_t*>(conn.session->outbox().data()),
                               conn.session->outbox().size()});
    conn.session->outbox().clear();
  }
  if (conn.http != nullptr && !conn.http->outbox().empty() && tls->handshake_done()) {
    (void)tls->WritePlaintext({reinterpret_cast<const uint8_t*>(conn.http->outbox().data()),
                               conn.http->outbox().size()});
    conn.http->outbox().clear();
  }
  conn.transport.Close(MonotonicNow() + kCloseGrace);
}

void Shard::Free(Connection& conn) {
  EndHandshake(conn);
  if (conn.admission == Connection::Admission::kAdmitted) {
    shared_.limiter->Release(conn.source);
    --admitted_;
  }
  if (conn.admission == Connection::Admission::kRefusing) --refusals_in_progress_;
  if (conn.welcome == Connection::Welcome::kLogged) LogSessionClose(conn);
  conn.session.reset();
  conn.http.reset();
  conn.certificate = CertificateSerial();
  conn.stage = Phase::kFree;
  Bump(counters_.closes_with_cancel);
  Bump(counters_.connections_closed);
  counters_.connections_open.fetch_sub(1, std::memory_order_relaxed);
  free_ids_.push_back(conn.id);
}

void Shard::RetryBlocked() {
  paused_.Retry([this](uint32_t id) {
    Connection& conn = *connections_[id];
    conn.blocked = false;
    if (conn.phase() != Phase::kSession) return false;
    const uint64_t segments_before = segments_started_;
    PumpInput(conn);
    if (conn.phase() == Phase::kSession && conn.transport.peer_closed() && !conn.blocked && !HttpInputWaits(conn)) {
      if (conn.http != nullptr) conn.http->OnPeerClosed();
      BeginClose(conn);
    }
    if (conn.phase() == Phase::kSession && conn.transport.receive() == TlsTransport::Receive::kOff &&
        !conn.blocked && !conn.held) {
      conn.transport.ArmRecv();
    }
    return segments_started_ != segments_before;
  });
}

void Shard::RearmStarved() {
  size_t kept = 0;
  for (size_t i = 0; i < starved_.size(); ++i) {
    Connection& conn = *connections_[starved_[i]];
    if (conn.transport.receive() != TlsTransport::Receive::kStarved ||
        conn.phase() == Phase::kClosing || conn.phase() == Phase::kFree) {
      continue;  // re-armed elsewhere, or gone
    }
    if (conn.blocked || buffers_->in_use() >= buffers_->count()) {
      starved_[kept++] = starved_[i];  // still waiting
      continue;
    }
    conn.transport.ArmRecv();
  }
  starved_.resize(kept);
}

}  // namespace ingest
