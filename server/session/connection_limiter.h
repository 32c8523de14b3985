// Process-wide admission limits on connections: a total (--max-connections)
// and a per-source-address cap (--max-connections-per-source), so one NAT or
// one misbehaving host cannot take a server's whole capacity.
//
//   ConnectionLimiter limiter(50000, 1000);
//   switch (limiter.TryAdmit(source)) { case Admission::kAdmitted: ... }
//   limiter.Release(source);   // exactly once per admitted connection
//
// Thread-safe; called once per accept and once per close, never per byte.
#ifndef SERVER_SESSION_CONNECTION_LIMITER_H_
#define SERVER_SESSION_CONNECTION_LIMITER_H_

#include <atomic>
#include <cstdint>
#include <string>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"

namespace ingest {

// kOverShard is the shard's own verdict (its ring is full), never the limiter's.
enum class Admission { kAdmitted, kOverTotal, kOverPerSource, kOverShard };

class ConnectionLimiter {
 public:
  ConnectionLimiter(uint32_t max_total, uint32_t max_per_source)
      : max_total_(max_total), max_per_source_(max_per_source) {}

  // `source` is the peer address without port (empty: unknown, only the total applies).
  Admission TryAdmit(const std::string& source);
  void Release(const std::string& source);
  uint32_t total() const { return total_.load(std::memory_order_relaxed); }

 private:
  const uint32_t max_total_;
  const uint32_t max_per_source_;
  std::atomic<uint32_t> total_{0};
  absl::Mutex mu_;
  absl::flat_hash_map<std::string, uint32_t> per_source_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ingest

#endif  // SERVER_SESSION_CONNECTION_LIMITER_H_
