// One connection's transport: TLS over a socket of an io_uring ring. It owns
// what the socket's requests need and their bookkeeping, so its owner (a
// shard, camera-sim) only deals with bytes and sessions:
//   - the receive side: one multishot recv into the ring's provided buffers,
//     the chunks received and not yet decrypted, re-arming, and the
//     buffer-starved state (the recv ended with ENOBUFS);
//   - the send side: ciphertext taken from TLS into its own buffer (TLS may
//     reallocate while a send is in flight), the offset reached, one send at
//     a time;
//   - the requests in flight on the socket, and the end of its life: last
//     words (ERROR, REJECT, close_notify) sent, then every request cancelled
//     and the socket closed, and only once the last completion is in may the
//     owner reuse the slot.
//
//   TlsTransport transport;
//   transport.Open(shared, RingFile::Direct(index), conn_id, generation);
//   transport.LookUpPeer(sizeof(sockaddr_in));         // or Connect(...) on a client
//   ... Event::kPeerName: transport.StartTls(std::move(tls)); transport.ArmRecv();
//   // every completion tagged with (conn_id, generation):
//   switch (transport.OnCompletion(op, cqe)) {
//     case Event::kReceived: transport.ConsumeReceived([&] { return Drive(); }); ...
//   }
//   if (transport.Finish()) { /* every completion is in: the slot may be reused */ }
//   ...
//   tls->WritePlaintext(frames); transport.Send();     // starts a send if none is in flight
//   transport.Close(deadline);                         // last words, then cancel + close
//
// Every request is tagged UserData{op, conn_id, generation} with op one of
// kPeerName, kConnect, kRecv, kSend, kCancel, kClose. Not thread-safe: it
// belongs to the ring's thread.
#ifndef SERVER_URING_TLS_TRANSPORT_H_
#define SERVER_URING_TLS_TRANSPORT_H_

#include <liburing.h>
#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/container/inlined_vector.h"
#include "absl/functional/function_ref.h"
#include "absl/time/time.h"
#include "proto/tls_channel.h"
#include "server/uring/prepare.h"
#include "server/uring/provided_buffer_ring.h"
#include "server/uring/ring.h"
#include "server/uring/user_data.h"

namespace ingest {

// What the transports of one ring share.
struct TransportShared {
  Ring* ring = nullptr;
  ProvidedBufferRing* buffers = nullptr;
};

class TlsTransport {
 public:
  // The connection's life. Only forward: kIdle -> kOpen -> (kClosing ->)
  // kCutting -> kClosed; Open() starts the next one.
  enum class State : uint8_t {
    kIdle,     // no socket yet
    kOpen,     // reading and writing
    kClosing,  // sending its last bytes; then cancel + close (or at the deadline)
    kCutting,  // cancel + close submitted: nothing more is sent or received
    kClosed,   // every completion is in; Finish() returned true
  };
  // The receive side.
  enum class Receive : uint8_t {
    kOff,      // no recv armed
    kArmed,    // a multishot recv is armed (or being cancelled)
    kStarved,  // the recv ended with ENOBUFS: re-arm once buffers come back
    kEnded,    // the peer closed its side, or the socket failed: never re-armed
  };
  // What a completion meant, for the owner to act on.
  enum class Event : uint8_t {
    kNone,            // bookkeeping only (cancel, close)
    kPeerName,        // SO_PEERNAME finished: cqe.res < 0 if it failed, else peer()
    kConnected,       // connect finished: cqe.res < 0 if it failed
    kReceived,        // ciphertext received: ConsumeReceived (dropped unless kOpen)
    kPeerClosed,      // the peer closed its side (after any bytes already received)
    kReceiveFailed,   // the recv failed: the connection is broken
    kStarved,         // no receive buffer was left: see Receive::kStarved
    kReceiveStopped,  // the recv ended cancelled (StopReceiving, or the cut)
    kSent,            // a send finished; the next one has started if anything is pending
    kSendFailed,      // a send failed: the transport is being cut
  };

  TlsTransport() = default;
  TlsTransport(TlsTransport&&) = default;
  TlsTransport& operator=(TlsTransport&&) = default;

  // Starts a connection on `socket` (nothing submitted yet). The previous
  // one, if any, must be kClosed (or never opened).
  void Open(TransportShared* shared, RingFile socket, uint32_t conn_id, uint32_t generation);
  // Server side: asks the kernel for the peer's address (Event::kPeerName).
  // `peer_len` is sizeof(sockaddr_in) or sizeof(sockaddr_in6).
  void LookUpPeer(socklen_t peer_len);
  // Client side: connects (Event::kConnected). `addr` must stay valid until submitted.
  void Connect(const sockaddr* addr, socklen_t addr_len);
  // The TLS connection that runs over the socket from now on.
  void StartTls(std::unique_ptr<camproto::TlsChannel> tls) { tls_ = std::move(tls); }

  // Routes a completion of one of this transport's requests (its tag's op).
  Event OnCompletion(Op op, const io_uring_cqe& cqe);

  // Arms the multishot recv unless it is armed, ended, or the transport is
  // not open. Clears kStarved.
  void ArmRecv();
  // Cancels the armed recv (it completes with kReceiveStopped): a paused
  // reader must not keep filling the shared receive buffers.
  void StopReceiving();
  // Lends the received chunks to TLS one at a time, oldest first, calling
  // `drive` after each (it reads what TLS can decrypt); each chunk's buffer
  // goes back to the ring after its turn (TLS copies aside what it did not
  // read). Stops when `drive` returns false, the chunks run out, or the
  // transport stops being open.
  void ConsumeReceived(absl::FunctionRef<bool()> drive);

  // Starts a send of the pending ciphertext if none is in flight. Once
  // closing and everything is sent, cuts.
  void Send();

  // Ends the connection politely: close_notify after whatever is pending
  // (unless the peer is gone), then cancel + close once it is sent, or at
  // `deadline` (CutIfOverdue) if the peer does not read. No-op unless open.
  void Close(absl::Time deadline);
  // Ends the connection now: cancels every request on the socket and closes
  // it. No-op once cutting.
  void Cut();
  // Cuts a closing transport whose last words were not all sent by its deadline.
  void CutIfOverdue(absl::Time now);
  // After each completion: true once the transport was closed and its last
  // completion is in (it is then kClosed: chunks recycled, TLS freed). A
  // closing transport with nothing in flight is cut here.
  bool Finish();
  // The ring is going away with requests still in flight: forgets them, and
  // closes an ordinary file descriptor not cut yet at once (a direct
  // descriptor goes away with the ring).
  void Abandon();

  // Gives TLS's buffers back if nothing was received for `after`, nothing is
  // queued and no send is in flight (not on every receive: malloc churn).
  void ReleaseIdleMemory(absl::Time now, absl::Duration after);

  State state() const { return state_; }
  bool open() const { return state_ == State::kOpen; }
  Receive receive() const { return receive_; }
  bool peer_closed() const { return receive_ == Receive::kEnded; }
  bool send_in_flight() const { return send_in_flight_; }
  bool has_received() const { return !chunks_.empty(); }
  int in_flight() const { return in_flight_; }
  absl::Time last_receive() const { return last_receive_; }
  const sockaddr_storage& peer() const { return peer_; }
  RingFile socket() const { return socket_; }
  // Null until StartTls; freed by Finish.
  camproto::TlsChannel* tls() const { return tls_.get(); }

 private:
  struct Chunk {
    uint16_t buffer_id;
    uint32_t length;
  };

  UserData Tag(Op op) const { return UserData{op, conn_id_, generation_}; }
  Event OnRecv(const io_uring_cqe& cqe);
  Event OnSend(int res);

  TransportShared* shared_ = nullptr;
  RingFile socket_;
  uint32_t conn_id_ = 0;
  uint32_t generation_ = 0;
  State state_ = State::kIdle;
  Receive receive_ = Receive::kOff;
  bool send_in_flight_ = false;
  bool idle_trimmed_ = false;  // TLS buffers released since the last receive
  int in_flight_ = 0;          // requests whose final completion is still due
  absl::Time close_deadline_ = absl::InfiniteFuture();
  absl::Time last_receive_;
  sockaddr_storage peer_{};
  std::unique_ptr<camproto::TlsChannel> tls_;
  absl::InlinedVector<Chunk, 4> chunks_;  // received, not yet decrypted
  std::string send_buffer_;               // ciphertext handed to the send in flight
  size_t send_offset_ = 0;
};

}  // namespace ingest

#endif  // SERVER_URING_TLS_TRANSPORT_H_
