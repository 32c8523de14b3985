// How long a fragmented-MP4 media segment (an HLS `.m4s`) lasts, from its own
// boxes, with the timescales its initialization segment (`init.mp4`) gives:
// an HLS push uploads each segment before the playlist that would give its
// duration, as for MPEG-TS (ts_timing.h).
//
//   ASSIGN_OR_RETURN(std::vector<TrackTiming> tracks, ReadInitTiming(init_bytes));
//   ASSIGN_OR_RETURN(Fmp4Fragment f, ReadFragment(segment_bytes, tracks));
//   f.duration_us   // nullopt when a track's timescale is unknown
//
// Only the boxes on the way are read (ISO/IEC 14496-12): moov/trak/tkhd,
// moov/trak/mdia/mdhd and moov/mvex/trex of the init; moof/traf/tfhd and
// moof/traf/trun of a segment. Every size is checked against its parent, and
// nesting is fixed, so any bytes are safe.
#ifndef SERVER_HTTP_INGEST_FMP4_TIMING_H_
#define SERVER_HTTP_INGEST_FMP4_TIMING_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/session/camera_registry.h"  // TrackTiming

namespace ingest {

// A track list longer than this is refused (real inits: one to four).
inline constexpr size_t kMaxFmp4Tracks = 16;

// InvalidArgument, with a reason for the 400, unless `init` is a sequence of
// whole boxes holding a moov with 1..kMaxFmp4Tracks tracks, each with a
// nonzero timescale.
absl::StatusOr<std::vector<TrackTiming>> ReadInitTiming(std::string_view init);

struct Fmp4Fragment {
  // The longest of its tracks, summed over every moof; nullopt when a track
  // is not in `tracks` (no init known) or a sample's duration is not given.
  std::optional<uint32_t> duration_us;
  uint32_t fragments = 0;  // moof boxes
};

// InvalidArgument unless `segment` is a sequence of whole boxes with at least
// one moof (styp, sidx, prft, emsg and mdat may come between).
absl::StatusOr<Fmp4Fragment> ReadFragment(std::string_view segment, absl::Span<const TrackTiming> tracks);

}  // namespace ingest

#endif  // SERVER_HTTP_INGEST_FMP4_TIMING_H_
