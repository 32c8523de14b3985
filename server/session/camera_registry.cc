#include "server/session/camera_registry.h"

#include "absl/strings/string_view.h"

namespace ingest {

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

CameraState& CameraRegistry::Get(std::string_view camera_id) {
  absl::MutexLock lock(&mu_);
  auto it = cameras_.find(absl::string_view(camera_id.data(), camera_id.size()));
  if (it != cameras_.end()) return *it->second;
  auto state = std::make_unique<CameraState>(std::string(camera_id));
  CameraState& ref = *state;
  cameras_.emplace(std::string(camera_id), std::move(state));
  return ref;
}

size_t CameraRegistry::size() const {
  absl::MutexLock lock(&mu_);
  return cameras_.size();
}

}  // namespace ingest
