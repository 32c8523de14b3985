#include "bench/camera_bench/spool_disk_probe.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace ingest::bench {
namespace {

constexpr size_t kDirectAlignment = 4096;
constexpr size_t kCompetingFileBytes = 16 << 20;  // a sealed batch's size
constexpr size_t kCompetingWriteBytes = 4 << 20;

struct FreeDeleter {
  void operator()(char* p) const { std::free(p); }
};
using AlignedBlock = std::unique_ptr<char, FreeDeleter>;

// Not zeros: a file system that compresses or skips zero blocks would flatter itself.
AlignedBlock NoiseBlock(size_t bytes) {
  void* memory = nullptr;
  if (posix_memalign(&memory, kDirectAlignment, bytes) != 0) return nullptr;
  char* block = static_cast<char*>(memory);
  uint32_t x = 2463534242u;
  for (size_t i = 0; i < bytes; ++i) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    block[i] = static_cast<char>(x);
  }
  return AlignedBlock(block);
}

// A temporary file in `dir`, gone when closed whatever happens; -1 and errno on failure.
int OpenUnlinkedFile(const std::string& dir, const char* stem) {
  std::string path = absl::StrCat(dir, "/", stem, "-XXXXXX");
  const int fd = mkostemp(path.data(), O_CLOEXEC);
  if (fd >= 0) unlink(path.c_str());
  return fd;
}

bool TryDirect(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_DIRECT) == 0;
}

void ClearDirect(int fd) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags >= 0) fcntl(fd, F_SETFL, flags & ~O_DIRECT);
}

// Writes 16 MiB files at `mb_per_s` until `stop`, as a `dir:` store writes
// its batch objects.
void CompetingWriter(const std::string& dir, uint32_t mb_per_s, const std::atomic<bool>& stop) {
  AlignedBlock block = NoiseBlock(kCompetingWriteBytes);
  if (block == nullptr) return;
  const absl::Duration period = absl::Seconds(static_cast<double>(kCompetingFileBytes) / 1e6 / mb_per_s);
  absl::Time due = absl::Now();
  while (!stop.load(std::memory_order_relaxed)) {
    absl::SleepFor(due - absl::Now());
    due += period;
    const int fd = OpenUnlinkedFile(dir, ".camera-bench-store");
    if (fd < 0) return;
    TryDirect(fd);
    for (size_t at = 0; at < kCompetingFileBytes; at += kCompetingWriteBytes) {
      if (pwrite(fd, block.get(), kCompetingWriteBytes, static_cast<off_t>(at)) < 0) break;
    }
    fsync(fd);
    close(fd);
  }
}

absl::Duration Quantile(const std::vector<absl::Duration>& sorted, double q) {
  if (sorted.empty()) return absl::ZeroDuration();
  const size_t rank = static_cast<size_t>(q * static_cast<double>(sorted.size()));
  return sorted[std::min(sorted.size() - 1, rank)];
}

}  // namespace

absl::StatusOr<DiskThroughput> MeasureSpoolDisk(const std::string& dir, const DiskProbeOptions& options) {
  if (options.write_bytes == 0 || options.writes_per_sync == 0) {
    return absl::InvalidArgumentError("write_bytes and writes_per_sync must be positive");
  }
  const int fd = OpenUnlinkedFile(dir, ".camera-bench-disk");
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create a file in ", dir));
  AlignedBlock block = NoiseBlock(options.write_bytes);
  if (block == nullptr) {
    close(fd);
    return absl::ResourceExhaustedError("no memory for the write block");
  }
  DiskThroughput result;
  result.write_bytes = options.write_bytes;
  result.writes_per_sync = options.writes_per_sync;
  result.direct = options.write_bytes % kDirectAlignment == 0 && TryDirect(fd);
  std::atomic<bool> stop{false};
  std::thread competing;
  if (options.competing_mb_per_s > 0) {
    competing = std::thread([&] { CompetingWriter(dir, options.competing_mb_per_s, stop); });
  }
  std::vector<absl::Duration> commits;
  const absl::Time start = absl::Now();
  absl::Time commit_start = start;
  absl::Status status = absl::OkStatus();
  while (result.bytes < options.max_bytes && absl::Now() - start < options.max_time) {
    ssize_t n = pwrite(fd, block.get(), options.write_bytes, static_cast<off_t>(result.bytes));
    if (n < 0 && errno == EINVAL && result.direct) {
      // The file system refused O_DIRECT after all: buffered, as the spool falls back.
      ClearDirect(fd);
      result.direct = false;
      n = pwrite(fd, block.get(), options.write_bytes, static_cast<off_t>(result.bytes));
    }
    if (n != static_cast<ssize_t>(options.write_bytes)) {
      status = absl::ErrnoToStatus(n < 0 ? errno : ENOSPC, absl::StrCat("write in ", dir));
      break;
    }
    result.bytes += options.write_bytes;
    if (++result.writes % options.writes_per_sync == 0) {
      if (fdatasync(fd) != 0) {
        status = absl::ErrnoToStatus(errno, absl::StrCat("fdatasync in ", dir));
        break;
      }
      const absl::Time now = absl::Now();
      commits.push_back(now - commit_start);
      commit_start = now;
    }
  }
  if (status.ok() && fdatasync(fd) != 0) status = absl::ErrnoToStatus(errno, "fdatasync");
  result.elapsed = absl::Now() - start;
  stop = true;
  if (competing.joinable()) competing.join();
  close(fd);
  if (!status.ok()) return status;
  result.mb_per_s = static_cast<double>(result.bytes) / 1e6 / std::max(1e-9, absl::ToDoubleSeconds(result.elapsed));
  std::sort(commits.begin(), commits.end());
  result.commit_p50 = Quantile(commits, 0.5);
  result.commit_p99 = Quantile(commits, 0.99);
  result.commit_max = commits.empty() ? absl::ZeroDuration() : commits.back();
  return result;
}

}  // namespace ingest::bench
