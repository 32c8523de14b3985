// The bitrates a fleet of cameras records at, as shares of the fleet:
// "1000:0.7,2000:0.25,4000:0.05" is 70 % of cameras at 1 Mbit/s, 25 % at
// 2 Mbit/s and 5 % at 4 Mbit/s. Capacity is planned on the mean bitrate.
//
//   ASSIGN_OR_RETURN(BitrateMix mix, ParseBitrateMix("1000:0.7,2000:0.3"));
//   double bytes_per_s = mix.MeanBytesPerSecond();  // 162,500
#ifndef ZONES_PLAN_BITRATE_MIX_H_
#define ZONES_PLAN_BITRATE_MIX_H_

#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ingest::zones {

struct BitrateShare {
  double kbps = 0;   // kbit/s (1,000 bit/s), as cameras are configured
  double share = 0;  // of all cameras, (0, 1]
};

struct BitrateMix {
  std::vector<BitrateShare> entries;

  double MeanKbps() const;
  double MeanBytesPerSecond() const { return MeanKbps() * 1000 / 8; }
  // "1000:0.7,2000:0.25,4000:0.05", the form ParseBitrateMix reads.
  std::string ToString() const;
};

// InvalidArgument naming the entry for: an empty mix, an entry that is not
// "<kbps>:<share>", a bitrate outside (0, 1,000,000] kbit/s, a share outside
// (0, 1], the same bitrate twice, more than 64 entries, or shares that do not
// sum to 1 within 1e-6. Spaces around numbers are allowed.
absl::StatusOr<BitrateMix> ParseBitrateMix(std::string_view text);

}  // namespace ingest::zones

#endif  // ZONES_PLAN_BITRATE_MIX_H_
