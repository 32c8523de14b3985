// TlsTransport over socketpairs: a server transport on a direct descriptor
// and a client transport on an ordinary fd, both on one real ring with real
// TLS, driven by a small loop the way a shard and camera-sim drive theirs:
// handshake and data both ways, the close sequence (last words, close_notify,
// cancel + close, the slot freed after the last completion), the peer's end
// of stream, a failed send, running out of receive buffers, a paused
// receive, and a peer that never reads cut at the close deadline.
#include "server/uring/tls_transport.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "common/monotonic_clock.h"
#include "gtest/gtest.h"
#include "proto/tls_channel.h"
#include "proto/tls_client_context.h"
#include "server/tls/dev_certs.h"
#include "server/tls/tls_server_context.h"
#include "server/uring/prepare.h"
#include "server/uring/provided_buffer_ring.h"
#include "server/uring/ring.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using Event = TlsTransport::Event;
using ::ingest::testing::TempDir;

constexpr uint32_t kServerId = 1;
constexpr uint32_t kClientId = 2;
constexpr int kServerFileIndex = 3;

// One end of the connection and what the test saw of it.
struct Side {
  TlsTransport transport;
  bool consume = true;          // decrypt what arrives (false: leave it queued)
  std::string plaintext;        // everything decrypted so far
  bool close_notify = false;    // the peer ended TLS cleanly
  absl::Status tls_error;       // a TLS failure other than close_notify
  bool finished = false;        // Finish() returned true
  std::vector<Event> events;

  int count(Event event) const {
    int n = 0;
    for (Event e : events) n += e == event ? 1 : 0;
    return n;
  }
};

absl::Span<const uint8_t> Bytes(const std::string& s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}

class TlsTransportTest : public ::testing::Test {
 protected:
  void SetUp() override { Start(/*buffers=*/64, /*buffer_bytes=*/4096); }

  // (Re)creates the ring, its buffers and a connected pair of transports.
  void Start(uint32_t buffers, uint32_t buffer_bytes) {
    buffers_.reset();  // before the ring it is registered with
    ring_.reset();
    ASSERT_TRUE(MakeDevCertificates({.out_dir = dir_.path(), .camera_count = 1}).ok());
    DevCertPaths paths = DevCertPathsIn(dir_.path());
    auto server_ctx = CreateServerContext({.cert_file = paths.server_cert,
                                           .key_file = paths.server_key,
                                           .camera_ca_file = paths.camera_ca_cert});
    ASSERT_TRUE(server_ctx.ok()) << server_ctx.status();
    server_ctx_ = std::move(*server_ctx);
    auto client_ctx = camproto::CreateCameraClientContext(
        {.ca_file = paths.server_ca_cert, .cert_file = paths.CameraPem("cam-000001")});
    ASSERT_TRUE(client_ctx.ok()) << client_ctx.status();
    client_ctx_ = std::move(*client_ctx);

    auto ring = Ring::Create({.sq_entries = 64, .cq_entries = 1024, .registered_files = 8});
    ASSERT_TRUE(ring.ok()) << ring.status();
    ring_ = std::move(*ring);
    auto provided = ProvidedBufferRing::Create(ring_->raw(), 0, buffers, buffer_bytes);
    ASSERT_TRUE(provided.ok()) << provided.status();
    buffers_ = std::move(*provided);
    shared_ = TransportShared{.ring = ring_.get(), .buffers = buffers_.get()};

    int fds[2];
    ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    // The server end lives in the ring's file table, as an accepted socket does.
    ASSERT_EQ(io_uring_register_files_update(ring_->raw(), kServerFileIndex, &fds[0], 1), 1);
    close(fds[0]);
    server_.transport.Open(&shared_, RingFile::Direct(kServerFileIndex), kServerId, 1);
    client_.transport.Open(&shared_, RingFile::Fd(fds[1]), kClientId, 1);
  }

  void TearDown() override {
    for (Side* side : {&server_, &client_}) {
      if (!side->finished) side->transport.Abandon();
    }
  }

  Side& SideOf(uint32_t id) { return id == kServerId ? server_ : client_; }

  // Reads what TLS can decrypt (handshake first); false once TLS ended.
  static bool Drive(Side& side) {
    camproto::TlsChannel& tls = *side.transport.tls();
    if (!tls.handshake_done()) {
      auto hs = tls.Handshake();
      if (!hs.ok()) {
        side.tls_error = hs.status();
        return false;
      }
      if (*hs == camproto::TlsChannel::HandshakeResult::kWantMoreInput) return true;
    }
    uint8_t buf[16384];
    while (true) {
      absl::StatusOr<size_t> n = tls.ReadPlaintext(absl::MakeSpan(buf));
      if (!n.ok()) {
        if (camproto::IsPeerClosedCleanly(n.status())) {
          side.close_notify = true;
        } else {
          side.tls_error = n.status();
        }
        return false;
      }
      if (*n == 0) return true;
      side.plaintext.append(reinterpret_cast<const char*>(buf), *n);
    }
  }

  // What an owner does with each event (a shard does more, nothing different).
  void Handle(Side& side, Event event) {
    side.events.push_back(event);
    switch (event) {
      case Event::kReceived:
      case Event::kPeerClosed:
        if (side.consume) side.transport.ConsumeReceived([&] { return Drive(side); });
        side.transport.Send();  // handshake replies
        if (side.transport.receive() == TlsTransport::Receive::kOff) side.transport.ArmRecv();
        break;
      default:
        break;
    }
  }

  // One loop turn: submit, wait up to 20 ms, route every completion.
  void Turn() {
    ASSERT_TRUE(ring_->SubmitAndWait(absl::Milliseconds(20)).ok());
    ring_->ForEachCompletion([&](const io_uring_cqe& cqe) {
      const UserData ud = UserData::Unpack(cqe.user_data);
      ASSERT_TRUE(ud.id == kServerId || ud.id == kClientId) << ud.id;
      Side& side = SideOf(ud.id);
      ASSERT_FALSE(side.finished) << "completion after the transport finished";
      Handle(side, side.transport.OnCompletion(ud.op, cqe));
      if (side.transport.Finish()) side.finished = true;
    });
  }

  // Turns the loop until `done` or five seconds pass.
  bool RunUntil(const std::function<bool()>& done) {
    const absl::Time give_up = absl::Now() + absl::Seconds(5);
    while (!done()) {
      if (absl::Now() > give_up) return false;
      Turn();
      if (::testing::Test::HasFatalFailure()) return false;
    }
    return true;
  }

  // Both ends handshake over the ring; each has its recv armed afterwards.
  void Handshake() {
    auto server_tls = camproto::TlsChannel::CreateServer(server_ctx_.get());
    ASSERT_TRUE(server_tls.ok()) << server_tls.status();
    server_.transport.StartTls(std::move(*server_tls));
    auto client_tls = camproto::TlsChannel::CreateClient(client_ctx_.get(), "localhost", nullptr);
    ASSERT_TRUE(client_tls.ok()) << client_tls.status();
    client_.transport.StartTls(std::move(*client_tls));
    ASSERT_TRUE(client_.transport.tls()->Handshake().ok());  // queues the ClientHello
    client_.transport.Send();
    server_.transport.ArmRecv();
    client_.transport.ArmRecv();
    ASSERT_TRUE(RunUntil([&] {
      return server_.transport.tls()->handshake_done() && client_.transport.tls()->handshake_done() &&
             !server_.transport.send_in_flight() && !client_.transport.send_in_flight();
    }));
  }

  void Write(Side& side, const std::string& text) {
    ASSERT_TRUE(side.transport.tls()->WritePlaintext(Bytes(text)).ok());
    side.transport.Send();
  }

  TempDir dir_;
  camproto::SslCtxPtr server_ctx_;
  camproto::SslCtxPtr client_ctx_;
  std::unique_ptr<Ring> ring_;
  std::unique_ptr<ProvidedBufferRing> buffers_;
  TransportShared shared_;
  Side server_;
  Side client_;
};

TEST_F(TlsTransportTest, HandshakesAndCarriesBytesBothWays) {
  Handshake();
  Write(server_, "WELCOME");
  Write(client_, "HELLO");
  ASSERT_TRUE(RunUntil([&] { return server_.plaintext == "HELLO" && client_.plaintext == "WELCOME"; }));
  EXPECT_EQ(server_.transport.state(), TlsTransport::State::kOpen);
  EXPECT_EQ(server_.transport.receive(), TlsTransport::Receive::kArmed);
  ASSERT_TRUE(RunUntil([&] { return !server_.transport.send_in_flight(); }));
  EXPECT_EQ(server_.transport.in_flight(), 1);  // the multishot recv, nothing else
  EXPECT_FALSE(server_.transport.has_received());
  EXPECT_EQ(buffers_->in_use(), 0u);  // every chunk went back after decryption
  EXPECT_GT(server_.count(Event::kSent), 0);
}

TEST_F(TlsTransportTest, CloseSendsTheLastWordsAndCloseNotifyThenFreesTheSlot) {
  Handshake();
  Write(server_, "ERROR");
  server_.transport.Close(MonotonicNow() + absl::Seconds(5));
  EXPECT_EQ(server_.transport.state(), TlsTransport::State::kClosing);
  ASSERT_TRUE(RunUntil([&] { return server_.finished && client_.transport.peer_closed(); }));
  EXPECT_EQ(client_.plaintext, "ERROR");
  EXPECT_TRUE(client_.close_notify);  // after the last words, before the end of stream
  EXPECT_TRUE(client_.tls_error.ok()) << client_.tls_error;
  EXPECT_EQ(server_.transport.state(), TlsTransport::State::kClosed);
  EXPECT_EQ(server_.transport.in_flight(), 0);
  EXPECT_EQ(server_.transport.tls(), nullptr);
  // Only once: a closed transport ignores further close requests.
  server_.transport.Close(MonotonicNow());
  server_.transport.Cut();
  EXPECT_EQ(server_.transport.state(), TlsTransport::State::kClosed);
  EXPECT_EQ(server_.transport.in_flight(), 0);
}

TEST_F(TlsTransportTest, PeerEndOfStreamEndsTheReceiveSide) {
  Handshake();
  Write(client_, "last segment");
  client_.transport.Close(MonotonicNow() + absl::Seconds(5));
  ASSERT_TRUE(RunUntil([&] { return client_.finished && server_.transport.peer_closed(); }));
  EXPECT_EQ(server_.plaintext, "last segment");  // bytes before the end are delivered first
  EXPECT_TRUE(server_.close_notify);
  EXPECT_EQ(server_.count(Event::kPeerClosed), 1);
  EXPECT_EQ(server_.transport.receive(), TlsTransport::Receive::kEnded);
  EXPECT_EQ(server_.transport.in_flight(), 0);
  server_.transport.ArmRecv();  // never re-armed after the end of stream
  EXPECT_EQ(server_.transport.in_flight(), 0);
  // Still open for writing until its owner closes it: then it is cut at once
  // (nothing pending; no close_notify to a peer that left).
  EXPECT_EQ(server_.transport.state(), TlsTransport::State::kOpen);
  server_.transport.Close(MonotonicNow() + absl::Seconds(5));
  ASSERT_TRUE(RunUntil([&] { return server_.finished; }));
}

TEST_F(TlsTransportTest, FailedSendCutsTheTransport) {
  Handshake();
  client_.transport.Cut();  // the peer vanishes without a word
  ASSERT_TRUE(RunUntil([&] { return client_.finished && server_.transport.peer_closed(); }));
  Write(server_, "ACK nobody reads");
  ASSERT_TRUE(RunUntil([&] { return server_.finished; }));
  EXPECT_EQ(server_.count(Event::kSendFailed), 1);
  EXPECT_EQ(server_.transport.state(), TlsTransport::State::kClosed);
}

TEST_F(TlsTransportTest, StoppedReceiveEndsCancelledAndCanBeArmedAgain) {
  Handshake();
  server_.transport.StopReceiving();
  ASSERT_TRUE(RunUntil([&] { return server_.count(Event::kReceiveStopped) == 1; }));
  EXPECT_EQ(server_.transport.receive(), TlsTransport::Receive::kOff);
  EXPECT_EQ(server_.transport.in_flight(), 0);
  Write(client_, "while paused");
  for (int i = 0; i < 5; ++i) Turn();
  EXPECT_EQ(server_.plaintext, "");  // waits in the socket, not in our buffers
  EXPECT_EQ(buffers_->in_use(), 0u);
  server_.transport.ArmRecv();
  ASSERT_TRUE(RunUntil([&] { return server_.plaintext == "while paused"; }));
}

TEST_F(TlsTransportTest, StarvedReceiveWaitsForBuffersAndLosesNothing) {
  TearDown();
  server_ = Side();
  client_ = Side();
  Start(/*buffers=*/2, /*buffer_bytes=*/4096);
  Handshake();
  server_.consume = false;  // a paused session: chunks stay queued
  const std::string segment(64 * 1024, 's');
  Write(client_, segment);
  ASSERT_TRUE(RunUntil([&] { return server_.count(Event::kStarved) == 1; }));
  EXPECT_EQ(server_.transport.receive(), TlsTransport::Receive::kStarved);
  EXPECT_TRUE(server_.transport.has_received());
  EXPECT_EQ(buffers_->in_use(), buffers_->count());
  // The session resumes: its chunks are decrypted and their buffers return,
  // then the receive is armed again.
  server_.consume = true;
  const uint64_t recycled = buffers_->recycled();
  server_.transport.ConsumeReceived([&] { return Drive(server_); });
  EXPECT_FALSE(server_.transport.has_received());
  EXPECT_GT(buffers_->recycled(), recycled);
  server_.transport.ArmRecv();
  EXPECT_EQ(server_.transport.receive(), TlsTransport::Receive::kArmed);
  // With two buffers the recv starves again and again; re-arm each time.
  ASSERT_TRUE(RunUntil([&] {
    if (server_.transport.receive() == TlsTransport::Receive::kStarved) server_.transport.ArmRecv();
    return server_.plaintext.size() == segment.size();
  }));
  EXPECT_EQ(server_.plaintext, segment);
}

TEST_F(TlsTransportTest, PeerThatNeverReadsIsCutAtTheCloseDeadline) {
  Handshake();
  client_.transport.StopReceiving();  // the camera stops reading
  ASSERT_TRUE(RunUntil([&] { return client_.transport.receive() == TlsTransport::Receive::kOff; }));
  Write(server_, std::string(8 << 20, 'a'));  // far more than the socket buffers hold
  const absl::Time deadline = MonotonicNow() + absl::Milliseconds(200);
  server_.transport.Close(deadline);
  for (int i = 0; i < 5; ++i) Turn();
  server_.transport.CutIfOverdue(deadline - absl::Milliseconds(1));
  EXPECT_EQ(server_.transport.state(), TlsTransport::State::kClosing);
  EXPECT_TRUE(server_.transport.send_in_flight());
  server_.transport.CutIfOverdue(deadline);
  EXPECT_EQ(server_.transport.state(), TlsTransport::State::kCutting);
  ASSERT_TRUE(RunUntil([&] { return server_.finished; }));
  EXPECT_EQ(server_.transport.in_flight(), 0);
}

TEST_F(TlsTransportTest, ClosingBeforeTlsStartsIsCutAfterTheLastCompletion) {
  // A connection refused while its peer lookup is in flight: nothing to
  // send, and the cut waits until that request is in.
  server_.transport.LookUpPeer(sizeof(sockaddr_in));
  server_.transport.Close(MonotonicNow() + absl::Seconds(5));
  EXPECT_EQ(server_.transport.state(), TlsTransport::State::kClosing);
  EXPECT_FALSE(server_.transport.Finish());
  EXPECT_EQ(server_.transport.state(), TlsTransport::State::kClosing);
  ASSERT_TRUE(RunUntil([&] { return server_.count(Event::kPeerName) == 1; }));
  // That completion's Finish() found nothing in flight and cut.
  EXPECT_EQ(server_.transport.state(), TlsTransport::State::kCutting);
  ASSERT_TRUE(RunUntil([&] { return server_.finished; }));
  EXPECT_EQ(server_.transport.in_flight(), 0);
}

}  // namespace
}  // namespace ingest
