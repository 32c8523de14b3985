#include "server/shard/pause_queue.h"

#include <cstdint>
#include <vector>

#include "gtest/gtest.h"

namespace ingest {
namespace {

// A stand-in for the shard: a byte budget that resumed cameras take from;
// a camera that finds too little pauses again.
struct Budget {
  PauseQueue& paused;
  uint64_t free_bytes;
  std::vector<uint32_t> served{};

  bool Resume(uint32_t id, uint64_t wants) {
    if (wants > free_bytes) {
      paused.Pause(id);
      return false;
    }
    free_bytes -= wants;
    served.push_back(id);
    return true;
  }
};

TEST(PauseQueueTest, NoNewSegmentWhileACameraWaits) {
  PauseQueue paused;
  EXPECT_TRUE(paused.MayStartSegment());
  paused.Pause(7);
  EXPECT_FALSE(paused.MayStartSegment()) << "a camera not paused would overtake camera 7";
  paused.Retry([](uint32_t) { return true; });
  EXPECT_TRUE(paused.empty());
  EXPECT_TRUE(paused.MayStartSegment());
}

TEST(PauseQueueTest, ResumesInPauseOrder) {
  PauseQueue paused;
  for (uint32_t id : {5u, 3u, 9u, 1u}) paused.Pause(id);
  std::vector<uint32_t> resumed;
  paused.Retry([&](uint32_t id) {
    EXPECT_TRUE(paused.MayStartSegment()) << "camera " << id << " is next in line";
    resumed.push_back(id);
    return true;
  });
  EXPECT_EQ(resumed, (std::vector<uint32_t>{5, 3, 9, 1}));
}

TEST(PauseQueueTest, OneThatGetsNoMemoryKeepsItsPlaceAndTheRestWaitBehindIt) {
  PauseQueue paused;
  for (uint32_t id : {1u, 2u, 3u, 4u}) paused.Pause(id);
  Budget budget{.paused = paused, .free_bytes = 250};
  paused.Retry([&](uint32_t id) { return budget.Resume(id, 100); });  // room for two
  EXPECT_EQ(budget.served, (std::vector<uint32_t>{1, 2}));
  ASSERT_EQ(paused.size(), 2u);
  EXPECT_FALSE(paused.MayStartSegment());

  budget.free_bytes += 40;  // not enough yet: nobody overtakes camera 3
  paused.Retry([&](uint32_t id) { return budget.Resume(id, id == 4 ? 10 : 100); });
  EXPECT_EQ(budget.served, (std::vector<uint32_t>{1, 2}));

  budget.free_bytes += 500;  // segments became durable
  paused.Retry([&](uint32_t id) { return budget.Resume(id, 100); });
  EXPECT_EQ(budget.served, (std::vector<uint32_t>{1, 2, 3, 4}));
  EXPECT_TRUE(paused.empty());
}

// Every camera always wants another segment, and a segment's worth comes
// back per turn: each is served once before any is served twice, even one
// that pauses again for its next segment right after being served.
TEST(PauseQueueTest, ACameraServedAndPausedAgainGoesToTheBack) {
  PauseQueue paused;
  constexpr uint32_t kCameras = 50;
  for (uint32_t id = 0; id < kCameras; ++id) paused.Pause(id);
  Budget budget{.paused = paused, .free_bytes = 0};
  for (uint32_t turn = 0; turn < 3 * kCameras; ++turn) {
    budget.free_bytes += 100;
    paused.Retry([&](uint32_t id) {
      const bool got = budget.Resume(id, 100);
      if (got) paused.Pause(id);  // its next segment, already buffered
      return got;
    });
  }
  ASSERT_EQ(budget.served.size(), 3 * kCameras);
  for (size_t i = 0; i < budget.served.size(); ++i) EXPECT_EQ(budget.served[i], i % kCameras) << i;
}

}  // namespace
}  // namespace ingest
