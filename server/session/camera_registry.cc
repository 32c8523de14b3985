#include "server/session/camera_registry.h"

#include <algorithm>

#include "absl/strings/string_view.h"
#include "common/std_string_view.h"

namespace ingest {

bool CameraState::AllowSessionLog(absl::Time now, uint64_t& suppressed) {
  const int64_t now_us = absl::ToUnixMicros(now);
  const int64_t interval_us = absl::ToInt64Microseconds(kSessionLogInterval);
  const int64_t burst_us = interval_us * kSessionLogBurst;
  int64_t full_at = log_full_at_us_.load(std::memory_order_relaxed);
  while (true) {
    const int64_t next = std::max(full_at, now_us) + interval_us;
    if (next - now_us > burst_us) {
      log_suppressed_.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (log_full_at_us_.compare_exchange_weak(full_at, next, std::memory_order_relaxed)) break;
  }
  suppressed = log_suppressed_.exchange(0, std::memory_order_relaxed);
  return true;
}

void CameraState::Remember(uint64_t seq, const SegmentFingerprint& fingerprint) {
  absl::MutexLock lock(&remembered_mu_);
  if (remembered_ == nullptr) {
    remembered_ = std::make_unique<std::array<RememberedSegment, kRememberedSegments>>();
  }
  RememberedSegment& slot = (*remembered_)[seq % kRememberedSegments];
  // Recovery may replay older seqs after newer ones: keep the newest.
  if (slot.seq > seq) return;
  slot = {seq, fingerprint};
}

std::optional<SegmentFingerprint> CameraState::Recall(uint64_t seq) const {
  absl::MutexLock lock(&remembered_mu_);
  if (remembered_ == nullptr || seq == 0) return std::nullopt;
  const RememberedSegment& slot = (*remembered_)[seq % kRememberedSegments];
  if (slot.seq != seq) return std::nullopt;
  return slot.fingerprint;
}

void CameraState::set_track_timing(std::vector<TrackTiming> tracks) {
  absl::MutexLock lock(&remembered_mu_);
  track_timing_ = std::move(tracks);
}

std::vector<TrackTiming> CameraState::track_timing() const {
  absl::MutexLock lock(&remembered_mu_);
  return track_timing_;
}

void CameraState::set_untimed_fragment(std::optional<UntimedFragment> fragment) {
  absl::MutexLock lock(&remembered_mu_);
  untimed_fragment_ = fragment;
}

std::optional<CameraState::UntimedFragment> CameraState::untimed_fragment() const {
  absl::MutexLock lock(&remembered_mu_);
  return untimed_fragment_;
}

CameraState& CameraRegistry::Get(std::string_view camera_id) {
  absl::MutexLock lock(&mu_);
  auto it = cameras_.find(ToAbsl(camera_id));
  if (it != cameras_.end()) return *it->second;
  auto state = std::make_unique<CameraState>(std::string(camera_id));
  CameraState& ref = *state;
  cameras_.emplace(std::string(camera_id), std::move(state));
  if (camera_id.find('~') != std::string_view::npos) ++metadata_streams_;
  return ref;
}

size_t CameraRegistry::size() const {
  absl::MutexLock lock(&mu_);
  return cameras_.size() - metadata_streams_;
}

}  // namespace ingest
