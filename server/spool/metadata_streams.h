// A camera's metadata streams: what an HLS push sends besides its media
// segments, kept as records of companion "cameras" whose ids no real camera
// can have ('~' is not allowed in camera ids, proto/README.md), so that they
// go through the same spool, group commit, batches, indexes and journal as
// segments, with their own seqs (docs/storage-layout.md):
//
//   <camera>~init  fMP4 initialization segments (init.mp4), as pushed. The
//                  seq says which of the camera's segments each one is for:
//                  InitSeq(s, n) is the n-th init pushed while the camera's
//                  next seq was s; a segment's init is the one with the
//                  highest seq not above InitSeq(segment seq, kMaxInitsPerSeq).
//   <camera>~m3u8  media playlists, as pushed, in the order they came
//                  (their #EXTINF lines give each segment's duration).
//
// A segment that needs its init to be read (fMP4) carries
// kRecordFlagFragment, so readers look for inits only where there are some.
//
//   std::string id = InitStreamId("cam-1");           // "cam-1~init"
//   uint64_t seq = InitSeq(camera.accepted() + 1, 0);
#ifndef SERVER_SPOOL_METADATA_STREAMS_H_
#define SERVER_SPOOL_METADATA_STREAMS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "common/std_string_view.h"
#include "server/spool/spool_record.h"

namespace ingest {

inline constexpr std::string_view kInitStreamSuffix = "~init";
inline constexpr std::string_view kPlaylistStreamSuffix = "~m3u8";
// Metadata is kept for camera ids of at most this many bytes, so that the
// companion ids fit a spool record (kMaxSpoolCameraIdBytes).
inline constexpr size_t kMaxCameraIdWithMetadata = kMaxSpoolCameraIdBytes - 5;

inline std::string InitStreamId(std::string_view camera) {
  return absl::StrCat(ToAbsl(camera), ToAbsl(kInitStreamSuffix));
}
inline std::string PlaylistStreamId(std::string_view camera) {
  return absl::StrCat(ToAbsl(camera), ToAbsl(kPlaylistStreamSuffix));
}

// A record flag the wire never carries (proto/README.md keeps bits 2..7 of a
// segment's flags zero): the payload is an fMP4 media segment, read after
// its initialization segment.
inline constexpr uint8_t kRecordFlagFragment = 0x04;

// Inits pushed while a camera's next seq stays the same (an encoder
// restarted before its first segment) get consecutive init seqs, this many
// at most.
inline constexpr uint64_t kMaxInitsPerSeq = 255;
// Segment seqs up to this can have an init (InitSeq must not overflow).
inline constexpr uint64_t kMaxSeqWithInit = (uint64_t{1} << 55) - 1;

inline uint64_t InitSeq(uint64_t segment_seq, uint64_t n) { return (segment_seq << 8) | n; }
inline uint64_t SegmentSeqOfInit(uint64_t init_seq) { return init_seq >> 8; }

}  // namespace ingest

#endif  // SERVER_SPOOL_METADATA_STREAMS_H_
