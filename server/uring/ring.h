// One io_uring instance owned by one shard thread, set up the way a
// thread-per-core server wants it: SINGLE_ISSUER + DEFER_TASKRUN (completions
// are only produced when this thread waits, so there are no surprise task-work
// interruptions), a CQ much larger than the SQ (many multishot completions per
// submission), and a sparse registered-file table so sockets live as direct
// descriptors that do not count against the process's open-file limit.
//
//   ASSIGN_OR_RETURN(auto ring, Ring::Create({.registered_files = 20000}));
//   io_uring_sqe* sqe = ring->GetSqe();            // never null
//   io_uring_prep_nop(sqe);
//   ring->SubmitAndWait(absl::Milliseconds(5));
//   ring->ForEachCompletion([](const io_uring_cqe& cqe) { ... });
//
// Must be created on the thread that will use it (SINGLE_ISSUER).
#ifndef SERVER_URING_RING_H_
#define SERVER_URING_RING_H_

#include <liburing.h>

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ingest {

struct RingOptions {
  unsigned sq_entries = 4096;
  unsigned cq_entries = 65536;
  // Size of the sparse direct-descriptor table. The kernel caps it at the
  // process's RLIMIT_NOFILE, so one ring holds at most that many sockets.
  unsigned registered_files = 0;
};

// Rare events worth a counter, never a log line per event.
struct RingCounters {
  uint64_t sq_full_flushes = 0;   // GetSqe had to submit to make room
  uint64_t submit_busy = 0;       // submit returned -EBUSY (CQ pressure): reaped first
  uint64_t cq_overflows = 0;      // completions the kernel had to hold back
};

class Ring {
 public:
  // Sets up the ring and registers the sparse file table. Fails with a message
  // naming the missing kernel feature.
  static absl::StatusOr<std::unique_ptr<Ring>> Create(const RingOptions& options);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // A zeroed SQE. When the submission queue is full it submits what is queued
  // and retries, so it never returns null.
  io_uring_sqe* GetSqe();

  // Submits queued SQEs and waits until at least one completion is ready or
  // `timeout` passes. Treats -EBUSY (completion queue pressure) as a signal to
  // return so the caller reaps, and counts it. Returns the submit result or an
  // error other than -ETIME/-EINTR/-EBUSY.
  absl::Status SubmitAndWait(absl::Duration timeout);

  // Submits queued SQEs without waiting.
  absl::Status Submit();

  // Calls fn(const io_uring_cqe&) for every ready completion, then marks them
  // all seen. Returns how many were handled.
  template <typename Fn>
  unsigned ForEachCompletion(Fn&& fn) {
    unsigned head;
    unsigned count = 0;
    io_uring_cqe* cqe;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      fn(*cqe);
      ++count;
    }
    io_uring_cq_advance(&ring_, count);
    return count;
  }

  io_uring* raw() { return &ring_; }
  unsigned registered_files() const { return registered_files_; }
  const RingCounters& counters();

 private:
  Ring() = default;

  io_uring ring_{};
  bool initialized_ = false;
  unsigned registered_files_ = 0;
  RingCounters counters_;
};

}  // namespace ingest

#endif  // SERVER_URING_RING_H_
