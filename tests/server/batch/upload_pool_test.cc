// The upload pool over a real LocalDirStore (and one that fails or is slow):
// every job gets exactly one result, failures name the object, and shutting
// down with a queue never waits for it.
#include "server/batch/upload_pool.h"

#include <atomic>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "server/store/local_dir_store.h"
#include "tests/support/faulty_store.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::FaultyStore;
using ::ingest::testing::TempDir;

std::shared_ptr<const std::vector<uint8_t>> Bytes(const std::string& s) {
  return std::make_shared<const std::vector<uint8_t>>(s.begin(), s.end());
}

// Takes results until `count` have arrived or 5 s passed.
std::vector<UploadResult> Collect(UploadPool& pool, size_t count) {
  std::vector<UploadResult> all;
  const absl::Time deadline = absl::Now() + absl::Seconds(5);
  while (all.size() < count && absl::Now() < deadline) {
    for (UploadResult& r : pool.WaitForResults(absl::Milliseconds(100))) all.push_back(std::move(r));
  }
  return all;
}

TEST(UploadPoolTest, EveryJobCompletesWithItsResult) {
  TempDir dir;
  LocalDirStore store(dir.path() + "/store");
  UploadPool pool(&store, /*threads=*/3);
  constexpr uint64_t kJobs = 20;
  for (uint64_t id = 1; id <= kJobs; ++id) {
    pool.Submit({.id = id,
                 .objects = {{absl::StrCat("z/a/", id), Bytes(absl::StrCat("first ", id))},
                             {absl::StrCat("z/b/", id), Bytes(absl::StrCat("second ", id))}}});
  }
  EXPECT_EQ(pool.outstanding(), kJobs);

  std::vector<UploadResult> results = Collect(pool, kJobs);
  ASSERT_EQ(results.size(), kJobs);
  std::set<uint64_t> ids;
  for (const UploadResult& r : results) {
    EXPECT_TRUE(r.status.ok()) << r.status;
    EXPECT_GE(r.took, absl::ZeroDuration());
    ids.insert(r.id);
  }
  EXPECT_EQ(ids.size(), kJobs);
  EXPECT_EQ(*ids.begin(), 1u);
  EXPECT_EQ(*ids.rbegin(), kJobs);
  EXPECT_EQ(pool.outstanding(), 0u);
  for (uint64_t id = 1; id <= kJobs; ++id) {
    absl::StatusOr<std::vector<uint8_t>> got = store.Get(absl::StrCat("z/b/", id));
    ASSERT_TRUE(got.ok()) << got.status();
    EXPECT_EQ(*got, *Bytes(absl::StrCat("second ", id)));
  }
  // Nothing more comes, and waiting for it is bounded.
  const absl::Time start = absl::Now();
  EXPECT_TRUE(pool.WaitForResults(absl::Milliseconds(50)).empty());
  EXPECT_LT(absl::Now() - start, absl::Seconds(2));
}

TEST(UploadPoolTest, AFailingStoreGivesErrorResultsNamingTheObject) {
  TempDir dir;
  FaultyStore store(dir.path() + "/store");
  UploadPool pool(&store, /*threads=*/2);
  store.FailAllPuts(true);
  for (uint64_t id = 1; id <= 4; ++id) pool.Submit({.id = id, .objects = {{absl::StrCat("z/x/", id), Bytes("x")}}});
  std::vector<UploadResult> results = Collect(pool, 4);
  ASSERT_EQ(results.size(), 4u);
  for (const UploadResult& r : results) {
    EXPECT_TRUE(absl::IsUnavailable(r.status)) << r.status;
    EXPECT_NE(r.status.message().find(absl::StrCat("put z/x/", r.id)), absl::string_view::npos) << r.status;
  }
  EXPECT_TRUE(store.List("z/").value().empty());

  // A job stops at its first failing object: later ones are not even tried.
  store.Heal();
  store.FailPutsWithPrefix("z/2");
  pool.Submit({.id = 9, .objects = {{"z/1", Bytes("one")}, {"z/2", Bytes("two")}, {"z/3", Bytes("three")}}});
  results = Collect(pool, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].id, 9u);
  EXPECT_TRUE(absl::IsUnavailable(results[0].status)) << results[0].status;
  EXPECT_NE(results[0].status.message().find("z/2"), absl::string_view::npos) << results[0].status;
  EXPECT_EQ(store.puts_ok("z/1"), 1);
  EXPECT_EQ(store.put_attempts("z/2"), 1);
  EXPECT_EQ(store.put_attempts("z/3"), 0);

  // The store comes back: the same job now succeeds.
  store.Heal();
  pool.Submit({.id = 10, .objects = {{"z/1", Bytes("one")}, {"z/2", Bytes("two")}, {"z/3", Bytes("three")}}});
  results = Collect(pool, 1);
  ASSERT_EQ(results.size(), 1u);
  EXPECT_TRUE(results[0].status.ok()) << results[0].status;
  EXPECT_EQ(store.puts_ok("z/3"), 1);
}

// A store whose Puts block until released, so a test controls what is
// running and what is queued.
class GatedStore : public LocalDirStore {
 public:
  using LocalDirStore::LocalDirStore;
  absl::Status Put(std::string_view key, absl::Span<const uint8_t> data) override {
    {
      absl::MutexLock lock(&mu_);
      ++started_;
      mu_.Await(absl::Condition(&open_));
    }
    return LocalDirStore::Put(key, data);
  }
  void Open() {
    absl::MutexLock lock(&mu_);
    open_ = true;
  }
  // Waits up to 5 s for `n` Puts to have started.
  bool WaitForStarted(int n) {
    absl::MutexLock lock(&mu_);
    want_ = n;
    return mu_.AwaitWithTimeout(absl::Condition(
                                    +[](GatedStore* s) { return s->started_ >= s->want_; }, this),
                                absl::Seconds(5));
  }
  int started() {
    absl::MutexLock lock(&mu_);
    return started_;
  }

 private:
  absl::Mutex mu_;
  bool open_ ABSL_GUARDED_BY(mu_) = false;
  int started_ ABSL_GUARDED_BY(mu_) = 0;
  int want_ ABSL_GUARDED_BY(mu_) = 0;
};

TEST(UploadPoolTest, OutstandingCountsJobsUntilTheirResultsAreTaken) {
  TempDir dir;
  GatedStore store(dir.path() + "/store");
  UploadPool pool(&store, /*threads=*/2);
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_TRUE(pool.WaitForResults(absl::ZeroDuration()).empty());
  for (uint64_t id = 1; id <= 5; ++id) pool.Submit({.id = id, .objects = {{absl::StrCat("z/", id), Bytes("x")}}});
  EXPECT_EQ(pool.outstanding(), 5u);
  ASSERT_TRUE(store.WaitForStarted(2));  // two running, three queued
  EXPECT_TRUE(pool.WaitForResults(absl::Milliseconds(20)).empty());
  EXPECT_EQ(pool.outstanding(), 5u);

  store.Open();
  std::vector<UploadResult> results = Collect(pool, 2);
  ASSERT_GE(results.size(), 2u);
  EXPECT_EQ(pool.outstanding(), 5u - results.size());
  std::vector<UploadResult> rest = Collect(pool, 5 - results.size());
  EXPECT_EQ(results.size() + rest.size(), 5u);
  EXPECT_EQ(pool.outstanding(), 0u);
  EXPECT_EQ(store.started(), 5);
}

TEST(UploadPoolTest, DestroyingWithQueuedJobsDoesNotWaitForThem) {
  TempDir dir;
  GatedStore store(dir.path() + "/store");
  auto pool = std::make_unique<UploadPool>(&store, /*threads=*/2);
  for (uint64_t id = 1; id <= 200; ++id) {
    pool->Submit({.id = id, .objects = {{absl::StrCat("z/", id), Bytes("x")}}});
  }
  ASSERT_TRUE(store.WaitForStarted(2));  // two running, 198 queued
  // The destructor waits for the two running Puts, which finish once
  // released, and drops the queue.
  std::atomic<bool> destroyed{false};
  std::thread destroyer([&] {
    pool.reset();
    destroyed = true;
  });
  absl::SleepFor(absl::Milliseconds(100));
  EXPECT_FALSE(destroyed);  // still waiting for the running Puts
  const absl::Time opened_at = absl::Now();
  store.Open();
  destroyer.join();
  EXPECT_LT(absl::Now() - opened_at, absl::Seconds(2));
  EXPECT_LT(store.started(), 200);
  EXPECT_LT(store.List("z/").value().size(), 200u);

  // A pool with jobs queued and no result ever taken also goes away cleanly.
  LocalDirStore plain(dir.path() + "/plain");
  { UploadPool idle(&plain, /*threads=*/1); }
  {
    UploadPool busy(&plain, /*threads=*/1);
    for (uint64_t id = 1; id <= 50; ++id) busy.Submit({.id = id, .objects = {{absl::StrCat("y/", id), Bytes("y")}}});
  }
}

}  // namespace
}  // namespace ingest
