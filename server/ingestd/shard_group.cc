#include "server/ingestd/shard_group.h"

#include <algorithm>
#include <utility>

#include "absl/strings/str_cat.h"
#include "common/json_log.h"
#include "common/thread_name.h"

namespace ingest {

ShardGroup::~ShardGroup() { StopAndJoin(); }

void ShardGroup::Start(const std::vector<ShardOptions>& options, const ShardShared& shared,
                       std::function<void()> on_failure) {
  on_failure_ = std::move(on_failure);
  {
    absl::MutexLock lock(&mu_);
    results_.resize(options.size());
  }
  for (ShardOptions o : options) {
    o.on_serving = [this] {
      absl::MutexLock lock(&mu_);
      ++shards_serving_;
    };
    shards_.push_back(std::make_unique<Shard>(o, shared));
  }
  for (size_t i = 0; i < shards_.size(); ++i) {
    threads_.emplace_back([this, i] {
      NameThisThread(absl::StrCat("shard-", i));
      RunShard(i);
    });
  }
}

void ShardGroup::RunShard(size_t i) {
  absl::Status result = shards_[i]->Run();
  {
    absl::MutexLock lock(&mu_);
    results_[i] = result;
    if (!result.ok()) failed_.store(true);
  }
  if (result.ok()) return;
  log::Error("shard_stopped", {{"shard", static_cast<int>(i)}, {"error", result.ToString()}});
  if (on_failure_) on_failure_();
}

absl::Status ShardGroup::AwaitServing(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  // Each shard's on_serving and each failure (its result is stored under
  // mu_) wakes this.
  auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return failed_.load() || shards_serving_ == shards_.size();
  };
  mu_.AwaitWithTimeout(absl::Condition(&done), timeout);
  for (const absl::Status& result : results_) {
    if (!result.ok()) return result;
  }
  return absl::OkStatus();
}

void ShardGroup::StopAndJoin() {
  {
    absl::MutexLock lock(&mu_);
    if (joined_) return;
    joined_ = true;
  }
  for (auto& shard : shards_) shard->RequestStop();
  for (auto& thread : threads_) {
    if (thread.joinable()) thread.join();
  }
}

absl::Status ShardGroup::FirstError() const {
  absl::MutexLock lock(&mu_);
  for (const absl::Status& result : results_) {
    if (!result.ok()) return result;
  }
  return absl::OkStatus();
}

void ShardGroup::MarkDraining() {
  for (auto& shard : shards_) shard->MarkDraining();
}

void ShardGroup::StopAccepting() {
  for (auto& shard : shards_) shard->StopAccepting();
}

void ShardGroup::RequestGoaways(uint32_t cameras) {
  if (shards_.empty()) return;
  const uint32_t per_shard = std::max<uint32_t>(1, cameras / static_cast<uint32_t>(shards_.size()));
  for (auto& shard : shards_) shard->RequestGoaways(per_shard);
}

void ShardGroup::RequestRezoneGoaways(uint32_t per_shard) {
  for (auto& shard : shards_) shard->RequestRezoneGoaways(per_shard);
}

uint64_t ShardGroup::MisplacedSessions() const {
  uint64_t sum = 0;
  for (const auto& shard : shards_) sum += shard->misplaced_sessions();
  return sum;
}

uint64_t ShardGroup::Sum(std::atomic<uint64_t> ShardCounters::*counter) const {
  uint64_t sum = 0;
  for (const auto& shard : shards_) sum += (shard->counters().*counter).load(std::memory_order_relaxed);
  return sum;
}

std::vector<ShardView> ShardGroup::Views() const {
  std::vector<ShardView> views;
  views.reserve(shards_.size());
  for (const auto& shard : shards_) {
    views.push_back({.counters = &shard->counters(), .serving = shard->serving(), .last_turn = shard->last_turn()});
  }
  return views;
}

}  // namespace ingest
