// The cache shared by the temporary-credential providers: refresh before
// expiry, one fetch at a time, old credentials served through a failed
// refresh until they expire.
#include "server/s3/refreshing_credentials.h"

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/fake_aws_endpoints.h"

namespace ingest {
namespace {

using ::ingest::testing::FakeClock;

// A fetch whose next answers the test sets; counts calls.
struct ScriptedFetch {
  absl::Mutex mu;
  absl::StatusOr<AwsCredentials> next ABSL_GUARDED_BY(mu) = absl::UnavailableError("unset");
  int calls ABSL_GUARDED_BY(mu) = 0;

  void Set(absl::StatusOr<AwsCredentials> value) {
    absl::MutexLock lock(&mu);
    next = std::move(value);
  }
  int Calls() {
    absl::MutexLock lock(&mu);
    return calls;
  }
  RefreshingCredentials::Fetch AsFetch() {
    return [this]() -> absl::StatusOr<AwsCredentials> {
      absl::MutexLock lock(&mu);
      ++calls;
      return next;
    };
  }
};

AwsCredentials Creds(std::string key, absl::Time expiration) {
  return AwsCredentials{.access_key_id = std::move(key),
                        .secret_access_key = "secret",
                        .session_token = "token",
                        .expiration = expiration};
}

TEST(RefreshingCredentialsTest, FetchesOnceThenRefreshesBeforeExpiry) {
  FakeClock clock;
  ScriptedFetch fetch;
  const absl::Time t0 = clock.Now();
  fetch.Set(Creds("K1", t0 + absl::Hours(1)));
  RefreshingCredentials cache("test", fetch.AsFetch(), clock.AsFunction(),
                              {.refresh_before_expiry = absl::Minutes(5)});

  absl::StatusOr<AwsCredentials> got = cache.Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "K1");
  clock.Advance(absl::Minutes(54));
  EXPECT_EQ(cache.Get()->access_key_id, "K1");
  EXPECT_EQ(fetch.Calls(), 1);

  fetch.Set(Creds("K2", t0 + absl::Hours(2)));
  clock.Advance(absl::Minutes(2));  // 4 min before expiry: inside the window
  EXPECT_EQ(cache.Get()->access_key_id, "K2");
  EXPECT_EQ(cache.Get()->access_key_id, "K2");
  EXPECT_EQ(fetch.Calls(), 2);
  EXPECT_EQ(cache.fetches(), 2u);
  EXPECT_EQ(cache.failures(), 0u);
}

TEST(RefreshingCredentialsTest, FailedRefreshServesOldCredentialsUntilTheyExpire) {
  FakeClock clock;
  ScriptedFetch fetch;
  const absl::Time t0 = clock.Now();
  fetch.Set(Creds("K1", t0 + absl::Minutes(30)));
  RefreshingCredentials cache(
      "test", fetch.AsFetch(), clock.AsFunction(),
      {.refresh_before_expiry = absl::Minutes(5), .retry_after_failure = absl::Seconds(10)});
  ASSERT_TRUE(cache.Get().ok());

  fetch.Set(absl::UnavailableError("source down"));
  clock.Advance(absl::Minutes(26));
  absl::StatusOr<AwsCredentials> got = cache.Get();
  ASSERT_TRUE(got.ok()) << got.status();
  EXPECT_EQ(got->access_key_id, "K1");
  EXPECT_EQ(fetch.Calls(), 2);
  EXPECT_EQ(cache.failures(), 1u);

  // No new attempt until retry_after_failure has passed.
  clock.Advance(absl::Seconds(5));
  EXPECT_TRUE(cache.Get().ok());
  EXPECT_EQ(fetch.Calls(), 2);
  clock.Advance(absl::Seconds(6));
  EXPECT_TRUE(cache.Get().ok());
  EXPECT_EQ(fetch.Calls(), 3);

  // Expired and still failing: the fetch's error.
  clock.Advance(absl::Minutes(5));
  got = cache.Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(got.status().message(), "source down");

  // And it recovers as soon as the source does.
  fetch.Set(Creds("K3", clock.Now() + absl::Hours(1)));
  EXPECT_EQ(cache.Get()->access_key_id, "K3");
}

TEST(RefreshingCredentialsTest, FirstFetchErrorIsReturned) {
  ScriptedFetch fetch;
  fetch.Set(absl::PermissionDeniedError("no"));
  RefreshingCredentials cache("test", fetch.AsFetch(), nullptr, {});
  EXPECT_EQ(cache.Get().status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(cache.Get().status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(fetch.Calls(), 2);  // nothing to serve, so every call tries again
}

TEST(RefreshingCredentialsTest, AlreadyExpiredCredentialsAreAnError) {
  FakeClock clock;
  ScriptedFetch fetch;
  fetch.Set(Creds("K1", clock.Now() - absl::Seconds(1)));
  RefreshingCredentials cache("imds", fetch.AsFetch(), clock.AsFunction(), {});
  absl::StatusOr<AwsCredentials> got = cache.Get();
  EXPECT_EQ(got.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(got.status().message().find("imds: the credentials it returned expired at"),
            absl::string_view::npos)
      << got.status();
}

TEST(RefreshingCredentialsTest, ShortLivedCredentialsAreReusedBriefly) {
  FakeClock clock;
  ScriptedFetch fetch;
  fetch.Set(Creds("K1", clock.Now() + absl::Minutes(2)));  // inside the 5 min window
  RefreshingCredentials cache(
      "test", fetch.AsFetch(), clock.AsFunction(),
      {.refresh_before_expiry = absl::Minutes(5), .min_reuse = absl::Seconds(10)});
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(cache.Get().ok());
  EXPECT_EQ(fetch.Calls(), 1);
  clock.Advance(absl::Seconds(10));
  ASSERT_TRUE(cache.Get().ok());
  EXPECT_EQ(fetch.Calls(), 2);
}

TEST(RefreshingCredentialsTest, OneFetchAtATimeAndValidCredentialsDoNotWait) {
  FakeClock clock;
  absl::Notification release;
  std::atomic<int> in_fetch{0};
  std::atomic<int> max_in_fetch{0};
  std::atomic<int> calls{0};
  RefreshingCredentials cache(
      "test",
      [&]() -> absl::StatusOr<AwsCredentials> {
        const int now_in = ++in_fetch;
        int seen = max_in_fetch.load();
        while (now_in > seen && !max_in_fetch.compare_exchange_weak(seen, now_in)) {
        }
        const int call = ++calls;
        release.WaitForNotificationWithTimeout(absl::Seconds(10));
        --in_fetch;
        return Creds("K" + std::to_string(call), clock.Now() + absl::Hours(1));
      },
      clock.AsFunction(), {.refresh_before_expiry = absl::Minutes(5)});

  // Cold start: eight threads, one fetch, all get its credentials.
  std::vector<std::thread> threads;
  std::atomic<int> got_k1{0};
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&] {
      absl::StatusOr<AwsCredentials> got = cache.Get();
      if (got.ok() && got->access_key_id == "K1") ++got_k1;
    });
  }
  absl::SleepFor(absl::Milliseconds(50));
  release.Notify();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(got_k1.load(), 8);
  EXPECT_EQ(calls.load(), 1);
  EXPECT_EQ(max_in_fetch.load(), 1);

  // A refresh in flight does not hold up callers whose credentials are valid.
  absl::Notification release2;
  absl::Notification second_fetch_started;
  std::atomic<bool> refresher_done{false};
  std::atomic<int> slow_calls{0};
  RefreshingCredentials slow("slow",
                             [&]() -> absl::StatusOr<AwsCredentials> {
                               const int n = ++slow_calls;
                               if (n > 1) {
                                 second_fetch_started.Notify();
                                 release2.WaitForNotificationWithTimeout(absl::Seconds(10));
                               }
                               return Creds("S" + std::to_string(n), clock.Now() + absl::Hours(1));
                             },
                             clock.AsFunction(), {.refresh_before_expiry = absl::Minutes(5)});
  ASSERT_EQ(slow.Get()->access_key_id, "S1");
  clock.Advance(absl::Minutes(56));
  std::thread refresher([&] {
    EXPECT_EQ(slow.Get()->access_key_id, "S2");
    refresher_done = true;
  });
  ASSERT_TRUE(second_fetch_started.WaitForNotificationWithTimeout(absl::Seconds(10)));
  const absl::Time before = absl::Now();
  EXPECT_EQ(slow.Get()->access_key_id, "S1");  // served at once, refresh still running
  EXPECT_LT(absl::Now() - before, absl::Seconds(1));
  EXPECT_FALSE(refresher_done.load());
  release2.Notify();
  refresher.join();
  EXPECT_EQ(slow.Get()->access_key_id, "S2");
}

TEST(RefreshingCredentialsTest, WaitersShareAFailedFetchInsteadOfRepeatingIt) {
  absl::Notification release;
  std::atomic<int> calls{0};
  RefreshingCredentials cache("test",
                              [&]() -> absl::StatusOr<AwsCredentials> {
                                ++calls;
                                release.WaitForNotificationWithTimeout(absl::Seconds(10));
                                return absl::UnavailableError("down");
                              },
                              nullptr, {});
  std::vector<std::thread> threads;
  std::atomic<int> unavailable{0};
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      if (cache.Get().status().code() == absl::StatusCode::kUnavailable) ++unavailable;
    });
  }
  absl::SleepFor(absl::Milliseconds(100));
  release.Notify();
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(unavailable.load(), 6);
  // Threads that arrived while the first fetch ran took its outcome; only
  // a thread that came after it finished would fetch again.
  EXPECT_LT(calls.load(), 6);
  EXPECT_GE(calls.load(), 1);
}

TEST(CredentialTextTest, AcceptsKeysAndRejectsWhatCannotGoInAHeader) {
  EXPECT_TRUE(CheckCredentialText("key", "AKIAIOSFODNN7EXAMPLE", 20).ok());
  EXPECT_TRUE(CheckCredentialText("key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY+=", 64).ok());
  for (std::string bad :
       {std::string(), std::string("a b"), std::string("a\r\nX-Evil: 1"),
        std::string("caf\xC3\xA9"), std::string(21, 'a'), std::string("a\0b", 3)}) {
    absl::Status status = CheckCredentialText("AWS_SECRET_ACCESS_KEY", bad, 20);
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << bad;
    EXPECT_NE(status.message().find("AWS_SECRET_ACCESS_KEY"), absl::string_view::npos);
    if (bad.size() > 3) {
      EXPECT_EQ(status.message().find(bad), absl::string_view::npos) << "value echoed";
    }
  }
  AwsCredentials c{.access_key_id = "AK", .secret_access_key = "S K", .session_token = ""};
  EXPECT_EQ(CheckCredentials("file:3", c).message(),
            "file:3: secret access key contains a space, control or non-ASCII character");
}

TEST(AwsTimestampTest, ParsesTheFormsAwsWrites) {
  EXPECT_EQ(*ParseAwsTimestamp("2026-05-17T15:09:54Z"),
            absl::FromCivil(absl::CivilSecond(2026, 5, 17, 15, 9, 54), absl::UTCTimeZone()));
  EXPECT_EQ(*ParseAwsTimestamp("2026-07-15T23:28:33.359Z"),
            absl::FromCivil(absl::CivilSecond(2026, 7, 15, 23, 28, 33), absl::UTCTimeZone()) +
                absl::Milliseconds(359));
  EXPECT_EQ(*ParseAwsTimestamp("2026-07-15T23:28:33+01:00"),
            absl::FromCivil(absl::CivilSecond(2026, 7, 15, 22, 28, 33), absl::UTCTimeZone()));
  for (const char* bad :
       {"", "2026-07-15", "2026-07-15 23:28:33Z", "yesterday", "2026-13-01T00:00:00Z"}) {
    EXPECT_EQ(ParseAwsTimestamp(bad).status().code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_FALSE(ParseAwsTimestamp(std::string(100, '1')).ok());
}

}  // namespace
}  // namespace ingest
