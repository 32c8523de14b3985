// The typed SQE helpers against the running kernel: a multishot accept into
// the direct-descriptor table, SO_PEERNAME through the socket uring_cmd (also
// in SQ slots last used by sends, whose flags must not leak into it), a
// connect, a timeout, and the linked write + fdatasync of the spool.
#include "server/uring/prepare.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "server/uring/provided_buffer_ring.h"
#include "server/uring/ring.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

// A TCP listener on 127.0.0.1 with a kernel-chosen port.
class Listener {
 public:
  Listener() {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(listen(fd_, 16), 0);
    socklen_t len = sizeof(addr_);
    EXPECT_EQ(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr_), &len), 0);
  }
  ~Listener() { close(fd_); }
  int fd() const { return fd_; }
  const sockaddr_in& addr() const { return addr_; }

 private:
  int fd_ = -1;
  sockaddr_in addr_{};
};

uint16_t LocalPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

class PrepareTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A small SQ, so its slots are reused often.
    auto ring = Ring::Create({.sq_entries = 4, .cq_entries = 64, .registered_files = 8});
    ASSERT_TRUE(ring.ok()) << ring.status();
    ring_ = std::move(*ring);
  }

  // Submits and waits for the completion tagged `op`, collecting the others.
  io_uring_cqe WaitFor(Op op) {
    for (int i = 0; i < 100; ++i) {
      for (size_t j = 0; j < seen_.size(); ++j) {
        if (UserData::Unpack(seen_[j].user_data).op == op) {
          io_uring_cqe cqe = seen_[j];
          seen_.erase(seen_.begin() + static_cast<ptrdiff_t>(j));
          return cqe;
        }
      }
      EXPECT_TRUE(ring_->SubmitAndWait(absl::Milliseconds(50)).ok());
      ring_->ForEachCompletion([&](const io_uring_cqe& cqe) { seen_.push_back(cqe); });
    }
    ADD_FAILURE() << "no completion for op " << static_cast<int>(op);
    return io_uring_cqe{};
  }

  // Accepts one connection from `client` into the file table; its index.
  int AcceptDirect(const Listener& listener, int client) {
    PrepareMultishotAcceptDirect(*ring_, listener.fd(), UserData{Op::kAccept, 0, 0});
    EXPECT_EQ(connect(client, reinterpret_cast<const sockaddr*>(&listener.addr()),
                      sizeof(listener.addr())), 0);
    io_uring_cqe cqe = WaitFor(Op::kAccept);
    EXPECT_TRUE(HasMore(cqe));  // stays armed for the next connection
    return cqe.res;
  }

  std::unique_ptr<Ring> ring_;
  std::vector<io_uring_cqe> seen_;
};

TEST_F(PrepareTest, AcceptedSocketsAreDirectDescriptorsWhosePeerIsReadThroughTheRing) {
  Listener listener;
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int index = AcceptDirect(listener, client);
  ASSERT_GE(index, 0);
  // Sends first, so the SQ slots the peer lookup reuses held MSG_NOSIGNAL
  // and a length: a hand-built request must not inherit them.
  const char byte = 'x';
  for (int i = 0; i < 6; ++i) {
    PrepareSend(*ring_, RingFile::Direct(index), &byte, 1, UserData{Op::kSend, 1, 1});
    EXPECT_EQ(WaitFor(Op::kSend).res, 1);
  }
  sockaddr_storage peer{};
  PreparePeerName(*ring_, RingFile::Direct(index), &peer, sizeof(sockaddr_in), UserData{Op::kPeerName, 1, 1});
  io_uring_cqe cqe = WaitFor(Op::kPeerName);
  ASSERT_GE(cqe.res, 0) << strerror(-cqe.res);
  ASSERT_EQ(peer.ss_family, AF_INET);
  const auto& in = reinterpret_cast<const sockaddr_in&>(peer);
  EXPECT_EQ(ntohl(in.sin_addr.s_addr), INADDR_LOOPBACK);
  EXPECT_EQ(ntohs(in.sin_port), LocalPort(client));
  close(client);
}

TEST_F(PrepareTest, RecvMultishotFillsProvidedBuffersAndCancelAllAndCloseEndsIt) {
  Listener listener;
  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const int index = AcceptDirect(listener, client);
  ASSERT_GE(index, 0);
  auto created = ProvidedBufferRing::Create(ring_->raw(), /*group=*/0, 4, 4096);
  ASSERT_TRUE(created.ok()) << created.status();
  std::unique_ptr<ProvidedBufferRing> buffers = std::move(*created);
  PrepareRecvMultishot(*ring_, RingFile::Direct(index), buffers->group(), UserData{Op::kRecv, 1, 1});
  ASSERT_EQ(write(client, "abc", 3), 3);
  io_uring_cqe cqe = WaitFor(Op::kRecv);
  ASSERT_EQ(cqe.res, 3);
  EXPECT_TRUE(HasMore(cqe));
  std::optional<uint16_t> id = SelectedBuffer(cqe);
  ASSERT_TRUE(id.has_value());
  buffers->MarkTaken();
  auto data = buffers->View(*id, 3);
  EXPECT_EQ(std::string(data.begin(), data.end()), "abc");
  buffers->Recycle(*id);
  PrepareCancelAllAndClose(*ring_, index, UserData{Op::kCancel, 1, 1}, UserData{Op::kClose, 1, 1});
  cqe = WaitFor(Op::kRecv);
  EXPECT_EQ(cqe.res, -ECANCELED);
  EXPECT_FALSE(HasMore(cqe));
  EXPECT_EQ(WaitFor(Op::kCancel).res, 1);  // one request cancelled
  EXPECT_EQ(WaitFor(Op::kClose).res, 0);
  char buf[4];
  EXPECT_EQ(read(client, buf, sizeof(buf)), 0);  // the server side is gone
  close(client);
}

TEST_F(PrepareTest, ConnectAndCancelAllAndCloseOnAnOrdinaryFd) {
  Listener listener;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  PrepareConnect(*ring_, RingFile::Fd(fd), reinterpret_cast<const sockaddr*>(&listener.addr()),
                 sizeof(listener.addr()), UserData{Op::kConnect, 2, 1});
  EXPECT_EQ(WaitFor(Op::kConnect).res, 0);
  const int accepted = accept4(listener.fd(), nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(accepted, 0);
  PrepareCancelAllAndCloseFd(*ring_, fd, UserData{Op::kCancel, 2, 1}, UserData{Op::kClose, 2, 1});
  EXPECT_EQ(WaitFor(Op::kCancel).res, 0);  // nothing was in flight: none cancelled
  EXPECT_EQ(WaitFor(Op::kClose).res, 0);
  EXPECT_EQ(fcntl(fd, F_GETFD), -1);             // the fd is closed
  char buf[1];
  EXPECT_EQ(read(accepted, buf, 1), 0);
  close(accepted);
}

TEST_F(PrepareTest, TimeoutCompletesWithEtime) {
  __kernel_timespec ts{.tv_sec = 0, .tv_nsec = 10'000'000};
  PrepareTimeout(*ring_, &ts, UserData{Op::kTimeout, 0, 7});
  io_uring_cqe cqe = WaitFor(Op::kTimeout);
  EXPECT_EQ(cqe.res, -ETIME);
  EXPECT_EQ(UserData::Unpack(cqe.user_data).generation, 7u);
}

TEST_F(PrepareTest, WriteThenDatasyncWritesEverythingAndSyncs) {
  testing::TempDir dir;
  const std::string path = dir.path() + "/file";
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  std::string a = "spool ", b = "records";
  iovec iov[2] = {{a.data(), a.size()}, {b.data(), b.size()}};
  PrepareWriteThenDatasync(*ring_, fd, iov, 2, /*offset=*/4, UserData{Op::kSpoolWrite, 0, 0},
                           UserData{Op::kSpoolSync, 0, 0});
  EXPECT_EQ(WaitFor(Op::kSpoolWrite).res, static_cast<int>(a.size() + b.size()));
  EXPECT_EQ(WaitFor(Op::kSpoolSync).res, 0);
  char buf[32] = {};
  EXPECT_EQ(pread(fd, buf, sizeof(buf), 4), static_cast<ssize_t>(a.size() + b.size()));
  EXPECT_EQ(std::string(buf), "spool records");
  close(fd);
}

}  // namespace
}  // namespace ingest
