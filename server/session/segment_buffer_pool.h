// Memory for segments between the wire and the spool: a per-shard pool of
// buffers in power-of-two size classes with a hard byte budget.
//
// A segment's payload is decrypted straight into one of these buffers (after
// room for its spool record header), written to the spool from it, and the
// buffer returns to the pool once the write is durable. After warm-up the hot
// path allocates nothing; when the budget is spent, Allocate returns null and
// the caller stops reading from that connection until buffers come back.
//
//   SegmentBufferPool pool(256 << 20);
//   SegmentBuffer buf = pool.Allocate(record_bytes);  // buf.data == nullptr -> back off
//   ...
//   pool.Release(buf);
//
// Not thread-safe: one pool per shard thread.
#ifndef SERVER_SESSION_SEGMENT_BUFFER_POOL_H_
#define SERVER_SESSION_SEGMENT_BUFFER_POOL_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace ingest {

struct SegmentBuffer {
  uint8_t* data = nullptr;
  size_t capacity = 0;
  uint8_t size_class = 0;
};

// Buffer sizes: multiples of 4 KiB up to 16 KiB, then four steps per power of
// two (so a buffer wastes at most a quarter of its size), up to 32 MiB.
inline constexpr int kSegmentBufferClassCount = 4 + 4 * 11;

class SegmentBufferPool {
 public:
  static constexpr int kClassCount = kSegmentBufferClassCount;
  // The capacity of size class `c`.
  static size_t ClassBytes(int c);

  explicit SegmentBufferPool(uint64_t budget_bytes) : budget_bytes_(budget_bytes) {}
  ~SegmentBufferPool();
  SegmentBufferPool(const SegmentBufferPool&) = delete;
  SegmentBufferPool& operator=(const SegmentBufferPool&) = delete;

  // A buffer of at least `bytes`, or one with data == nullptr when the budget
  // would be exceeded (or bytes is larger than the largest class).
  SegmentBuffer Allocate(size_t bytes);
  void Release(const SegmentBuffer& buffer);

  uint64_t bytes_in_use() const { return bytes_in_use_; }
  uint64_t bytes_reserved() const { return bytes_reserved_; }  // in use + cached free
  uint64_t budget_bytes() const { return budget_bytes_; }
  uint64_t denials() const { return denials_; }

 private:
  // Frees cached buffers (largest classes first) until `needed` more bytes fit.
  bool MakeRoom(uint64_t needed);

  uint64_t budget_bytes_;
  uint64_t bytes_in_use_ = 0;
  uint64_t bytes_reserved_ = 0;
  uint64_t denials_ = 0;
  std::array<std::vector<uint8_t*>, kClassCount> free_;
};

}  // namespace ingest

#endif  // SERVER_SESSION_SEGMENT_BUFFER_POOL_H_
