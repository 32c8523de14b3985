#include "server/session/segment_buffer_pool.h"

#include "gtest/gtest.h"

namespace ingest {
namespace {

TEST(SegmentBufferPoolTest, ReusesReleasedBuffers) {
  SegmentBufferPool pool(1 << 20);
  SegmentBuffer a = pool.Allocate(100000);
  ASSERT_NE(a.data, nullptr);
  EXPECT_EQ(a.capacity, 114688u);  // 64 KiB + 3 x 16 KiB: a quarter-power step
  pool.Release(a);
  SegmentBuffer b = pool.Allocate(110000);
  EXPECT_EQ(b.data, a.data);
  pool.Release(b);
}

TEST(SegmentBufferPoolTest, DeniesBeyondBudgetAndRecoversAfterRelease) {
  SegmentBufferPool pool(256 * 1024);
  SegmentBuffer a = pool.Allocate(128 * 1024);
  SegmentBuffer b = pool.Allocate(128 * 1024);
  ASSERT_NE(a.data, nullptr);
  ASSERT_NE(b.data, nullptr);
  SegmentBuffer c = pool.Allocate(1);
  EXPECT_EQ(c.data, nullptr);
  EXPECT_EQ(pool.denials(), 1u);
  pool.Release(a);
  // A different size class fits once cached buffers are given back.
  SegmentBuffer d = pool.Allocate(64 * 1024);
  EXPECT_NE(d.data, nullptr);
  pool.Release(b);
  pool.Release(d);
  EXPECT_EQ(pool.bytes_in_use(), 0u);
}

TEST(SegmentBufferPoolTest, RefusesLargerThanLargestClass) {
  SegmentBufferPool pool(uint64_t{1} << 40);
  EXPECT_EQ(pool.Allocate(size_t{64} << 20).data, nullptr);
}

}  // namespace
}  // namespace ingest
