// TsCutter on a stream Debian's ffmpeg encodes (x264, one keyframe a second)
// and on made-up packets: cuts only between packets, before the PAT that
// precedes a keyframe, the same wherever the bytes are split, each piece
// playable on its own (ffprobe: its first video frame is a keyframe, and the
// pieces hold every frame); at a keyframe by stream time however few bytes;
// at a frame by stream time, or by size, when no keyframe comes; refused when
// the stream loses sync.
#include "server/http_ingest/ts_cutter.h"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "server/http_ingest/ts_timing.h"
#include "tests/support/encoded_ts.h"
#include "tests/support/shell_output.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::EncodeTestPattern;
using ::ingest::testing::FfmpegInstalled;
using ::ingest::testing::ShellOutput;
using ::ingest::testing::TempDir;

uint16_t PidAt(const std::string& stream, uint64_t at) {
  return static_cast<uint16_t>(((static_cast<uint8_t>(stream[at + 1]) & 0x1F) << 8) |
                               static_cast<uint8_t>(stream[at + 2]));
}

std::vector<uint64_t> CutAll(const std::string& stream, size_t piece, const TsCutterOptions& options) {
  TsCutter cutter(options);
  std::vector<uint64_t> cuts;
  for (size_t at = 0; at < stream.size(); at += piece) {
    EXPECT_TRUE(cutter.Scan(std::string_view(stream).substr(at, piece), cuts).ok());
  }
  EXPECT_TRUE(cutter.at_packet_boundary());
  return cuts;
}

class TsCutterEncodedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!FfmpegInstalled()) GTEST_SKIP() << "ffmpeg is not installed (scripts/setup.sh installs it)";
    path_ = dir_.path() + "/stream.ts";
    stream_ = Encode(path_, 25);
  }

  // Six seconds of 25 frames a second, a keyframe every `gop` frames.
  std::string Encode(const std::string& path, int gop) {
    std::string stream = EncodeTestPattern(path, 6, gop);
    EXPECT_GT(stream.size(), 20 * kTsPacketBytes) << "ffmpeg wrote no stream";
    EXPECT_EQ(stream.size() % kTsPacketBytes, 0u);
    return stream;
  }

  // The pieces the cuts make, written out; each must hold frames.
  std::vector<std::string> WritePieces(const std::string& stream, const std::vector<uint64_t>& cuts) {
    std::vector<uint64_t> bounds = {0};
    bounds.insert(bounds.end(), cuts.begin(), cuts.end());
    bounds.push_back(stream.size());
    std::vector<std::string> paths;
    for (size_t i = 0; i + 1 < bounds.size(); ++i) {
      paths.push_back(absl::StrCat(dir_.path(), "/piece", i, ".ts"));
      std::ofstream(paths.back(), std::ios::binary) << stream.substr(bounds[i], bounds[i + 1] - bounds[i]);
    }
    return paths;
  }

  static double PieceSeconds(const std::string& stream, uint64_t from, uint64_t to) {
    TsTiming timing;
    timing.Scan(std::string_view(stream).substr(from, to - from));
    return timing.duration_us().value_or(0) / 1e6;
  }

  // Video frames ffprobe decodes from a file, and whether each is a keyframe.
  std::vector<std::string> KeyFrameFlags(const std::string& path) {
    const std::string out = ShellOutput(
        absl::StrCat("/usr/bin/ffprobe -v error -select_streams v -show_entries frame=key_frame -of csv=p=0 ", path));
    return absl::StrSplit(out, '\n', absl::SkipEmpty());
  }

  size_t VideoPackets(const std::string& path) {
    const std::string out = ShellOutput(
        absl::StrCat("/usr/bin/ffprobe -v error -select_streams v -show_entries packet=pts -of csv=p=0 ", path));
    return std::vector<std::string>(absl::StrSplit(out, '\n', absl::SkipEmpty())).size();
  }

  TempDir dir_;
  std::string path_;
  std::string stream_;
};

TEST_F(TsCutterEncodedTest, CutsBeforeTheTablesOfEachKeyframeWhereverTheBytesAreSplit) {
  const TsCutterOptions options{.min_bytes = 4 * kTsPacketBytes, .max_bytes = 4 << 20};
  const std::vector<uint64_t> cuts = CutAll(stream_, 65536, options);
  ASSERT_GE(cuts.size(), 4u) << "six seconds at one keyframe a second";
  for (size_t i = 0; i < cuts.size(); ++i) {
    EXPECT_EQ(cuts[i] % kTsPacketBytes, 0u);
    if (i > 0) {
      EXPECT_GT(cuts[i], cuts[i - 1]);
    }
    EXPECT_EQ(PidAt(stream_, cuts[i]), 0u) << "piece " << i + 1 << " starts with the PAT";
  }
  for (size_t piece : {1u, 7u, 187u, 188u, 189u, 1000u, 16384u}) {
    EXPECT_EQ(CutAll(stream_, piece, options), cuts) << piece;
  }

  // Each piece plays on its own, and together they hold every frame.
  const std::vector<std::string> pieces = WritePieces(stream_, cuts);
  size_t frames = 0;
  for (size_t i = 0; i < pieces.size(); ++i) {
    const std::vector<std::string> flags = KeyFrameFlags(pieces[i]);
    ASSERT_FALSE(flags.empty()) << "piece " << i;
    EXPECT_TRUE(flags.front().starts_with("1")) << "piece " << i << " starts with a keyframe: " << flags.front();
    frames += flags.size();
  }
  EXPECT_EQ(frames, KeyFrameFlags(path_).size());
}

TEST_F(TsCutterEncodedTest, KeyframesCloserThanTheMinimumShareASegment) {
  const std::vector<uint64_t> every = CutAll(stream_, 4096, {.min_bytes = 4 * kTsPacketBytes, .max_bytes = 4 << 20});
  const std::vector<uint64_t> fewer = CutAll(stream_, 4096, {.min_bytes = stream_.size() / 3, .max_bytes = 4 << 20});
  EXPECT_LT(fewer.size(), every.size());
  uint64_t start = 0;
  for (uint64_t cut : fewer) {
    EXPECT_GE(cut - start, stream_.size() / 3 - kCutLookbackPackets * kTsPacketBytes);
    start = cut;
  }
}

// A small stream (a few KB a second) reaches no byte minimum for seconds:
// stream time cuts it at keyframes all the same.
TEST_F(TsCutterEncodedTest, KeyframesCutByStreamTimeHoweverFewTheBytes) {
  const TsCutterOptions options{.min_bytes = 1 << 30, .max_bytes = 1 << 30, .min_duration_us = 2'000'000};
  const std::vector<uint64_t> cuts = CutAll(stream_, 4096, options);
  ASSERT_EQ(cuts.size(), 2u) << "six seconds in pieces of two";
  EXPECT_EQ(CutAll(stream_, 187, options), cuts);
  uint64_t start = 0;
  for (uint64_t cut : cuts) {
    EXPECT_EQ(PidAt(stream_, cut), 0u) << "a piece starts with the PAT";
    EXPECT_NEAR(PieceSeconds(stream_, start, cut), 2.0, 0.05) << "piece ending at " << cut;
    start = cut;
  }
  for (const std::string& piece : WritePieces(stream_, cuts)) {
    const std::vector<std::string> flags = KeyFrameFlags(piece);
    ASSERT_FALSE(flags.empty()) << piece;
    EXPECT_TRUE(flags.front().starts_with("1")) << piece << " starts with a keyframe";
  }
  // With the byte minimum reached first, bytes decide as before.
  EXPECT_EQ(
      CutAll(stream_, 4096, {.min_bytes = 4 * kTsPacketBytes, .max_bytes = 4 << 20, .min_duration_us = 2'000'000}),
      CutAll(stream_, 4096, {.min_bytes = 4 * kTsPacketBytes, .max_bytes = 4 << 20}));
}

// One keyframe in six seconds: past max_duration the stream is cut at a
// frame; no frame is lost and each piece lasts about that long.
TEST_F(TsCutterEncodedTest, WithoutKeyframesAStreamIsCutAtAFrameByStreamTime) {
  const std::string path = dir_.path() + "/one-keyframe.ts";
  const std::string stream = Encode(path, 1000);
  const TsCutterOptions options{
      .min_bytes = 1 << 30, .max_bytes = 1 << 30, .min_duration_us = 500'000, .max_duration_us = 1'500'000};
  const std::vector<uint64_t> cuts = CutAll(stream, 1000, options);
  ASSERT_EQ(cuts.size(), 3u) << "six seconds in pieces of one and a half";
  EXPECT_EQ(CutAll(stream, 188, options), cuts);
  uint64_t start = 0;
  for (uint64_t cut : cuts) {
    // Counted from the frame that opens the piece, in the order frames are
    // sent; B-frames are shown earlier than sent (x264 holds back up to
    // three), so a piece cut between keyframes gains or loses a few frames.
    EXPECT_NEAR(PieceSeconds(stream, start, cut), 1.5, 0.3) << "piece ending at " << cut;
    start = cut;
  }
  // Pieces cut between keyframes need the one before to decode: count the
  // video packets (frames as sent), not what decodes alone.
  size_t packets = 0;
  for (const std::string& piece : WritePieces(stream, cuts)) packets += VideoPackets(piece);
  EXPECT_EQ(packets, VideoPackets(path));
}

// A segment limited to a record of L bytes is cut at a keyframe once it
// holds L/2, and by size at L when keyframes come too late.
TEST_F(TsCutterEncodedTest, ALimitedSegmentEndsAtAKeyframePastHalfItsLimitOrAtTheLimit) {
  const uint64_t per_second = stream_.size() / 6;
  const auto cut_limited = [&](uint64_t limit) {
    TsCutter cutter({.min_bytes = 1 << 30, .max_bytes = 1 << 30});
    std::vector<uint64_t> cuts;
    cutter.LimitOpenSegment(limit);
    for (size_t at = 0; at < stream_.size(); at += 1000) {
      const size_t before = cuts.size();
      EXPECT_TRUE(cutter.Scan(std::string_view(stream_).substr(at, 1000), cuts).ok());
      if (cuts.size() > before) cutter.LimitOpenSegment(limit);  // the next piece's record
    }
    return cuts;
  };
  EXPECT_TRUE(CutAll(stream_, 1000, {.min_bytes = 1 << 30, .max_bytes = 1 << 30}).empty()) << "unlimited: no cut";

  const uint64_t roomy = 3 * per_second;
  const std::vector<uint64_t> at_keyframes = cut_limited(roomy);
  ASSERT_GE(at_keyframes.size(), 2u);
  uint64_t start = 0;
  for (uint64_t cut : at_keyframes) {
    EXPECT_EQ(PidAt(stream_, cut), 0u) << "cut at " << cut << " is at a keyframe's tables";
    EXPECT_GE(cut - start, roomy / 2 - kCutLookbackPackets * kTsPacketBytes);
    EXPECT_LE(cut - start, roomy);
    start = cut;
  }

  const uint64_t tight = per_second / 3;
  const std::vector<uint64_t> by_size = cut_limited(tight);
  ASSERT_GE(by_size.size(), 6u);
  start = 0;
  for (uint64_t cut : by_size) {
    EXPECT_LE(cut - start, tight);
    EXPECT_EQ(cut % kTsPacketBytes, 0u);
    start = cut;
  }
}

// Packets on one PID with no tables and no keyframes: cut by size only.
std::string PlainPackets(size_t count) {
  std::string stream;
  for (size_t i = 0; i < count; ++i) {
    std::string packet(kTsPacketBytes, static_cast<char>(i));
    packet[0] = 0x47;
    packet[1] = 0x41;  // payload unit start, PID 0x100
    packet[2] = 0x00;
    packet[3] = static_cast<char>(0x10 | (i & 0x0F));
    stream += packet;
  }
  return stream;
}

TEST(TsCutterTest, WithoutKeyframesSegmentsAreCutBySize) {
  const std::string stream = PlainPackets(100);
  const std::vector<uint64_t> cuts = CutAll(stream, 1000, {.min_bytes = 0, .max_bytes = 10 * kTsPacketBytes});
  ASSERT_EQ(cuts.size(), 9u);
  for (size_t i = 0; i < cuts.size(); ++i) EXPECT_EQ(cuts[i], (i + 1) * 10 * kTsPacketBytes);
}

TEST(TsCutterTest, LostSyncIsRefusedAndAShortTailIsNotABoundary) {
  std::string stream = PlainPackets(5);
  stream[3 * kTsPacketBytes] = 'G' + 1;
  TsCutter cutter({});
  std::vector<uint64_t> cuts;
  absl::Status lost = cutter.Scan(stream, cuts);
  EXPECT_EQ(lost.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(lost.message().find("byte 564"), absl::string_view::npos) << lost;

  TsCutter short_tail({});
  ASSERT_TRUE(short_tail.Scan(PlainPackets(2).substr(0, 300), cuts).ok());
  EXPECT_FALSE(short_tail.at_packet_boundary()) << "a body ending here is truncated";
  EXPECT_FALSE(TsCutter({}).Scan("PUT / HTTP/1.1\r\n" + std::string(200, 'x'), cuts).ok());
}

}  // namespace
}  // namespace ingest
