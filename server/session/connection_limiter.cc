#include "server/session/connection_limiter.h"

namespace ingest {

Admission ConnectionLimiter::TryAdmit(const std::string& source) {
  uint32_t now = total_.fetch_add(1, std::memory_order_acq_rel) + 1;
  if (now > max_total_) {
    total_.fetch_sub(1, std::memory_order_acq_rel);
    return Admission::kOverTotal;
  }
  if (source.empty()) return Admission::kAdmitted;
  absl::MutexLock lock(&mu_);
  uint32_t& count = per_source_[source];
  if (count >= max_per_source_) {
    if (count == 0) per_source_.erase(source);
    total_.fetch_sub(1, std::memory_order_acq_rel);
    return Admission::kOverPerSource;
  }
  ++count;
  return Admission::kAdmitted;
}

void ConnectionLimiter::Release(const std::string& source) {
  total_.fetch_sub(1, std::memory_order_acq_rel);
  if (source.empty()) return;
  absl::MutexLock lock(&mu_);
  auto it = per_source_.find(source);
  if (it == per_source_.end()) return;
  if (--it->second == 0) per_source_.erase(it);
}

}  // namespace ingest
