#include "server/shard/shard.h"

#include <arpa/inet.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/monotonic_clock.h"
#include "common/std_string_view.h"
#include "proto/frame.h"
#include "server/tls/camera_identity.h"
#include "server/uring/prepare.h"

namespace ingest {
namespace {

constexpr absl::Duration kTick = absl::Milliseconds(100);
constexpr absl::Duration kDeadlineScanInterval = absl::Milliseconds(250);
constexpr absl::Duration kIdleTrimAfter = absl::Seconds(1);
// How long a closing connection may take to send its last words (alert,
// ERROR, REJECT) before it is cut.
constexpr absl::Duration kCloseGrace = absl::Seconds(5);
// A camera that stops reading its ACKs is cut off before its unsent data grows.
constexpr size_t kMaxUnsentBytes = 1 << 20;

std::string FormatAddress(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in&>(addr).sin_addr, text, sizeof(text));
  } else if (addr.ss_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6&>(addr).sin6_addr, text,
              sizeof(text));
  }
  return text;
}

// The peer's port, to match a session with firewall, NAT or proxy logs.
uint16_t PeerPort(const sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in&>(addr).sin_port);
  if (addr.ss_family == AF_INET6) return ntohs(reinterpret_cast<const sockaddr_in6&>(addr).sin6_port);
  return 0;
}

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
  serving_.store(true, std::memory_order_release);
  last_tick_ = last_deadline_scan_ = MonotonicNow();
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
    recycled_this_turn_ = false;
    ring_->ForEachCompletion([this](const io_uring_cqe& cqe) { Dispatch(cqe); });
    // A connection can be both paused (blocked) and out of receive buffers
    // (starved); once unpaused it needs its receive armed again even if no
    // buffer came back this turn (during a long pause every buffer already
    // did), so starved ones are looked at after every retry of paused ones.
    const bool retried_blocked = !blocked_.empty();
    if (retried_blocked) RetryBlocked();
    if (!starved_.empty() && (recycled_this_turn_ || retried_blocked)) RearmStarved();
    if (!urgent_poll_.empty()) {
      std::vector<uint32_t> ids;
      ids.swap(urgent_poll_);
      for (uint32_t id : ids) {
        Connection& conn = *connections_[id];
        if (conn.session == nullptr || conn.phase != Phase::kSession) continue;
        conn.session->Poll();
        MarkDirty(conn);
        if (conn.session->needs_poll() &&
            conn.session->state() == CameraSession::State::kWaitingForPredecessor) {
          urgent_poll_.push_back(id);
        }
      }
    }
    now = MonotonicNow();
    if (now - last_tick_ >= kTick) Tick(now);
    writer_->MaybeCommit(now, /*force=*/stopping_);
    for (size_t i = 0; i < dirty_.size(); ++i) {
      Connection& conn = *connections_[dirty_[i]];
      conn.dirty = false;
      Flush(conn);
    }
    dirty_.clear();
    RecordTurn(MonotonicNow() - turn_start);
  }
  // Whatever is still open when the loop ends (stop deadline, fatal error)
  // goes away with the ring; nothing unacknowledged was promised.
}

void Shard::StartStopping() {
  stopping_ = true;
  stop_deadline_ = MonotonicNow() + options_.stop_grace;
  for (auto& c : connections_) {
    Connection& conn = *c;
    if (conn.phase == Phase::kSession && conn.session != nullptr &&
        conn.session->state() == CameraSession::State::kStreaming) {
      // Told already by a drain wave: it is finishing its in-flight segments.
      if (!conn.session->goaway_sent()) SendGoaway(conn);
    } else if (conn.phase == Phase::kHandshake || conn.phase == Phase::kPeerLookup ||
               conn.phase == Phase::kSession) {
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
    if (conn.phase != Phase::kSession || conn.session == nullptr ||
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
    if (conn.phase != Phase::kSession || conn.session == nullptr ||
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

void Shard::RecordTurn(absl::Duration turn) {
  const int64_t us = absl::ToInt64Microseconds(turn);
  size_t bucket = 0;
  while (bucket < kLoopTurnBucketsUs.size() && us > kLoopTurnBucketsUs[bucket]) ++bucket;
  counters_.loop_turn_buckets[bucket].fetch_add(1, std::memory_order_relaxed);
  counters_.loop_turn_us_sum.fetch_add(static_cast<uint64_t>(us), std::memory_order_relaxed);
}

void Shard::CountPhases() {
  std::array<uint32_t, kConnectionPhaseNames.size()> counts{};
  for (const auto& c : connections_) {
    const Connection& conn = *c;
    switch (conn.phase) {
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
    const bool streaming = conn.session != nullptr && conn.session->state() == CameraSession::State::kStreaming;
    ++counts[static_cast<size_t>(streaming ? ConnectionPhase::kStreaming : ConnectionPhase::kAwaitingHello)];
  }
  for (size_t i = 0; i < counts.size(); ++i) {
    counters_.connections_by_phase[i].store(counts[i], std::memory_order_relaxed);
  }
}

Shard::Connection* Shard::Lookup(const UserData& ud) {
  if (ud.id >= connections_.size()) return nullptr;
  Connection* conn = connections_[ud.id].get();
  if (conn->generation != ud.generation || conn->phase == Phase::kFree) return nullptr;
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
  UserData ud = UserData::Unpack(cqe.user_data);
  switch (ud.op) {
    case Op::kAccept:
      OnAccept(cqe);
      return;
    case Op::kSpoolWrite:
    case Op::kSpoolSync: {
      const absl::Time stalled_since = writer_->stalled_since();
      absl::Status s = writer_->OnCompletion(
          ud.op, cqe.res, [this](const SpoolPendingRecord& r) { OnDurable(r); });
      if (!s.ok()) {
        log::Error("spool_failed", {{"shard", options_.index}, {"error", s.ToString()}});
        fatal_ = s;
      }
      NoteSpoolStall(stalled_since);
      return;
    }
    default:
      break;
  }
  Connection* conn = Lookup(ud);
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
  switch (ud.op) {
    case Op::kPeerName:
      --conn->in_flight;
      OnPeerName(*conn, cqe.res);
      break;
    case Op::kRecv:
      if (!HasMore(cqe)) {
        --conn->in_flight;
        conn->recv_armed = false;
      }
      OnRecv(*conn, cqe);
      break;
    case Op::kSend:
      --conn->in_flight;
      OnSend(*conn, cqe.res);
      break;
    case Op::kCancel:
    case Op::kClose:
      --conn->in_flight;
      break;
    default:
      break;
  }
  MaybeFree(*conn);
}

void Shard::ArmAccept() {
  if (accept_armed_ || stopping_ || accept_stopped_.load(std::memory_order_acquire)) return;
  // Accepted sockets go straight into the ring's direct-descriptor table: they
  // never occupy a process file descriptor.
  PrepareMultishotAcceptDirect(*ring_, options_.listen_fd, UserData{Op::kAccept, 0, 0});
  accept_armed_ = true;
}

void Shard::OnAccept(const io_uring_cqe& cqe) {
  if (!HasMore(cqe)) accept_armed_ = false;
  if (cqe.res < 0) {
    // ENFILE: the direct-descriptor table is full. The accept is re-armed on
    // the next tick rather than spinning.
    // A drain shut the listener down: the accept ends with an error, as meant.
    if (cqe.res != -ECANCELED && !accept_stopped_.load(std::memory_order_acquire)) Bump(counters_.accept_errors);
    return;
  }
  Bump(counters_.connections_accepted);
  Bump(counters_.connections_open);
  if (draining_.load(std::memory_order_relaxed)) Bump(counters_.connections_accepted_while_draining);
  Connection& conn = NewConnection();
  conn.file_index = cqe.res;
  conn.phase = Phase::kPeerLookup;
  conn.last_receive = MonotonicNow();
  conn.deadline = conn.last_receive + options_.handshake_timeout;
  if (stopping_) {
    BeginClose(conn);
    return;
  }
  // A direct descriptor has no fd for getpeername(2); SO_PEERNAME through a
  // socket uring_cmd reads the peer address without leaving the ring.
  PreparePeerName(*ring_, RingFile::Direct(conn.file_index), &conn.peer,
                  options_.listen_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in),
                  UserData{Op::kPeerName, conn.id, conn.generation});
  ++conn.in_flight;
}

void Shard::OnPeerName(Connection& conn, int res) {
  if (conn.phase != Phase::kPeerLookup) return;
  if (res < 0) {
    // Unknown peer: only the total limit applies.
    Bump(counters_.peer_lookup_failures);
  } else {
    conn.source = FormatAddress(conn.peer);
  }
  switch (shared_.limiter->TryAdmit(conn.source)) {
    case Admission::kAdmitted:
      conn.admitted = true;
      break;
    case Admission::kOverTotal:
      Bump(counters_.refused_total_limit);
      RefuseOverLimit(conn, "max_connections");
      break;
    case Admission::kOverPerSource:
      Bump(counters_.refused_source_limit);
      RefuseOverLimit(conn, "max_connections_per_source");
      break;
  }
  if (conn.phase == Phase::kClosing) return;
  auto tls = camproto::TlsChannel::CreateServer(tls_->ctx.get());
  if (!tls.ok()) {
    LogConnectionError("tls_setup_failed", conn, ToStd(tls.status().message()));
    BeginClose(conn);
    return;
  }
  conn.tls = std::move(*tls);
  conn.phase = Phase::kHandshake;
  ArmRecv(conn);
}

void Shard::RefuseOverLimit(Connection& conn, const char* limit) {
  if (refusals_in_progress_ >= options_.max_refusals_in_progress) {
    Bump(counters_.refused_at_accept);
    LogConnectionError("connection_refused", conn, absl::StrCat("over ", limit, "; closed at accept"));
    BeginClose(conn);
    return;
  }
  ++refusals_in_progress_;
  conn.refusing = true;
  LogConnectionError("connection_refused", conn, absl::StrCat("over ", limit, "; REJECT SERVER_FULL"));
}

void Shard::ArmRecv(Connection& conn) {
  if (conn.recv_armed || conn.peer_closed || conn.phase == Phase::kClosing) return;
  PrepareRecvMultishot(*ring_, RingFile::Direct(conn.file_index), buffers_->group(),
                       UserData{Op::kRecv, conn.id, conn.generation});
  conn.recv_armed = true;
  conn.recv_starved = false;
  ++conn.in_flight;
}

void Shard::StopReceiving(Connection& conn) {
  if (!conn.recv_armed || conn.close_submitted) return;
  // A paused camera must not keep filling the shard's receive buffers: the
  // cameras whose segments are half received need them to finish, and their
  // finishing is what frees the memory the paused camera waits for.
  PrepareCancel(*ring_, UserData{Op::kRecv, conn.id, conn.generation},
                UserData{Op::kCancel, conn.id, conn.generation});
  ++conn.in_flight;
}

void Shard::OnRecv(Connection& conn, const io_uring_cqe& cqe) {
  if (std::optional<uint16_t> buffer = SelectedBuffer(cqe)) {
    const uint16_t id = *buffer;
    buffers_->MarkTaken();
    if (cqe.res > 0 && conn.phase != Phase::kClosing) {
      conn.chunks.push_back({id, 0, static_cast<uint32_t>(cqe.res)});
      conn.last_receive = MonotonicNow();
      conn.idle_trimmed = false;
    } else {
      buffers_->Recycle(id);
      recycled_this_turn_ = true;
    }
  }
  if (cqe.res == -ENOBUFS) {
    // Every receive buffer of the shard holds unprocessed data: this
    // connection waits until buffers come back (that is the backpressure).
    Bump(counters_.recv_enobufs);
    if (!conn.recv_starved) {
      conn.recv_starved = true;
      starved_.push_back(conn.id);
    }
    return;
  }
  if (cqe.res == -ECANCELED) {
    // We stopped it: for a close, or for backpressure — which may already be
    // over, in which case RetryBlocked found it still armed and skipped it.
    if (conn.phase == Phase::kSession && !conn.blocked && !conn.close_submitted) ArmRecv(conn);
    return;
  }
  if (cqe.res == 0) {
    conn.peer_closed = true;
  } else if (cqe.res < 0) {
    conn.peer_closed = true;
    if (conn.phase != Phase::kClosing) BeginClose(conn);
    return;
  }
  if (conn.phase == Phase::kClosing) return;
  PumpInput(conn);
  if (conn.phase == Phase::kClosing) return;
  if (conn.peer_closed) {
    // The camera closed its side; a partial frame left behind is simply dropped
    // (never acknowledged, so the camera re-sends it).
    BeginClose(conn);
    return;
  }
  if (!conn.recv_armed && !conn.recv_starved) {
    Bump(counters_.recv_rearms);
    ArmRecv(conn);
  }
}

void Shard::PumpInput(Connection& conn) {
  // Ciphertext already inside TLS (left from a paused read) goes first.
  if (!DriveConnection(conn)) return;
  while (!conn.chunks.empty() && conn.phase != Phase::kClosing) {
    RecvChunk chunk = conn.chunks.front();
    conn.tls->LendCiphertext(buffers_->View(chunk.buffer_id, chunk.offset + chunk.length)
                                 .subspan(chunk.offset));
    bool more = DriveConnection(conn);
    // Anything TLS did not read is copied aside, so the buffer can go back to
    // the kernel now (at most one buffer's worth per paused connection).
    conn.tls->ReleaseLentCiphertext();
    conn.chunks.erase(conn.chunks.begin());
    buffers_->Recycle(chunk.buffer_id);
    recycled_this_turn_ = true;
    if (!more) break;
  }
}

bool Shard::DriveConnection(Connection& conn) {
  if (conn.phase == Phase::kHandshake) {
    absl::StatusOr<camproto::TlsChannel::HandshakeResult> hs = conn.tls->Handshake();
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
    if (!FinishHandshake(conn)) return false;
  }
  if (conn.phase != Phase::kSession) return false;
  CameraSession& session = *conn.session;
  while (session.state() != CameraSession::State::kClosing) {
    absl::Span<uint8_t> target = session.decoder().WritableSpan(session);
    if (target.empty()) {
      if (!session.pending_error().ok()) {
        session.FailWith(session.pending_error());
        break;
      }
      // No memory for the next segment (pool budget or spool full): stop
      // reading this camera until the spool catches up.
      if (!conn.blocked) {
        conn.blocked = true;
        blocked_.push_back(conn.id);
        Bump(counters_.backpressure_pauses);
        StopReceiving(conn);
      }
      MarkDirty(conn);
      return false;
    }
    absl::StatusOr<size_t> n = conn.tls->ReadPlaintext(target);
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

bool Shard::FinishHandshake(Connection& conn) {
  absl::StatusOr<std::string> camera_id = CameraIdFromCertificate(conn.tls->peer_certificate());
  if (!camera_id.ok()) {
    Bump(counters_.bad_camera_identity);
    LogConnectionError("bad_camera_identity", conn, ToStd(camera_id.status().message()));
    BeginClose(conn);
    return false;
  }
  if (RefuseIfRevoked(conn, *camera_id)) return false;
  Bump(conn.tls->session_resumed() ? counters_.handshakes_resumed : counters_.handshakes_full);
  conn.session = std::make_unique<CameraSession>(*this, options_.session, std::move(*camera_id));
  conn.session->set_host_tag((uint64_t{conn.id} << 32) | conn.generation);
  if (conn.refusing) conn.session->RefuseAsFull("server at its connection limit; try another server or later");
  conn.phase = Phase::kSession;
  conn.deadline = MonotonicNow() + options_.hello_timeout;
  return true;
}

void Shard::MarkDirty(Connection& conn) {
  if (conn.dirty) return;
  conn.dirty = true;
  dirty_.push_back(conn.id);
}

void Shard::Flush(Connection& conn) {
  if (conn.phase == Phase::kFree) return;
  if (conn.session != nullptr) {
    CameraSession& session = *conn.session;
    const CameraSession::AcksQueued acks = session.FlushAcks();
    if (acks.spooled) Bump(counters_.acks_spooled);
    if (acks.persisted) Bump(counters_.acks_persisted);
    if (!session.outbox().empty() && conn.tls->handshake_done()) {
      absl::Status s = conn.tls->WritePlaintext(
          {reinterpret_cast<const uint8_t*>(session.outbox().data()), session.outbox().size()});
      session.outbox().clear();
      if (!s.ok()) {
        BeginClose(conn);
        return;
      }
    }
    // Counted from the session's own flag: a HELLO and a bad frame in one
    // read welcome and close the session within the same turn.
    if (session.welcomed() && !conn.welcomed) {
      conn.welcomed = true;
      if (conn.phase == Phase::kSession) conn.deadline = absl::InfiniteFuture();
      Bump(counters_.sessions_welcomed);
      LogSessionOpen(conn);
    }
    if (session.state() == CameraSession::State::kClosing && conn.phase != Phase::kClosing) {
      switch (session.outcome()) {
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
      // A welcomed session says why it ended in its session_close line.
      if (session.outcome() != SessionOutcome::kRedirected && !conn.welcomed) {
        LogConnectionError("session_refused", conn, session.close_reason());
      }
      BeginClose(conn);
      return;
    }
  }
  if (conn.tls != nullptr && conn.tls->pending_ciphertext() > kMaxUnsentBytes) {
    Bump(counters_.slow_readers);
    LogConnectionError("slow_reader", conn, "camera is not reading its acknowledgements");
    conn.close_after_send = false;
    SubmitClose(conn);
    return;
  }
  StartSend(conn);
}

void Shard::StartSend(Connection& conn) {
  if (conn.send_in_flight || conn.close_submitted || conn.tls == nullptr) return;
  if (conn.send_offset >= conn.send_buffer.size()) {
    conn.send_buffer.clear();
    conn.send_offset = 0;
    if (conn.tls->pending_ciphertext() == 0) {
      if (conn.close_after_send) SubmitClose(conn);
      return;
    }
    // The send reads from our own buffer: TLS may reallocate its output while
    // the send is in flight.
    conn.tls->TakeCiphertext(conn.send_buffer);
  }
  PrepareSend(*ring_, RingFile::Direct(conn.file_index), conn.send_buffer.data() + conn.send_offset,
              conn.send_buffer.size() - conn.send_offset, UserData{Op::kSend, conn.id, conn.generation});
  conn.send_in_flight = true;
  ++conn.in_flight;
}

void Shard::OnSend(Connection& conn, int res) {
  conn.send_in_flight = false;
  if (res < 0) {
    conn.close_after_send = false;
    if (conn.phase != Phase::kClosing) conn.phase = Phase::kClosing;
    SubmitClose(conn);
    return;
  }
  conn.send_offset += static_cast<size_t>(res);
  StartSend(conn);
}

void Shard::BeginClose(Connection& conn) {
  if (conn.phase == Phase::kClosing || conn.phase == Phase::kFree) return;
  conn.phase = Phase::kClosing;
  // Alerts, ERROR and REJECT frames go out before the socket closes.
  if (conn.session != nullptr && !conn.session->outbox().empty() && conn.tls->handshake_done()) {
    (void)conn.tls->WritePlaintext({reinterpret_cast<const uint8_t*>(conn.session->outbox().data()),
                                    conn.session->outbox().size()});
    conn.session->outbox().clear();
  }
  // End the TLS session cleanly after our last words (REJECT, REDIRECT,
  // ERROR, the last ACKs of a drain): strict TLS stacks report a bare TCP
  // close as an unexpected EOF. No-op before the handshake finished.
  if (conn.tls != nullptr && !conn.peer_closed) conn.tls->SendCloseNotify();
  conn.close_after_send = true;
  // A peer that never reads would keep that last send pending forever.
  conn.deadline = MonotonicNow() + kCloseGrace;
  StartSend(conn);
}

void Shard::SubmitClose(Connection& conn) {
  if (conn.close_submitted) return;
  conn.phase = Phase::kClosing;
  conn.close_submitted = true;
  Bump(counters_.closes_with_cancel);
  // close() does not cancel requests in flight on the socket: cancel them all
  // first; the hard link runs the close whatever the cancel's result.
  PrepareCancelAllAndClose(*ring_, conn.file_index, UserData{Op::kCancel, conn.id, conn.generation},
                           UserData{Op::kClose, conn.id, conn.generation});
  conn.in_flight += 2;
}

void Shard::MaybeFree(Connection& conn) {
  if (conn.phase != Phase::kClosing || conn.in_flight > 0) return;
  if (!conn.close_submitted) {
    SubmitClose(conn);
    return;
  }
  for (const RecvChunk& chunk : conn.chunks) {
    buffers_->Recycle(chunk.buffer_id);
    recycled_this_turn_ = true;
  }
  if (conn.admitted) shared_.limiter->Release(conn.source);
  if (conn.refusing) --refusals_in_progress_;
  if (conn.open_logged) LogSessionClose(conn);
  conn.session.reset();
  conn.tls.reset();
  conn.phase = Phase::kFree;
  Bump(counters_.connections_closed);
  counters_.connections_open.fetch_sub(1, std::memory_order_relaxed);
  free_ids_.push_back(conn.id);
}

SegmentBuffer Shard::AllocateRecord(size_t bytes) {
  if (!AcceptingSegments()) return {};
  return pool_.Allocate(bytes);
}

void Shard::ReleaseRecord(const SegmentBuffer& buffer) { pool_.Release(buffer); }

bool Shard::AcceptingSegments() const {
  // A full disk pauses the cameras like a full spool: what they send waits in
  // their socket buffers, unacknowledged, until uploads free space.
  const uint64_t pending = writer_->open_bytes() + writer_->in_flight_bytes();
  return !writer_->stalled() && !shared_.catalog->disk_low(pending) &&
         shared_.catalog->total_bytes() + pending < options_.spool_max_bytes;
}

void Shard::NoteSpoolStall(absl::Time stalled_since_before) {
  counters_.spool_disk_full_errors.store(writer_->counters().disk_full_errors, std::memory_order_relaxed);
  const bool was = stalled_since_before != absl::InfinitePast();
  if (was == writer_->stalled()) return;
  counters_.spool_write_stalled.store(writer_->stalled() ? 1 : 0, std::memory_order_relaxed);
  if (writer_->stalled()) {
    log::Error("spool_disk_full", {{"shard", options_.index},
                                   {"error", "no space left on the spool's file system; cameras paused, "
                                             "the batch is retried until uploads free space"},
                                   {"free_bytes", static_cast<int64_t>(shared_.catalog->disk_free_bytes())}});
  } else {
    log::Info("spool_disk_space_back", {{"shard", options_.index},
                                        {"stalled_ms", absl::ToInt64Milliseconds(MonotonicNow() - stalled_since_before)}});
  }
}

void Shard::SpoolRecord(CameraSession& session, const SegmentBuffer& buffer, size_t record_bytes,
                        uint64_t seq, uint32_t payload_bytes) {
  uint64_t tag = session.host_tag();
  writer_->Append(SpoolPendingRecord{.buffer = buffer,
                                     .record_bytes = static_cast<uint32_t>(record_bytes),
                                     .payload_bytes = payload_bytes,
                                     .seq = seq,
                                     .camera = &shared_.registry->Get(session.camera_id()),
                                     .conn_id = static_cast<uint32_t>(tag >> 32),
                                     .conn_generation = static_cast<uint32_t>(tag),
                                     .received = MonotonicNow()});
  Bump(counters_.segments_accepted);
  Bump(counters_.payload_bytes_accepted, payload_bytes);
}

void Shard::OnDurable(const SpoolPendingRecord& record) {
  record.camera->RaiseDurable(record.seq);
  pool_.Release(record.buffer);
  Bump(counters_.spool_records);
  Bump(counters_.spool_bytes, record.record_bytes);
  Bump(counters_.ack_latency_us_sum,
       static_cast<uint64_t>(absl::ToInt64Microseconds(MonotonicNow() - record.received)));
  Bump(counters_.ack_latency_count);
  Connection* conn = Lookup(UserData{Op::kSend, record.conn_id, record.conn_generation});
  if (conn != nullptr && conn->session != nullptr) {
    conn->session->OnDurable(record.seq, record.payload_bytes);
    MarkDirty(*conn);
  }
}

void Shard::RetryBlocked() {
  std::vector<uint32_t> ids;
  ids.swap(blocked_);
  for (uint32_t id : ids) {
    Connection& conn = *connections_[id];
    conn.blocked = false;
    if (conn.phase != Phase::kSession) continue;
    PumpInput(conn);
    if (conn.phase == Phase::kSession && conn.peer_closed && !conn.blocked) BeginClose(conn);
    if (conn.phase == Phase::kSession && !conn.recv_armed && !conn.recv_starved &&
        !conn.blocked) {
      ArmRecv(conn);
    }
  }
}

void Shard::RearmStarved() {
  size_t kept = 0;
  for (size_t i = 0; i < starved_.size(); ++i) {
    Connection& conn = *connections_[starved_[i]];
    if (!conn.recv_starved || conn.phase == Phase::kClosing || conn.phase == Phase::kFree) {
      continue;  // re-armed elsewhere, or gone
    }
    if (conn.blocked || buffers_->in_use() >= buffers_->count()) {
      starved_[kept++] = starved_[i];  // still waiting
      continue;
    }
    ArmRecv(conn);
  }
  starved_.resize(kept);
}

void Shard::Tick(absl::Time now) {
  last_tick_ = now;
  const RingCounters& ring = ring_->counters();
  counters_.ring_sq_full_flushes.store(ring.sq_full_flushes, std::memory_order_relaxed);
  counters_.ring_submit_busy.store(ring.submit_busy, std::memory_order_relaxed);
  counters_.ring_cq_overflows.store(ring.cq_overflows, std::memory_order_relaxed);
  if (!accept_armed_) ArmAccept();
  if (!blocked_.empty()) RetryBlocked();
  CountPhases();
  for (auto& c : connections_) {
    Connection& conn = *c;
    if (conn.phase != Phase::kSession || conn.session == nullptr) continue;
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
  if (now - last_deadline_scan_ < kDeadlineScanInterval) return;
  last_deadline_scan_ = now;
  for (auto& c : connections_) {
    Connection& conn = *c;
    if (conn.phase == Phase::kClosing && !conn.close_submitted && now >= conn.deadline) {
      SubmitClose(conn);
      continue;
    }
    if (conn.phase == Phase::kFree || conn.phase == Phase::kClosing) continue;
    // Most cameras are quiet between segments: give their TLS buffers back
    // (not on every receive: that would be malloc churn on the hot path).
    if (!conn.idle_trimmed && conn.phase == Phase::kSession && conn.chunks.empty() &&
        !conn.send_in_flight && now - conn.last_receive >= kIdleTrimAfter) {
      conn.tls->ReleaseIdleMemory();
      conn.idle_trimmed = true;
    }
    if (now >= conn.deadline) {
      if (conn.phase == Phase::kSession) {
        Bump(counters_.hello_timeouts);
        conn.session->FailWith(
            camproto::MakeProtocolError(camproto::ErrorCode::kTimeout, "no HELLO in time"));
      } else {
        Bump(counters_.handshake_timeouts);
      }
      LogConnectionError("connection_timeout", conn, "handshake or HELLO deadline passed");
      BeginClose(conn);
    } else if (now - conn.last_receive >= options_.idle_timeout && !conn.blocked &&
               !conn.recv_starved) {
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
}

void Shard::Count(SessionEvent event) {
  switch (event) {
    case SessionEvent::kDuplicate: Bump(counters_.segments_duplicate); return;
    case SessionEvent::kRefusedBadSequence: Bump(counters_.segments_refused_bad_sequence); return;
    case SessionEvent::kRefusedMismatch: Bump(counters_.segments_refused_mismatch); return;
    case SessionEvent::kRefusedInvalidField: Bump(counters_.segments_refused_invalid_field); return;
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
  conn.open_logged = true;
  log::Info("session_open", {{"shard", options_.index},
                             {"camera", session.camera_id()},
                             {"session", session.session_id()},
                             {"peer", conn.source},
                             {"peer_port", PeerPort(conn.peer)},
                             {"firmware", session.firmware_version()},
                             // The only version a session is welcomed with.
                             {"protocol_version", int64_t{camproto::kProtocolVersion}},
                             {"tls", std::string_view(conn.tls->session_resumed() ? "resumed" : "full")},
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
                                             ? std::string_view(conn.peer_closed ? "camera closed" : "server closed")
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
    if (conn.phase != Phase::kSession || conn.session == nullptr ||
        conn.session->state() == CameraSession::State::kClosing) {
      continue;
    }
    // The certificate the session was opened with: the one verified in a
    // full handshake, or the one a resumed ticket carried.
    X509* cert = conn.tls->peer_certificate();
    std::optional<std::string> reason = revocation.Check(conn.session->camera_id(), cert);
    if (!reason.has_value() || !conn.session->CloseAsRevoked(*reason)) continue;
    Bump(counters_.revoked_sessions_closed);
    ReportRevocation(conn, conn.session->camera_id(), cert, *reason, /*session_closed=*/true);
    MarkDirty(conn);
  }
}

bool Shard::RefuseIfRevoked(Connection& conn, const std::string& camera_id) {
  X509* cert = conn.tls->peer_certificate();
  std::optional<std::string> reason = tls_->revocation->Check(camera_id, cert);
  if (!reason.has_value()) return false;
  Bump(counters_.revoked_handshakes);
  ReportRevocation(conn, camera_id, cert, *reason, /*session_closed=*/false);
  // A session only to say why: ERROR REVOKED, close_notify, close (Flush).
  conn.session = std::make_unique<CameraSession>(*this, options_.session, camera_id);
  conn.session->set_host_tag((uint64_t{conn.id} << 32) | conn.generation);
  conn.session->CloseAsRevoked(*reason);
  conn.phase = Phase::kSession;
  MarkDirty(conn);
  return true;
}

void Shard::NoteRevokedHandshake(Connection& conn) {
  X509* cert = RevokedPeerCertificate(conn.tls->ssl());
  if (cert == nullptr) return;
  Bump(counters_.revoked_handshakes);
  absl::StatusOr<std::string> camera_id = CameraIdFromCertificate(cert);
  ReportRevocation(conn, camera_id.ok() ? *camera_id : std::string(), cert,
                   "certificate revoked by a CRL (tls.crl_file)", /*session_closed=*/false);
}

void Shard::ReportRevocation(const Connection& conn, const std::string& camera_id, X509* cert,
                             const std::string& reason, bool session_closed) {
  if (shared_.revocations == nullptr) return;
  shared_.revocations->Add(RevocationEvent{.session_closed = session_closed,
                                           .shard = options_.index,
                                           .camera = camera_id,
                                           .serial = SerialHex(cert),
                                           .peer = conn.source,
                                           .reason = reason});
}

}  // namespace ingest
