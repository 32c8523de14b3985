#include "server/uring/ring.h"

#include <cerrno>
#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ingest {

absl::StatusOr<std::unique_ptr<Ring>> Ring::Create(const RingOptions& options) {
  std::unique_ptr<Ring> ring(new Ring());
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN |
                 IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  params.cq_entries = options.cq_entries;
  int rc = io_uring_queue_init_params(options.sq_entries, &ring->ring_, &params);
  if (rc < 0) {
    return absl::UnavailableError(absl::StrCat(
        "io_uring_queue_init (SINGLE_ISSUER|DEFER_TASKRUN, kernel 6.1+ needed): ",
        std::strerror(-rc)));
  }
  ring->initialized_ = true;
  if (!(params.features & IORING_FEAT_NODROP)) {
    return absl::UnavailableError("io_uring lacks IORING_FEAT_NODROP (kernel 5.5+ needed)");
  }
  // Say exactly which operation the kernel lacks rather than failing later on
  // the first connection.
  struct Needed {
    int opcode;
    const char* name;
  };
  static constexpr Needed kNeeded[] = {
      {IORING_OP_ACCEPT, "ACCEPT"},       {IORING_OP_RECV, "RECV"},
      {IORING_OP_SEND, "SEND"},           {IORING_OP_WRITEV, "WRITEV"},
      {IORING_OP_FSYNC, "FSYNC"},         {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
      {IORING_OP_CLOSE, "CLOSE"},         {IORING_OP_CONNECT, "CONNECT"},
      {IORING_OP_URING_CMD, "URING_CMD"},
  };
  io_uring_probe* probe = io_uring_get_probe_ring(&ring->ring_);
  if (probe == nullptr) return absl::UnavailableError("io_uring probe failed (kernel 5.6+ needed)");
  for (const Needed& op : kNeeded) {
    if (!io_uring_opcode_supported(probe, op.opcode)) {
      io_uring_free_probe(probe);
      return absl::UnavailableError(
          absl::StrCat("the kernel's io_uring lacks IORING_OP_", op.name));
    }
  }
  io_uring_free_probe(probe);
  if (options.registered_files > 0) {
    rc = io_uring_register_files_sparse(&ring->ring_, options.registered_files);
    if (rc < 0) {
      return absl::UnavailableError(absl::StrCat("io_uring_register_files_sparse(",
                                                 options.registered_files,
                                                 "): ", std::strerror(-rc)));
    }
    ring->registered_files_ = options.registered_files;
  }
  return ring;
}

Ring::~Ring() {
  if (initialized_) io_uring_queue_exit(&ring_);
}

io_uring_sqe* Ring::GetSqe() {
  io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
  while (sqe == nullptr) {
    // The SQ is full: hand what is queued to the kernel and try again.
    ++counters_.sq_full_flushes;
    int rc = io_uring_submit(&ring_);
    if (rc == -EBUSY) {
      ++counters_.submit_busy;
      // Completions must be reaped before the kernel takes more work; under
      // DEFER_TASKRUN that needs a GETEVENTS enter.
      io_uring_get_events(&ring_);
    }
    sqe = io_uring_get_sqe(&ring_);
  }
  // liburing's prep helpers set every field, but a request built by hand (the
  // socket uring_cmd) would otherwise inherit the slot's previous fields, e.g.
  // a send's MSG_NOSIGNAL read as uring_cmd flags (-EINVAL).
  std::memset(sqe, 0, sizeof(*sqe));
  return sqe;
}

absl::Status Ring::SubmitAndWait(absl::Duration timeout) {
  __kernel_timespec ts{};
  int64_t ns = absl::ToInt64Nanoseconds(timeout);
  if (ns < 0) ns = 0;
  ts.tv_sec = ns / 1000000000;
  ts.tv_nsec = ns % 1000000000;
  io_uring_cqe* cqe = nullptr;
  int rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
  if (rc >= 0 || rc == -ETIME || rc == -EINTR) return absl::OkStatus();
  if (rc == -EBUSY) {
    ++counters_.submit_busy;
    return absl::OkStatus();
  }
  return absl::InternalError(absl::StrCat("io_uring_submit_and_wait_timeout: ", std::strerror(-rc)));
}

absl::Status Ring::Submit() {
  int rc = io_uring_submit(&ring_);
  if (rc >= 0) return absl::OkStatus();
  if (rc == -EBUSY) {
    ++counters_.submit_busy;
    return absl::OkStatus();
  }
  return absl::InternalError(absl::StrCat("io_uring_submit: ", std::strerror(-rc)));
}

const RingCounters& Ring::counters() {
  // The kernel counts completions it could not post in the CQ ring's overflow
  // word; NODROP keeps them and hands them over once we reap.
  counters_.cq_overflows = *ring_.cq.koverflow;
  return counters_;
}

}  // namespace ingest
