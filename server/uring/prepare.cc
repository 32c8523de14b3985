#include "server/uring/prepare.h"

namespace ingest {
namespace {

// Not in liburing 2.3's headers; stable kernel ABI since 6.7.
constexpr uint32_t kSocketUringOpGetsockopt = 2;
#ifndef SO_PEERNAME
constexpr int SO_PEERNAME = 28;
#endif

void Target(io_uring_sqe* sqe, RingFile socket) {
  if (socket.direct) sqe->flags |= IOSQE_FIXED_FILE;
}

void Tag(io_uring_sqe* sqe, UserData tag) { io_uring_sqe_set_data64(sqe, tag.Pack()); }

}  // namespace

void PrepareMultishotAcceptDirect(Ring& ring, int listen_fd, UserData tag) {
  io_uring_sqe* sqe = ring.GetSqe();
  io_uring_prep_multishot_accept_direct(sqe, listen_fd, nullptr, nullptr, 0);
  Tag(sqe, tag);
}

void PrepareAcceptDirect(Ring& ring, int listen_fd, UserData tag) {
  io_uring_sqe* sqe = ring.GetSqe();
  // liburing 2.3 stores file_index + 1 and, unlike later versions, does not
  // take the allocation marker back by one first (its multishot helper does).
  io_uring_prep_accept_direct(sqe, listen_fd, nullptr, nullptr, 0, IORING_FILE_INDEX_ALLOC - 1);
  Tag(sqe, tag);
}

void PrepareConnect(Ring& ring, RingFile socket, const sockaddr* addr, socklen_t addr_len,
                    UserData tag) {
  io_uring_sqe* sqe = ring.GetSqe();
  io_uring_prep_connect(sqe, socket.value, addr, addr_len);
  Target(sqe, socket);
  Tag(sqe, tag);
}

void PreparePeerName(Ring& ring, RingFile socket, sockaddr_storage* peer, socklen_t peer_len,
                     UserData tag) {
  io_uring_sqe* sqe = ring.GetSqe();
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = socket.value;
  Target(sqe, socket);
  sqe->cmd_op = kSocketUringOpGetsockopt;
  // level in the low half of addr, optname in the high half; optlen in the
  // file_index slot, optval in addr3.
  sqe->addr = (uint64_t{static_cast<uint32_t>(SO_PEERNAME)} << 32) | uint32_t{SOL_SOCKET};
  sqe->file_index = peer_len;
  sqe->addr3 = reinterpret_cast<uint64_t>(peer);
  Tag(sqe, tag);
}

void PrepareRecvMultishot(Ring& ring, RingFile socket, uint16_t buffer_group, UserData tag) {
  io_uring_sqe* sqe = ring.GetSqe();
  io_uring_prep_recv_multishot(sqe, socket.value, nullptr, 0, 0);
  Target(sqe, socket);
  sqe->flags |= IOSQE_BUFFER_SELECT;
  sqe->buf_group = buffer_group;
  Tag(sqe, tag);
}

void PrepareSend(Ring& ring, RingFile socket, const void* data, size_t size, UserData tag) {
  io_uring_sqe* sqe = ring.GetSqe();
  io_uring_prep_send(sqe, socket.value, data, size, MSG_NOSIGNAL);
  Target(sqe, socket);
  Tag(sqe, tag);
}

void PrepareCancel(Ring& ring, UserData target, UserData tag) {
  io_uring_sqe* sqe = ring.GetSqe();
  io_uring_prep_cancel64(sqe, target.Pack(), 0);
  Tag(sqe, tag);
}

void PrepareCancelAllAndClose(Ring& ring, int file_index, UserData cancel_tag, UserData close_tag) {
  io_uring_sqe* sqe = ring.GetSqe();
  io_uring_prep_cancel_fd(sqe, file_index, IORING_ASYNC_CANCEL_ALL | IORING_ASYNC_CANCEL_FD_FIXED);
  sqe->flags |= IOSQE_IO_HARDLINK;
  Tag(sqe, cancel_tag);
  sqe = ring.GetSqe();
  io_uring_prep_close_direct(sqe, static_cast<unsigned>(file_index));
  Tag(sqe, close_tag);
}

void PrepareCancelAllAndCloseFd(Ring& ring, int fd, UserData cancel_tag, UserData close_tag) {
  io_uring_sqe* sqe = ring.GetSqe();
  io_uring_prep_cancel_fd(sqe, fd, IORING_ASYNC_CANCEL_ALL);
  sqe->flags |= IOSQE_IO_HARDLINK;
  Tag(sqe, cancel_tag);
  sqe = ring.GetSqe();
  io_uring_prep_close(sqe, fd);
  Tag(sqe, close_tag);
}

void PrepareTimeout(Ring& ring, __kernel_timespec* duration, UserData tag) {
  io_uring_sqe* sqe = ring.GetSqe();
  io_uring_prep_timeout(sqe, duration, 0, 0);
  Tag(sqe, tag);
}

void PrepareWriteThenDatasync(Ring& ring, int fd, const iovec* iov, unsigned count, uint64_t offset,
                              UserData write_tag, UserData sync_tag) {
  io_uring_sqe* sqe = ring.GetSqe();
  io_uring_prep_writev(sqe, fd, iov, count, offset);
  sqe->flags |= IOSQE_IO_LINK;
  Tag(sqe, write_tag);
  sqe = ring.GetSqe();
  io_uring_prep_fsync(sqe, fd, IORING_FSYNC_DATASYNC);
  Tag(sqe, sync_tag);
}

}  // namespace ingest
