// TsTiming on an x264 stream Debian's ffmpeg encodes (B-frames, so PTS out
// of order) and on made-up packets across the 33-bit PTS wrap: the span of
// the frames plus one, the same wherever the bytes are split, nothing for
// bytes without a video stream.
#include "server/http_ingest/ts_timing.h"

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/http_ingest/ts_cutter.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

std::string Packet(uint16_t pid, bool unit_start, const std::vector<uint8_t>& payload) {
  std::string p(kTsPacketBytes, '\xff');
  p[0] = 0x47;
  p[1] = static_cast<char>((unit_start ? 0x40 : 0) | (pid >> 8));
  p[2] = static_cast<char>(pid & 0xFF);
  p[3] = 0x10;
  for (size_t i = 0; i < payload.size(); ++i) p[4 + i] = static_cast<char>(payload[i]);
  return p;
}

// PAT naming program 1 at PID 0x1000, and its PMT with H.264 on PID 0x100.
std::string Tables() {
  return Packet(0, true, {0, 0x00, 0xB0, 13, 0, 1, 0xC1, 0, 0, 0, 1, 0xF0, 0x00, 0, 0, 0, 0}) +
         Packet(0x1000, true,
                {0, 0x02, 0xB0, 18, 0, 1, 0xC1, 0, 0, 0xE1, 0x00, 0xF0, 0, 0x1B, 0xE1, 0x00, 0xF0, 0, 0, 0, 0, 0});
}

std::string VideoPes(uint64_t pts) {
  return Packet(0x100, true,
                {0, 0, 1, 0xE0, 0, 0, 0x80, 0x80, 5, static_cast<uint8_t>(0x21 | ((pts >> 29) & 0x0E)),
                 static_cast<uint8_t>(pts >> 22), static_cast<uint8_t>(((pts >> 14) & 0xFE) | 1),
                 static_cast<uint8_t>(pts >> 7), static_cast<uint8_t>(((pts << 1) & 0xFE) | 1)});
}

std::optional<uint32_t> DurationOf(const std::string& stream, size_t piece) {
  TsTiming timing;
  for (size_t at = 0; at < stream.size(); at += piece) timing.Scan(std::string_view(stream).substr(at, piece));
  return timing.duration_us();
}

TEST(TsTimingTest, FramesAcrossThePtsWrapAreOneSpanPlusAFrame) {
  const uint64_t wrap = uint64_t{1} << 33;
  std::string stream = Tables();
  for (int i = 0; i < 10; ++i) stream += VideoPes((wrap - 4 * 3600 + i * 3600) % wrap);  // 40 ms frames
  for (size_t piece : {1u, 100u, 188u, 4096u}) {
    const std::optional<uint32_t> us = DurationOf(stream, piece);
    ASSERT_TRUE(us.has_value()) << piece;
    EXPECT_EQ(*us, 400'000u) << piece;
  }
}

TEST(TsTimingTest, NoDurationWithoutTwoTimedVideoFrames) {
  EXPECT_FALSE(DurationOf(Tables() + VideoPes(9000), 188).has_value());
  EXPECT_FALSE(DurationOf(VideoPes(9000) + VideoPes(12600), 188).has_value()) << "no PMT: no video PID known";
  EXPECT_FALSE(DurationOf("not a transport stream at all", 7).has_value());
  EXPECT_FALSE(DurationOf("", 1).has_value());
}

TEST(TsTimingTest, AnEncodedStreamAndItsKeyframePiecesLastWhatWasEncoded) {
  if (!std::filesystem::exists("/usr/bin/ffmpeg")) GTEST_SKIP() << "ffmpeg is not installed (scripts/setup.sh)";
  TempDir dir;
  const std::string path = dir.path() + "/stream.ts";
  const std::string command =
      absl::StrCat("/usr/bin/ffmpeg -hide_banner -loglevel error -y -f lavfi -i testsrc=size=320x240:rate=25 -t 6 ",
                   "-c:v libx264 -g 25 -pix_fmt yuv420p -f mpegts ", path);
  ASSERT_EQ(std::system(command.c_str()), 0);
  std::ifstream in(path, std::ios::binary);
  std::stringstream bytes;
  bytes << in.rdbuf();
  const std::string stream = bytes.str();

  const std::optional<uint32_t> whole = DurationOf(stream, 65536);
  ASSERT_TRUE(whole.has_value());
  EXPECT_NEAR(*whole, 6'000'000, 40'000) << "150 frames at 25 per second";
  EXPECT_EQ(DurationOf(stream, 7), whole);

  TsCutter cutter({.min_bytes = 4 * kTsPacketBytes, .max_bytes = 4 << 20});
  std::vector<uint64_t> cuts;
  ASSERT_TRUE(cutter.Scan(stream, cuts).ok());
  cuts.push_back(stream.size());
  uint64_t start = 0;
  uint64_t total_us = 0;
  for (uint64_t cut : cuts) {
    const std::optional<uint32_t> piece = DurationOf(stream.substr(start, cut - start), 4096);
    ASSERT_TRUE(piece.has_value());
    EXPECT_NEAR(*piece, 1'000'000, 40'000) << "a one-second GOP";
    total_us += *piece;
    start = cut;
  }
  EXPECT_NEAR(total_us, 6'000'000, 80'000);
}

}  // namespace
}  // namespace ingest
