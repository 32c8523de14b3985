// ProvidedBufferRing on a real io_uring and a socketpair: a multishot recv
// picks buffers from the ring and names them in its completions; data lands
// in the buffer View() shows; a starved recv ends with -ENOBUFS and resumes,
// losing nothing, once buffers are recycled and it is re-armed; each buffer
// group serves only its own requests; the group is unregistered with the
// ring object, so it can be registered again.
#include "server/uring/provided_buffer_ring.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/uring/ring.h"

namespace ingest {
namespace {

class SocketPair {
 public:
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0) << std::strerror(errno); }
  ~SocketPair() {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  int ours() const { return fds_[0]; }
  void SendFromPeer(const std::string& bytes) const {
    ASSERT_EQ(::send(fds_[1], bytes.data(), bytes.size(), MSG_NOSIGNAL), static_cast<ssize_t>(bytes.size()));
  }

 private:
  int fds_[2] = {-1, -1};
};

struct Completion {
  int res;
  uint32_t flags;
};

class ProvidedBufferRingTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto ring = Ring::Create({.sq_entries = 16, .cq_entries = 256});
    ASSERT_TRUE(ring.ok()) << ring.status();
    ring_ = *std::move(ring);
  }

  // A multishot recv on `fd` choosing buffers from `group`.
  void ArmRecv(int fd, uint16_t group, uint64_t tag) {
    io_uring_sqe* sqe = ring_->GetSqe();
    io_uring_prep_recv_multishot(sqe, fd, nullptr, 0, 0);
    io_uring_sqe_set_flags(sqe, IOSQE_BUFFER_SELECT);
    sqe->buf_group = group;
    io_uring_sqe_set_data64(sqe, tag);
  }

  // Completions for `tag` until `bytes` were received or the request ended.
  // Completions of other requests reaped meanwhile wait for their own call.
  std::vector<Completion> ReceiveUntil(uint64_t tag, size_t bytes) {
    std::vector<Completion> got;
    size_t received = 0;
    bool ended = false;
    const absl::Time deadline = absl::Now() + absl::Seconds(5);
    while (true) {
      std::vector<Completion>& waiting = reaped_[tag];
      while (!waiting.empty() && received < bytes && !ended) {
        const Completion c = waiting.front();
        waiting.erase(waiting.begin());
        got.push_back(c);
        if (c.res > 0) received += static_cast<size_t>(c.res);
        if (!(c.flags & IORING_CQE_F_MORE)) ended = true;
      }
      if (received >= bytes || ended || absl::Now() >= deadline) break;
      EXPECT_TRUE(ring_->SubmitAndWait(absl::Milliseconds(50)).ok());
      ring_->ForEachCompletion([&](const io_uring_cqe& cqe) {
        reaped_[cqe.user_data].push_back({cqe.res, cqe.flags});
      });
    }
    return got;
  }

  static uint16_t BufferId(const Completion& c) { return static_cast<uint16_t>(c.flags >> IORING_CQE_BUFFER_SHIFT); }

  std::unique_ptr<Ring> ring_;
  std::map<uint64_t, std::vector<Completion>> reaped_;
};

TEST_F(ProvidedBufferRingTest, TheCountMustBeAPowerOfTwoUpTo32768) {
  for (uint32_t count : {0u, 3u, 100u, 65536u}) {
    auto buffers = ProvidedBufferRing::Create(ring_->raw(), 0, count, 4096);
    EXPECT_EQ(buffers.status().code(), absl::StatusCode::kInvalidArgument) << count;
  }
  auto buffers = ProvidedBufferRing::Create(ring_->raw(), 0, 8, 4096);
  ASSERT_TRUE(buffers.ok()) << buffers.status();
  EXPECT_EQ((*buffers)->group(), 0);
  EXPECT_EQ((*buffers)->count(), 8u);
  EXPECT_EQ((*buffers)->buffer_bytes(), 4096u);
  EXPECT_EQ((*buffers)->in_use(), 0u);
}

TEST_F(ProvidedBufferRingTest, ReceivedBytesAreInTheBufferTheCompletionNames) {
  auto buffers = ProvidedBufferRing::Create(ring_->raw(), 1, 4, 64);
  ASSERT_TRUE(buffers.ok()) << buffers.status();
  SocketPair pair;
  ArmRecv(pair.ours(), 1, 42);
  ASSERT_TRUE(ring_->Submit().ok());
  pair.SendFromPeer("first message");

  std::vector<Completion> got = ReceiveUntil(42, 13);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].res, 13);
  ASSERT_TRUE(got[0].flags & IORING_CQE_F_BUFFER);
  EXPECT_TRUE(got[0].flags & IORING_CQE_F_MORE) << "a multishot recv stays armed";
  const uint16_t id = BufferId(got[0]);
  ASSERT_LT(id, 4);
  (*buffers)->MarkTaken();
  EXPECT_EQ((*buffers)->in_use(), 1u);
  absl::Span<uint8_t> view = (*buffers)->View(id, static_cast<uint32_t>(got[0].res));
  EXPECT_EQ(std::string(view.begin(), view.end()), "first message");
  (*buffers)->Recycle(id);
  EXPECT_EQ((*buffers)->in_use(), 0u);

  // The same request goes on receiving, into a (possibly reused) buffer.
  pair.SendFromPeer("second");
  got = ReceiveUntil(42, 6);
  ASSERT_EQ(got.size(), 1u);
  ASSERT_EQ(got[0].res, 6);
  view = (*buffers)->View(BufferId(got[0]), 6);
  EXPECT_EQ(std::string(view.begin(), view.end()), "second");
}

TEST_F(ProvidedBufferRingTest, AStarvedRecvEndsWithEnobufsAndResumesWithoutLosingBytes) {
  // Two 16-byte buffers for 40 bytes: the recv fills both, then runs dry.
  auto buffers = ProvidedBufferRing::Create(ring_->raw(), 2, 2, 16);
  ASSERT_TRUE(buffers.ok()) << buffers.status();
  SocketPair pair;
  std::string sent;
  for (int i = 0; i < 40; ++i) sent.push_back(static_cast<char>('A' + i % 26));
  pair.SendFromPeer(sent);
  ArmRecv(pair.ours(), 2, 1);

  std::string received;
  std::vector<uint16_t> taken;
  std::vector<Completion> got = ReceiveUntil(1, sent.size());
  ASSERT_FALSE(got.empty());
  for (const Completion& c : got) {
    if (c.res <= 0) continue;
    ASSERT_TRUE(c.flags & IORING_CQE_F_BUFFER);
    (*buffers)->MarkTaken();
    taken.push_back(BufferId(c));
    absl::Span<uint8_t> view = (*buffers)->View(BufferId(c), static_cast<uint32_t>(c.res));
    received.append(view.begin(), view.end());
  }
  EXPECT_EQ(got.back().res, -ENOBUFS);
  EXPECT_FALSE(got.back().flags & IORING_CQE_F_MORE) << "the request ended: it must be re-armed";
  EXPECT_EQ(received, sent.substr(0, 32));
  EXPECT_EQ((*buffers)->in_use(), 2u);

  // Buffers back, re-armed: the rest arrives.
  for (uint16_t id : taken) (*buffers)->Recycle(id);
  EXPECT_EQ((*buffers)->in_use(), 0u);
  ArmRecv(pair.ours(), 2, 2);
  got = ReceiveUntil(2, sent.size() - received.size());
  for (const Completion& c : got) {
    if (c.res <= 0) continue;
    absl::Span<uint8_t> view = (*buffers)->View(BufferId(c), static_cast<uint32_t>(c.res));
    received.append(view.begin(), view.end());
    (*buffers)->MarkTaken();
    (*buffers)->Recycle(BufferId(c));
  }
  EXPECT_EQ(received, sent);
}

TEST_F(ProvidedBufferRingTest, EachGroupServesOnlyItsOwnRequests) {
  auto small = ProvidedBufferRing::Create(ring_->raw(), 3, 2, 8);
  auto large = ProvidedBufferRing::Create(ring_->raw(), 4, 2, 256);
  ASSERT_TRUE(small.ok()) << small.status();
  ASSERT_TRUE(large.ok()) << large.status();
  SocketPair a;
  SocketPair b;
  ArmRecv(a.ours(), 3, 10);
  ArmRecv(b.ours(), 4, 20);
  ASSERT_TRUE(ring_->Submit().ok());
  a.SendFromPeer("12345678");
  b.SendFromPeer(std::string(100, 'b'));
  std::vector<Completion> from_a = ReceiveUntil(10, 8);
  std::vector<Completion> from_b = ReceiveUntil(20, 100);
  ASSERT_EQ(from_a.size(), 1u);
  ASSERT_EQ(from_a[0].res, 8);
  absl::Span<uint8_t> view = (*small)->View(BufferId(from_a[0]), 8);
  EXPECT_EQ(std::string(view.begin(), view.end()), "12345678");
  ASSERT_EQ(from_b.size(), 1u) << "100 bytes fit one 256-byte buffer of the large group";
  ASSERT_EQ(from_b[0].res, 100);
  view = (*large)->View(BufferId(from_b[0]), 100);
  EXPECT_EQ(std::string(view.begin(), view.end()), std::string(100, 'b'));
}

TEST_F(ProvidedBufferRingTest, DestroyingItUnregistersTheGroup) {
  {
    auto first = ProvidedBufferRing::Create(ring_->raw(), 5, 4, 128);
    ASSERT_TRUE(first.ok()) << first.status();
    // The group is taken while the first lives.
    auto clash = ProvidedBufferRing::Create(ring_->raw(), 5, 4, 128);
    EXPECT_EQ(clash.status().code(), absl::StatusCode::kUnavailable) << clash.status();
  }
  auto again = ProvidedBufferRing::Create(ring_->raw(), 5, 4, 128);
  EXPECT_TRUE(again.ok()) << again.status();
}

}  // namespace
}  // namespace ingest
