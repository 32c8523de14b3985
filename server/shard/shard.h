// One shard: a thread, its io_uring ring, its SO_REUSEPORT listener, its
// camera connections and its spool file. Shards share nothing on the hot path
// except the camera registry (touched once per segment) and the connection
// limiter (once per connection).
//
// A connection's life, all through the ring:
//   multishot accept (direct descriptor) -> SO_PEERNAME via uring_cmd ->
//   admission (limits) -> multishot recv into the shard's provided buffers ->
//   TLS handshake (memory, zero-copy from the receive buffer) -> HELLO ->
//   WELCOME -> SEGMENTs decrypted straight into pooled record buffers ->
//   group commit (writev + fdatasync) -> ACK -> ... -> cancel + close_direct.
// The socket side of it (receive chunks, sends, requests in flight, the
// close sequence) is the connection's TlsTransport; the shard keeps the
// phases, sessions, admission, drain and re-zoning waves, and timeouts.
//
// Its member functions live in shard.cc (the loop, completions, sessions
// driven over their transports, closing), shard_accept.cc (accept, peer
// lookup, connection limits), shard_spool.cc (SessionHost: record buffers,
// spooling, durability), shard_waves.cc (stop, drain and re-zoning waves,
// TLS reloads and revocations), shard_timeouts.cc (the tick and deadlines)
// and shard_reporting.cc (metrics and log lines).
//
//   Shard shard(options, shared);
//   std::thread t([&] { absl::Status s = shard.Run(); });
//   ...
//   shard.RequestStop();   // GOAWAY to cameras, flush the spool, exit Run()
//   t.join();
#ifndef SERVER_SHARD_SHARD_H_
#define SERVER_SHARD_SHARD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include <netinet/in.h>
#include <openssl/ssl.h>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "common/json_log.h"
#include "proto/tls_channel.h"
#include "server/http_ingest/http_ingest_session.h"
#include "server/session/camera_registry.h"
#include "server/session/camera_session.h"
#include "server/session/connection_limiter.h"
#include "server/tls/camera_revocation.h"
#include "server/session/segment_buffer_pool.h"
#include "server/session/session_host.h"
#include "server/shard/pause_queue.h"
#include "server/shard/revocation_events.h"
#include "server/shard/shard_counters.h"
#include "server/shard/spool_writer.h"
#include "server/spool/spool_catalog.h"
#include "server/tls/server_tls.h"
#include "server/uring/provided_buffer_ring.h"
#include "server/uring/ring.h"
#include "server/uring/tls_transport.h"
#include "server/uring/user_data.h"

namespace ingest {

struct ShardOptions {
  int index = 0;
  int listen_fd = -1;            // bound and listening; owned by the caller
  int listen_family = AF_INET;
  // The HTTPS ingest listener (server.https_listen), bound and listening,
  // owned by the caller; -1 when off. Same family as listen_fd's or not.
  int https_listen_fd = -1;
  int https_listen_family = AF_INET;
  HttpIngestLimits https;
  SessionLimits session;
  unsigned registered_files = 16384;  // direct descriptors (max sockets) of this shard
  // Connections this shard admits (over them: REJECT SERVER_FULL); the
  // table's other slots are for accepting connections only to refuse them.
  uint32_t max_cameras = 16384 - 64;
  // Provided receive buffers (a power of two), 16 MiB per shard. 64 KiB
  // each, not 16: a camera's TLS records are 16 KiB plus 22 bytes, so with
  // 16 KiB buffers nearly every record was cut across two receives and
  // copied whole to be decrypted (5% of the server's CPU under load); a
  // 64 KiB receive cuts one record in four, and takes a quarter of the
  // completions. 256 are plenty: each goes back to the ring as soon as its
  // completion is handled, and a receive that finds none waits (ENOBUFS,
  // re-armed as buffers return). bench/README.md has the before and after.
  uint32_t recv_buffers = 256;
  uint32_t recv_buffer_bytes = 65536;
  absl::Duration handshake_timeout = absl::Seconds(10);
  // Accepted connections not yet through their handshake; at this many the
  // shard stops accepting until a quarter of them have finished.
  uint32_t max_handshakes_in_progress = 1024;
  absl::Duration hello_timeout = absl::Seconds(10);
  absl::Duration idle_timeout = absl::Seconds(60);
  uint64_t memory_budget_bytes = 256 << 20;
  uint64_t spool_max_bytes = 8ull << 30;
  SpoolWriterOptions writer;
  double connection_errors_per_second = 20;
  double session_lines_per_second = 200;  // session_open lines (closes follow their opens)
  // Longest a shard waits on stop for commits and last sends.
  absl::Duration stop_grace = absl::Seconds(5);
  // Every GOAWAY carries a reconnect-after drawn uniformly from this range.
  absl::Duration reconnect_after_min = absl::Seconds(1);
  absl::Duration reconnect_after_max = absl::Seconds(5);
  // Connections over a limit that may be handshaking at once to be told
  // REJECT SERVER_FULL; beyond that they are closed at accept, so a flood
  // cannot make the shard spend its CPU on handshakes it will refuse.
  uint32_t max_refusals_in_progress = 32;
  // Called once, on the shard's thread, when Run() has set up its ring and
  // armed accept (serving() turns true just before); may be empty. Lets the
  // process wait for its shards without polling serving().
  std::function<void()> on_serving{};
};

// Process-wide objects the shards share (all thread-safe).
struct ShardShared {
  SpoolCatalog* catalog = nullptr;
  CameraRegistry* registry = nullptr;
  ConnectionLimiter* limiter = nullptr;
  std::atomic<uint64_t>* next_session_id = nullptr;
  const ZoneAdmission* admission = nullptr;  // null: every camera is admitted
  const ServingTls* tls = nullptr;           // the current TLS set-up (reloadable)
  RevocationEvents* revocations = nullptr;   // for the audit log; may be null
};

class Shard final : public SessionHost, public HttpIngestHost {
 public:
  Shard(const ShardOptions& options, const ShardShared& shared);
  ~Shard() override;

  // Runs the loop on the calling thread until RequestStop(); the ring is
  // created here (SINGLE_ISSUER). Returns an error if the ring cannot be set
  // up or the spool fails (durability can no longer be promised).
  absl::Status Run();
  // Thread-safe. The loop notices within its tick (100 ms).
  void RequestStop() { stop_requested_.store(true, std::memory_order_release); }

  // Drain controls, thread-safe; the loop acts on them within a turn.
  // From now on accepted connections are counted as connections_accepted_while_draining.
  void MarkDraining() { draining_.store(true, std::memory_order_relaxed); }
  // No accept is armed again; the owner then shuts the listening socket down,
  // which ends the armed one and refuses what waits in the backlog.
  void StopAccepting() { accept_stopped_.store(true, std::memory_order_release); }
  // Tells up to `cameras` more streaming cameras GOAWAY (one wave).
  void RequestGoaways(uint32_t cameras) { goaway_budget_.fetch_add(cameras, std::memory_order_relaxed); }
  // After a zone map reload: tells up to `cameras` more streaming cameras
  // that no longer belong to this zone GOAWAY (rezoned), each once its
  // spooled data is in the store. misplaced_sessions() counts the ones left.
  void RequestRezoneGoaways(uint32_t cameras) { rezone_budget_.fetch_add(cameras, std::memory_order_relaxed); }
  uint64_t misplaced_sessions() const { return misplaced_sessions_.load(std::memory_order_relaxed); }

  // True once Run() has set up its ring and is serving.
  bool serving() const { return serving_.load(std::memory_order_acquire); }
  // When the loop last turned (it turns at least every 100 ms while
  // healthy), for the liveness check; on the MonotonicNow() clock, like every
  // deadline and interval of the shard.
  absl::Time last_turn() const { return absl::FromUnixMicros(last_turn_us_.load(std::memory_order_relaxed)); }

  const ShardCounters& counters() const { return counters_; }
  int index() const { return options_.index; }

  // SessionHost
  SegmentBuffer AllocateRecord(size_t bytes) override;
  void ReleaseRecord(const SegmentBuffer& buffer) override;
  void SpoolRecord(CameraSession& session, const SegmentBuffer& buffer, size_t record_bytes,
                   uint64_t seq, uint32_t payload_bytes) override;
  CameraRegistry& registry() override { return *shared_.registry; }
  uint64_t NextSessionId() override {
    return shared_.next_session_id->fetch_add(1, std::memory_order_relaxed);
  }
  const ZoneAdmission* admission() const override { return shared_.admission; }
  int64_t NowUnixMicros() const override { return absl::ToUnixMicros(absl::Now()); }
  void Count(SessionEvent event) override;

  // HttpIngestHost (shard_https.cc; AllocateRecord, ReleaseRecord and
  // registry() serve both kinds of session)
  void SpoolHttpRecord(HttpIngestSession& session, const SegmentBuffer& buffer, size_t record_bytes, uint64_t seq,
                       uint32_t payload_bytes) override;
  const EncoderCredentials* encoder_credentials() const override { return tls_->encoder_credentials.get(); }
  std::optional<std::string> CameraDenied(std::string_view camera) const override {
    return tls_->revocation->Check(camera, CertificateSerial());
  }
  void Count(HttpIngestEvent event) override;

 private:
  // Where a connection is in its life. A connection whose transport is no
  // longer open is kClosing whatever it was doing (see phase()).
  enum class Phase : uint8_t { kFree, kPeerLookup, kHandshake, kSession, kClosing };

  struct Connection {
    // Its place under the connection limits.
    enum class Admission : uint8_t {
      kNone,       // not (yet) counted: nothing to release
      kAdmitted,   // counted by the limiter until freed
      kRefusing,   // over a limit: handshake, then REJECT SERVER_FULL
    };
    // How far its session got, for the counters and the session lines.
    enum class Welcome : uint8_t {
      kNotYet,     // no WELCOME sent: the HELLO deadline applies
      kWelcomed,   // WELCOME sent; its session_open line was suppressed
      kLogged,     // session_open logged: session_close is due
    };

    uint32_t id = 0;
    uint32_t generation = 0;
    Phase stage = Phase::kFree;   // never kClosing: the transport says that
    TlsTransport transport;
    std::string source;           // peer address, for the per-source limit
    Admission admission = Admission::kNone;
    Welcome welcome = Welcome::kNotYet;
    bool dirty = false;           // has output to flush this turn
    bool blocked = false;         // session waits for memory / spool room
    bool held = false;            // HTTP session: input waits until a request is answered
    bool handshaking = false;     // counted in handshakes_in_progress_
    absl::Time opened;
    std::unique_ptr<CameraSession> session;
    // Came in on the HTTPS ingest listener: an encoder speaking HTTP/1.1
    // (http set once its handshake is done) instead of a camera (session).
    bool https = false;
    std::unique_ptr<HttpIngestSession> http;
    // What revocation needs of the camera's certificate once the session is
    // open; the certificate itself is let go (TlsChannel::ForgetPeerCertificate).
    CertificateSerial certificate;
    absl::Time deadline = absl::InfiniteFuture();  // handshake / hello deadline

    Phase phase() const {
      if (stage == Phase::kFree || transport.open()) return stage;
      return Phase::kClosing;
    }
  };

  absl::Status Setup();
  void Loop();
  void Dispatch(const io_uring_cqe& cqe);
  void ArmAccept();
  // Accept ids in UserData: which listener an accept came from.
  static constexpr uint32_t kCameraListener = 0;
  static constexpr uint32_t kHttpsListener = 1;
  // Handshake admission: stops accepting at max_handshakes_in_progress, and
  // accepts again once a quarter of them have finished.
  void EndHandshake(Connection& conn);
  static constexpr uint32_t kAcceptsArmed = 16;
  void OnAccept(const io_uring_cqe& cqe);
  // HTTPS ingest connections (shard_https.cc).
  bool StartHttpSession(Connection& conn);
  bool DriveHttp(Connection& conn);
  // Moves the session's answers into TLS; false if the connection closes.
  bool FlushHttp(Connection& conn);
  void OnHttpDurable(Connection& conn, uint64_t seq);
  void PollHttp(Connection& conn);
  void EnforceHttpDeadline(Connection& conn);
  // Pumps connections whose HTTP session can read on (an answer went out).
  void ResumeHttp();
  // An HTTP session has input it has not read yet because a request waits:
  // the peer's end of stream must not cut it off.
  bool HttpInputWaits(const Connection& conn) const;
  void OnPeerName(Connection& conn, int res);
  void OnReceive(Connection& conn, TlsTransport::Event event);
  void OnSpoolCompletion(Op op, int res);
  // Decrypts and decodes queued receive buffers until they are used up, the
  // session pauses (backpressure), or the connection ends.
  void PumpInput(Connection& conn);
  // Runs TLS/protocol on whatever ciphertext is available; false to stop pumping.
  bool DriveConnection(Connection& conn);
  bool FinishHandshake(Connection& conn);
  // The camera id of the connection's client certificate, or nullopt after
  // counting, logging and closing a connection whose certificate names none.
  std::optional<std::string> CameraIdOrClose(Connection& conn);
  // The session has no record memory (pool budget or spool full): stops
  // reading the connection until RetryBlocked finds memory for it.
  void PauseForMemory(Connection& conn);
  // Moves session frames into TLS and starts a send if none is in flight.
  void Flush(Connection& conn);
  // A session that ended: counted by outcome; closes the connection.
  void EndSession(Connection& conn);
  void MarkDirty(Connection& conn);
  // Sends what is pending (alerts, ERROR, REJECT), then cancels and closes.
  void BeginClose(Connection& conn);
  // The transport's last completion is in: the slot goes back to the pool.
  void Free(Connection& conn);
  void OnDurable(const SpoolPendingRecord& record);
  // Hands a record of the camera to the group commit, tagged with its connection.
  void AppendRecord(uint64_t host_tag, const std::string& camera_id, const SegmentBuffer& buffer, size_t record_bytes,
                    uint64_t seq, uint32_t payload_bytes);
  void RetryBlocked();
  void RearmStarved();
  // Polls the sessions waiting on a predecessor or a duplicate (every turn).
  void PollUrgent();
  void Tick(absl::Time now);
  // Supersedes and polls sessions (every tick).
  void PollSessions();
  // Handshake, HELLO, idle and close deadlines, and idle memory trimming.
  void EnforceDeadlines(Connection& conn, absl::Time now);
  void StartStopping();
  // Sends GOAWAY to up to `budget` streaming sessions not yet told.
  void SendGoawayWave(uint64_t budget);
  void SendRezoneWave(uint64_t budget);
  bool SendGoaway(Connection& conn, camproto::GoawayReason reason = camproto::GoawayReason::kDraining);
  void CountPhases();
  void CountOutcome(SessionOutcome outcome);
  void LogConnectionError(std::string_view event, const Connection& conn,
                          std::string_view detail);
  // One line per welcomed session at its start and at its end, so an SRE can
  // follow a camera's connections (firmware, resume point, why it ended).
  void LogSessionOpen(Connection& conn);
  void LogSessionClose(const Connection& conn);
  // Over a connection limit: refuse politely (REJECT after HELLO) while few
  // refusals are in progress, else close at once.
  void RefuseOverLimit(Connection& conn, const char* limit);
  // TLS reloads: takes the newest set-up for new handshakes, then closes the
  // open sessions of cameras it revokes (ERROR REVOKED).
  void AdoptTls();
  void CloseRevokedSessions();
  // After the handshake: ERROR REVOKED instead of a session if the camera is
  // on the deny list or its certificate on a CRL (a resumed session skips
  // OpenSSL's CRL check). False if it may go on.
  bool RefuseIfRevoked(Connection& conn, const std::string& camera_id);
  // A handshake OpenSSL failed: counted and audited if the certificate was revoked.
  void NoteRevokedHandshake(Connection& conn);
  void ReportRevocation(const Connection& conn, const std::string& camera_id,
                        const std::string& serial_hex, const std::string& reason, bool session_closed);
  // The connection of (id, generation), or null if that one is gone.
  Connection* Find(uint32_t id, uint32_t generation);
  Connection& NewConnection();
  // Mirrors the spool writer's full-disk state into the counters and logs
  // when a stall starts or ends (the writer was stalled since the argument
  // before the completion just handled, InfinitePast if not).
  void NoteSpoolStall(absl::Time stalled_since_before);
  bool AcceptingSegments() const;

  const ShardOptions options_;
  const ShardShared shared_;
  ShardCounters counters_;
  std::atomic<bool> stop_requested_{false};
  std::atomic<bool> serving_{false};
  std::atomic<int64_t> last_turn_us_{0};
  std::atomic<bool> draining_{false};
  std::atomic<bool> accept_stopped_{false};
  std::atomic<uint64_t> goaway_budget_{0};  // 64 bits: "everyone" requests add up
  std::atomic<uint64_t> rezone_budget_{0};
  std::atomic<uint64_t> misplaced_sessions_{0};
  std::minstd_rand goaway_rng_;
  bool stopping_ = false;
  absl::Time stop_deadline_ = absl::InfiniteFuture();
  absl::Status fatal_;

  std::shared_ptr<const ServerTls> tls_;  // newest set-up seen by this shard
  uint64_t tls_generation_ = 0;
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<ProvidedBufferRing> buffers_;
  TransportShared transport_shared_;
  std::unique_ptr<SpoolWriter> writer_;
  SegmentBufferPool pool_;
  log::RateLimiter error_log_limiter_;
  log::RateLimiter session_log_limiter_;

  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<uint32_t> free_ids_;
  std::vector<uint32_t> dirty_;
  PauseQueue paused_;  // sessions stopped for memory or spool room (Connection::blocked)
  uint64_t segments_started_ = 0;  // buffers AllocateRecord handed out
  std::vector<uint32_t> starved_;      // recv ended on ENOBUFS; re-armed as buffers return
  std::vector<uint32_t> urgent_poll_;  // sessions waiting on a predecessor or a duplicate
  uint32_t refusals_in_progress_ = 0;
  uint32_t admitted_ = 0;  // connections admitted here and not yet closed
  uint32_t handshakes_in_progress_ = 0;
  uint32_t accepts_armed_ = 0;
  uint32_t https_accepts_armed_ = 0;
  std::vector<uint32_t> http_resume_;  // HTTP sessions to pump again this turn
  bool accept_paused_ = false;  // filled to max_handshakes_in_progress; not yet a quarter down
  absl::Time last_tick_;
  absl::Time last_deadline_scan_;
};

}  // namespace ingest

#endif  // SERVER_SHARD_SHARD_H_
