#include "server/ingestd/pollable_notification.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>

namespace ingest {

PollableNotification::PollableNotification() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

PollableNotification::~PollableNotification() {
  if (fd_ >= 0) ::close(fd_);
}

void PollableNotification::Notify() {
  absl::MutexLock lock(&mu_);
  if (notified_) return;
  notified_ = true;
  if (fd_ >= 0) {
    // Never read back: the descriptor stays readable.
    const uint64_t one = 1;
    (void)!::write(fd_, &one, sizeof(one));
  }
}

bool PollableNotification::HasBeenNotified() const {
  absl::MutexLock lock(&mu_);
  return notified_;
}

void PollableNotification::WaitForNotification() const {
  absl::MutexLock lock(&mu_);
  mu_.Await(absl::Condition(&notified_));
}

}  // namespace ingest
