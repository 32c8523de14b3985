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
  // The longest of its tracks in `tracks`, summed over every moof; nullopt
  // when none of its tracks is there (no init known) or a sample's duration
  // is not given.
  std::optional<uint32_t> duration_us;
  uint32_t fragments = 0;  // moof boxes
  // The ticks of its first track, whatever `tracks` holds: with the
  // playlist's duration of this segment they give the track's timescale
  // when the init is not known (TimescaleFromPlaylist).
  uint32_t first_track_id = 0;
  std::optional<uint64_t> first_track_ticks;
};

// The timescale a track must have for `ticks` to last `duration_us` (a
// playlist's #EXTINF of the segment), or nullopt when that is not a
// plausible timescale (1 Hz .. 10 MHz).
std::optional<uint32_t> TimescaleFromPlaylist(uint64_t ticks, uint32_t duration_us);

// InvalidArgument unless `segment` is a sequence of whole boxes with at least
// one moof (styp, sidx, prft, emsg and mdat may come between).
absl::StatusOr<Fmp4Fragment> ReadFragment(std::string_view segment, absl::Span<const TrackTiming> tracks);

}  // namespace ingest

#endif  // SERVER_HTTP_INGEST_FMP4_TIMING_H_
