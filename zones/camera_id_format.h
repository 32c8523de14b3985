// Synthetic camera ids for what-if questions ("how many of a million cameras
// move?"): a printf-like pattern with exactly one decimal conversion, parsed
// here rather than handed to printf so a pattern from the command line can
// never read arguments that are not there.
//
//   ASSIGN_OR_RETURN(CameraIdFormat format, CameraIdFormat::Parse("cam-%07d"));
//   format.Format(42);  // "cam-0000042"
#ifndef ZONES_CAMERA_ID_FORMAT_H_
#define ZONES_CAMERA_ID_FORMAT_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ingest::zones {

class CameraIdFormat {
 public:
  // Text, then %d, %Nd or %0Nd (N = 1..20), then text; "%%" is a literal
  // '%'. InvalidArgument for anything else.
  static absl::StatusOr<CameraIdFormat> Parse(std::string_view pattern);

  std::string Format(uint64_t number) const;
  // Appends to `out` (cleared first), so a loop reuses one buffer.
  void FormatTo(uint64_t number, std::string& out) const;

 private:
  std::string before_;
  std::string after_;
  int width_ = 0;
  bool zero_pad_ = false;
};

}  // namespace ingest::zones

#endif  // ZONES_CAMERA_ID_FORMAT_H_
