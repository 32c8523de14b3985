// Test support: an ObjectStore over a real LocalDirStore whose Puts can be
// told to fail, to simulate an object-store outage (every Put, the next N, or
// those whose key starts with a prefix), and which counts Put attempts and
// successes per key so a test can check nothing was uploaded twice. It can
// also store an object and report failure anyway (a lost response). A Put
// that comes with a CRC-32C (PutWithCrc32c) is refused with DataLoss unless
// the CRC is the data's, as S3 refuses a wrong x-amz-checksum-crc32c.
//
//   ingest::testing::FaultyStore store(dir.path() + "/store");
//   store.FailAllPuts(true);               // the store is down
//   ... run the sealer: nothing lands ...
//   store.FailAllPuts(false);              // back up
//   EXPECT_EQ(store.puts_ok(key), 1);      // stored exactly once
//   store.FailPutsMatching([](std::string_view key) { return key.ends_with("-000000000001.cbt"); });
#ifndef TESTS_SUPPORT_FAULTY_STORE_H_
#define TESTS_SUPPORT_FAULTY_STORE_H_

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/crc32c.h"
#include "server/store/local_dir_store.h"
#include "server/store/object_store.h"

namespace ingest::testing {

class FaultyStore : public ObjectStore {
 public:
  explicit FaultyStore(std::string root) : real_(std::move(root)) {}

  // While `fail` is set, every Put fails with Unavailable and stores nothing.
  void FailAllPuts(bool fail) {
    absl::MutexLock lock(&mu_);
    fail_all_ = fail;
  }
  // The next `n` Puts fail (on top of the other rules).
  void FailNextPuts(int n) {
    absl::MutexLock lock(&mu_);
    fail_next_ = n;
  }
  // Puts of keys starting with `prefix` fail; "" clears the rule.
  void FailPutsWithPrefix(std::string prefix) {
    absl::MutexLock lock(&mu_);
    fail_prefix_ = std::move(prefix);
  }
  // Puts of keys for which `match` is true fail; nullptr clears the rule.
  // `match` runs under the store's lock: it must not call the store.
  void FailPutsMatching(std::function<bool(std::string_view key)> match) {
    absl::MutexLock lock(&mu_);
    fail_match_ = std::move(match);
  }
  // While `lose` is set, every Put that gets through stores the object and
  // then reports Unavailable anyway: a response lost after the PUT landed.
  void LosePutResponses(bool lose) {
    absl::MutexLock lock(&mu_);
    lose_responses_ = lose;
  }
  // Clears every failure rule.
  void Heal() {
    absl::MutexLock lock(&mu_);
    fail_all_ = false;
    fail_next_ = 0;
    fail_prefix_.clear();
    fail_match_ = nullptr;
    lose_responses_ = false;
  }

  // Put calls for `key`, failed ones included.
  int put_attempts(std::string_view key) const {
    absl::MutexLock lock(&mu_);
    auto it = attempts_.find(std::string(key));
    return it == attempts_.end() ? 0 : it->second;
  }
  // Puts of `key` that reached the real store (lost responses included).
  int puts_ok(std::string_view key) const {
    absl::MutexLock lock(&mu_);
    auto it = ok_.find(std::string(key));
    return it == ok_.end() ? 0 : it->second;
  }
  // Every key a Put was attempted for, sorted.
  std::vector<std::string> attempted_keys() const {
    absl::MutexLock lock(&mu_);
    std::vector<std::string> keys;
    for (const auto& [key, n] : attempts_) keys.push_back(key);
    return keys;
  }
  // Per key, the successful Puts.
  std::map<std::string, int> successful_puts() const {
    absl::MutexLock lock(&mu_);
    return ok_;
  }
  // Puts that reported failure (refused or with a lost response).
  int failed_puts() const {
    absl::MutexLock lock(&mu_);
    return failed_;
  }
  // Puts that came with a CRC-32C, and those whose CRC was not the data's.
  int puts_with_crc32c() const {
    absl::MutexLock lock(&mu_);
    return with_crc32c_;
  }
  int crc32c_mismatches() const {
    absl::MutexLock lock(&mu_);
    return crc32c_mismatches_;
  }

  absl::Status PutWithCrc32c(std::string_view key, absl::Span<const uint8_t> data, uint32_t crc32c) override {
    const bool matches = Crc32c({data.data(), data.size()}) == crc32c;
    {
      absl::MutexLock lock(&mu_);
      ++with_crc32c_;
      if (!matches) {
        ++crc32c_mismatches_;
        return absl::DataLossError(absl::StrCat("faulty store: put ", std::string(key), " with a CRC-32C of ",
                                                crc32c, " that is not the data's"));
      }
    }
    return Put(key, data);
  }

  absl::Status Put(std::string_view key, absl::Span<const uint8_t> data) override {
    {
      absl::MutexLock lock(&mu_);
      ++attempts_[std::string(key)];
      bool fail =
          fail_all_ || (!fail_prefix_.empty() && key.starts_with(fail_prefix_)) || (fail_match_ && fail_match_(key));
      if (fail_next_ > 0) {
        --fail_next_;
        fail = true;
      }
      if (fail) {
        ++failed_;
        return absl::UnavailableError(absl::StrCat("faulty store: put ", std::string(key), " refused"));
      }
    }
    absl::Status status = real_.Put(key, data);
    if (status.ok()) {
      absl::MutexLock lock(&mu_);
      ++ok_[std::string(key)];
      if (lose_responses_) {
        ++failed_;
        return absl::UnavailableError(absl::StrCat("faulty store: response to put ", std::string(key), " lost"));
      }
    }
    return status;
  }
  absl::StatusOr<std::vector<uint8_t>> Get(std::string_view key) override { return real_.Get(key); }
  absl::StatusOr<std::vector<uint8_t>> GetRange(std::string_view key, uint64_t offset, uint64_t length) override {
    return real_.GetRange(key, offset, length);
  }
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override { return real_.List(prefix); }
  absl::StatusOr<std::vector<std::string>> ListFolders(std::string_view prefix) override {
    return real_.ListFolders(prefix);
  }
  absl::Status Delete(std::string_view key) override { return real_.Delete(key); }
  absl::StatusOr<ObjectInfo> Head(std::string_view key) override { return real_.Head(key); }

 private:
  LocalDirStore real_;
  mutable absl::Mutex mu_;
  bool fail_all_ ABSL_GUARDED_BY(mu_) = false;
  int fail_next_ ABSL_GUARDED_BY(mu_) = 0;
  std::string fail_prefix_ ABSL_GUARDED_BY(mu_);
  std::function<bool(std::string_view)> fail_match_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> attempts_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, int> ok_ ABSL_GUARDED_BY(mu_);
  bool lose_responses_ ABSL_GUARDED_BY(mu_) = false;
  int failed_ ABSL_GUARDED_BY(mu_) = 0;
  int with_crc32c_ ABSL_GUARDED_BY(mu_) = 0;
  int crc32c_mismatches_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_FAULTY_STORE_H_
