// The shards of one server, each on its own thread: started together,
// watched for one that stops on its own (a fatal error), stopped together,
// and summed over for the server's counters.
//
//   ShardGroup shards;
//   shards.Start(std::move(options), shared, [&] { ended.Notify(); });
//   RETURN_IF_ERROR(shards.AwaitServing(absl::Seconds(5)));
//   ...
//   shards.StopAndJoin();
#ifndef SERVER_INGESTD_SHARD_GROUP_H_
#define SERVER_INGESTD_SHARD_GROUP_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/shard/admin_view.h"
#include "server/shard/shard.h"

namespace ingest {

class ShardGroup {
 public:
  ShardGroup() = default;
  // Stops and joins the shards.
  ~ShardGroup();
  ShardGroup(const ShardGroup&) = delete;
  ShardGroup& operator=(const ShardGroup&) = delete;

  // Builds one shard per entry of `options` and runs each on its own thread.
  // `on_failure` is called (on the failing shard's thread) each time a shard
  // stops on its own. Call once.
  void Start(const std::vector<ShardOptions>& options, const ShardShared& shared, std::function<void()> on_failure);
  // Waits until every shard serves, or until one stopped on its own (its
  // error is returned) or `timeout` passed (OK: the shards keep setting up).
  absl::Status AwaitServing(absl::Duration timeout);
  // True once a shard has stopped on its own.
  bool failed() const { return failed_.load(); }

  // Asks every shard to stop (GOAWAY to cameras, flush the spool) and joins
  // them. Idempotent.
  void StopAndJoin();
  // The first error a shard stopped with; OK while all run or stopped well.
  absl::Status FirstError() const;

  // Drain and re-zoning controls, spread over the shards.
  void MarkDraining();
  void StopAccepting();
  void RequestGoaways(uint32_t cameras);  // in all, at least one per shard
  void RequestRezoneGoaways(uint32_t per_shard);
  uint64_t MisplacedSessions() const;

  // One counter summed over the shards.
  uint64_t Sum(std::atomic<uint64_t> ShardCounters::*counter) const;
  // Every counter, for the admin endpoints.
  std::vector<ShardView> Views() const;
  const std::vector<std::unique_ptr<Shard>>& shards() const { return shards_; }

 private:
  void RunShard(size_t i);

  std::vector<std::unique_ptr<Shard>> shards_;
  std::vector<std::thread> threads_;
  std::function<void()> on_failure_;
  std::atomic<bool> failed_{false};
  mutable absl::Mutex mu_;
  // A shard's result once its Run() returned.
  std::vector<absl::Status> results_ ABSL_GUARDED_BY(mu_);
  bool joined_ ABSL_GUARDED_BY(mu_) = false;
  size_t shards_serving_ ABSL_GUARDED_BY(mu_) = 0;  // shards whose on_serving ran
};

}  // namespace ingest

#endif  // SERVER_INGESTD_SHARD_GROUP_H_
