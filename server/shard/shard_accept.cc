// Shard: a new connection — accepted as a direct descriptor, its peer's
// address looked up through the ring, counted against the connection limits
// (or refused), and given a TLS connection to handshake.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/std_string_view.h"
#include "server/shard/shard.h"
#include "server/uring/prepare.h"

namespace ingest {
namespace {

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

}  // namespace

// Accepts are single-shot and at most kAcceptsArmed at once, within the
// handshake headroom: a multishot accept would hand over the whole backlog at
// once, however many handshakes are already under way.
void Shard::ArmAccept() {
  if (stopping_ || accept_stopped_.load(std::memory_order_acquire)) return;
  const uint32_t armed = accepts_armed_ + https_accepts_armed_;
  const uint32_t busy = handshakes_in_progress_ + armed;
  uint32_t headroom = busy < options_.max_handshakes_in_progress ? options_.max_handshakes_in_progress - busy : 0;
  if (headroom == 0 && armed == 0 && !accept_paused_) {
    // A storm (or slow handshakes) filled the shard: the rest wait queued.
    accept_paused_ = true;
    Bump(counters_.accept_pauses);
  }
  if (accept_paused_ && handshakes_in_progress_ > options_.max_handshakes_in_progress / 4 * 3) return;
  accept_paused_ = false;
  // The HTTPS listener first: it has few connections, and cameras fill the rest.
  while (options_.https_listen_fd >= 0 && headroom > 0 && https_accepts_armed_ < kAcceptsArmed / 4) {
    PrepareAcceptDirect(*ring_, options_.https_listen_fd, UserData{Op::kAccept, kHttpsListener, 0});
    ++https_accepts_armed_;
    --headroom;
  }
  while (headroom > 0 && accepts_armed_ < kAcceptsArmed) {
    PrepareAcceptDirect(*ring_, options_.listen_fd, UserData{Op::kAccept, kCameraListener, 0});
    ++accepts_armed_;
    --headroom;
  }
}

void Shard::OnAccept(const io_uring_cqe& cqe) {
  const bool https = UserData::Unpack(cqe.user_data).id == kHttpsListener;
  --(https ? https_accepts_armed_ : accepts_armed_);
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
  conn.https = https;
  conn.stage = Phase::kPeerLookup;
  conn.handshaking = true;
  ++handshakes_in_progress_;
  counters_.handshakes_in_progress.store(handshakes_in_progress_, std::memory_order_relaxed);
  ArmAccept();
  // Accepted sockets live in the ring's direct-descriptor table: they never
  // occupy a process file descriptor.
  conn.transport.Open(&transport_shared_, RingFile::Direct(cqe.res), conn.id, conn.generation);
  conn.deadline = conn.transport.last_receive() + options_.handshake_timeout;
  if (stopping_) {
    BeginClose(conn);
    return;
  }
  const int family = https ? options_.https_listen_family : options_.listen_family;
  conn.transport.LookUpPeer(family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in));
}

// A storm of N cameras handshaking at once would each wait for the N before
// them, and most would pass their deadline after the shard had spent its CPU
// on them. At max_handshakes_in_progress the rest wait in the kernel's
// backlog, where they cost nothing, and are accepted once a quarter of the
// handshakes under way have finished (ArmAccept).
void Shard::EndHandshake(Connection& conn) {
  if (!conn.handshaking) return;
  conn.handshaking = false;
  --handshakes_in_progress_;
  counters_.handshakes_in_progress.store(handshakes_in_progress_, std::memory_order_relaxed);
  ArmAccept();
}

void Shard::OnPeerName(Connection& conn, int res) {
  if (conn.phase() != Phase::kPeerLookup) return;
  if (res < 0) {
    // Unknown peer: only the total limit applies.
    Bump(counters_.peer_lookup_failures);
  } else {
    conn.source = FormatAddress(conn.transport.peer());
  }
  // This shard's ring can be full while the process is not: the kernel
  // hashes connections over the shards' listeners, and a connection that
  // lands here must be refused now, not left in the accept queue.
  const Admission admission =
      admitted_ >= options_.max_cameras ? Admission::kOverShard : shared_.limiter->TryAdmit(conn.source);
  switch (admission) {
    case Admission::kAdmitted:
      conn.admission = Connection::Admission::kAdmitted;
      ++admitted_;
      break;
    case Admission::kOverShard:
      Bump(counters_.refused_total_limit);
      RefuseOverLimit(conn, "the shard's capacity");
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
  if (conn.phase() == Phase::kClosing) return;
  auto tls = camproto::TlsChannel::CreateServer(tls_->ctx.get());
  if (!tls.ok()) {
    LogConnectionError("tls_setup_failed", conn, ToStd(tls.status().message()));
    BeginClose(conn);
    return;
  }
  if (conn.https) {
    // Encoders may have no client certificate (they then show a token or a
    // signed URL); one they do send is verified as a camera's is.
    SSL* ssl = (*tls)->ssl();
    SSL_set_verify(ssl, SSL_VERIFY_PEER, SSL_get_verify_callback(ssl));
  }
  conn.transport.StartTls(std::move(*tls));
  conn.stage = Phase::kHandshake;
  conn.transport.ArmRecv();
}

void Shard::RefuseOverLimit(Connection& conn, const char* limit) {
  if (refusals_in_progress_ >= options_.max_refusals_in_progress) {
    Bump(counters_.refused_at_accept);
    LogConnectionError("connection_refused", conn, absl::StrCat("over ", limit, "; closed at accept"));
    BeginClose(conn);
    return;
  }
  ++refusals_in_progress_;
  conn.admission = Connection::Admission::kRefusing;
  LogConnectionError("connection_refused", conn, absl::StrCat("over ", limit, "; REJECT SERVER_FULL"));
}

}  // namespace ingest
