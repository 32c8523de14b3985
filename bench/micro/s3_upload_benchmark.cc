// The uploader's cost per batch: hashing a batch for SigV4 and Content-MD5
// (CPU only), and PUTting 16 MiB batches into an S3 server from several
// threads as the upload pool does. The PUT benchmark needs a server:
// bench/scripts/s3_upload.sh starts radosgw and passes it in S3_ENDPOINT,
// S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET.
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "server/s3/s3_store.h"
#include "server/s3/sigv4.h"
#include "server/s3/static_credentials.h"

namespace ingest {
namespace {

constexpr size_t kBatchBytes = 16 << 20;

std::vector<uint8_t> Batch() {
  std::vector<uint8_t> batch(kBatchBytes);
  for (size_t i = 0; i < batch.size(); ++i) batch[i] = static_cast<uint8_t>(i * 2654435761u >> 13);
  return batch;
}

void BM_BatchHashes(benchmark::State& state) {
  const std::vector<uint8_t> batch = Batch();
  for (auto _ : state) {
    benchmark::DoNotOptimize(Sha256Hex(batch));
    benchmark::DoNotOptimize(Md5Base64(batch));
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBatchBytes));
}
BENCHMARK(BM_BatchHashes)->Unit(benchmark::kMillisecond);

std::string Env(const char* name) {
  const char* value = std::getenv(name);
  return value == nullptr ? "" : value;
}

S3Store* SharedStore() {
  static S3Store* store = [] {
    if (Env("S3_ENDPOINT").empty()) return static_cast<S3Store*>(nullptr);
    S3StoreOptions options;
    options.client.bucket = Env("S3_BUCKET");
    options.client.endpoint = Env("S3_ENDPOINT");
    options.client.addressing = S3Addressing::kPathStyle;
    options.prefix = "bench/";
    auto credentials = std::make_shared<StaticCredentialsProvider>(
        AwsCredentials{.access_key_id = Env("S3_ACCESS_KEY"), .secret_access_key = Env("S3_SECRET_KEY")});
    absl::StatusOr<std::unique_ptr<S3Store>> opened = OpenS3Store(options, credentials);
    return opened.ok() ? opened->release() : nullptr;
  }();
  return store;
}

void BM_PutBatch(benchmark::State& state) {
  S3Store* store = SharedStore();
  if (store == nullptr) {
    state.SkipWithError("no S3 server: run bench/scripts/s3_upload.sh");
    return;
  }
  const std::vector<uint8_t> batch = Batch();
  uint64_t n = 0;
  for (auto _ : state) {
    absl::Status put = store->Put(absl::StrCat("t", state.thread_index(), "/", n++ % 8, ".cbt"), batch);
    if (!put.ok()) {
      state.SkipWithError(std::string(put.message()).c_str());
      return;
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBatchBytes));
}
BENCHMARK(BM_PutBatch)->Unit(benchmark::kMillisecond)->UseRealTime()->Threads(1)->Threads(4)->Iterations(24);

}  // namespace
}  // namespace ingest
