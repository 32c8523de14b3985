// A ring of equal-sized receive buffers the kernel picks from for multishot
// recv (IOSQE_BUFFER_SELECT). One per shard: its size is set by the data in
// flight, not by the number of connections, so an idle connection holds no
// receive buffer at all.
//
//   ASSIGN_OR_RETURN(auto buffers, ProvidedBufferRing::Create(ring, /*group=*/0, 1024, 16384));
//   ... a recv completion: if (std::optional<uint16_t> id = SelectedBuffer(cqe)) {
//     buffers->MarkTaken();
//     absl::Span<const uint8_t> data = buffers->View(*id, cqe.res);
//     buffers->Recycle(*id);   // once every byte has been consumed
//   }
//
// liburing 2.3 has no io_uring_setup_buf_ring, so this maps and registers the
// ring itself.
#ifndef SERVER_URING_PROVIDED_BUFFER_RING_H_
#define SERVER_URING_PROVIDED_BUFFER_RING_H_

#include <liburing.h>

#include <cstdint>
#include <memory>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ingest {

class ProvidedBufferRing {
 public:
  // `count` must be a power of two <= 32768.
  static absl::StatusOr<std::unique_ptr<ProvidedBufferRing>> Create(io_uring* ring,
                                                                    uint16_t group,
                                                                    uint32_t count,
                                                                    uint32_t buffer_bytes);
  ~ProvidedBufferRing();

  uint16_t group() const { return group_; }
  uint32_t buffer_bytes() const { return buffer_bytes_; }
  uint32_t count() const { return count_; }
  // Buffers currently handed out to received data and not yet recycled.
  uint32_t in_use() const { return in_use_; }

  // The first `length` bytes of buffer `id`, as the kernel filled them.
  absl::Span<uint8_t> View(uint16_t id, uint32_t length) {
    return {base_ + static_cast<size_t>(id) * buffer_bytes_, length};
  }
  // Called for each buffer the kernel picked (one per recv completion).
  void MarkTaken() { ++in_use_; }
  // Gives buffer `id` back to the kernel.
  void Recycle(uint16_t id);
  // Buffers given back since creation: a change since the last look means
  // connections starved of buffers may be re-armed.
  uint64_t recycled() const { return recycled_; }

 private:
  ProvidedBufferRing() = default;

  io_uring* ring_ = nullptr;
  io_uring_buf_ring* br_ = nullptr;
  size_t ring_bytes_ = 0;
  uint8_t* base_ = nullptr;
  size_t base_bytes_ = 0;
  uint16_t group_ = 0;
  uint32_t count_ = 0;
  uint32_t buffer_bytes_ = 0;
  uint32_t in_use_ = 0;
  uint64_t recycled_ = 0;
};

}  // namespace ingest

#endif  // SERVER_URING_PROVIDED_BUFFER_RING_H_
