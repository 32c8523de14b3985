#include "common/thread_priority.h"

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <thread>

#include "gtest/gtest.h"

namespace ingest {
namespace {

int ThisThreadNice() { return getpriority(PRIO_PROCESS, static_cast<id_t>(gettid())); }

TEST(ThreadPriorityTest, LowersOnlyTheCallingThread) {
  const int before = ThisThreadNice();
  int inside = 0;
  int inside_before = 0;
  std::thread worker([&] {
    inside_before = ThisThreadNice();
    ASSERT_TRUE(LowerThisThreadPriority(kBackgroundNice).ok());
    inside = ThisThreadNice();
  });
  worker.join();
  EXPECT_EQ(inside, std::min(inside_before + kBackgroundNice, 19));
  EXPECT_EQ(ThisThreadNice(), before) << "the thread that started the worker keeps its priority";
}

TEST(ThreadPriorityTest, NeverRaisesPriority) {
  std::thread worker([] {
    EXPECT_FALSE(LowerThisThreadPriority(0).ok());
    EXPECT_FALSE(LowerThisThreadPriority(-5).ok());
    // Past the weakest nice value it stays there.
    ASSERT_TRUE(LowerThisThreadPriority(100).ok());
    EXPECT_EQ(ThisThreadNice(), 19);
  });
  worker.join();
}

}  // namespace
}  // namespace ingest
