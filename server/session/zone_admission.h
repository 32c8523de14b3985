// Which cameras this server takes: with a zone map, a camera of this zone is
// admitted, a camera of another zone is sent there (REDIRECT with that zone's
// endpoint), and a camera no rule places is refused (REJECT unknown camera).
// Without a map every camera is admitted. Thread-safe: shards ask on every
// HELLO while a reload may swap the map.
//
//   ZoneAdmission admission("euw1-a", std::move(map));
//   AdmissionDecision d = admission.Decide("cam-000042");
//   admission.Replace(std::move(reloaded));   // SIGHUP
#ifndef SERVER_SESSION_ZONE_ADMISSION_H_
#define SERVER_SESSION_ZONE_ADMISSION_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "zones/zone_map.h"

namespace ingest {

struct AdmissionDecision {
  enum class Kind { kAdmit, kRedirect, kReject };
  Kind kind = Kind::kAdmit;
  std::string zone_id;   // kRedirect: where the camera belongs
  std::string endpoint;  // kRedirect: that zone's camera endpoint
  std::string reason;    // kRedirect / kReject: the placement rule, in words
};

class ZoneAdmission {
 public:
  // `map` may be null: every camera is admitted.
  ZoneAdmission(std::string my_zone, std::shared_ptr<const zones::ZoneMap> map);

  AdmissionDecision Decide(std::string_view camera_id) const;
  // True if `camera_id` belongs to this zone under the current map (or there
  // is no map).
  bool BelongsHere(std::string_view camera_id) const;

  void Replace(std::shared_ptr<const zones::ZoneMap> map);
  std::shared_ptr<const zones::ZoneMap> map() const;
  const std::string& my_zone() const { return my_zone_; }

 private:
  const std::string my_zone_;
  mutable absl::Mutex mu_;
  std::shared_ptr<const zones::ZoneMap> map_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ingest

#endif  // SERVER_SESSION_ZONE_ADMISSION_H_
