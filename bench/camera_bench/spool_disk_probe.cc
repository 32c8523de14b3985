#include "bench/camera_bench/spool_disk_probe.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"

namespace ingest::bench {

absl::StatusOr<DiskThroughput> MeasureSpoolDisk(const std::string& dir, const DiskProbeOptions& options) {
  if (options.write_bytes == 0 || options.writes_per_sync == 0) {
    return absl::InvalidArgumentError("write_bytes and writes_per_sync must be positive");
  }
  std::string path = absl::StrCat(dir, "/.camera-bench-disk-XXXXXX");
  const int fd = mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return absl::ErrnoToStatus(errno, absl::StrCat("create a file in ", dir));
  unlink(path.c_str());  // gone when closed, whatever happens
  // Not zeros: a file system that compresses or skips zero blocks would flatter itself.
  std::vector<char> block(options.write_bytes);
  uint32_t x = 2463534242u;
  for (char& c : block) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  DiskThroughput result;
  result.write_bytes = options.write_bytes;
  result.writes_per_sync = options.writes_per_sync;
  const absl::Time start = absl::Now();
  absl::Status status = absl::OkStatus();
  while (result.bytes < options.max_bytes && absl::Now() - start < options.max_time) {
    const ssize_t n = pwrite(fd, block.data(), block.size(), static_cast<off_t>(result.bytes));
    if (n != static_cast<ssize_t>(block.size())) {
      status = absl::ErrnoToStatus(n < 0 ? errno : ENOSPC, absl::StrCat("write in ", dir));
      break;
    }
    result.bytes += block.size();
    if (++result.writes % options.writes_per_sync == 0 && fdatasync(fd) != 0) {
      status = absl::ErrnoToStatus(errno, absl::StrCat("fdatasync in ", dir));
      break;
    }
  }
  if (status.ok() && fdatasync(fd) != 0) status = absl::ErrnoToStatus(errno, "fdatasync");
  result.elapsed = absl::Now() - start;
  close(fd);
  if (!status.ok()) return status;
  result.mb_per_s = static_cast<double>(result.bytes) / 1e6 / std::max(1e-9, absl::ToDoubleSeconds(result.elapsed));
  return result;
}

}  // namespace ingest::bench
