#include "server/batch/upload_pool.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/thread_name.h"
#include "common/thread_priority.h"

namespace ingest {

UploadPool::UploadPool(ObjectStore* store, int threads) : store_(store) {
  for (int i = 0; i < threads; ++i) {
    threads_.emplace_back([this, i] {
      NameThisThread(absl::StrCat("upload-", i));
      // Uploads have the spool's slack too (see the sealer's thread); a
      // failure only leaves the thread at the shards' priority.
      LowerThisThreadPriority(kBackgroundNice).IgnoreError();
      Work();
    });
  }
}

UploadPool::~UploadPool() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  for (std::thread& t : threads_) t.join();
}

void UploadPool::Submit(UploadJob job) {
  absl::MutexLock lock(&mu_);
  queue_.push_back(std::move(job));
  ++outstanding_;
}

size_t UploadPool::outstanding() const {
  absl::MutexLock lock(&mu_);
  return outstanding_;
}

std::vector<UploadResult> UploadPool::WaitForResults(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  mu_.AwaitWithTimeout(absl::Condition(
                           +[](std::vector<UploadResult>* results) { return !results->empty(); }, &results_),
                       timeout);
  std::vector<UploadResult> out;
  out.swap(results_);
  outstanding_ -= out.size();
  return out;
}

void UploadPool::Work() {
  while (true) {
    UploadJob job;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](UploadPool* pool) { return pool->stopping_ || !pool->queue_.empty(); }, this));
      if (stopping_) return;
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    const absl::Time start = absl::Now();
    absl::Status status;
    for (const UploadObject& object : job.objects) {
      status = object.crc32c ? store_->PutWithCrc32c(object.key, object.bytes, *object.crc32c)
                             : store_->Put(object.key, object.bytes);
      if (!status.ok()) {
        status = absl::Status(status.code(), absl::StrCat("put ", object.key, ": ", status.message()));
        break;
      }
    }
    // Let go of the bytes before the result is published: once the sealer
    // has the result it may cut the next batch, and a batch still held here
    // would be one more than max_batches_in_flight in memory.
    job.objects.clear();
    absl::MutexLock lock(&mu_);
    results_.push_back({job.id, std::move(status), absl::Now() - start});
  }
}

}  // namespace ingest
