// A one-shot event that threads can block on and that poll() can wait on
// beside other descriptors (signals through a signalfd, say): an eventfd
// that becomes readable at Notify() and stays so.
//
//   PollableNotification ended;
//   ... on any thread: ended.Notify();   // again: no effect
//   ended.WaitForNotification();         // or poll() ended.fd() for POLLIN
#ifndef SERVER_INGESTD_POLLABLE_NOTIFICATION_H_
#define SERVER_INGESTD_POLLABLE_NOTIFICATION_H_

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace ingest {

class PollableNotification {
 public:
  PollableNotification();
  ~PollableNotification();
  PollableNotification(const PollableNotification&) = delete;
  PollableNotification& operator=(const PollableNotification&) = delete;

  // Thread-safe; only the first call has an effect.
  void Notify();
  bool HasBeenNotified() const;
  void WaitForNotification() const;
  // Readable once notified. -1 if the kernel gave no eventfd (out of
  // descriptors): poll() then ignores it, so pollers should also check
  // HasBeenNotified() now and then.
  int fd() const { return fd_; }

 private:
  const int fd_;
  mutable absl::Mutex mu_;
  bool notified_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace ingest

#endif  // SERVER_INGESTD_POLLABLE_NOTIFICATION_H_
