#include "server/batch/batch_buffer_pool.h"

#include <utility>

namespace ingest {

BatchBufferPool::BatchBufferPool(size_t max_kept) : shelf_(std::make_shared<Shelf>(max_kept)) {}

std::shared_ptr<BatchBytes> BatchBufferPool::Take(size_t capacity) {
  std::unique_ptr<BatchBytes> buffer;
  {
    absl::MutexLock lock(&shelf_->mu);
    if (!shelf_->free.empty()) {
      buffer = std::move(shelf_->free.back());
      shelf_->free.pop_back();
    }
  }
  if (buffer == nullptr) buffer = std::make_unique<BatchBytes>();
  // Grows a kept buffer only for a batch larger than any before (a segment
  // over seal_bytes).
  buffer->reserve(capacity);
  // The shelf, not the pool, is captured: a batch still uploading when the
  // sealer stops comes back to it (or is freed with it).
  std::weak_ptr<Shelf> weak_shelf = shelf_;
  return std::shared_ptr<BatchBytes>(buffer.release(), [weak_shelf](BatchBytes* returned) {
    std::unique_ptr<BatchBytes> owned(returned);
    if (std::shared_ptr<Shelf> shelf = weak_shelf.lock()) {
      absl::MutexLock lock(&shelf->mu);
      if (shelf->free.size() < shelf->max_kept) shelf->free.push_back(std::move(owned));
    }
  });
}

size_t BatchBufferPool::kept() const {
  absl::MutexLock lock(&shelf_->mu);
  return shelf_->free.size();
}

}  // namespace ingest
