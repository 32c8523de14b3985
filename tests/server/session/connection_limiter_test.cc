#include "server/session/connection_limiter.h"

#include "gtest/gtest.h"

namespace ingest {
namespace {

TEST(ConnectionLimiterTest, EnforcesTotalAndPerSource) {
  ConnectionLimiter limiter(3, 2);
  EXPECT_EQ(limiter.TryAdmit("10.0.0.1"), Admission::kAdmitted);
  EXPECT_EQ(limiter.TryAdmit("10.0.0.1"), Admission::kAdmitted);
  EXPECT_EQ(limiter.TryAdmit("10.0.0.1"), Admission::kOverPerSource);
  EXPECT_EQ(limiter.TryAdmit("10.0.0.2"), Admission::kAdmitted);
  EXPECT_EQ(limiter.TryAdmit("10.0.0.3"), Admission::kOverTotal);
  EXPECT_EQ(limiter.total(), 3u);
  limiter.Release("10.0.0.1");
  EXPECT_EQ(limiter.TryAdmit("10.0.0.1"), Admission::kAdmitted);
}

TEST(ConnectionLimiterTest, UnknownSourceCountsOnlyTowardsTotal) {
  ConnectionLimiter limiter(2, 1);
  EXPECT_EQ(limiter.TryAdmit(""), Admission::kAdmitted);
  EXPECT_EQ(limiter.TryAdmit(""), Admission::kAdmitted);
  EXPECT_EQ(limiter.TryAdmit(""), Admission::kOverTotal);
  limiter.Release("");
  limiter.Release("");
  EXPECT_EQ(limiter.total(), 0u);
}

}  // namespace
}  // namespace ingest
