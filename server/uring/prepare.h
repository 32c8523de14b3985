// Typed SQE preparation: every request the shard, its spool writer and
// camera-sim hand to a ring is built by one of these, so no other code sets a
// raw SQE field (opcode, flags, buf_group, cmd_op, addr3, ...). Each takes the
// ring, the request's arguments and the UserData tag its completion is routed
// by, and queues one SQE (two for the linked pairs).
//
//   PrepareRecvMultishot(ring, RingFile::Direct(conn.file_index), buffers.group(),
//                        UserData{Op::kRecv, conn.id, conn.generation});
//   ...
//   if (std::optional<uint16_t> id = SelectedBuffer(cqe)) { ... buffers.View(*id, cqe.res) ... }
//   if (!HasMore(cqe)) { /* the multishot request has ended */ }
//
// liburing 2.3 lacks a helper for the socket uring_cmd (SO_PEERNAME); that
// one is built field by field here, for kernels 6.7+.
#ifndef SERVER_URING_PREPARE_H_
#define SERVER_URING_PREPARE_H_

#include <liburing.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>

#include "server/uring/ring.h"
#include "server/uring/user_data.h"

namespace ingest {

// A socket as a request names it: a direct descriptor (an index into the
// ring's registered-file table, as accepted by PrepareMultishotAcceptDirect)
// or an ordinary file descriptor.
struct RingFile {
  static RingFile Direct(int index) { return {index, true}; }
  static RingFile Fd(int fd) { return {fd, false}; }

  int value = -1;
  bool direct = false;
};

// Multishot accept on `listen_fd`; every accepted socket goes straight into
// the ring's direct-descriptor table (cqe.res is its index), so it never
// occupies a process file descriptor.
void PrepareMultishotAcceptDirect(Ring& ring, int listen_fd, UserData tag);

// One accept on `listen_fd` into the direct-descriptor table (cqe.res is the
// index): for a caller that bounds how many connections it takes in, which a
// multishot accept cannot (it hands over the whole backlog at once).
void PrepareAcceptDirect(Ring& ring, int listen_fd, UserData tag);

// connect(2) of `socket` to `addr`, which must stay valid until submitted.
void PrepareConnect(Ring& ring, RingFile socket, const sockaddr* addr, socklen_t addr_len,
                    UserData tag);

// getsockopt(SOL_SOCKET, SO_PEERNAME) through a socket uring_cmd: a direct
// descriptor has no fd for getpeername(2). The peer's address is written to
// `*peer` (at most `peer_len` bytes: sizeof(sockaddr_in) or sizeof(sockaddr_in6)),
// which must stay valid until the completion.
void PreparePeerName(Ring& ring, RingFile socket, sockaddr_storage* peer, socklen_t peer_len,
                     UserData tag);

// Multishot recv into the provided buffers of `buffer_group`; each completion
// names the buffer it filled (SelectedBuffer).
void PrepareRecvMultishot(Ring& ring, RingFile socket, uint16_t buffer_group, UserData tag);

// send(2) of `size` bytes at `data` (MSG_NOSIGNAL); the bytes must stay valid
// until the completion.
void PrepareSend(Ring& ring, RingFile socket, const void* data, size_t size, UserData tag);

// Cancels the request tagged `target` (e.g. a multishot recv); the cancelled
// request completes with -ECANCELED.
void PrepareCancel(Ring& ring, UserData target, UserData tag);

// The end of a direct descriptor's life: cancel every request still in flight
// on it (close does not), hard-linked to close_direct, which runs whatever the
// cancel's result. Two completions: `cancel_tag`, then `close_tag`.
void PrepareCancelAllAndClose(Ring& ring, int file_index, UserData cancel_tag, UserData close_tag);
// The same for an ordinary file descriptor (cancel by fd, then close(2)).
void PrepareCancelAllAndCloseFd(Ring& ring, int fd, UserData cancel_tag, UserData close_tag);

// Completes with -ETIME after `*duration`, which must stay valid until submitted.
void PrepareTimeout(Ring& ring, __kernel_timespec* duration, UserData tag);

// writev of `count` iovecs at `offset` of `fd`, linked with an fdatasync
// that runs only if the write wrote everything (a short write breaks the
// link: the sync then completes with -ECANCELED). The iovecs must stay valid
// until submitted, the memory they point at until the completion.
void PrepareWriteThenDatasync(Ring& ring, int fd, const iovec* iov, unsigned count, uint64_t offset,
                              UserData write_tag, UserData sync_tag);

// The provided buffer a recv completion filled, if it names one. The owner
// must MarkTaken() and eventually Recycle() it.
inline std::optional<uint16_t> SelectedBuffer(const io_uring_cqe& cqe) {
  if (!(cqe.flags & IORING_CQE_F_BUFFER)) return std::nullopt;
  return static_cast<uint16_t>(cqe.flags >> IORING_CQE_BUFFER_SHIFT);
}

// False on the last completion of a multishot request (it must be re-armed
// to go on); always false for a single-shot request.
inline bool HasMore(const io_uring_cqe& cqe) { return (cqe.flags & IORING_CQE_F_MORE) != 0; }

}  // namespace ingest

#endif  // SERVER_URING_PREPARE_H_
