// Test support: an MPEG-TS stream Debian's ffmpeg encodes from its test
// pattern (lavfi testsrc, 320x240, 25 frames a second, x264), for tests of
// what the server does with a real encoder's stream: about 20 KiB a second.
//
//   if (!FfmpegInstalled()) GTEST_SKIP() << "...";
//   const std::string ts = EncodeTestPattern(dir.path() + "/a.ts", 6, 25);
#ifndef TESTS_SUPPORT_ENCODED_TS_H_
#define TESTS_SUPPORT_ENCODED_TS_H_

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "absl/strings/str_cat.h"
#include "tests/support/shell_output.h"

namespace ingest::testing {

inline bool FfmpegInstalled() {
  return std::filesystem::exists("/usr/bin/ffmpeg") && std::filesystem::exists("/usr/bin/ffprobe");
}

// `seconds` of the pattern with a keyframe every `gop` frames, written to
// `path`; returns the file's bytes (empty if ffmpeg failed).
inline std::string EncodeTestPattern(const std::string& path, int seconds, int gop) {
  ShellOutput(absl::StrCat("/usr/bin/ffmpeg -hide_banner -loglevel error -y -f lavfi ",
                           "-i testsrc=size=320x240:rate=25 -t ", seconds, " -c:v libx264 -g ", gop,
                           " -pix_fmt yuv420p -f mpegts ", path, " 2>&1"));
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_ENCODED_TS_H_
