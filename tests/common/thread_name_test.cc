#include "common/thread_name.h"

#include <thread>

#include "gtest/gtest.h"

namespace ingest {
namespace {

TEST(ThreadNameTest, NamesOnlyTheCallingThread) {
  const std::string before = ThisThreadName();
  std::string inside;
  std::thread t([&] {
    NameThisThread("shard-3");
    inside = ThisThreadName();
  });
  t.join();
  EXPECT_EQ(inside, "shard-3");
  EXPECT_EQ(ThisThreadName(), before);
}

TEST(ThreadNameTest, CutsLongNamesToWhatTheKernelKeeps) {
  std::string inside;
  std::thread t([&] {
    NameThisThread("a-name-longer-than-fifteen-bytes");
    inside = ThisThreadName();
  });
  t.join();
  EXPECT_EQ(inside, "a-name-longer-t");
}

}  // namespace
}  // namespace ingest
