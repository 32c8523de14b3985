// Reads byte ranges of a spool file into one 4 KiB-aligned buffer, so that a
// file opened with O_DIRECT is read straight from the device into it.
//
//   AlignedFileRead read;
//   ASSIGN_OR_RETURN(absl::Span<const uint8_t> bytes, read.Read(fd, path, offset, length));
//   // bytes: [offset, offset + length), fewer only where the file ends;
//   // valid until the next Read.
//
// Why: the shards write the spool with O_DIRECT, so its pages are not in the
// page cache. A buffered pread then fills the cache from the disk and copies
// out of it, and that copy was 45 % of the server's CPU under a closed-loop
// load (bench/README.md). An O_DIRECT read leaves the copy to the device.
//
// For an O_DIRECT descriptor the read covers the whole 4 KiB blocks around the
// range (the unit any file system the spool meets accepts); a descriptor
// without the flag is read plainly. A file system that refuses a direct read
// (EINVAL) gets the flag cleared on the descriptor and the read done again
// buffered, so a quirk costs speed, never data.
#ifndef SERVER_SPOOL_ALIGNED_FILE_READ_H_
#define SERVER_SPOOL_ALIGNED_FILE_READ_H_

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace ingest {

inline constexpr size_t kDirectReadAlignment = 4096;

class AlignedFileRead {
 public:
  AlignedFileRead() = default;

  // See the top of the file. `path` only names the file in errors. I/O errors
  // are Internal; a range past the end of the file is a short (or empty) view.
  absl::StatusOr<absl::Span<const uint8_t>> Read(int fd, const std::string& path, uint64_t offset, size_t length);

  // Bytes held by the buffer: it grows to the largest read asked for and
  // keeps that size.
  size_t capacity() const { return capacity_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  absl::Status Reserve(size_t bytes);
  // Reads [at, at + length) into the buffer from its start, setting `done`
  // to the bytes read (short at the end of the file). Returns 0 or an errno.
  int ReadFully(int fd, bool direct, uint64_t at, size_t length, size_t& done);

  std::unique_ptr<uint8_t, Free> buffer_;
  size_t capacity_ = 0;
};

}  // namespace ingest

#endif  // SERVER_SPOOL_ALIGNED_FILE_READ_H_
