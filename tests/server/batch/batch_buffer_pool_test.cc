// Batch object buffers come back for the next batch, at most max_kept of
// them, and one still out when the pool goes is freed, not leaked.
#include "server/batch/batch_buffer_pool.h"

#include <memory>
#include <vector>

#include "gtest/gtest.h"

namespace ingest {
namespace {

TEST(BatchBufferPoolTest, AReleasedBufferIsTheNextOneTakenWithItsPagesAndSize) {
  BatchBufferPool pool(/*max_kept=*/2);
  const uint8_t* data = nullptr;
  {
    std::shared_ptr<BatchBytes> first = pool.Take(1 << 20);
    ASSERT_GE(first->capacity(), size_t{1} << 20);
    first->assign(1 << 20, 0x5a);
    data = first->data();
    EXPECT_EQ(reinterpret_cast<uintptr_t>(data) % kBatchBytesAlignment, 0u) << "O_DIRECT stores write it as is";
    std::shared_ptr<const BatchBytes> uploading = first;  // as the upload pool holds it
    first.reset();
    EXPECT_EQ(pool.kept(), 0u);
  }
  EXPECT_EQ(pool.kept(), 1u);
  std::shared_ptr<BatchBytes> again = pool.Take(1 << 20);
  EXPECT_EQ(again->data(), data);
  EXPECT_EQ(again->size(), size_t{1} << 20);  // resize() to less will not fill
  EXPECT_EQ((*again)[12345], 0x5a);
  EXPECT_EQ(pool.kept(), 0u);
}

TEST(BatchBufferPoolTest, KeepsAtMostMaxKeptAndGrowsAKeptBufferWhenAsked) {
  BatchBufferPool pool(/*max_kept=*/2);
  {
    std::vector<std::shared_ptr<BatchBytes>> out;
    for (int i = 0; i < 4; ++i) out.push_back(pool.Take(4096));
  }
  EXPECT_EQ(pool.kept(), 2u);
  std::shared_ptr<BatchBytes> bigger = pool.Take(1 << 16);
  EXPECT_GE(bigger->capacity(), size_t{1} << 16);
}

TEST(BatchBufferPoolTest, ABufferOutlivingThePoolIsFreed) {
  std::shared_ptr<BatchBytes> survivor;
  {
    BatchBufferPool pool(/*max_kept=*/1);
    survivor = pool.Take(4096);
  }
  survivor->push_back(1);
  survivor.reset();  // AddressSanitizer reports a leak if it was not freed
}

}  // namespace
}  // namespace ingest
