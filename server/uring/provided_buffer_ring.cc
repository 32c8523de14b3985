#include "server/uring/provided_buffer_ring.h"

#include <sys/mman.h>

#include <cstring>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ingest {

absl::StatusOr<std::unique_ptr<ProvidedBufferRing>> ProvidedBufferRing::Create(
    io_uring* ring, uint16_t group, uint32_t count, uint32_t buffer_bytes) {
  if (count == 0 || count > 32768 || (count & (count - 1)) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("provided buffer count must be a power of two <= 32768, got ", count));
  }
  std::unique_ptr<ProvidedBufferRing> self(new ProvidedBufferRing());
  self->ring_ = ring;
  self->group_ = group;
  self->count_ = count;
  self->buffer_bytes_ = buffer_bytes;
  self->ring_bytes_ = sizeof(io_uring_buf) * count;
  void* mapped = mmap(nullptr, self->ring_bytes_, PROT_READ | PROT_WRITE,
                      MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mapped == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrCat("mmap buffer ring: ", std::strerror(errno)));
  }
  self->br_ = static_cast<io_uring_buf_ring*>(mapped);
  io_uring_buf_reg reg{};
  reg.ring_addr = reinterpret_cast<uint64_t>(self->br_);
  reg.ring_entries = count;
  reg.bgid = group;
  int rc = io_uring_register_buf_ring(ring, &reg, 0);
  if (rc < 0) {
    munmap(self->br_, self->ring_bytes_);
    self->br_ = nullptr;
    return absl::UnavailableError(
        absl::StrCat("io_uring_register_buf_ring (kernel 5.19+): ", std::strerror(-rc)));
  }
  self->base_bytes_ = static_cast<size_t>(count) * buffer_bytes;
  mapped = mmap(nullptr, self->base_bytes_, PROT_READ | PROT_WRITE,
                MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
  if (mapped == MAP_FAILED) {
    return absl::ResourceExhaustedError(absl::StrCat("mmap receive buffers: ", std::strerror(errno)));
  }
  self->base_ = static_cast<uint8_t*>(mapped);
  io_uring_buf_ring_init(self->br_);
  int mask = io_uring_buf_ring_mask(count);
  for (uint32_t i = 0; i < count; ++i) {
    io_uring_buf_ring_add(self->br_, self->base_ + static_cast<size_t>(i) * buffer_bytes,
                          buffer_bytes, static_cast<uint16_t>(i), mask, static_cast<int>(i));
  }
  io_uring_buf_ring_advance(self->br_, static_cast<int>(count));
  return self;
}

ProvidedBufferRing::~ProvidedBufferRing() {
  if (br_ != nullptr) {
    io_uring_unregister_buf_ring(ring_, group_);
    munmap(br_, ring_bytes_);
  }
  if (base_ != nullptr) munmap(base_, base_bytes_);
}

void ProvidedBufferRing::Recycle(uint16_t id) {
  io_uring_buf_ring_add(br_, base_ + static_cast<size_t>(id) * buffer_bytes_, buffer_bytes_, id,
                        io_uring_buf_ring_mask(count_), 0);
  io_uring_buf_ring_advance(br_, 1);
  --in_use_;
  ++recycled_;
}

}  // namespace ingest
