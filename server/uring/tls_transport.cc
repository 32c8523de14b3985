#include "server/uring/tls_transport.h"

#include <unistd.h>

#include <cerrno>

#include "common/monotonic_clock.h"

namespace ingest {

void TlsTransport::Open(TransportShared* shared, RingFile socket, uint32_t conn_id,
                        uint32_t generation) {
  *this = TlsTransport();
  shared_ = shared;
  socket_ = socket;
  conn_id_ = conn_id;
  generation_ = generation;
  state_ = State::kOpen;
  last_receive_ = MonotonicNow();
}

void TlsTransport::LookUpPeer(socklen_t peer_len) {
  PreparePeerName(*shared_->ring, socket_, &peer_, peer_len, Tag(Op::kPeerName));
  ++in_flight_;
}

void TlsTransport::Connect(const sockaddr* addr, socklen_t addr_len) {
  PrepareConnect(*shared_->ring, socket_, addr, addr_len, Tag(Op::kConnect));
  ++in_flight_;
}

TlsTransport::Event TlsTransport::OnCompletion(Op op, const io_uring_cqe& cqe) {
  switch (op) {
    case Op::kRecv:
      return OnRecv(cqe);
    case Op::kSend:
      --in_flight_;
      return OnSend(cqe.res);
    case Op::kPeerName:
      --in_flight_;
      return Event::kPeerName;
    case Op::kConnect:
      --in_flight_;
      return Event::kConnected;
    case Op::kCancel:
    case Op::kClose:
      --in_flight_;
      return Event::kNone;
    default:
      return Event::kNone;
  }
}

TlsTransport::Event TlsTransport::OnRecv(const io_uring_cqe& cqe) {
  if (!HasMore(cqe)) {
    --in_flight_;
    receive_ = Receive::kOff;
  }
  if (std::optional<uint16_t> buffer = SelectedBuffer(cqe)) {
    ProvidedBufferRing& buffers = *shared_->buffers;
    buffers.MarkTaken();
    if (cqe.res > 0 && state_ == State::kOpen) {
      chunks_.push_back({*buffer, static_cast<uint32_t>(cqe.res)});
      last_receive_ = MonotonicNow();
      idle_trimmed_ = false;
    } else {
      buffers.Recycle(*buffer);
    }
  }
  if (cqe.res > 0) return Event::kReceived;
  switch (cqe.res) {
    case -ENOBUFS:
      // Every buffer of the ring holds data not yet consumed: this
      // connection waits until buffers come back (that is the backpressure).
      receive_ = Receive::kStarved;
      return Event::kStarved;
    case -ECANCELED:
      return Event::kReceiveStopped;
    case 0:
      receive_ = Receive::kEnded;
      return Event::kPeerClosed;
    default:
      receive_ = Receive::kEnded;
      return Event::kReceiveFailed;
  }
}

void TlsTransport::ArmRecv() {
  if (receive_ == Receive::kArmed || receive_ == Receive::kEnded || state_ != State::kOpen) return;
  PrepareRecvMultishot(*shared_->ring, socket_, shared_->buffers->group(), Tag(Op::kRecv));
  receive_ = Receive::kArmed;
  ++in_flight_;
}

void TlsTransport::StopReceiving() {
  if (receive_ != Receive::kArmed || state_ >= State::kCutting) return;
  PrepareCancel(*shared_->ring, Tag(Op::kRecv), Tag(Op::kCancel));
  ++in_flight_;
}

void TlsTransport::ConsumeReceived(absl::FunctionRef<bool()> drive) {
  ProvidedBufferRing& buffers = *shared_->buffers;
  while (!chunks_.empty() && state_ == State::kOpen) {
    const Chunk chunk = chunks_.front();
    tls_->LendCiphertext(buffers.View(chunk.buffer_id, chunk.length));
    const bool more = drive();
    // Anything TLS did not read is copied aside, so the buffer can go back to
    // the kernel now (at most one buffer's worth per paused connection).
    tls_->ReleaseLentCiphertext();
    chunks_.erase(chunks_.begin());
    buffers.Recycle(chunk.buffer_id);
    if (!more) break;
  }
}

void TlsTransport::Send() {
  if (send_in_flight_ || state_ >= State::kCutting || tls_ == nullptr) return;
  if (send_offset_ >= send_buffer_.size()) {
    send_buffer_.clear();
    send_offset_ = 0;
    if (tls_->pending_ciphertext() == 0) {
      if (state_ == State::kClosing) Cut();  // the last words are out
      return;
    }
    // The send reads from our own buffer: TLS may reallocate its output while
    // the send is in flight.
    tls_->TakeCiphertext(send_buffer_);
  }
  PrepareSend(*shared_->ring, socket_, send_buffer_.data() + send_offset_,
              send_buffer_.size() - send_offset_, Tag(Op::kSend));
  send_in_flight_ = true;
  ++in_flight_;
}

TlsTransport::Event TlsTransport::OnSend(int res) {
  send_in_flight_ = false;
  if (res < 0) {
    Cut();
    return Event::kSendFailed;
  }
  send_offset_ += static_cast<size_t>(res);
  Send();
  return Event::kSent;
}

void TlsTransport::Close(absl::Time deadline) {
  if (state_ != State::kOpen) return;
  state_ = State::kClosing;
  // End the TLS session cleanly after the last words: strict TLS stacks
  // report a bare TCP close as an unexpected EOF. No-op before the handshake
  // finished.
  if (tls_ != nullptr && !peer_closed()) tls_->SendCloseNotify();
  // A peer that never reads would keep that last send pending forever.
  close_deadline_ = deadline;
  Send();
}

void TlsTransport::Cut() {
  if (state_ >= State::kCutting || state_ == State::kIdle) return;
  state_ = State::kCutting;
  // close() does not cancel requests in flight on the socket: cancel them all
  // first; the hard link runs the close whatever the cancel's result.
  if (socket_.direct) {
    PrepareCancelAllAndClose(*shared_->ring, socket_.value, Tag(Op::kCancel), Tag(Op::kClose));
  } else {
    PrepareCancelAllAndCloseFd(*shared_->ring, socket_.value, Tag(Op::kCancel), Tag(Op::kClose));
  }
  in_flight_ += 2;
}

void TlsTransport::CutIfOverdue(absl::Time now) {
  if (state_ == State::kClosing && now >= close_deadline_) Cut();
}

bool TlsTransport::Finish() {
  if ((state_ != State::kClosing && state_ != State::kCutting) || in_flight_ > 0) return false;
  if (state_ == State::kClosing) {
    Cut();
    return false;
  }
  for (const Chunk& chunk : chunks_) shared_->buffers->Recycle(chunk.buffer_id);
  chunks_.clear();
  tls_.reset();
  send_buffer_.clear();
  send_offset_ = 0;
  state_ = State::kClosed;
  return true;
}

void TlsTransport::Abandon() {
  // Once cut, the ring's close has run (or runs as the ring goes away).
  if (!socket_.direct && (state_ == State::kOpen || state_ == State::kClosing)) ::close(socket_.value);
  chunks_.clear();  // their buffers go away with the ring
  tls_.reset();
  in_flight_ = 0;
  state_ = State::kClosed;
}

void TlsTransport::ReleaseIdleMemory(absl::Time now, absl::Duration after) {
  if (idle_trimmed_ || tls_ == nullptr || !chunks_.empty() || send_in_flight_ ||
      now - last_receive_ < after) {
    return;
  }
  tls_->ReleaseIdleMemory();
  idle_trimmed_ = true;
}

}  // namespace ingest
