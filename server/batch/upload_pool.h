// Worker threads that PUT objects into the store for the batch sealer, so
// several batches upload at once and a slow store never stalls spool reading.
// The sealer submits jobs and collects results; workers never call back.
//
//   UploadPool pool(&store, /*threads=*/4);
//   pool.Submit({.id = 7, .objects = {{key, bytes}}});
//   pool.Submit({.id = 8, .objects = {{key, bytes, Crc32c(*bytes)}}});  // the CRC, if known
//   for (UploadResult& r : pool.WaitForResults(absl::Milliseconds(100))) ...
#ifndef SERVER_BATCH_UPLOAD_POOL_H_
#define SERVER_BATCH_UPLOAD_POOL_H_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/store/object_store.h"

namespace ingest {

struct UploadObject {
  // `Bytes`: any contiguous byte container (std::vector<uint8_t>, BatchBytes).
  template <typename Bytes>
  UploadObject(std::string key, std::shared_ptr<const Bytes> bytes, std::optional<uint32_t> crc32c = std::nullopt)
      : key(std::move(key)), bytes(bytes->data(), bytes->size()), owner(std::move(bytes)), crc32c(crc32c) {}
  template <typename Bytes>
  UploadObject(std::string key, std::shared_ptr<Bytes> bytes, std::optional<uint32_t> crc32c = std::nullopt)
      : UploadObject(std::move(key), std::shared_ptr<const Bytes>(std::move(bytes)), crc32c) {}

  std::string key;
  absl::Span<const uint8_t> bytes;
  std::shared_ptr<const void> owner;  // keeps `bytes` alive
  // Crc32c(bytes) when the submitter already has it: the store gets it with
  // PutWithCrc32c and need not read the bytes for a checksum.
  std::optional<uint32_t> crc32c;
};

struct UploadJob {
  uint64_t id = 0;
  // PUT in order; the job stops at the first failure.
  std::vector<UploadObject> objects;
};

struct UploadResult {
  uint64_t id = 0;
  absl::Status status;
  absl::Duration took;
};

class UploadPool {
 public:
  // `store` must outlive the pool.
  UploadPool(ObjectStore* store, int threads);
  // Finishes the jobs already running, drops queued ones, joins.
  ~UploadPool();
  UploadPool(const UploadPool&) = delete;
  UploadPool& operator=(const UploadPool&) = delete;

  void Submit(UploadJob job);

  // Results finished so far; waits up to `timeout` for the first one.
  std::vector<UploadResult> WaitForResults(absl::Duration timeout);

  // Jobs submitted whose results were not yet taken.
  size_t outstanding() const;

 private:
  void Work();

  ObjectStore* const store_;
  mutable absl::Mutex mu_;
  std::deque<UploadJob> queue_ ABSL_GUARDED_BY(mu_);
  std::vector<UploadResult> results_ ABSL_GUARDED_BY(mu_);
  size_t outstanding_ ABSL_GUARDED_BY(mu_) = 0;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> threads_;
};

}  // namespace ingest

#endif  // SERVER_BATCH_UPLOAD_POOL_H_
