// Revocations the shards act on (a refused handshake, a session closed after
// a reload), handed to a thread that may block so the audit log can be
// written (it syncs every line) without stalling a shard's loop.
//
//   shard thread:   events.Add({.camera = id, .reason = why, ...});   // short lock, no I/O
//   watcher thread: for (RevocationEvent& e : events.Take(&dropped)) audit.Write(...);
#ifndef SERVER_SHARD_REVOCATION_EVENTS_H_
#define SERVER_SHARD_REVOCATION_EVENTS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace ingest {

struct RevocationEvent {
  bool session_closed = false;  // false: a handshake refused
  int shard = 0;
  std::string camera;  // empty if the certificate named no valid camera
  std::string serial;  // certificate serial, hex
  std::string peer;    // remote address
  std::string reason;
};

class RevocationEvents {
 public:
  // Queued events beyond this are counted, not kept: a revoked fleet
  // reconnecting in a loop must not grow memory.
  static constexpr size_t kMaxQueued = 10000;

  void Add(RevocationEvent event) {
    absl::MutexLock lock(&mu_);
    if (events_.size() >= kMaxQueued) {
      ++dropped_;
      return;
    }
    events_.push_back(std::move(event));
  }

  // Everything queued since the last call; `dropped` gets how many did not fit.
  std::vector<RevocationEvent> Take(uint64_t* dropped) {
    absl::MutexLock lock(&mu_);
    *dropped = std::exchange(dropped_, 0);
    return std::exchange(events_, {});
  }

 private:
  absl::Mutex mu_;
  std::vector<RevocationEvent> events_ ABSL_GUARDED_BY(mu_);
  uint64_t dropped_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ingest

#endif  // SERVER_SHARD_REVOCATION_EVENTS_H_
