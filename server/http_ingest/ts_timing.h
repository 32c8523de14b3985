// How long a piece of MPEG-TS lasts, from the presentation timestamps of its
// video stream, for segments that come without a duration: an HLS push
// uploads each segment before the playlist that would give it, and a POSTed
// stream is cut by TsCutter. The duration is the span of the video PES
// timestamps plus one frame (frames counted; B-frames leave PTS out of
// order, so the span is taken from the lowest to the highest), with the
// 33-bit 90 kHz clock unwrapped.
//
//   TsTiming timing;
//   timing.Scan(piece);  ...                 // every byte of the segment, in order
//   std::optional<uint32_t> us = timing.duration_us();   // nullopt: no timestamps seen
//
// Never fails: bytes it cannot read as TS packets with a video stream just
// give no duration (TsCutter refuses a stream that loses sync).
#ifndef SERVER_HTTP_INGEST_TS_TIMING_H_
#define SERVER_HTTP_INGEST_TS_TIMING_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "server/http_ingest/ts_packets.h"

namespace ingest {

class TsTiming {
 public:
  void Scan(std::string_view piece);

  // The span of the video frames seen, plus one frame; nullopt before two
  // frames with timestamps (one frame has no length to go by).
  std::optional<uint32_t> duration_us() const;
  uint64_t frames() const { return frames_; }

 private:
  void Inspect(const uint8_t* packet);
  void NotePts(uint64_t pts);

  TsPacketAssembler packets_;
  TsProgramTracker programs_;
  uint64_t frames_ = 0;
  int64_t min_pts_ = 0;  // unwrapped 90 kHz ticks
  int64_t max_pts_ = 0;
  int64_t last_pts_ = 0;
  uint64_t last_raw_pts_ = 0;  // as sent, 33 bits
};

}  // namespace ingest

#endif  // SERVER_HTTP_INGEST_TS_TIMING_H_
