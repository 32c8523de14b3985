// The cameras a shard stopped reading because it had no memory (or spool
// room) for their next segment, in the order they paused.
//
// Memory goes to them first. While one waits, no other camera may start a
// segment: a camera still receiving would otherwise take every buffer that
// came back before the paused ones were retried, and the paused ones could
// wait on indefinitely (that was the ACK latency tail under overload). A
// retry serves them in order. One that gets no memory keeps its place at the
// front and the rest wait behind it; one that got memory and then paused for
// its next segment goes to the back.
//
//   if (!paused.MayStartSegment()) -> refuse the allocation (the camera pauses)
//   paused.Pause(id);                                        // could not allocate
//   paused.Retry([&](uint32_t id) { return ResumeReading(id); });  // each turn;
//                                        // true if it got memory for a segment
//
// Not thread-safe: one per shard thread. Retry allocates nothing once its
// vectors have grown to the number of cameras paused at once.
#ifndef SERVER_SHARD_PAUSE_QUEUE_H_
#define SERVER_SHARD_PAUSE_QUEUE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace ingest {

class PauseQueue {
 public:
  bool empty() const { return queue_.empty(); }
  size_t size() const { return queue_.size(); }

  // Whether a camera may take memory for a new segment now: only when none
  // is waiting, or (inside Retry) when every one before it got some.
  bool MayStartSegment() const { return queue_.empty(); }

  void Pause(uint32_t id) { queue_.push_back(id); }

  // Calls resume(id) for the paused ids in order; resume returns whether the
  // camera got memory for a segment, and may call Pause (it needs memory
  // again, or still). See the file comment for where each then goes.
  template <typename Resume>
  void Retry(Resume&& resume) {
    retrying_.clear();
    retrying_.swap(queue_);
    served_.clear();
    size_t next = 0;
    while (next < retrying_.size()) {
      const uint32_t id = retrying_[next++];
      const bool got_memory = resume(id);
      if (queue_.empty()) continue;  // reading again
      if (!got_memory) break;        // the memory is gone: it stays first
      served_.push_back(queue_.back());
      queue_.pop_back();
    }
    queue_.insert(queue_.end(), retrying_.begin() + static_cast<std::ptrdiff_t>(next), retrying_.end());
    queue_.insert(queue_.end(), served_.begin(), served_.end());
  }

 private:
  std::vector<uint32_t> queue_;
  std::vector<uint32_t> retrying_;
  std::vector<uint32_t> served_;  // got memory in this Retry, then paused for more
};

}  // namespace ingest

#endif  // SERVER_SHARD_PAUSE_QUEUE_H_
