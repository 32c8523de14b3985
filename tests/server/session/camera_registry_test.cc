// CameraRegistry and CameraState: one entry per camera shared by every
// shard; ownership by claim (a newer session supersedes the older), accepted
// seqs only ever rising and only once each, durable and persisted marks that
// never go back, recovery seeding, and the fingerprints of the last
// kRememberedSegments seqs for telling a re-send from a different segment.
#include "server/session/camera_registry.h"

#include <atomic>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ingest {
namespace {

SegmentFingerprint Fingerprint(uint32_t crc, uint32_t bytes = 1000) {
  return SegmentFingerprint{.payload_crc = crc,
                            .payload_bytes = bytes,
                            .capture_start_us = 1'700'000'000'000'000,
                            .duration_us = 2'000'000,
                            .keyframe = true};
}

TEST(CameraRegistryTest, OneStatePerCameraAtAStableAddress) {
  CameraRegistry registry;
  EXPECT_EQ(registry.size(), 0u);
  CameraState& a = registry.Get("cam-a");
  CameraState& b = registry.Get("cam-b");
  EXPECT_NE(&a, &b);
  EXPECT_EQ(a.id(), "cam-a");
  EXPECT_EQ(registry.size(), 2u);
  // Many more cameras: the table grows, the references stay valid.
  for (int i = 0; i < 5000; ++i) registry.Get(absl::StrCat("cam-", i));
  EXPECT_EQ(&registry.Get("cam-a"), &a);
  EXPECT_EQ(&registry.Get(std::string("cam-b")), &b);
  EXPECT_EQ(registry.size(), 5002u);
  // A camera's metadata streams (HTTPS ingest) have states of their own but
  // are not cameras.
  CameraState& init = registry.Get("cam-a~init");
  EXPECT_NE(&init, &a);
  registry.Get("cam-a~m3u8");
  EXPECT_EQ(registry.size(), 5002u);
}

TEST(CameraRegistryTest, ShardsLookingUpTheSameCamerasAtOnceShareOneEntryEach) {
  CameraRegistry registry;
  constexpr int kCameras = 300;
  std::vector<std::vector<CameraState*>> seen(4, std::vector<CameraState*>(kCameras));
  std::vector<std::thread> shards;
  for (int t = 0; t < 4; ++t) {
    shards.emplace_back([&, t] {
      for (int i = 0; i < kCameras; ++i) seen[t][i] = &registry.Get(absl::StrCat("cam-", (i * 7 + t) % kCameras));
    });
  }
  for (std::thread& shard : shards) shard.join();
  EXPECT_EQ(registry.size(), static_cast<size_t>(kCameras));
  for (int t = 0; t < 4; ++t) {
    for (int i = 0; i < kCameras; ++i) {
      const std::string id = absl::StrCat("cam-", (i * 7 + t) % kCameras);
      ASSERT_EQ(seen[t][i], &registry.Get(id)) << "shard " << t << " got another entry for " << id;
      EXPECT_EQ(seen[t][i]->id(), id);
    }
  }
}

TEST(CameraStateTest, EachClaimMakesANewOwnerAndTheOldOneSeesIt) {
  CameraState camera("cam-1");
  EXPECT_EQ(camera.owner(), 0u);
  const uint64_t first = camera.Claim();
  EXPECT_EQ(camera.owner(), first);
  const uint64_t second = camera.Claim();
  EXPECT_NE(second, first);
  EXPECT_EQ(camera.owner(), second);  // the first session is superseded
}

TEST(CameraStateTest, ClaimsRacingFromManyShardsAreAllDistinct) {
  CameraState camera("cam-1");
  std::vector<std::vector<uint64_t>> tokens(4);
  std::vector<std::thread> shards;
  for (int t = 0; t < 4; ++t) {
    shards.emplace_back([&, t] {
      for (int i = 0; i < 1000; ++i) tokens[t].push_back(camera.Claim());
    });
  }
  for (std::thread& shard : shards) shard.join();
  std::set<uint64_t> all;
  for (const auto& list : tokens) all.insert(list.begin(), list.end());
  EXPECT_EQ(all.size(), 4000u);
  EXPECT_EQ(camera.owner(), *all.rbegin());  // the last claim owns the camera
}

TEST(CameraStateTest, AcceptTakesEachSeqOnceAndOnlyAboveWhatWasAccepted) {
  CameraState camera("cam-1");
  EXPECT_EQ(camera.accepted(), 0u);
  EXPECT_FALSE(camera.TryAccept(0));
  EXPECT_TRUE(camera.TryAccept(1));
  EXPECT_FALSE(camera.TryAccept(1)) << "a re-send is not accepted twice";
  EXPECT_TRUE(camera.TryAccept(5));  // gaps are the session's business (SKIP)
  EXPECT_FALSE(camera.TryAccept(3));
  EXPECT_EQ(camera.accepted(), 5u);
}

TEST(CameraStateTest, DurableAndPersistedOnlyRise) {
  CameraState camera("cam-1");
  camera.RaiseDurable(10);
  camera.RaiseDurable(4);  // a slower shard's commit finishing late
  EXPECT_EQ(camera.durable(), 10u);
  camera.RaisePersisted(7);
  camera.RaisePersisted(2);
  EXPECT_EQ(camera.persisted(), 7u);
  // Raising durable does not accept anything (recovery does, see below).
  EXPECT_EQ(camera.accepted(), 0u);
}

TEST(CameraStateTest, RaisesFromManyThreadsKeepTheHighest) {
  CameraState camera("cam-1");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (uint64_t seq = 1; seq <= 5000; ++seq) {
        camera.RaiseDurable(seq * 4 + t);
        camera.RaisePersisted(seq * 4 + t);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(camera.durable(), 5000u * 4 + 3);
  EXPECT_EQ(camera.persisted(), 5000u * 4 + 3);
}

TEST(CameraStateTest, RecoverySeedsAcceptedAndDurableSoResendsAreRecognised) {
  CameraState camera("cam-1");
  camera.SeedDurable(42);
  EXPECT_EQ(camera.accepted(), 42u);
  EXPECT_EQ(camera.durable(), 42u);
  EXPECT_EQ(camera.persisted(), 0u) << "recovery says nothing about the store";
  EXPECT_FALSE(camera.TryAccept(42));
  EXPECT_TRUE(camera.TryAccept(43));
  camera.SeedDurable(10);  // an older spool file replayed after a newer one
  EXPECT_EQ(camera.accepted(), 43u);
  EXPECT_EQ(camera.durable(), 42u);
}

TEST(CameraStateTest, RemembersTheLastSegmentsContents) {
  CameraState camera("cam-1");
  EXPECT_FALSE(camera.Recall(1).has_value()) << "nothing remembered before the first segment";
  EXPECT_FALSE(camera.Recall(0).has_value());
  for (uint64_t seq = 1; seq <= 100; ++seq) camera.Remember(seq, Fingerprint(static_cast<uint32_t>(seq)));
  // The last kRememberedSegments seqs are recalled exactly...
  for (uint64_t seq = 100 - kRememberedSegments + 1; seq <= 100; ++seq) {
    std::optional<SegmentFingerprint> recalled = camera.Recall(seq);
    ASSERT_TRUE(recalled.has_value()) << seq;
    EXPECT_EQ(*recalled, Fingerprint(static_cast<uint32_t>(seq))) << seq;
  }
  // ... older ones are forgotten rather than confused with a newer one in
  // the same slot, and seqs never seen are unknown.
  EXPECT_FALSE(camera.Recall(100 - kRememberedSegments).has_value());
  EXPECT_FALSE(camera.Recall(1).has_value());
  EXPECT_FALSE(camera.Recall(101).has_value());
  EXPECT_FALSE(camera.Recall(100 + kRememberedSegments).has_value());
}

TEST(CameraStateTest, ANewerSeqInASlotIsNotOverwrittenByAnOlderOneReplayed) {
  CameraState camera("cam-1");
  const uint64_t newer = 5 + kRememberedSegments;  // same slot as 5
  camera.Remember(newer, Fingerprint(2));
  camera.Remember(5, Fingerprint(1));  // recovery replaying an older file
  ASSERT_TRUE(camera.Recall(newer).has_value());
  EXPECT_EQ(camera.Recall(newer)->payload_crc, 2u);
  EXPECT_FALSE(camera.Recall(5).has_value());
}

TEST(CameraStateTest, FingerprintsDifferInEveryFieldAReSendMustRepeat) {
  const SegmentFingerprint base = Fingerprint(7);
  SegmentFingerprint other = base;
  EXPECT_EQ(other, base);
  other.payload_crc = 8;
  EXPECT_NE(other, base);
  other = base;
  other.payload_bytes += 1;
  EXPECT_NE(other, base);
  other = base;
  other.capture_start_us += 1;
  EXPECT_NE(other, base);
  other = base;
  other.duration_us += 1;
  EXPECT_NE(other, base);
  other = base;
  other.keyframe = false;
  EXPECT_NE(other, base);
}

}  // namespace
}  // namespace ingest
