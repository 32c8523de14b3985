// Ring on a real io_uring: a request goes in through GetSqe and comes back
// through ForEachCompletion with its user_data; GetSqe never fails, flushing
// a full submission queue itself; completions beyond the CQ's size are kept
// (NODROP), not lost; SubmitAndWait returns at its timeout when nothing
// completes; sockets in the sparse registered-file table work as direct
// descriptors; and the ring belongs to the thread that created it.
#include "server/uring/ring.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <set>
#include <string>
#include <thread>

#include "absl/status/status.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"

namespace ingest {
namespace {

// Reaps until `want` completions arrived (or 5 s passed); user_data -> res.
std::map<uint64_t, int> Reap(Ring& ring, size_t want) {
  std::map<uint64_t, int> results;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (results.size() < want && absl::Now() < deadline) {
    EXPECT_TRUE(ring.SubmitAndWait(absl::Milliseconds(50)).ok());
    ring.ForEachCompletion([&](const io_uring_cqe& cqe) { results[cqe.user_data] = cqe.res; });
  }
  return results;
}

class SocketPair {
 public:
  SocketPair() { EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds_), 0) << std::strerror(errno); }
  ~SocketPair() {
    for (int fd : fds_) {
      if (fd >= 0) ::close(fd);
    }
  }
  int ours() const { return fds_[0]; }
  int peer() const { return fds_[1]; }

 private:
  int fds_[2] = {-1, -1};
};

TEST(RingTest, ARequestComesBackWithItsUserData) {
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 64});
  ASSERT_TRUE(ring.ok()) << ring.status();
  for (uint64_t tag : {1ull, 0xFEDC'BA98'7654'3210ull}) {
    io_uring_sqe* sqe = (*ring)->GetSqe();
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, tag);
  }
  std::map<uint64_t, int> results = Reap(**ring, 2);
  EXPECT_EQ(results, (std::map<uint64_t, int>{{1, 0}, {0xFEDC'BA98'7654'3210ull, 0}}));
  // Everything seen was marked seen: nothing more arrives.
  EXPECT_TRUE((*ring)->SubmitAndWait(absl::Milliseconds(1)).ok());
  EXPECT_EQ((*ring)->ForEachCompletion([](const io_uring_cqe&) {}), 0u);
}

TEST(RingTest, GetSqeFlushesAFullSubmissionQueueInsteadOfFailing) {
  auto ring = Ring::Create({.sq_entries = 4, .cq_entries = 256});
  ASSERT_TRUE(ring.ok()) << ring.status();
  constexpr uint64_t kRequests = 50;
  for (uint64_t i = 1; i <= kRequests; ++i) {
    io_uring_sqe* sqe = (*ring)->GetSqe();
    ASSERT_NE(sqe, nullptr);
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, i);
  }
  EXPECT_GE((*ring)->counters().sq_full_flushes, kRequests / 4 - 1);
  std::map<uint64_t, int> results = Reap(**ring, kRequests);
  ASSERT_EQ(results.size(), kRequests);
  EXPECT_EQ(results.begin()->first, 1u);
  EXPECT_EQ(results.rbegin()->first, kRequests);
}

TEST(RingTest, CompletionsBeyondTheCompletionQueueAreKeptNotDropped) {
  // 8 CQ slots, 200 completions before the first reap.
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 8});
  ASSERT_TRUE(ring.ok()) << ring.status();
  constexpr uint64_t kRequests = 200;
  for (uint64_t i = 1; i <= kRequests; ++i) {
    io_uring_sqe* sqe = (*ring)->GetSqe();
    io_uring_prep_nop(sqe);
    io_uring_sqe_set_data64(sqe, i);
  }
  ASSERT_TRUE((*ring)->Submit().ok());
  std::map<uint64_t, int> results = Reap(**ring, kRequests);
  EXPECT_EQ(results.size(), kRequests);
}

TEST(RingTest, SubmitAndWaitReturnsAtItsTimeoutWhenNothingCompletes) {
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 64});
  ASSERT_TRUE(ring.ok()) << ring.status();
  const absl::Time start = absl::Now();
  EXPECT_TRUE((*ring)->SubmitAndWait(absl::Milliseconds(100)).ok());
  const absl::Duration waited = absl::Now() - start;
  EXPECT_GE(waited, absl::Milliseconds(90));
  EXPECT_LT(waited, absl::Seconds(3));
  EXPECT_EQ((*ring)->ForEachCompletion([](const io_uring_cqe&) {}), 0u);
  // A negative timeout is a poll, not an error.
  EXPECT_TRUE((*ring)->SubmitAndWait(absl::Milliseconds(-5)).ok());
}

TEST(RingTest, ATimeoutRequestCompletesWithEtime) {
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 64});
  ASSERT_TRUE(ring.ok()) << ring.status();
  __kernel_timespec ts{.tv_sec = 0, .tv_nsec = 20'000'000};
  io_uring_sqe* sqe = (*ring)->GetSqe();
  io_uring_prep_timeout(sqe, &ts, 0, 0);
  io_uring_sqe_set_data64(sqe, 7);
  const absl::Time start = absl::Now();
  std::map<uint64_t, int> results = Reap(**ring, 1);
  EXPECT_EQ(results[7], -ETIME);
  EXPECT_GE(absl::Now() - start, absl::Milliseconds(15));
}

TEST(RingTest, SocketsInTheRegisteredTableAreUsedByIndex) {
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 64, .registered_files = 16});
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ((*ring)->registered_files(), 16u);
  SocketPair pair;
  int fd = pair.ours();
  ASSERT_EQ(io_uring_register_files_update((*ring)->raw(), 5, &fd, 1), 1);

  const std::string message = "through slot 5";
  io_uring_sqe* sqe = (*ring)->GetSqe();
  io_uring_prep_send(sqe, 5, message.data(), message.size(), MSG_NOSIGNAL);
  io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
  io_uring_sqe_set_data64(sqe, 1);
  char received[64] = {};
  sqe = (*ring)->GetSqe();
  io_uring_prep_recv(sqe, 5, received, sizeof(received), 0);
  io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
  io_uring_sqe_set_data64(sqe, 2);
  ASSERT_TRUE((*ring)->Submit().ok());

  char at_peer[64] = {};
  ASSERT_EQ(::recv(pair.peer(), at_peer, sizeof(at_peer), 0), static_cast<ssize_t>(message.size()));
  EXPECT_EQ(std::string(at_peer, message.size()), message);
  ASSERT_EQ(::send(pair.peer(), "back", 4, MSG_NOSIGNAL), 4);
  std::map<uint64_t, int> results = Reap(**ring, 2);
  EXPECT_EQ(results[1], static_cast<int>(message.size()));
  EXPECT_EQ(results[2], 4);
  EXPECT_EQ(std::string(received, 4), "back");
}

TEST(RingTest, WithoutARegisteredTableIndexesAreRefused) {
  auto ring = Ring::Create({.sq_entries = 8, .cq_entries = 64});
  ASSERT_TRUE(ring.ok()) << ring.status();
  EXPECT_EQ((*ring)->registered_files(), 0u);
  io_uring_sqe* sqe = (*ring)->GetSqe();
  io_uring_prep_send(sqe, 0, "x", 1, MSG_NOSIGNAL);
  io_uring_sqe_set_flags(sqe, IOSQE_FIXED_FILE);
  io_uring_sqe_set_data64(sqe, 1);
  std::map<uint64_t, int> results = Reap(**ring, 1);
  EXPECT_EQ(results[1], -EBADF);
}

TEST(RingTest, TheRingBelongsToTheThreadThatCreatedIt) {
  // SINGLE_ISSUER: a shard's ring is created on the shard's thread. Created
  // elsewhere, its submissions from the shard are refused.
  std::unique_ptr<Ring> ring;
  std::thread creator([&] {
    auto created = Ring::Create({.sq_entries = 8, .cq_entries = 64});
    ASSERT_TRUE(created.ok()) << created.status();
    ring = *std::move(created);
  });
  creator.join();
  ASSERT_NE(ring, nullptr);
  io_uring_prep_nop(ring->GetSqe());
  absl::Status submitted = ring->Submit();
  EXPECT_FALSE(submitted.ok());
  EXPECT_NE(submitted.message().find(std::strerror(EEXIST)), absl::string_view::npos) << submitted;
}

}  // namespace
}  // namespace ingest
