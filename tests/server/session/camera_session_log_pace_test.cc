// CameraState::AllowSessionLog: a burst, then one line per interval, and the
// skipped ones reported by the next line allowed.
#include "gtest/gtest.h"
#include "server/session/camera_registry.h"

namespace ingest {
namespace {

TEST(CameraSessionLogPaceTest, ABurstThenOnePerIntervalWithTheSkippedCounted) {
  CameraState camera("cam-1");
  const absl::Time t0 = absl::FromUnixSeconds(1'800'000'000);
  uint64_t skipped = 99;
  for (int i = 0; i < kSessionLogBurst; ++i) {
    ASSERT_TRUE(camera.AllowSessionLog(t0, skipped)) << i;
    EXPECT_EQ(skipped, 0u);
  }
  EXPECT_FALSE(camera.AllowSessionLog(t0, skipped));
  EXPECT_FALSE(camera.AllowSessionLog(t0 + kSessionLogInterval / 2, skipped));
  ASSERT_TRUE(camera.AllowSessionLog(t0 + kSessionLogInterval, skipped));
  EXPECT_EQ(skipped, 2u);
  EXPECT_FALSE(camera.AllowSessionLog(t0 + kSessionLogInterval, skipped));
  // A quiet camera earns its whole burst back.
  const absl::Time later = t0 + kSessionLogInterval * (kSessionLogBurst + 2);
  for (int i = 0; i < kSessionLogBurst; ++i) ASSERT_TRUE(camera.AllowSessionLog(later, skipped)) << i;
  // (The first of these reported the one skipped just before: 1, then 0.)
  EXPECT_EQ(skipped, 0u);
}

}  // namespace
}  // namespace ingest
