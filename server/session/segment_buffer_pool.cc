#include "server/session/segment_buffer_pool.h"

#include <algorithm>
#include <array>
#include <cstdlib>

namespace ingest {
namespace {

constexpr std::array<size_t, kSegmentBufferClassCount> MakeClassSizes() {
  std::array<size_t, kSegmentBufferClassCount> sizes{};
  int c = 0;
  for (size_t kib = 4; kib <= 16; kib += 4) sizes[c++] = kib << 10;
  for (int power = 14; power < 25; ++power) {
    size_t base = size_t{1} << power;
    for (size_t step = 1; step <= 4; ++step) sizes[c++] = base + step * (base / 4);
  }
  return sizes;
}

constexpr std::array<size_t, kSegmentBufferClassCount> kClassSizes = MakeClassSizes();
static_assert(kClassSizes.back() == size_t{32} << 20);

}  // namespace

size_t SegmentBufferPool::ClassBytes(int c) { return kClassSizes[c]; }

SegmentBufferPool::~SegmentBufferPool() {
  for (auto& list : free_) {
    for (uint8_t* p : list) std::free(p);
  }
}

SegmentBuffer SegmentBufferPool::Allocate(size_t bytes) {
  auto it = std::lower_bound(kClassSizes.begin(), kClassSizes.end(), bytes);
  if (it == kClassSizes.end()) {
    ++denials_;
    return {};
  }
  int size_class = static_cast<int>(it - kClassSizes.begin());
  size_t rounded = *it;
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
      bytes_reserved_ -= kClassSizes[c];
    }
  }
  return bytes_reserved_ + needed <= budget_bytes_;
}

}  // namespace ingest
