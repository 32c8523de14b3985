// What HTTPS ingest reads of fragmented MP4: the tracks and timescales of an
// initialization segment, and a media segment's duration from its sample
// durations (given per sample, or by tfhd or trex defaults) — and that bytes
// which are not such boxes are refused with a reason, never read past.
#include "server/http_ingest/fmp4_timing.h"

#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "proto/frame.h"
#include "tests/support/fmp4_builder.h"

namespace ingest {
namespace {

using testing::Be32;
using testing::Fmp4Init;
using testing::Fmp4Segment;
using testing::Mp4Box;
using testing::Mp4FullBox;

TEST(Fmp4TimingTest, AnInitGivesEachTracksTimescaleAndDefaultDuration) {
  absl::StatusOr<std::vector<TrackTiming>> tracks = ReadInitTiming(Fmp4Init(7, 90000, 3000));
  ASSERT_TRUE(tracks.ok()) << tracks.status();
  ASSERT_EQ(tracks->size(), 1u);
  EXPECT_EQ((*tracks)[0], (TrackTiming{.track_id = 7, .timescale = 90000, .default_sample_duration = 3000}));
}

TEST(Fmp4TimingTest, ASegmentLastsItsSampleDurationsInItsTracksTimescale) {
  const std::vector<TrackTiming> tracks = *ReadInitTiming(Fmp4Init(1, 90000));
  absl::StatusOr<Fmp4Fragment> f = ReadFragment(Fmp4Segment(1, {45000, 45000, 90000}), tracks);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->fragments, 1u);
  EXPECT_EQ(f->duration_us, 2'000'000u);

  // Two moofs in one segment add up.
  absl::StatusOr<Fmp4Fragment> two = ReadFragment(Fmp4Segment(1, {90000}) + Fmp4Segment(1, {45000}), tracks);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_EQ(two->fragments, 2u);
  EXPECT_EQ(two->duration_us, 1'500'000u);
}

TEST(Fmp4TimingTest, SamplesWithoutDurationsTakeTheDefaultsOfTheInit) {
  const std::vector<TrackTiming> tracks = *ReadInitTiming(Fmp4Init(1, 1000, 40));
  absl::StatusOr<Fmp4Fragment> f = ReadFragment(Fmp4Segment(1, {}, 25), tracks);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->duration_us, 1'000'000u);  // 25 samples of 40 ms
}

TEST(Fmp4TimingTest, WithoutTheTracksTimescaleTheDurationIsUnknown) {
  absl::StatusOr<Fmp4Fragment> no_init = ReadFragment(Fmp4Segment(1, {90000}), {});
  ASSERT_TRUE(no_init.ok()) << no_init.status();
  EXPECT_FALSE(no_init->duration_us.has_value());

  const std::vector<TrackTiming> other_track = *ReadInitTiming(Fmp4Init(2, 90000));
  absl::StatusOr<Fmp4Fragment> f = ReadFragment(Fmp4Segment(1, {90000}), other_track);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_FALSE(f->duration_us.has_value());

  // No per-sample durations and no defaults anywhere.
  const std::vector<TrackTiming> no_defaults = *ReadInitTiming(Fmp4Init(1, 90000));
  absl::StatusOr<Fmp4Fragment> g = ReadFragment(Fmp4Segment(1, {}, 10), no_defaults);
  ASSERT_TRUE(g.ok()) << g.status();
  EXPECT_FALSE(g->duration_us.has_value());
}

TEST(Fmp4TimingTest, WithoutAnInitTheTicksAndAPlaylistsDurationGiveTheTimescale) {
  absl::StatusOr<Fmp4Fragment> f = ReadFragment(Fmp4Segment(3, {12800, 12800, 6400}), {});
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->first_track_id, 3u);
  EXPECT_EQ(f->first_track_ticks, 32000u);
  EXPECT_EQ(TimescaleFromPlaylist(32000, 2'500'000), 12800u);  // #EXTINF:2.500000
  EXPECT_EQ(TimescaleFromPlaylist(90000, 1'000'000), 90000u);
  EXPECT_EQ(TimescaleFromPlaylist(0, 1'000'000), std::nullopt);
  EXPECT_EQ(TimescaleFromPlaylist(90000, 0), std::nullopt);
  EXPECT_EQ(TimescaleFromPlaylist(uint64_t{1} << 62, 1), std::nullopt) << "not a plausible timescale";
}

TEST(Fmp4TimingTest, ALongDurationIsHeldAtTheLongestSegment) {
  const std::vector<TrackTiming> tracks = *ReadInitTiming(Fmp4Init(1, 1));
  absl::StatusOr<Fmp4Fragment> f = ReadFragment(Fmp4Segment(1, {0xffffffff, 0xffffffff}), tracks);
  ASSERT_TRUE(f.ok()) << f.status();
  EXPECT_EQ(f->duration_us, camproto::kMaxSegmentDurationUs);
}

TEST(Fmp4TimingTest, WhatIsNotAnInitIsRefusedWithAReason) {
  for (const std::string& bytes :
       {std::string(), std::string("x"), std::string("\x47\x40\x00\x10", 4) + std::string(184, '\xff'),
        Mp4Box("ftyp", "iso5"),                              // no moov
        Mp4Box("moov", Mp4Box("mvhd", "")),                  // no track
        Mp4Box("moov", Mp4Box("trak", Mp4Box("tkhd", ""))),  // no timescale
        Fmp4Init(1, 0),                                      // a zero timescale
        Fmp4Init(1, 90000).substr(0, 40)}) {                 // cut short
    absl::StatusOr<std::vector<TrackTiming>> tracks = ReadInitTiming(bytes);
    EXPECT_TRUE(absl::IsInvalidArgument(tracks.status())) << tracks.status();
    EXPECT_FALSE(tracks.status().message().empty());
  }
}

TEST(Fmp4TimingTest, WhatIsNotAMediaSegmentIsRefusedAndNeverReadPastItsEnd) {
  const std::vector<TrackTiming> tracks = *ReadInitTiming(Fmp4Init(1, 90000));
  const std::string segment = Fmp4Segment(1, {90000});
  std::vector<std::string> bad = {std::string(), Mp4Box("mdat", "x"), Fmp4Init(1, 90000),
                                  std::string("\x47\x40\x00\x10", 4) + std::string(184, '\xff')};
  for (size_t cut = 1; cut < segment.size(); ++cut) bad.push_back(segment.substr(0, cut));
  // A size of 1 with a largesize past the end, and a box smaller than its header.
  bad.push_back(Be32(1) + "moof" + std::string("\0\0\0\0\0\0\1\0", 8));
  bad.push_back(Be32(4) + "moof");
  for (const std::string& bytes : bad) {
    absl::StatusOr<Fmp4Fragment> f = ReadFragment(bytes, tracks);
    if (f.ok()) {
      // A cut that still ends on a box boundary after the moof is whole media.
      EXPECT_GE(f->fragments, 1u);
      continue;
    }
    EXPECT_TRUE(absl::IsInvalidArgument(f.status())) << f.status();
  }
  // A trun claiming more samples than it holds gives no duration, and reads
  // nothing past the box.
  const std::string traf =
      Mp4Box("traf", Mp4FullBox("tfhd", 0, 0, Be32(1)) + Mp4FullBox("trun", 0, 0x100, Be32(1000000) + Be32(90000)));
  absl::StatusOr<Fmp4Fragment> lying = ReadFragment(Mp4Box("moof", traf), tracks);
  ASSERT_TRUE(lying.ok()) << lying.status();
  EXPECT_FALSE(lying->duration_us.has_value());
}

}  // namespace
}  // namespace ingest
