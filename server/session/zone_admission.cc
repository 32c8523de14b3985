#include "server/session/zone_admission.h"

#include "absl/strings/str_cat.h"

namespace ingest {

ZoneAdmission::ZoneAdmission(std::string my_zone, std::shared_ptr<const zones::ZoneMap> map)
    : my_zone_(std::move(my_zone)), map_(std::move(map)) {}

std::shared_ptr<const zones::ZoneMap> ZoneAdmission::map() const {
  absl::MutexLock lock(&mu_);
  return map_;
}

void ZoneAdmission::Replace(std::shared_ptr<const zones::ZoneMap> map) {
  absl::MutexLock lock(&mu_);
  map_ = std::move(map);
}

AdmissionDecision ZoneAdmission::Decide(std::string_view camera_id) const {
  // The map is held for the call only; a reload meanwhile is seen next time.
  const std::shared_ptr<const zones::ZoneMap> map = this->map();
  AdmissionDecision decision;
  if (map == nullptr) return decision;
  zones::Placement placement = map->Place(camera_id);
  if (placement.zone == nullptr) {
    decision.kind = AdmissionDecision::Kind::kReject;
    decision.reason =
        placement.reason.empty() ? std::string("no zone map rule places this camera") : std::move(placement.reason);
    return decision;
  }
  if (placement.zone->id == my_zone_) return decision;
  decision.kind = AdmissionDecision::Kind::kRedirect;
  decision.zone_id = placement.zone->id;
  decision.endpoint = placement.zone->endpoint;
  decision.reason = std::move(placement.reason);
  return decision;
}

bool ZoneAdmission::BelongsHere(std::string_view camera_id) const {
  return Decide(camera_id).kind == AdmissionDecision::Kind::kAdmit;
}

}  // namespace ingest
