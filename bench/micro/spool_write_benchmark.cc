// What a durable byte costs the writing process on the two write paths the
// page-cache copy dominated (issue 15): the shard's group commit (SpoolWriter:
// 1 MiB batches of four 256 KiB records, writev + linked fdatasync through
// io_uring) and the local store's Put of a 16 MiB batch object (write, fsync,
// rename) — each buffered and O_DIRECT. The figure to read is the counter
// cpu_s_per_GB: the whole process's CPU time (getrusage), so the io_uring
// worker threads that run buffered writes are counted too, which the
// benchmark's own CPU column (the calling thread) would miss.
//
//   SPOOL_BENCH_DIR=/var/tmp build/bench/spool_write_benchmark    # default: $TMPDIR or /tmp
//
// The folder's file system decides what O_DIRECT can do (tmpfs only pretends).
#include <stdlib.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "benchmark/benchmark.h"
#include "common/crc32c.h"
#include "server/session/segment_buffer_pool.h"
#include "server/shard/spool_writer.h"
#include "server/spool/spool_catalog.h"
#include "server/spool/spool_record.h"
#include "server/store/local_dir_store.h"
#include "server/uring/ring.h"
#include "server/uring/user_data.h"

namespace ingest {
namespace {

constexpr uint32_t kPayloadBytes = 256 << 10;
constexpr int kRecordsPerCommit = 4;

double ProcessCpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// A fresh folder under SPOOL_BENCH_DIR (or TMPDIR, or /tmp), removed at the end.
class ScratchDir {
 public:
  ScratchDir() {
    const char* base = getenv("SPOOL_BENCH_DIR");
    if (base == nullptr) base = getenv("TMPDIR");
    std::string pattern = absl::StrCat(base != nullptr ? base : "/tmp", "/spool-bench-XXXXXX");
    path_ = mkdtemp(pattern.data()) != nullptr ? pattern : "";
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

void SetCpuCounters(benchmark::State& state, double cpu_s, double bytes) {
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  state.counters["cpu_s_per_GB"] = bytes > 0 ? cpu_s / (bytes / 1e9) : 0;
}

// Arg 0: 1 = O_DIRECT spool (records padded), 0 = buffered.
void BM_SpoolGroupCommit(benchmark::State& state) {
  const bool direct = state.range(0) != 0;
  ScratchDir dir;
  auto catalog = SpoolCatalog::Open({.dir = dir.path() + "/spool", .shard_count = 1, .direct_io = direct}, nullptr);
  auto ring = Ring::Create({.sq_entries = 64, .cq_entries = 256});
  if (dir.path().empty() || !catalog.ok() || !ring.ok()) {
    state.SkipWithError("no spool or ring");
    return;
  }
  SpoolWriter writer(**ring, **catalog, 0, {.file_bytes = uint64_t{1} << 40});
  if (writer.direct() != direct) {
    state.SkipWithError("the folder's file system refuses O_DIRECT");
    return;
  }
  const std::string camera = "cam-000001";
  const size_t header = SpoolRecordHeaderBytes(camera.size());
  SegmentBufferPool pool(64 << 20);
  std::vector<SegmentBuffer> buffers;
  for (int i = 0; i < kRecordsPerCommit; ++i) {
    buffers.push_back(pool.Allocate(header + kPayloadBytes));
    for (uint32_t b = 0; b < kPayloadBytes; ++b) buffers.back().data[header + b] = static_cast<uint8_t>(b * 7 + i);
  }
  uint64_t seq = 0;
  bool failed = false;
  const double cpu0 = ProcessCpuSeconds();
  for (auto _ : state) {
    for (SegmentBuffer& buffer : buffers) {
      ++seq;
      // A session encodes each record's header into its buffer; padding
      // rewrites it, so it is encoded again every time.
      EncodeSpoolRecordHeader({.camera_id = camera, .seq = seq, .payload_bytes = kPayloadBytes,
                               .payload_crc = static_cast<uint32_t>(seq)},
                              absl::Span<uint8_t>(buffer.data, header));
      writer.Append({.buffer = buffer, .record_bytes = static_cast<uint32_t>(header + kPayloadBytes),
                     .payload_bytes = kPayloadBytes, .seq = seq, .received = absl::UnixEpoch()});
    }
    writer.MaybeCommit(absl::UnixEpoch(), /*force=*/true);
    while (!failed && writer.in_flight_bytes() > 0) {
      if (!(*ring)->SubmitAndWait(absl::Milliseconds(100)).ok()) failed = true;
      (*ring)->ForEachCompletion([&](const io_uring_cqe& cqe) {
        if (!writer.OnCompletion(UserData::Unpack(cqe.user_data).op, cqe.res, [](const SpoolPendingRecord&) {}).ok()) {
          failed = true;
        }
      });
    }
    if (failed) {
      state.SkipWithError("spool write failed");
      break;
    }
  }
  SetCpuCounters(state, ProcessCpuSeconds() - cpu0, static_cast<double>(seq) * kPayloadBytes);
  for (const SegmentBuffer& b : buffers) pool.Release(b);
}
BENCHMARK(BM_SpoolGroupCommit)->ArgName("direct")->Arg(0)->Arg(1)->Iterations(256)->UseRealTime();

// Arg 0: 1 = O_DIRECT Put, 0 = buffered.
void BM_LocalStorePut16MiB(benchmark::State& state) {
  const bool direct = state.range(0) != 0;
  ScratchDir dir;
  LocalDirStore store(dir.path() + "/store", direct);
  // A batch object as the sealer builds it: a heap vector, not aligned.
  std::vector<uint8_t> object((16 << 20) + 12345);
  for (size_t i = 0; i < object.size(); ++i) object[i] = static_cast<uint8_t>(i * 13);
  uint64_t puts = 0;
  const double cpu0 = ProcessCpuSeconds();
  for (auto _ : state) {
    if (!store.Put(absl::StrCat("z/batch-", puts++ % 4), object).ok()) {
      state.SkipWithError("put failed");
      break;
    }
  }
  SetCpuCounters(state, ProcessCpuSeconds() - cpu0, static_cast<double>(puts) * static_cast<double>(object.size()));
}
BENCHMARK(BM_LocalStorePut16MiB)->ArgName("direct")->Arg(0)->Arg(1)->Iterations(24)->UseRealTime();

}  // namespace
}  // namespace ingest
