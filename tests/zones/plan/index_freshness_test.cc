// The index write model against hand-worked cases: intervals that divide the
// hour, intervals too short for the hour rule to matter, an interval whose
// phase drifts until the hour rule catches it, and intervals of an hour and
// more. Also holds the model's mirrored constants to the server's defaults.
#include "zones/plan/index_freshness.h"

#include <algorithm>
#include <cmath>

#include "absl/time/time.h"
#include "gtest/gtest.h"
#include "server/batch/batch_sealer.h"
#include "server/config/ingest_config.h"
#include "zones/plan/capacity_plan.h"

namespace ingest::zones {
namespace {

TEST(IndexFreshnessTest, WritesObjectsAndWaitsPerInterval) {
  struct Case {
    uint32_t interval_s;
    double writes;  // per camera-hour
    double puts;    // objects per camera-hour
    double worst_s;
    double typical_s;
    const char* why;
  };
  const Case cases[] = {
      // Shorter than the 2 min grace less the 5 s lag: the hour rule never
      // cuts a window; 3,600 / I writes, and the one across the hour's end
      // puts two objects.
      {1, 3600, 3601, 1, 0.5, "one second"},
      {7, 3600.0 / 7, 3600.0 / 7 + 1, 7, 3.5, "does not divide the hour"},
      {60, 60, 61, 60, 30, "a minute"},
      {115, 3600.0 / 115, 3600.0 / 115 + 1, 115, 57.5, "grace minus lag, the last free interval"},
      // Longer: writes fall at 2 min + k x I past each hour; the last window
      // of the hour ends 2 min after it and holds both hours: two objects.
      {120, 30, 31, 120, 60, "the grace itself"},
      {300, 12, 13, 300, 150, "five minutes"},
      {420, 9, 10, 420, (8 * 420.0 * 420 + 240.0 * 240) / 7200, "8 windows of 420 s and one of 240 s"},
      {600, 6, 7, 600, 300, "the server's default"},
      {1000, 4, 5, 1000, (3 * 1000.0 * 1000 + 600.0 * 600) / 7200, "3 of 1000 s and one of 600 s"},
      {1800, 2, 3, 1800, 900, "half an hour"},
      // 1190 s: three windows take 3,570 s, so the phase drifts 30 s an hour
      // until a window's first segment falls before the hour: a 4 h cycle of
      // 12 windows of 1190 s, one of 120 s, and 4 hour ends inside windows.
      {1190, 13.0 / 4, 17.0 / 4, 1190, (12 * 1190.0 * 1190 + 120.0 * 120) / (2 * 14400), "phase drifts, 4 h cycle"},
      // 3590 s: 10 s of drift an hour, a 12 h cycle of 12 windows of 3590 s
      // (one not across an hour's end) and one of 120 s.
      {3590, 13.0 / 12, 25.0 / 12, 3590, (12 * 3590.0 * 3590 + 120.0 * 120) / (2 * 43200), "phase drifts, 12 h"},
      // An hour and more: the hour rule writes once an hour, two objects.
      {3600, 1, 2, 3600, 1800, "an hour"},
      {7200, 1, 2, 3600, 1800, "two hours: the hour rule decides"},
      {86400, 1, 2, 3600, 1800, "a day, the server's maximum"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(testing::Message() << c.interval_s << " s: " << c.why);
    IndexFreshness f = ModelIndexWrites(c.interval_s);
    EXPECT_EQ(f.interval_s, c.interval_s);
    EXPECT_NEAR(f.writes_per_camera_hour, c.writes, 1e-9);
    EXPECT_NEAR(f.puts_per_camera_hour, c.puts, 1e-9);
    EXPECT_NEAR(f.worst_delay_s, c.worst_s, 1e-9);
    EXPECT_NEAR(f.typical_delay_s, c.typical_s, 1e-9);
  }
}

TEST(IndexFreshnessTest, BoundsHoldForEveryInterval) {
  // Whatever the interval: at least 3,600 / I writes a camera-hour (windows
  // are never longer than I) and at most ceil of it (the hour rule cuts one
  // window an hour at most), never fewer than one; one PUT more than writes,
  // for the hour's end; nobody waits longer than the interval or an hour.
  for (uint32_t interval = 1; interval <= 7200; interval += interval < 200 ? 1 : 7) {
    SCOPED_TRACE(interval);
    IndexFreshness f = ModelIndexWrites(interval);
    const double free_writes = 3600.0 / interval;
    EXPECT_GE(f.writes_per_camera_hour, std::max(1.0, free_writes) - 1e-9);
    EXPECT_LE(f.writes_per_camera_hour, std::ceil(free_writes) + 1e-9);
    EXPECT_DOUBLE_EQ(f.puts_per_camera_hour, f.writes_per_camera_hour + 1);
    EXPECT_LE(f.worst_delay_s, std::min<double>(interval, 3600) + 1e-9);
    EXPECT_LE(f.typical_delay_s, f.worst_delay_s / 2 + 1e-9);
    EXPECT_GT(f.typical_delay_s, 0);
  }
}

TEST(IndexFreshnessTest, MirroredConstantsMatchTheServer) {
  // The model copies these from the server; a change there must show here.
  BatchSealerOptions sealer;
  EXPECT_EQ(sealer.index_hour_grace, absl::Seconds(kIndexHourGraceS));
  EXPECT_EQ(sealer.poll_interval, absl::Seconds(kSealerPassS));
  EXPECT_EQ(IngestConfig{}.store.index_interval_s, StoreSettings{}.index_interval_s);
  EXPECT_EQ(sealer.index_interval, absl::Seconds(StoreSettings{}.index_interval_s));
}

}  // namespace
}  // namespace ingest::zones
