// Where to cut a continuous MPEG-TS stream (a chunked POST from an encoder)
// into the segments of a recording, so that each stored piece plays on its
// own where the stream allows:
//
// - only between 188-byte packets;
// - at a keyframe: a packet of the video stream (found through the PAT and
//   PMT) that starts a PES with the random-access indicator set, once the
//   segment holds at least min_bytes. The cut goes before the PAT that
//   precedes the keyframe when one came within the last kCutLookbackPackets
//   packets with no video packet between (ffmpeg writes PAT, PMT,
//   keyframe), so the piece starts with the tables a player needs. With
//   min_duration_us, also at the first keyframe once the segment lasts that
//   long in stream time (its video's timestamps), however few bytes it
//   holds: a low-bitrate camera's pieces reach the spool as often as a busy
//   one's;
// - at a frame (a video PES start) when no keyframe comes within
//   max_duration_us of stream time;
// - by size when no keyframe comes: at the packet that would take the segment
//   past max_bytes.
//
// Nothing is copied or changed: the pieces laid end to end are the stream.
//
//   TsCutter cutter({.min_bytes = 512 << 10, .max_bytes = 4 << 20});
//   std::vector<uint64_t> cuts;
//   RETURN_IF_ERROR(cutter.Scan(piece, cuts));  // stream offsets where segments start
//
// A cut may lie up to kCutLookbackPackets packets before the end of what was
// scanned, so the caller keeps that much of the segment open. Scan fails
// (InvalidArgument: the request gets a 400) when the stream loses packet sync.
#ifndef SERVER_HTTP_INGEST_TS_CUTTER_H_
#define SERVER_HTTP_INGEST_TS_CUTTER_H_

#include <cstdint>
#include <optional>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "server/http_ingest/ts_packets.h"

namespace ingest {

inline constexpr uint64_t kCutLookbackPackets = 8;

struct TsCutterOptions {
  uint64_t min_bytes = 512 << 10;
  uint64_t max_bytes = 4 << 20;  // at least min_bytes and one packet
  // Stream time; 0 leaves the rule out.
  uint32_t min_duration_us = 0;
  uint32_t max_duration_us = 0;
};

class TsCutter {
 public:
  explicit TsCutter(const TsCutterOptions& options);

  // Scans the next bytes of the stream; appends the stream offsets at which
  // new segments start (increasing, after every earlier cut).
  absl::Status Scan(std::string_view piece, std::vector<uint64_t>& cuts);

  // The open segment (from the last cut on) goes into a record of
  // `max_bytes`: it is cut by size there instead of at options().max_bytes,
  // and at a keyframe once it holds half of that (if less than min_bytes).
  // Until the next cut; never below what the segment already holds.
  void LimitOpenSegment(uint64_t max_bytes);
  // Bytes scanned since the last cut (the open segment so far).
  uint64_t open_segment_bytes() const { return packets_.bytes_fed() - segment_start_; }

  uint64_t bytes_scanned() const { return packets_.bytes_fed(); }
  // The stream so far ends between packets (a body that ends elsewhere was cut short).
  bool at_packet_boundary() const { return packets_.at_packet_boundary(); }
  // The PID keyframes are looked for on (0 until a PMT names one).
  uint16_t video_pid() const { return programs_.video_pid(); }

 private:
  // Looks at one whole packet starting at stream offset `at`.
  absl::Status Inspect(const uint8_t* packet, uint64_t at, std::vector<uint64_t>& cuts);
  // A video frame starts at `at`: cut before it (or before the tables just
  // ahead of it) if a rule says so.
  void AtFrame(const uint8_t* packet, uint64_t at, std::vector<uint64_t>& cuts);
  // 90 kHz ticks from the open segment's first frame to one with `pts`
  // (0 when either has none, or the clock went back).
  int64_t TicksIntoSegment(std::optional<uint64_t> pts);
  void Cut(uint64_t at, std::vector<uint64_t>& cuts);

  const TsCutterOptions options_;
  TsPacketAssembler packets_;
  TsProgramTracker programs_;
  uint64_t segment_start_ = 0;      // stream offset of the open segment
  uint64_t last_pat_ = 0;           // stream offset of the last PAT packet (valid if seen_pat_)
  uint64_t last_video_packet_ = 0;  // stream offset of the last packet on the video PID
  bool seen_pat_ = false;
  std::optional<uint64_t> segment_first_pts_;  // of the open segment's first frame with one
  // The open segment's byte rules: options_' unless LimitOpenSegment narrowed them.
  uint64_t open_min_bytes_ = 0;
  uint64_t open_max_bytes_ = 0;
};

}  // namespace ingest

#endif  // SERVER_HTTP_INGEST_TS_CUTTER_H_
