// Fuzzes what HTTPS ingest reads of fragmented MP4 (server/http_ingest/
// fmp4_timing.h): an encoder's init.mp4 and .m4s bodies, any bytes.
//
// Input: byte 0 says where the rest splits (as a share of 255) into an
// initialization segment and a media segment.
//
// Checked on every input: no crash, overread or undefined behaviour; an
// init read is 1..kMaxFmp4Tracks tracks with nonzero timescales; a media
// segment read has a moof and a duration of at most the longest segment,
// and none without the init's tracks.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "proto/frame.h"
#include "server/http_ingest/fmp4_timing.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ingest;
  if (size < 1) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  const size_t split = rest.size() * data[0] / 255;
  const std::string_view init = rest.substr(0, split);
  const std::string_view segment = rest.substr(split);

  std::vector<TrackTiming> tracks;
  if (absl::StatusOr<std::vector<TrackTiming>> read = ReadInitTiming(init); read.ok()) {
    FUZZ_CHECK(!read->empty() && read->size() <= kMaxFmp4Tracks);
    for (const TrackTiming& t : *read) FUZZ_CHECK(t.timescale != 0);
    tracks = *read;
  }
  for (const std::vector<TrackTiming>& with : {tracks, std::vector<TrackTiming>()}) {
    absl::StatusOr<Fmp4Fragment> fragment = ReadFragment(segment, with);
    if (!fragment.ok()) continue;
    FUZZ_CHECK(fragment->fragments >= 1);
    if (fragment->duration_us) FUZZ_CHECK(*fragment->duration_us <= camproto::kMaxSegmentDurationUs);
    if (with.empty()) FUZZ_CHECK(!fragment->duration_us.has_value());
  }
  return 0;
}
