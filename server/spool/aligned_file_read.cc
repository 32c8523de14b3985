#include "server/spool/aligned_file_read.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <string>

#include "absl/strings/str_cat.h"
#include "common/json_log.h"
#include "common/status_macros.h"

namespace ingest {
namespace {

constexpr uint64_t RoundDown(uint64_t n) { return n & ~uint64_t{kDirectReadAlignment - 1}; }
constexpr uint64_t RoundUp(uint64_t n) { return RoundDown(n + kDirectReadAlignment - 1); }

absl::Status ErrnoError(const char* what, const std::string& path, int error) {
  return absl::InternalError(absl::StrCat(what, " ", path, ": ", std::strerror(error)));
}

// A file system that refuses direct reads refuses them for every file: say
// so once, not once per spool file.
void LogDirectReadRefused(const std::string& path) {
  static std::atomic<bool> logged{false};
  if (logged.exchange(true)) return;
  log::Warn("spool_direct_read_refused",
            {{"file", path}, {"effect", "spool files are read through the page cache"}});
}

}  // namespace

absl::Status AlignedFileRead::Reserve(size_t bytes) {
  if (bytes <= capacity_) return absl::OkStatus();
  const size_t rounded = RoundUp(bytes);
  auto* p = static_cast<uint8_t*>(std::aligned_alloc(kDirectReadAlignment, rounded));
  if (p == nullptr) return absl::ResourceExhaustedError(absl::StrCat("no memory for a ", rounded, "-byte read"));
  buffer_.reset(p);
  capacity_ = rounded;
  return absl::OkStatus();
}

int AlignedFileRead::ReadFully(int fd, bool direct, uint64_t at, size_t length, size_t& done) {
  done = 0;
  while (done < length) {
    const ssize_t n = pread(fd, buffer_.get() + done, length - done, static_cast<off_t>(at + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return errno;
    }
    if (n == 0) break;
    done += static_cast<size_t>(n);
    // A direct read that stops inside a block stopped at the end of the
    // file; reading on from an unaligned offset would only be refused.
    if (direct && done % kDirectReadAlignment != 0) break;
  }
  return 0;
}

absl::StatusOr<absl::Span<const uint8_t>> AlignedFileRead::Read(int fd, const std::string& path, uint64_t offset,
                                                                size_t length) {
  const int flags = fcntl(fd, F_GETFL);
  if (flags < 0) return ErrnoError("fcntl", path, errno);
  size_t got = 0;
  if ((flags & O_DIRECT) != 0) {
    const uint64_t start = RoundDown(offset);
    const size_t span = static_cast<size_t>(RoundUp(offset + length) - start);
    RETURN_IF_ERROR(Reserve(span));
    const int error = ReadFully(fd, /*direct=*/true, start, span, got);
    if (error == 0) {
      const size_t skip = static_cast<size_t>(offset - start);
      const size_t have = got > skip ? std::min(length, got - skip) : 0;
      return absl::Span<const uint8_t>(buffer_.get() + skip, have);
    }
    if (error != EINVAL) return ErrnoError("pread", path, error);
    if (fcntl(fd, F_SETFL, flags & ~O_DIRECT) != 0) return ErrnoError("fcntl", path, errno);
    LogDirectReadRefused(path);
  }
  RETURN_IF_ERROR(Reserve(length));
  const int error = ReadFully(fd, /*direct=*/false, offset, length, got);
  if (error != 0) return ErrnoError("pread", path, error);
  return absl::Span<const uint8_t>(buffer_.get(), got);
}

}  // namespace ingest
