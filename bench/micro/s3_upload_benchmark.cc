// The uploader's cost per batch: hashing a batch for SigV4 and Content-MD5
// (CPU only); preparing one 16 MiB PUT (payload headers + SigV4 signature)
// with payload_signing "signed" (SHA-256 + Content-MD5, the old request) and
// "unsigned" (UNSIGNED-PAYLOAD + x-amz-checksum-crc32c, the CRC computed, or
// handed in by the sealer); and PUTting 16 MiB batches into an S3 server from
// several threads as the upload pool does. CPU-s per GB is the cpu_s_per_GB
// counter. The PUT benchmark needs a server:
// bench/scripts/s3_upload.sh starts radosgw and passes it in S3_ENDPOINT,
// S3_ACCESS_KEY, S3_SECRET_KEY, S3_BUCKET.
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "benchmark/benchmark.h"
#include "common/crc32c.h"
#include "server/s3/s3_payload.h"
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

// CPU seconds per 10^9 bytes of body: the time counted is CPU time.
void CountCpuPerGb(benchmark::State& state) {
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kBatchBytes));
  state.counters["cpu_s_per_GB"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * kBatchBytes / 1e9,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}

void BM_Crc32c(benchmark::State& state) {
  const std::vector<uint8_t> batch = Batch();
  for (auto _ : state) benchmark::DoNotOptimize(Crc32c(batch));
  CountCpuPerGb(state);
}
BENCHMARK(BM_Crc32c)->Unit(benchmark::kMillisecond);

// Everything S3Client::PutObject computes before the first byte is sent:
// the payload headers (s3_payload.h) and the SigV4 signature over them.
// Argument: 0 signed (before), 1 unsigned (after), 2 unsigned with the CRC
// handed in (the batch sealer's path: combined from the segment CRCs).
void BM_PreparePut(benchmark::State& state) {
  const std::vector<uint8_t> batch = Batch();
  const bool sign_payload = state.range(0) == 0;
  const std::optional<uint32_t> known_crc =
      state.range(0) == 2 ? std::optional<uint32_t>(Crc32c(batch)) : std::nullopt;
  const AwsCredentials credentials{.access_key_id = "AKIAINGESTBENCH00001",
                                   .secret_access_key = "bench/secret/key/0123456789abcdefghijklm"};
  const SigV4Scope scope{.region = "eu-west-1", .service = "s3"};
  for (auto _ : state) {
    S3PayloadHeaders payload = PrepareS3Payload(batch, sign_payload, known_crc);
    SigV4Request request{.method = "PUT",
                         .host = "recordings.s3.eu-west-1.amazonaws.com",
                         .path = "/zone-a/dev/batches/a1/2026-12-03/10/batch-000000000042.cbt",
                         .query = {},
                         .headers = std::move(payload.headers),
                         .payload_sha256 = std::move(payload.payload_sha256)};
    request.headers.emplace_back("content-type", "application/octet-stream");
    benchmark::DoNotOptimize(SignRequest(request, credentials, scope, absl::Now()));
  }
  state.SetLabel(state.range(0) == 0   ? "signed: SHA-256 + Content-MD5"
                 : state.range(0) == 1 ? "unsigned: crc32c computed"
                                       : "unsigned: crc32c handed in");
  CountCpuPerGb(state);
}
BENCHMARK(BM_PreparePut)->Arg(0)->Arg(1)->Arg(2)->Unit(benchmark::kMicrosecond);

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
