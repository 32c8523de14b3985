// One ring of the fleet: its cameras on one io_uring ring in the calling
// thread (bench/sim/fleet_ring.h).
#include "bench/sim/fleet_ring.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <memory>
#include <queue>
#include <random>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/status_macros.h"
#include "proto/camera_client.h"
#include "proto/tls_channel.h"
#include "proto/tls_client_context.h"
#include "bench/sim/segment_payload.h"
#include "server/tls/dev_certs.h"
#include "server/uring/prepare.h"
#include "server/uring/provided_buffer_ring.h"
#include "server/uring/ring.h"
#include "server/uring/tls_transport.h"
#include "server/uring/user_data.h"

namespace ingest {
namespace {

using camproto::CameraClient;
using camproto::DurabilityLevel;

// 127.0.0.2: the first source address when a fleet spreads them.
constexpr uint32_t kFirstSourceAddress = 0x7F000002;

struct SimCamera {
  uint32_t index = 0;
  uint32_t number = 0;
  std::string id;
  camproto::CameraCredentials credentials;
  std::unique_ptr<CameraClient> client;
  // kConnecting: connect in flight; kOpen: TLS over the connection;
  // kClosing: cut, waiting for the transport's last completion.
  enum class Phase { kIdle, kConnecting, kOpen, kClosing } phase = Phase::kIdle;
  TlsTransport transport;  // the socket, its receive and send sides, TLS
  uint32_t generation = 0;
  uint32_t target = 0;  // index into Fleet::server_addrs_
  bool client_connected = false;  // OnConnected called for this connection
  bool welcomed = false;
  bool welcomed_since_cut = false;  // a WELCOME after the storm's cut (FleetOptions::cut_all)
  bool handshaking = false;  // counted in Fleet::handshaking_ (connect to WELCOME)
  bool dirty = false;
  absl::Time connect_started;
  absl::Time next_ping = absl::InfiniteFuture();
  // Slow cameras: a paused reader's next read, a slow sender's plaintext not
  // yet handed to TLS and when its next piece may go.
  absl::Time read_resume_at = absl::InfiniteFuture();
  std::string unsent_plaintext;
  absl::Time next_piece_at = absl::InfinitePast();
  bool piece_scheduled = false;
  absl::Duration reconnect_delay = absl::ZeroDuration();
  absl::Time goaway_at = absl::InfiniteFuture();  // GOAWAY received on this connection
  // Lost a welcomed connection at this time and not welcomed since: the
  // camera cannot deliver anything until the next WELCOME.
  absl::Time lost_at = absl::InfiniteFuture();
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> sha{nullptr, &EVP_MD_CTX_free};
  // Segments waiting for their ACKs, with the time each was first written to
  // the connection (InfiniteFuture until then): latency is measured from the
  // moment a segment leaves the camera, not from when it was recorded.
  std::deque<std::pair<uint64_t, absl::Time>> waiting_spooled;
  std::deque<std::pair<uint64_t, absl::Time>> waiting_persisted;
  size_t unsent_index = 0;  // first entry of waiting_spooled without a send time
  uint64_t last_recorded = 0;
  bool recording = false;  // starts at the camera's first WELCOME ...
  absl::Time record_until = absl::InfiniteFuture();  // ... and lasts record_for
  CameraReport report;
};

class Fleet {
 public:
  explicit Fleet(const FleetOptions& options) : options_(options), rng_(12345) {}
  absl::StatusOr<FleetReport> Run();

 private:
  absl::Status Setup();
  void Produce(SimCamera& cam);
  void StartConnect(SimCamera& cam, absl::Time now);
  void OnCompletion(SimCamera& cam, Op op, const io_uring_cqe& cqe);
  void OnConnect(SimCamera& cam, int res);
  void OnRecv(SimCamera& cam, TlsTransport::Event event);
  // Handshakes and reads what the received ciphertext lent to TLS holds;
  // false once the camera closed.
  bool Pump(SimCamera& cam);
  void AfterInput(SimCamera& cam);
  void Flush(SimCamera& cam);
  void Close(SimCamera& cam, absl::Duration reconnect_after);
  // After the run: close_notify to the server, then every socket closed.
  void CloseAll();
  // The reconnect delay after the server closed or broke the connection: what
  // its GOAWAY asked for, if it sent one, else `otherwise`.
  absl::Duration ReconnectDelayAfterLoss(const SimCamera& cam, absl::Duration otherwise) const;
  void NoteGapEnded(SimCamera& cam, absl::Time now);
  void MaybeFinishClose(SimCamera& cam);
  void MarkDirty(SimCamera& cam);
  void NoteError(const SimCamera& cam, std::string_view what, const absl::Status& status);
  // A socket set up for `cam` (its source address bound when the fleet
  // spreads them), as a direct descriptor when the fleet uses them.
  absl::StatusOr<RingFile> OpenSocket(const SimCamera& cam);
  void EndHandshake(SimCamera& cam);
  void AdmitConnects(absl::Time now);
  // Keepalive pings and GOAWAY timeouts that are due, from their heaps (a
  // scan of every camera each turn would cost more than the cameras do).
  void RunTimers(absl::Time now);
  void SchedulePing(SimCamera& cam, absl::Time now);
  // A slow sender's next piece of plaintext into TLS, if one is due.
  void WritePiece(SimCamera& cam, absl::Time now);
  // A storm: every connection cut at once, when the caller asks.
  void MaybeCutAll(absl::Time now);
  // Adds what changed since the last call to options_.live ...
  void PublishLive(bool ending);
  // ... about five times a second.
  void MaybePublishLive(absl::Time now);
  bool AllAcked() const;
  FleetProgress Progress(absl::Time now) const;

  const FleetOptions options_;
  std::minstd_rand rng_;
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<ProvidedBufferRing> buffers_;
  TransportShared transport_shared_;
  camproto::SslCtxPtr ctx_;
  camproto::ResumptionCache resumption_;
  std::vector<sockaddr_in> server_addrs_;
  std::vector<std::unique_ptr<SimCamera>> cameras_;
  uint32_t segment_bytes_ = 0;
  absl::Time start_;
  bool recording_ = true;
  int cameras_recording_ = 0;  // cameras that have started recording
  absl::Time latest_record_until_ = absl::InfinitePast();
  std::vector<uint8_t> plaintext_;
  std::vector<uint32_t> dirty_;
  using Due = std::pair<absl::Time, uint32_t>;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> production_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> connects_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> pings_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> goaway_checks_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> read_resumes_;
  std::priority_queue<Due, std::vector<Due>, std::greater<>> pieces_;
  uint64_t handshaking_ = 0;
  absl::Time bound_blocked_since_ = absl::InfinitePast();
  double connect_tokens_ = 0;
  absl::Time last_refill_;
  FleetReport report_;
  LatencyHistogram interval_latency_;
  uint64_t connected_ = 0;
  uint64_t reconnects_ = 0;
  bool disconnected_all_ = false;
  bool cut_done_ = false;
  int64_t welcomed_now_ = 0;
  uint64_t welcomed_after_cut_ = 0;
  // What PublishLive last added to options_.live, and the latencies since.
  struct LiveFigures {
    int64_t connected = 0, welcomed = 0, handshakes_in_flight = 0;
    uint64_t handshakes = 0, handshakes_resumed = 0, welcomed_after_cut = 0, segments_recorded = 0,
             segments_acked = 0, segments_persisted = 0, bytes_acked = 0, reconnects = 0, errors = 0;
  } published_;
  absl::Time next_publish_ = absl::InfinitePast();
  LatencyHistogram live_spooled_;
  LatencyHistogram live_persisted_;
};

absl::Status Fleet::Setup() {
  ASSIGN_OR_RETURN(ring_, Ring::Create(RingOptions{
                              .sq_entries = 4096,
                              .cq_entries = 32768,
                              .registered_files = options_.direct_descriptors
                                                      ? static_cast<unsigned>(options_.cameras)
                                                      : 0u}));
  ASSIGN_OR_RETURN(buffers_, ProvidedBufferRing::Create(ring_->raw(), 0, 2048, 16384));
  transport_shared_ = TransportShared{.ring = ring_.get(), .buffers = buffers_.get()};
  plaintext_.resize(64 * 1024);
  DevCertPaths paths = DevCertPathsIn(options_.certs_dir);
  ASSIGN_OR_RETURN(ctx_, camproto::CreateCameraClientContext(
                             camproto::CameraTlsFiles{.ca_file = paths.server_ca_cert}));
  resumption_.Attach(ctx_.get());
  std::vector<FleetTarget> targets = options_.targets;
  if (targets.empty()) targets.push_back({options_.host, options_.port});
  for (const FleetTarget& target : targets) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(target.port);
    if (inet_pton(AF_INET, target.host.c_str(), &addr.sin_addr) != 1) {
      return absl::InvalidArgumentError(absl::StrCat("host must be an IPv4 address: ", target.host));
    }
    server_addrs_.push_back(addr);
  }
  segment_bytes_ = options_.segment_bytes != 0
                       ? options_.segment_bytes
                       : static_cast<uint32_t>(options_.bitrate_bps / 8 *
                                               absl::ToDoubleSeconds(options_.segment_duration));
  start_ = absl::Now();
  last_refill_ = start_;
  int64_t capture_base_us = absl::ToUnixMicros(start_);
  for (int i = 0; i < options_.cameras; ++i) {
    auto cam = std::make_unique<SimCamera>();
    cam->index = static_cast<uint32_t>(i);
    cam->number = static_cast<uint32_t>(options_.first_camera + i);
    cam->target = cam->number % static_cast<uint32_t>(server_addrs_.size());
    ASSIGN_OR_RETURN(cam->id, DevCameraId(options_.id_format, static_cast<int>(cam->number)));
    ASSIGN_OR_RETURN(cam->credentials,
                     camproto::LoadCameraCredentials(paths.CameraPem(cam->id), ""));
    cam->client = std::make_unique<CameraClient>(camproto::CameraClientOptions{
        .camera_id = cam->id,
        .firmware_version = "camera-sim/1",
        .max_buffered_bytes = size_t{256} << 20,
        .release_at = options_.wait_for});
    SimCamera* raw = cam.get();
    cam->client->set_on_acked([this, raw](uint64_t seq, DurabilityLevel level) {
      absl::Time now = absl::Now();
      auto& waiting =
          level == DurabilityLevel::kSpooled ? raw->waiting_spooled : raw->waiting_persisted;
      while (!waiting.empty() && waiting.front().first <= seq) {
        absl::Time sent = waiting.front().second;
        absl::Duration latency = sent == absl::InfiniteFuture() ? absl::ZeroDuration() : now - sent;
        if (level == DurabilityLevel::kSpooled) {
          report_.ack_spooled.Record(latency);
          interval_latency_.Record(latency);
          if (options_.live != nullptr) live_spooled_.Record(latency);
          ++report_.segments_acked;
        } else {
          report_.ack_persisted.Record(latency);
          if (options_.live != nullptr) live_persisted_.Record(latency);
        }
        waiting.pop_front();
        if (level == DurabilityLevel::kSpooled && raw->unsent_index > 0) --raw->unsent_index;
      }
      if (level == DurabilityLevel::kSpooled) {
        raw->report.acked_spooled = std::max(raw->report.acked_spooled, seq);
      } else {
        raw->report.acked_persisted = std::max(raw->report.acked_persisted, seq);
      }
    });
    cam->sha.reset(EVP_MD_CTX_new());
    EVP_DigestInit_ex(cam->sha.get(), EVP_sha256(), nullptr);
    cam->report.id = cam->id;
    cam->report.first_capture_us = capture_base_us;
    cam->report.end_capture_us = capture_base_us;
    connects_.push({start_, cam->index});
    cameras_.push_back(std::move(cam));
  }
  return absl::OkStatus();
}

void Fleet::Produce(SimCamera& cam) {
  if (options_.max_segments_per_camera != 0 &&
      cam.last_recorded >= options_.max_segments_per_camera) {
    return;
  }
  uint64_t seq = cam.last_recorded + 1;
  std::string payload = MakeSegmentPayload(cam.number, seq, segment_bytes_);
  int64_t capture_us = cam.report.end_capture_us;
  auto duration_us = static_cast<uint32_t>(absl::ToInt64Microseconds(options_.segment_duration));
  absl::StatusOr<uint64_t> assigned =
      cam.client->AddSegment(capture_us, duration_us, options_.keyframe, payload);
  if (!assigned.ok()) {
    ++report_.storage_full_drops;  // the camera's own storage is full
    return;
  }
  EVP_DigestUpdate(cam.sha.get(), payload.data(), payload.size());
  cam.last_recorded = *assigned;
  cam.report.segments++;
  cam.report.bytes += payload.size();
  cam.report.end_capture_us = capture_us + duration_us;
  cam.waiting_spooled.push_back({*assigned, absl::InfiniteFuture()});
  cam.waiting_persisted.push_back({*assigned, absl::InfiniteFuture()});
  ++report_.segments_recorded;
  if (cam.phase == SimCamera::Phase::kOpen) MarkDirty(cam);
}

absl::StatusOr<RingFile> Fleet::OpenSocket(const SimCamera& cam) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return absl::ErrnoToStatus(errno, "socket");
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (options_.source_addresses > 0) {
    // The port is chosen at connect time, per destination, so each source
    // address offers the whole ephemeral range toward the server.
    setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
    sockaddr_in source{};
    source.sin_family = AF_INET;
    source.sin_addr.s_addr =
        htonl(kFirstSourceAddress + (cam.number % static_cast<uint32_t>(options_.source_addresses)));
    if (bind(fd, reinterpret_cast<const sockaddr*>(&source), sizeof(source)) != 0) {
      absl::Status status = absl::ErrnoToStatus(errno, "bind to the source address");
      close(fd);
      return status;
    }
  }
  if (!options_.direct_descriptors) return RingFile::Fd(fd);
  // The camera's slot in the ring's table takes the socket; the fd goes.
  int slot = static_cast<int>(cam.index);
  int rc = io_uring_register_files_update(ring_->raw(), static_cast<unsigned>(slot), &fd, 1);
  close(fd);
  if (rc < 0) return absl::ErrnoToStatus(-rc, "io_uring_register_files_update");
  return RingFile::Direct(slot);
}

void Fleet::StartConnect(SimCamera& cam, absl::Time now) {
  absl::StatusOr<RingFile> socket = OpenSocket(cam);
  if (!socket.ok()) {
    ++report_.connect_failures;
    NoteError(cam, "socket", socket.status());
    connects_.push({now + absl::Seconds(1), cam.index});
    return;
  }
  cam.handshaking = true;
  ++handshaking_;
  report_.peak_handshakes_in_flight = std::max(report_.peak_handshakes_in_flight, handshaking_);
  ++cam.generation;
  cam.phase = SimCamera::Phase::kConnecting;
  cam.connect_started = now;
  cam.welcomed = false;
  cam.client_connected = false;
  cam.goaway_at = absl::InfiniteFuture();
  cam.transport.Open(&transport_shared_, *socket, cam.index, cam.generation);
  cam.transport.Connect(reinterpret_cast<const sockaddr*>(&server_addrs_[cam.target]), sizeof(sockaddr_in));
}

void Fleet::OnCompletion(SimCamera& cam, Op op, const io_uring_cqe& cqe) {
  const TlsTransport::Event event = cam.transport.OnCompletion(op, cqe);
  if (cam.phase == SimCamera::Phase::kClosing) {
    MaybeFinishClose(cam);
    return;
  }
  switch (event) {
    case TlsTransport::Event::kConnected:
      OnConnect(cam, cqe.res);
      return;
    case TlsTransport::Event::kSent:
      Flush(cam);  // keep the socket busy: more segments may fit the window now
      return;
    case TlsTransport::Event::kSendFailed:
      Close(cam, absl::Milliseconds(500));
      return;
    case TlsTransport::Event::kNone:
    case TlsTransport::Event::kPeerName:
      return;
    default:
      OnRecv(cam, event);
      return;
  }
}

void Fleet::OnConnect(SimCamera& cam, int res) {
  if (cam.phase != SimCamera::Phase::kConnecting) return;
  if (res < 0) {
    ++report_.connect_failures;
    Close(cam, absl::Seconds(1));
    return;
  }
  camproto::SslSessionPtr session;
  if (options_.resume_tls) session = resumption_.Find(cam.id);
  auto tls = camproto::TlsChannel::CreateClient(ctx_.get(), options_.server_name, session.get());
  if (!tls.ok()) {
    NoteError(cam, "tls_setup", tls.status());
    Close(cam, absl::Seconds(1));
    return;
  }
  cam.transport.StartTls(std::move(*tls));
  (void)camproto::UseCameraCredentials(cam.transport.tls()->ssl(), cam.credentials);
  (void)camproto::ResumptionCache::Track(cam.transport.tls()->ssl(), cam.id);
  cam.phase = SimCamera::Phase::kOpen;
  ++cam.report.connections;
  ++connected_;
  (void)cam.transport.tls()->Handshake();  // queues the ClientHello
  cam.transport.ArmRecv();
  MarkDirty(cam);
}

void Fleet::OnRecv(SimCamera& cam, TlsTransport::Event event) {
  // What arrived is read at once and its buffer goes straight back; only a
  // slow reader (read_pause) then stops reading for a while.
  if (event == TlsTransport::Event::kReceived) cam.transport.ConsumeReceived([&] { return Pump(cam); });
  if (cam.phase != SimCamera::Phase::kOpen) {
    MaybeFinishClose(cam);
    return;
  }
  if (event == TlsTransport::Event::kReceiveStopped && cam.read_resume_at != absl::InfiniteFuture()) {
    return;  // a slow reader's pause (its timer re-arms the recv)
  }
  if (event == TlsTransport::Event::kReceived && options_.read_pause > absl::ZeroDuration() &&
      cam.read_resume_at == absl::InfiniteFuture()) {
    // A slow reader: nothing more is read for a while; what the server sends
    // meanwhile waits in the socket.
    cam.transport.StopReceiving();
    cam.read_resume_at = absl::Now() + options_.read_pause;
    read_resumes_.push({cam.read_resume_at, cam.index});
    return;
  }
  if (event != TlsTransport::Event::kReceived && event != TlsTransport::Event::kStarved) {
    // The server closed or broke the connection.
    Close(cam, ReconnectDelayAfterLoss(cam, absl::Milliseconds(500)));
    return;
  }
  // Out of buffers (kStarved): armed again at once, other cameras return theirs.
  if (cam.transport.receive() != TlsTransport::Receive::kArmed) cam.transport.ArmRecv();
}

bool Fleet::Pump(SimCamera& cam) {
  camproto::TlsChannel& tls = *cam.transport.tls();
  if (!tls.handshake_done()) {
    auto hs = tls.Handshake();
    if (!hs.ok()) {
      NoteError(cam, "tls_handshake", hs.status());
      Close(cam, absl::Seconds(1));
      return false;
    }
  }
  if (tls.handshake_done() && !cam.client_connected) {
    cam.client_connected = true;
    if (tls.session_resumed()) {
      ++report_.handshakes_resumed;
    } else {
      ++report_.handshakes_full;
    }
    cam.client->OnConnected();
  }
  while (tls.handshake_done()) {
    absl::StatusOr<size_t> n = tls.ReadPlaintext(absl::MakeSpan(plaintext_));
    if (!n.ok()) {
      Close(cam, ReconnectDelayAfterLoss(cam, absl::Milliseconds(500)));
      return false;
    }
    if (*n == 0) break;
    absl::Status s = cam.client->OnBytes(absl::MakeConstSpan(plaintext_.data(), *n));
    if (!s.ok()) {
      NoteError(cam, "server_protocol_violation", s);
      break;
    }
  }
  AfterInput(cam);
  return cam.phase == SimCamera::Phase::kOpen;
}

void Fleet::AfterInput(SimCamera& cam) {
  absl::Time now = absl::Now();
  switch (cam.client->state()) {
    case CameraClient::State::kStreaming:
      if (!cam.welcomed) {
        cam.welcomed = true;
        ++welcomed_now_;
        if (cut_done_ && !cam.welcomed_since_cut) {
          // Each camera once: the storm ends when the last one is back.
          cam.welcomed_since_cut = true;
          ++welcomed_after_cut_;
          report_.storm_last_welcome = now;
        }
        EndHandshake(cam);
        report_.handshake.Record(now - cam.connect_started);
        SchedulePing(cam, now);
        cam.reconnect_delay = absl::ZeroDuration();
        NoteGapEnded(cam, now);
        if (!cam.recording && !options_.idle && recording_) {
          // Cameras start recording once connected (steady state is what is
          // measured), staggered so segments do not arrive in lockstep.
          cam.recording = true;
          cam.record_until = now + options_.record_for;
          ++cameras_recording_;
          latest_record_until_ = std::max(latest_record_until_, cam.record_until);
          std::uniform_int_distribution<int64_t> stagger(
              0, std::max<int64_t>(1, absl::ToInt64Microseconds(options_.segment_duration)));
          if (!options_.saturate) {
            production_.push({now + absl::Microseconds(stagger(rng_)), cam.index});
          }
          cam.report.first_capture_us = cam.report.end_capture_us = absl::ToUnixMicros(now);
        }
      }
      break;
    case CameraClient::State::kGoaway: {
      if (cam.goaway_at == absl::InfiniteFuture()) {
        ++report_.goaways;
        cam.goaway_at = now;
        goaway_checks_.push({now + options_.goaway_ack_timeout, cam.index});
        // No new segments from here on: the gap starts now, not at the close.
        if (cam.welcomed && cam.lost_at == absl::InfiniteFuture()) cam.lost_at = now;
      }
      // Stay for the ACKs of what is in flight (pings still answered): the
      // server spooled those segments, and leaving before their ACKs would
      // make the camera send them again to the next server, a duplicate.
      if (cam.client->in_flight_bytes() > 0) break;
      Flush(cam);
      Close(cam, absl::Milliseconds(cam.client->goaway()->reconnect_after_ms));
      return;
    }
    case CameraClient::State::kRedirected:
    case CameraClient::State::kRejected:
    case CameraClient::State::kFailed: {
      std::string why = "closed by server";
      if (cam.client->reject()) why = absl::StrCat("REJECT: ", cam.client->reject()->reason);
      if (cam.client->error()) why = absl::StrCat("ERROR: ", cam.client->error()->message);
      if (cam.client->redirect()) why = absl::StrCat("REDIRECT to ", cam.client->redirect()->endpoint);
      NoteError(cam, "session_refused", absl::FailedPreconditionError(why));
      Flush(cam);
      Close(cam, absl::Seconds(2));
      return;
    }
    default:
      break;
  }
  MarkDirty(cam);
}

void Fleet::NoteError(const SimCamera& cam, std::string_view what, const absl::Status& status) {
  ++report_.protocol_errors;
  // The first few reasons are worth seeing; the rest are only counted.
  if (report_.protocol_errors <= 5) {
    std::fprintf(stderr, "camera-sim: %s: %.*s: %s\n", cam.id.c_str(), static_cast<int>(what.size()),
                 what.data(), status.ToString().c_str());
  }
}

void Fleet::EndHandshake(SimCamera& cam) {
  if (!cam.handshaking) return;
  cam.handshaking = false;
  --handshaking_;
}

void Fleet::SchedulePing(SimCamera& cam, absl::Time now) {
  const camproto::Welcome* welcome = cam.client->welcome();
  cam.next_ping = now + absl::Milliseconds(welcome != nullptr ? welcome->keepalive_interval_ms : 15000);
  pings_.push({cam.next_ping, cam.index});
}

void Fleet::AdmitConnects(absl::Time now) {
  // New connections are paced so a fleet start is not a SYN flood, and
  // bounded in flight so the server is not offered more handshakes than it
  // can finish before its deadline.
  // A storm is every camera reconnecting at once: after the cut the pace is
  // lifted, and the bound too if the storm is unbounded (FleetOptions).
  const double rate = cut_done_ ? 1e12 : options_.connects_per_second;
  connect_tokens_ = std::min(rate, connect_tokens_ + absl::ToDoubleSeconds(now - last_refill_) * rate);
  last_refill_ = now;
  const auto bound = cut_done_ && options_.storm_unbounded
                         ? 0
                         : static_cast<uint64_t>(std::max(0, options_.max_handshakes_in_flight));
  bool blocked = false;
  while (!connects_.empty() && connects_.top().first <= now && connect_tokens_ >= 1) {
    if (bound != 0 && handshaking_ >= bound) {
      blocked = true;
      break;
    }
    uint32_t index = connects_.top().second;
    connects_.pop();
    if (cameras_[index]->phase != SimCamera::Phase::kIdle) continue;
    connect_tokens_ -= 1;
    StartConnect(*cameras_[index], now);
  }
  if (blocked && bound_blocked_since_ == absl::InfinitePast()) bound_blocked_since_ = now;
  if (!blocked && bound_blocked_since_ != absl::InfinitePast()) {
    report_.handshake_bound_wait += now - bound_blocked_since_;
    bound_blocked_since_ = absl::InfinitePast();
  }
}

void Fleet::RunTimers(absl::Time now) {
  while (!goaway_checks_.empty() && goaway_checks_.top().first <= now) {
    SimCamera& cam = *cameras_[goaway_checks_.top().second];
    goaway_checks_.pop();
    if (cam.phase == SimCamera::Phase::kOpen && now - cam.goaway_at >= options_.goaway_ack_timeout) {
      Close(cam, ReconnectDelayAfterLoss(cam, absl::Seconds(1)));
    }
  }
  while (!read_resumes_.empty() && read_resumes_.top().first <= now) {
    auto [due, index] = read_resumes_.top();
    read_resumes_.pop();
    SimCamera& cam = *cameras_[index];
    if (due != cam.read_resume_at) continue;  // from an earlier connection
    cam.read_resume_at = absl::InfiniteFuture();
    if (cam.phase == SimCamera::Phase::kOpen) cam.transport.ArmRecv();
  }
  while (!pieces_.empty() && pieces_.top().first <= now) {
    SimCamera& cam = *cameras_[pieces_.top().second];
    pieces_.pop();
    cam.piece_scheduled = false;
    MarkDirty(cam);
  }
  while (!pings_.empty() && pings_.top().first <= now) {
    auto [due, index] = pings_.top();
    pings_.pop();
    SimCamera& cam = *cameras_[index];
    // An entry from an earlier connection, or one replaced by a later ping.
    if (due != cam.next_ping || cam.phase != SimCamera::Phase::kOpen || !cam.welcomed) continue;
    cam.client->QueuePing(static_cast<uint64_t>(absl::ToUnixMicros(now)));
    SchedulePing(cam, now);
    MarkDirty(cam);
  }
}

void Fleet::MarkDirty(SimCamera& cam) {
  if (cam.dirty) return;
  cam.dirty = true;
  dirty_.push_back(cam.index);
}

void Fleet::Flush(SimCamera& cam) {
  if (cam.phase != SimCamera::Phase::kOpen || cam.transport.tls() == nullptr) return;
  if (options_.saturate && cam.recording && recording_ && cam.welcomed &&
      absl::Now() < cam.record_until) {
    // At most four segments outstanding (sent or not) per camera: enough to
    // keep a pipeline full, and the simulator's memory stays bounded.
    while (cam.client->buffered_segments() < 4) {
      uint64_t before = cam.last_recorded;
      Produce(cam);
      if (cam.last_recorded == before) break;  // the camera's storage is full
    }
  }
  if (cam.client_connected) {
    std::string out;
    if (cam.client->TakeOutput(out) > 0) {
      absl::Time now = absl::Now();
      uint64_t sent = cam.client->sent_seq();
      while (cam.unsent_index < cam.waiting_spooled.size() &&
             cam.waiting_spooled[cam.unsent_index].first <= sent) {
        cam.waiting_spooled[cam.unsent_index].second = now;
        ++cam.unsent_index;
      }
      for (auto& [seq, time] : cam.waiting_persisted) {
        if (seq > sent) break;
        if (time == absl::InfiniteFuture()) time = now;
      }
      if (options_.send_piece_bytes != 0) {
        cam.unsent_plaintext.append(out);
      } else if (!cam.transport.tls()
                      ->WritePlaintext({reinterpret_cast<const uint8_t*>(out.data()), out.size()})
                      .ok()) {
        Close(cam, absl::Seconds(1));
        return;
      }
    }
    if (!cam.unsent_plaintext.empty()) {
      WritePiece(cam, absl::Now());
      if (cam.phase != SimCamera::Phase::kOpen) return;
    }
  }
  cam.transport.Send();
}

void Fleet::WritePiece(SimCamera& cam, absl::Time now) {
  if (now < cam.next_piece_at) {
    if (!cam.piece_scheduled) {
      cam.piece_scheduled = true;
      pieces_.push({cam.next_piece_at, cam.index});
    }
    return;
  }
  const size_t n = std::min<size_t>(options_.send_piece_bytes, cam.unsent_plaintext.size());
  if (!cam.transport.tls()
           ->WritePlaintext({reinterpret_cast<const uint8_t*>(cam.unsent_plaintext.data()), n})
           .ok()) {
    Close(cam, absl::Seconds(1));
    return;
  }
  cam.unsent_plaintext.erase(0, n);
  cam.next_piece_at = now + options_.send_piece_interval;
  if (!cam.unsent_plaintext.empty() && !cam.piece_scheduled) {
    cam.piece_scheduled = true;
    pieces_.push({cam.next_piece_at, cam.index});
  }
}

void Fleet::MaybeCutAll(absl::Time now) {
  if (options_.cut_all == nullptr || cut_done_ || !options_.cut_all->load(std::memory_order_relaxed)) return;
  cut_done_ = true;
  report_.storm_cut_at = now;
  for (auto& cam : cameras_) Close(*cam, options_.cut_reconnect_delay);
}

void Fleet::MaybePublishLive(absl::Time now) {
  if (now < next_publish_) return;
  PublishLive(/*ending=*/false);
  next_publish_ = now + absl::Milliseconds(200);
}

void Fleet::PublishLive(bool ending) {
  FleetLive* live = options_.live;
  if (live == nullptr) return;
  LiveFigures now;
  if (!ending) {
    now.connected = static_cast<int64_t>(connected_);
    now.welcomed = welcomed_now_;
    now.handshakes_in_flight = static_cast<int64_t>(handshaking_);
  }
  now.handshakes = report_.handshake.count();
  now.handshakes_resumed = report_.handshakes_resumed;
  now.welcomed_after_cut = welcomed_after_cut_;
  now.segments_recorded = report_.segments_recorded;
  now.segments_acked = report_.segments_acked;
  now.segments_persisted = report_.ack_persisted.count();
  now.bytes_acked = report_.segments_acked * segment_bytes_;
  now.reconnects = reconnects_;
  now.errors = report_.protocol_errors + report_.connect_failures;
  const LiveFigures& was = published_;
  live->connected.fetch_add(now.connected - was.connected, std::memory_order_relaxed);
  live->welcomed.fetch_add(now.welcomed - was.welcomed, std::memory_order_relaxed);
  live->handshakes_in_flight.fetch_add(now.handshakes_in_flight - was.handshakes_in_flight,
                                       std::memory_order_relaxed);
  live->handshakes.fetch_add(now.handshakes - was.handshakes, std::memory_order_relaxed);
  live->handshakes_resumed.fetch_add(now.handshakes_resumed - was.handshakes_resumed, std::memory_order_relaxed);
  live->welcomed_after_cut.fetch_add(now.welcomed_after_cut - was.welcomed_after_cut, std::memory_order_relaxed);
  live->segments_recorded.fetch_add(now.segments_recorded - was.segments_recorded, std::memory_order_relaxed);
  live->segments_acked.fetch_add(now.segments_acked - was.segments_acked, std::memory_order_relaxed);
  live->segments_persisted.fetch_add(now.segments_persisted - was.segments_persisted, std::memory_order_relaxed);
  live->bytes_acked.fetch_add(now.bytes_acked - was.bytes_acked, std::memory_order_relaxed);
  live->reconnects.fetch_add(now.reconnects - was.reconnects, std::memory_order_relaxed);
  live->errors.fetch_add(now.errors - was.errors, std::memory_order_relaxed);
  live->AddIntervals(live_spooled_, live_persisted_);
  live_spooled_.Reset();
  live_persisted_.Reset();
  published_ = now;
}

void Fleet::Close(SimCamera& cam, absl::Duration reconnect_after) {
  if (cam.phase == SimCamera::Phase::kIdle || cam.phase == SimCamera::Phase::kClosing) return;
  if (cam.phase == SimCamera::Phase::kOpen) --connected_;
  if (cam.welcomed) --welcomed_now_;
  // With several servers, the next connection goes to the next one, as a
  // load balancer sends a camera elsewhere when its server goes away.
  cam.target = (cam.target + 1) % static_cast<uint32_t>(server_addrs_.size());
  cam.read_resume_at = absl::InfiniteFuture();
  cam.unsent_plaintext.clear();  // the client re-sends whatever was not acknowledged
  EndHandshake(cam);
  if (cam.welcomed && cam.lost_at == absl::InfiniteFuture()) cam.lost_at = absl::Now();
  cam.phase = SimCamera::Phase::kClosing;
  cam.reconnect_delay = reconnect_after;
  // Every request on the socket is cancelled, then it is closed; the camera
  // reconnects once the last completion is in.
  cam.transport.Cut();
  MaybeFinishClose(cam);
}

absl::Duration Fleet::ReconnectDelayAfterLoss(const SimCamera& cam,
                                              absl::Duration otherwise) const {
  if (cam.goaway_at != absl::InfiniteFuture() && cam.client->goaway()) {
    return absl::Milliseconds(cam.client->goaway()->reconnect_after_ms);
  }
  return otherwise;
}

void Fleet::NoteGapEnded(SimCamera& cam, absl::Time now) {
  if (cam.lost_at == absl::InfiniteFuture()) return;  // the camera's first WELCOME
  absl::Duration gap = now - cam.lost_at;
  report_.gaps.Record(gap);
  cam.report.longest_gap = std::max(cam.report.longest_gap, gap);
  ++cam.report.reconnects;
  cam.lost_at = absl::InfiniteFuture();
}

void Fleet::MaybeFinishClose(SimCamera& cam) {
  if (cam.phase != SimCamera::Phase::kClosing || !cam.transport.Finish()) return;
  cam.client->OnDisconnected();
  cam.phase = SimCamera::Phase::kIdle;
  cam.next_ping = absl::InfiniteFuture();
  ++reconnects_;
  if (recording_ || !AllAcked()) connects_.push({absl::Now() + cam.reconnect_delay, cam.index});
}

void Fleet::CloseAll() {
  // close_notify after whatever is pending, then cancel + close; cameras
  // still connecting are cut at once.
  const absl::Time deadline = absl::Now() + absl::Milliseconds(250);
  for (auto& cam : cameras_) {
    if (cam->phase == SimCamera::Phase::kOpen) {
      cam->transport.Close(deadline);
    } else {
      cam->transport.Cut();
    }
  }
  // Drain the ring so no completion refers to a closed socket.
  for (int i = 0; i < 50; ++i) {
    bool busy = false;
    for (auto& cam : cameras_) {
      cam->transport.CutIfOverdue(absl::Now());  // a server that does not read
      const TlsTransport::State state = cam->transport.state();
      busy = busy || (state != TlsTransport::State::kIdle && state != TlsTransport::State::kClosed);
    }
    if (!busy) break;
    (void)ring_->SubmitAndWait(absl::Milliseconds(10));
    ring_->ForEachCompletion([&](const io_uring_cqe& cqe) {
      UserData ud = UserData::Unpack(cqe.user_data);
      if (ud.id >= cameras_.size()) return;
      SimCamera& cam = *cameras_[ud.id];
      if (ud.generation != cam.generation) return;
      (void)cam.transport.OnCompletion(ud.op, cqe);
      (void)cam.transport.Finish();
    });
  }
  for (auto& cam : cameras_) cam->transport.Abandon();
}

bool Fleet::AllAcked() const {
  for (const auto& cam : cameras_) {
    uint64_t acked = options_.wait_for == DurabilityLevel::kSpooled ? cam->report.acked_spooled
                                                                    : cam->report.acked_persisted;
    if (acked < cam->last_recorded) return false;
  }
  return true;
}

FleetProgress Fleet::Progress(absl::Time now) const {
  FleetProgress p;
  p.elapsed = now - start_;
  p.connected = connected_;
  p.segments_recorded = report_.segments_recorded;
  p.segments_acked = report_.segments_acked;
  p.segments_persisted = report_.ack_persisted.count();
  p.bytes_acked = report_.segments_acked * segment_bytes_;
  p.reconnects = reconnects_;
  p.errors = report_.protocol_errors + report_.connect_failures;
  p.interval_ack_latency = interval_latency_;
  return p;
}

absl::StatusOr<FleetReport> Fleet::Run() {
  const absl::Status setup = Setup();
  if (options_.live != nullptr) {
    // Every ring of every fleet loaded before any connects (FleetLive), a
    // failed one included, so nobody waits for it.
    options_.live->rings_setting_up.fetch_sub(1);
    while (options_.live->rings_setting_up.load() > 0 && !(options_.stop != nullptr && options_.stop->load())) {
      absl::SleepFor(absl::Milliseconds(5));
    }
    start_ = absl::Now();
    last_refill_ = start_;
  }
  RETURN_IF_ERROR(setup);
  // Each camera records for record_for from its first WELCOME, so a slow
  // start (a sanitizer build, a loaded machine) shortens nobody's recording.
  // Cameras that cannot connect at all stop the recording phase after
  // record_for + drain_timeout. Idle fleets just hold for record_for.
  absl::Time record_end = options_.idle ? start_ + options_.record_for
                                        : start_ + options_.record_for + options_.drain_timeout;
  absl::Time drain_deadline = absl::InfiniteFuture();
  absl::Time next_report = start_ + options_.report_interval;
  while (true) {
    absl::Time now = absl::Now();
    bool all_recorded = !options_.idle && cameras_recording_ == options_.cameras &&
                        now >= latest_record_until_;
    if (recording_ && (all_recorded || now >= record_end ||
                       (options_.stop != nullptr && options_.stop->load()))) {
      recording_ = false;
      drain_deadline = now + options_.drain_timeout;
    }
    if (!recording_ && (AllAcked() || now >= drain_deadline)) break;
    while (recording_ && !production_.empty() && production_.top().first <= now) {
      auto [due, index] = production_.top();
      production_.pop();
      SimCamera& cam = *cameras_[index];
      if (due >= cam.record_until) continue;  // this camera has recorded enough
      Produce(cam);
      production_.push({due + options_.segment_duration, index});
    }
    MaybeCutAll(now);
    AdmitConnects(now);
    if (!disconnected_all_ && now - start_ >= options_.disconnect_all_after) {
      disconnected_all_ = true;
      for (auto& cam : cameras_) Close(*cam, absl::Milliseconds(100));
    }
    RunTimers(now);
    MaybePublishLive(now);
    if (options_.report_interval > absl::ZeroDuration() && now >= next_report) {
      if (options_.on_progress) options_.on_progress(Progress(now));
      interval_latency_.Reset();
      next_report = now + options_.report_interval;
    }
    for (size_t i = 0; i < dirty_.size(); ++i) {
      SimCamera& cam = *cameras_[dirty_[i]];
      cam.dirty = false;
      Flush(cam);
    }
    dirty_.clear();
    absl::Duration wait = absl::Milliseconds(5);
    if (!production_.empty()) wait = std::min(wait, production_.top().first - now);
    absl::Status s = ring_->SubmitAndWait(std::max(wait, absl::Microseconds(100)));
    if (!s.ok()) {
      CloseAll();
      PublishLive(/*ending=*/true);  // this ring's cameras no longer count as connected
      return s;
    }
    uint32_t handled = 0;
    ring_->ForEachCompletion([&](const io_uring_cqe& cqe) {
      UserData ud = UserData::Unpack(cqe.user_data);
      if (ud.id >= cameras_.size()) return;
      SimCamera& cam = *cameras_[ud.id];
      if (ud.generation != cam.generation) return;
      OnCompletion(cam, ud.op, cqe);
      // A storm's turn can run for seconds (thousands of handshakes): the
      // live figures keep their pace through it.
      if (++handled % 256 == 0) MaybePublishLive(absl::Now());
    });
  }
  const absl::Time end = absl::Now();
  report_.elapsed = end - start_;
  if (bound_blocked_since_ != absl::InfinitePast()) report_.handshake_bound_wait += end - bound_blocked_since_;
  report_.all_acked = AllAcked();
  // Counted, not derived from the highest acknowledged seq: a camera's seqs
  // need not start at 1 (a server may welcome it at a later one).
  report_.bytes_acked = report_.segments_acked * segment_bytes_;
  for (auto& cam : cameras_) {
    if (cam->lost_at != absl::InfiniteFuture()) {
      ++report_.open_gaps;
      cam->report.longest_gap = std::max(cam->report.longest_gap, end - cam->lost_at);
    }
    report_.reconnects += cam->report.reconnects;
    report_.longest_gap = std::max(report_.longest_gap, cam->report.longest_gap);
  }
  for (auto& cam : cameras_) {
    unsigned char digest[32];
    unsigned int len = 0;
    EVP_DigestFinal_ex(cam->sha.get(), digest, &len);
    cam->report.sha256_hex = absl::BytesToHexString(
        absl::string_view(reinterpret_cast<const char*>(digest), len));
    cam->report.resent = cam->client->counters().segments_resent;
    report_.cameras.push_back(cam->report);
  }
  CloseAll();
  PublishLive(/*ending=*/true);
  return report_;
}

}  // namespace

absl::StatusOr<FleetReport> RunFleetRing(const FleetOptions& options) {
  Fleet fleet(options);
  return fleet.Run();
}

}  // namespace ingest
