// HLS names as encoders make them, and media playlists as ffmpeg writes them.
#include "server/http_ingest/hls_names.h"

#include <string>

#include "gtest/gtest.h"

namespace ingest {
namespace {

TEST(HlsNamesTest, SegmentNumbersBecomeSequenceNumbersFromOne) {
  struct Case {
    std::string name;
    uint64_t seq;
  };
  for (const Case& c : std::vector<Case>{{"live0.ts", 1},
                                         {"live17.ts", 18},
                                         {"seg_00017.m4s", 18},
                                         {"chunk-9.aac", 10},
                                         {"cam.2.a99.mp4", 100},
                                         {"9007199254740990.ts", 9007199254740991}}) {
    absl::StatusOr<HlsName> name = ClassifyHlsName(c.name);
    ASSERT_TRUE(name.ok()) << c.name << ": " << name.status();
    EXPECT_EQ(name->kind, HlsNameKind::kSegment) << c.name;
    EXPECT_EQ(name->seq, c.seq) << c.name;
  }
}

TEST(HlsNamesTest, PlaylistsAndInitSegmentsAreMetadata) {
  EXPECT_EQ(ClassifyHlsName("live.m3u8")->kind, HlsNameKind::kPlaylist);
  EXPECT_EQ(ClassifyHlsName("live7.m3u8")->kind, HlsNameKind::kPlaylist);
  EXPECT_EQ(ClassifyHlsName("init.mp4")->kind, HlsNameKind::kInitSegment);
  EXPECT_EQ(ClassifyHlsName("live_init.mp4")->kind, HlsNameKind::kInitSegment);
}

TEST(HlsNamesTest, NamesThatCannotBeStoredIdempotentlyAreRefusedWithAReason) {
  for (const std::string name : {"live.ts", "init.m4s", "noextension", ".ts", "live17.exe", "live17.TS",
                                 "99999999999999999.ts", "9007199254740991.ts"}) {
    absl::StatusOr<HlsName> refused = ClassifyHlsName(name);
    ASSERT_FALSE(refused.ok()) << name;
    EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument) << name;
    EXPECT_FALSE(refused.status().message().empty());
  }
}

TEST(HlsNamesTest, AMediaPlaylistGivesEachSegmentsDuration) {
  // As ffmpeg 5.1 writes it with -f hls -hls_time 2 -hls_list_size 3.
  const std::string playlist =
      "#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:2\n#EXT-X-MEDIA-SEQUENCE:4\n"
      "#EXTINF:2.000000,\nlive4.ts\n#EXTINF:2.000000,\nhttps://ingest.example/v1/cameras/cam-1/live5.ts?x=1\n"
      "#EXT-X-DISCONTINUITY\n#EXTINF:1.466667,\r\nlive6.ts\r\n#EXT-X-ENDLIST\n";
  absl::StatusOr<std::vector<HlsPlaylistEntry>> entries = ParseMediaPlaylist(playlist);
  ASSERT_TRUE(entries.ok()) << entries.status();
  ASSERT_EQ(entries->size(), 3u);
  EXPECT_EQ((*entries)[0].seq, 5u);
  EXPECT_EQ((*entries)[0].duration_us, 2'000'000u);
  EXPECT_EQ((*entries)[1].seq, 6u);
  EXPECT_EQ((*entries)[2].seq, 7u);
  EXPECT_EQ((*entries)[2].duration_us, 1'466'667u);
}

TEST(HlsNamesTest, BadPlaylistsAreRefused) {
  EXPECT_FALSE(ParseMediaPlaylist("live4.ts\n").ok()) << "no #EXTM3U";
  EXPECT_FALSE(ParseMediaPlaylist("#EXTM3U\n#EXTINF:abc,\nlive4.ts\n").ok());
  EXPECT_FALSE(ParseMediaPlaylist("#EXTM3U\n#EXTINF:-1,\nlive4.ts\n").ok());
  EXPECT_FALSE(ParseMediaPlaylist("#EXTM3U\n#EXTINF:601,\nlive4.ts\n").ok());
  EXPECT_FALSE(ParseMediaPlaylist("#EXTM3U\n#EXTINF:nan,\nlive4.ts\n").ok());
  EXPECT_FALSE(ParseMediaPlaylist("#EXTM3U\n" + std::string(kMaxPlaylistBytes, '#')).ok());
  // Lines that are not media segments are skipped, not refused.
  absl::StatusOr<std::vector<HlsPlaylistEntry>> skipped =
      ParseMediaPlaylist("#EXTM3U\nlive4.ts\n#EXTINF:2,\nother.m3u8\n#EXTINF:2,\nlive5.ts\n");
  ASSERT_TRUE(skipped.ok()) << skipped.status();
  ASSERT_EQ(skipped->size(), 1u);
  EXPECT_EQ((*skipped)[0].seq, 6u);
}

}  // namespace
}  // namespace ingest
