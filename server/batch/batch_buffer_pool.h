// Batch object buffers kept for the next batch instead of freed.
//
// A batch object is a seal_bytes (16 MiB) vector. Allocated fresh each time,
// with large buffers in their own mappings (ingestd_main's mallopt, which
// keeps the memory bound), every batch cost 4,096 page faults with the
// kernel zeroing each page, then the vector zero-filling it again before the
// spool's payloads overwrite it. A buffer handed back here keeps its pages
// and its size: the next batch overwrites it with no fault and no fill.
//
//   BatchBufferPool pool(/*max_kept=*/9);
//   std::shared_ptr<BatchBytes> object = pool.Take(capacity);
//   object->resize(n);   // old bytes stay below its old size: overwrite them all
//   ... hand `object` to the upload pool; the last owner's release returns it
//
// At most `max_kept` free buffers are kept (the sealer's batches in flight
// plus one bound what is out at once), so the pool adds nothing to the
// memory bound. Thread-safe: buffers come back from upload threads.
#ifndef SERVER_BATCH_BATCH_BUFFER_POOL_H_
#define SERVER_BATCH_BATCH_BUFFER_POOL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "server/batch/batch_bytes.h"

namespace ingest {

class BatchBufferPool {
 public:
  explicit BatchBufferPool(size_t max_kept);
  BatchBufferPool(const BatchBufferPool&) = delete;
  BatchBufferPool& operator=(const BatchBufferPool&) = delete;

  // A buffer with capacity() >= `capacity` and unspecified contents; it
  // returns to the pool when the last shared_ptr to it goes (even after the
  // pool itself is gone: it is then freed).
  std::shared_ptr<BatchBytes> Take(size_t capacity);

  // Free buffers kept now.
  size_t kept() const;

 private:
  struct Shelf {
    explicit Shelf(size_t max) : max_kept(max) {}
    mutable absl::Mutex mu;
    const size_t max_kept;
    std::vector<std::unique_ptr<BatchBytes>> free ABSL_GUARDED_BY(mu);
  };
  std::shared_ptr<Shelf> shelf_;
};

}  // namespace ingest

#endif  // SERVER_BATCH_BATCH_BUFFER_POOL_H_
