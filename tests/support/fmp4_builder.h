// Small fragmented-MP4 files built box by box, for tests of what HTTPS ingest
// reads of them (fmp4_timing.h): an initialization segment with one track,
// and media segments whose samples have given durations.
//
//   std::string init = Fmp4Init(/*track_id=*/1, /*timescale=*/90000);
//   std::string segment = Fmp4Segment(1, {45000, 45000});   // 1 s at 90 kHz
#ifndef TESTS_SUPPORT_FMP4_BUILDER_H_
#define TESTS_SUPPORT_FMP4_BUILDER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace ingest::testing {

inline std::string Be32(uint32_t v) {
  return std::string{static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
                     static_cast<char>(v)};
}

inline std::string Mp4Box(std::string_view type, std::string_view body) {
  return Be32(static_cast<uint32_t>(8 + body.size())) + std::string(type) + std::string(body);
}

inline std::string Mp4FullBox(std::string_view type, uint8_t version, uint32_t flags, std::string_view body) {
  return Mp4Box(type, Be32((uint32_t{version} << 24) | (flags & 0xffffff)) + std::string(body));
}

// ftyp, then moov with one track (tkhd, mdia/mdhd) and, when
// `default_duration` is nonzero, mvex/trex giving it.
inline std::string Fmp4Init(uint32_t track_id, uint32_t timescale, uint32_t default_duration = 0) {
  const std::string tkhd = Mp4FullBox("tkhd", 0, 3, Be32(0) + Be32(0) + Be32(track_id) + std::string(68, '\0'));
  const std::string mdhd = Mp4FullBox("mdhd", 0, 0, Be32(0) + Be32(0) + Be32(timescale) + Be32(0) + Be32(0));
  std::string moov = Mp4FullBox("mvhd", 0, 0, std::string(96, '\0')) + Mp4Box("trak", tkhd + Mp4Box("mdia", mdhd));
  if (default_duration != 0) {
    moov +=
        Mp4Box("mvex", Mp4FullBox("trex", 0, 0, Be32(track_id) + Be32(1) + Be32(default_duration) + Be32(0) + Be32(0)));
  }
  return Mp4Box("ftyp", "iso5" + Be32(512) + "iso6mp41") + Mp4Box("moov", moov);
}

// styp, moof (mfhd, traf with tfhd and a trun listing each sample's
// duration and size), mdat. `durations` empty: a trun without durations,
// so the track's defaults apply.
inline std::string Fmp4Segment(uint32_t track_id, const std::vector<uint32_t>& durations, uint32_t samples = 0) {
  std::string trun;
  if (durations.empty()) {
    trun = Mp4FullBox("trun", 0, 0x200, Be32(samples) + std::string(4 * size_t{samples}, '\x01'));
  } else {
    std::string entries;
    for (uint32_t d : durations) entries += Be32(d) + Be32(4);
    trun = Mp4FullBox("trun", 0, 0x300, Be32(static_cast<uint32_t>(durations.size())) + entries);
  }
  const std::string traf = Mp4Box("traf", Mp4FullBox("tfhd", 0, 0x020000, Be32(track_id)) + trun);
  return Mp4Box("styp", "msdh" + Be32(0) + "msdhmsix") + Mp4Box("moof", Mp4FullBox("mfhd", 0, 0, Be32(1)) + traf) +
         Mp4Box("mdat", std::string(16, 'm'));
}

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_FMP4_BUILDER_H_
