#include "server/session/camera_registry.h"

#include "absl/strings/string_view.h"

namespace ingest {

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
