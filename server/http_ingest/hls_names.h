// How an HLS push (`ffmpeg -f hls -method PUT`) names what it uploads, and
// what the server keeps of it:
//
// - Segments (`live17.ts`, `seg_00017.m4s`, `chunk-17.aac`): the number at the
//   end of the name, before the extension, is the segment's place in the
//   recording. Sequence number = that number + 1 (encoders start at 0, a
//   camera's recording at 1), so a re-PUT of the same name is the same
//   segment: stored once, answered again.
// - The fMP4 initialization segment (`init.mp4`, `live_init.mp4`): kept as
//   the recording's metadata, not as a segment.
// - Media playlists (`live.m3u8`): kept as metadata; their #EXTINF lines give
//   each segment's duration, which ParseMediaPlaylist reads (bounded).
//
//   ASSIGN_OR_RETURN(HlsName n, ClassifyHlsName("live17.ts"));   // kSegment, seq 18
#ifndef SERVER_HTTP_INGEST_HLS_NAMES_H_
#define SERVER_HTTP_INGEST_HLS_NAMES_H_

#include <cstdint>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace ingest {

enum class HlsNameKind { kSegment, kInitSegment, kPlaylist };

struct HlsName {
  HlsNameKind kind = HlsNameKind::kSegment;
  uint64_t seq = 0;  // segments only
};

// Segment numbers above this are refused (the seq must fit the protocol's
// counters with room to spare; an encoder numbering this high is broken).
inline constexpr uint64_t kMaxHlsSegmentNumber = (uint64_t{1} << 53) - 2;

// InvalidArgument, with a reason for the 400, for a name that is none of the
// above (no number, unknown extension, a number too large).
absl::StatusOr<HlsName> ClassifyHlsName(std::string_view name);

struct HlsPlaylistEntry {
  uint64_t seq = 0;
  uint32_t duration_us = 0;
};

inline constexpr size_t kMaxPlaylistBytes = 64 * 1024;
inline constexpr uint32_t kMaxHlsSegmentDurationUs = 600'000'000;  // 10 minutes

// The segments a media playlist lists with their #EXTINF durations, in the
// playlist's order; URIs are taken as names (a path before the last '/' and a
// query are dropped). Lines that are not segments or #EXTINF are skipped.
// InvalidArgument for a playlist over kMaxPlaylistBytes, without #EXTM3U, or
// with a duration that is not a number in (0, 10 min].
absl::StatusOr<std::vector<HlsPlaylistEntry>> ParseMediaPlaylist(std::string_view text);

}  // namespace ingest

#endif  // SERVER_HTTP_INGEST_HLS_NAMES_H_
