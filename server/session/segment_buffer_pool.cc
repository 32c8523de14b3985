#include "server/session/segment_buffer_pool.h"

#include <bit>
#include <cstdlib>

namespace ingest {

SegmentBufferPool::~SegmentBufferPool() {
  for (auto& list : free_) {
    for (uint8_t* p : list) std::free(p);
  }
}

SegmentBuffer SegmentBufferPool::Allocate(size_t bytes) {
  size_t rounded = std::bit_ceil(std::max<size_t>(bytes, size_t{1} << kMinClassShift));
  int size_class = std::countr_zero(rounded) - kMinClassShift;
  if (size_class >= kClassCount) {
    ++denials_;
    return {};
  }
  auto& list = free_[size_class];
  if (!list.empty()) {
    uint8_t* p = list.back();
    list.pop_back();
    bytes_in_use_ += rounded;
    return {p, rounded, static_cast<uint8_t>(size_class)};
  }
  if (bytes_reserved_ + rounded > budget_bytes_ && !MakeRoom(rounded)) {
    ++denials_;
    return {};
  }
  // 4 KiB alignment keeps buffers page-aligned for the spool writes.
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(4096, rounded));
  if (p == nullptr) {
    ++denials_;
    return {};
  }
  bytes_reserved_ += rounded;
  bytes_in_use_ += rounded;
  return {p, rounded, static_cast<uint8_t>(size_class)};
}

void SegmentBufferPool::Release(const SegmentBuffer& buffer) {
  if (buffer.data == nullptr) return;
  bytes_in_use_ -= buffer.capacity;
  free_[buffer.size_class].push_back(buffer.data);
}

bool SegmentBufferPool::MakeRoom(uint64_t needed) {
  for (int c = kClassCount - 1; c >= 0 && bytes_reserved_ + needed > budget_bytes_; --c) {
    auto& list = free_[c];
    while (!list.empty() && bytes_reserved_ + needed > budget_bytes_) {
      std::free(list.back());
      list.pop_back();
      bytes_reserved_ -= size_t{1} << (c + kMinClassShift);
    }
  }
  return bytes_reserved_ + needed <= budget_bytes_;
}

}  // namespace ingest
