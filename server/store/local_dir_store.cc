#include "server/store/local_dir_store.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <memory>
#include <system_error>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/json_log.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"

namespace ingest {
namespace {

namespace fs = std::filesystem;

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  const int err = errno;
  std::string message = absl::StrCat(std::string(what), " ", path, ": ", std::strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  return absl::InternalError(message);
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  // Closes now, reporting the error that close() may carry for a written file.
  int Close() {
    int rc = close(fd_);
    fd_ = -1;
    return rc;
  }
  // Closes the descriptor held (if any) and holds `fd` instead.
  void Reset(int fd) {
    if (fd_ >= 0) close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

absl::Status FsyncDir(const std::string& path) {
  Fd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("open dir", path);
  if (fsync(fd.get()) != 0) return ErrnoError("fsync dir", path);
  return absl::OkStatus();
}

// mkdir -p, fsyncing the parent of every folder it creates so that a durable
// object is never left in a folder that vanishes in a crash.
absl::Status MakeDurableDir(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) return absl::OkStatus();
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  if (parent != path) RETURN_IF_ERROR(MakeDurableDir(parent));
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoError("mkdir", path.string());
  return FsyncDir(parent.string());
}

absl::Status WriteAll(int fd, absl::Span<const uint8_t> data, const std::string& path) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("write", path);
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// O_DIRECT wants the file offset, the length and the memory aligned; 4 KiB
// satisfies every logical block size. The bounce buffer is the one copy:
// callers' buffers come from the heap at no particular alignment.
constexpr size_t kDirectAlign = 4096;
constexpr size_t kBounceBytes = 1 << 20;

struct FreeDeleter {
  void operator()(uint8_t* p) const { std::free(p); }
};

// Writes `length` bytes from `p` at `offset` of `fd` (open with O_DIRECT),
// retrying short writes; a failed call's errno goes into `err`.
absl::Status PwriteAll(int fd, const uint8_t* p, size_t length, uint64_t offset, const std::string& path, int& err) {
  size_t done = 0;
  while (done < length) {
    const ssize_t n = pwrite(fd, p + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      err = n < 0 ? errno : EIO;
      errno = err;
      return ErrnoError("write (O_DIRECT)", path);
    }
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Writes `data` at offset 0 of `fd` (open with O_DIRECT): from memory when
// `data` starts aligned, else through an aligned bounce buffer; the last
// block padded with zeros, then the file cut to data.size(). Returns the
// errno of a failed call in `err` (0 when all went well).
absl::Status WriteAllDirect(int fd, absl::Span<const uint8_t> data, const std::string& path, int& err) {
  err = 0;
  size_t at = 0;
  // Bytes that start on an aligned address (the sealer's BatchBytes) go
  // straight from memory, all their whole blocks; only the tail is bounced.
  if (reinterpret_cast<uintptr_t>(data.data()) % kDirectAlign == 0) {
    at = data.size() / kDirectAlign * kDirectAlign;
    RETURN_IF_ERROR(PwriteAll(fd, data.data(), at, 0, path, err));
  }
  if (at == data.size()) return absl::OkStatus();
  // No bigger than what is left: after an aligned prefix, one block.
  const size_t bounce_bytes =
      std::min(kBounceBytes, (data.size() - at + kDirectAlign - 1) / kDirectAlign * kDirectAlign);
  std::unique_ptr<uint8_t, FreeDeleter> bounce(static_cast<uint8_t*>(std::aligned_alloc(kDirectAlign, bounce_bytes)));
  if (bounce == nullptr) return absl::ResourceExhaustedError(absl::StrCat("bounce buffer for ", path));
  while (at < data.size()) {
    const size_t len = std::min(bounce_bytes, data.size() - at);
    const size_t padded = (len + kDirectAlign - 1) / kDirectAlign * kDirectAlign;
    std::memcpy(bounce.get(), data.data() + at, len);
    std::memset(bounce.get() + len, 0, padded - len);
    RETURN_IF_ERROR(PwriteAll(fd, bounce.get(), padded, at, path, err));
    at += len;
  }
  if (data.size() % kDirectAlign != 0 && ftruncate(fd, static_cast<off_t>(data.size())) != 0) {
    err = errno;
    return ErrnoError("ftruncate", path);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<uint8_t>> ReadRange(const std::string& path, uint64_t offset,
                                               uint64_t length, bool whole) {
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return ErrnoError("open", path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoError("fstat", path);
  if (!S_ISREG(st.st_mode)) return absl::NotFoundError(absl::StrCat("not an object: ", path));
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (whole) {
    offset = 0;
    length = size;
  } else if (offset > size) {
    return absl::OutOfRangeError(absl::StrCat("range at ", offset, " past the end (", size, ") of ", path));
  }
  std::vector<uint8_t> out(std::min(length, size - offset));
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = pread(fd.get(), out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoError("pread", path);
    }
    if (n == 0) break;  // shrank under us; objects are replaced by rename, so only by hand
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

std::atomic<uint64_t> temp_counter{0};

}  // namespace

namespace {
std::string WithoutTrailingSlashes(std::string root) {
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  return root;
}
}  // namespace

LocalDirStore::LocalDirStore(std::string root, bool direct_io)
    : root_(WithoutTrailingSlashes(std::move(root))), direct_io_(direct_io) {}

std::string LocalDirStore::PathOf(std::string_view key) const {
  return absl::StrCat(root_, "/", ToAbsl(key));
}

void LocalDirStore::DirectIoRefused(const std::string& path, int err) {
  if (!direct_io_.exchange(false, std::memory_order_relaxed)) return;
  log::Warn("store_direct_io_refused",
            {{"root", root_},
             {"error", absl::StrCat("O_DIRECT for ", path, ": ", std::strerror(err),
                                    "; objects are written through the page cache from now on (slower, as safe)")}});
}

absl::Status LocalDirStore::Put(std::string_view key, absl::Span<const uint8_t> data) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  const fs::path target(PathOf(key));
  const std::string dir = target.parent_path().string();
  const std::string temp =
      absl::StrCat(dir, "/.tmp-", getpid(), "-", temp_counter.fetch_add(1), "-", target.filename().string());
  bool direct = data.size() >= kDirectPutMinBytes && direct_io_.load(std::memory_order_relaxed);
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
  int raw_fd = -1;
  // Two tries: a concurrent Delete may remove the folder once it is empty.
  for (int attempt = 0; attempt < 2 && raw_fd < 0; ++attempt) {
    RETURN_IF_ERROR(MakeDurableDir(dir));
    raw_fd = open(temp.c_str(), flags | O_EXCL | (direct ? O_DIRECT : 0), 0644);
    if (raw_fd < 0 && errno == EINVAL && direct) {
      // Refused, perhaps after the file was created: open it again, buffered.
      DirectIoRefused(temp, errno);
      direct = false;
      raw_fd = open(temp.c_str(), flags, 0644);
    }
    if (raw_fd < 0 && errno != ENOENT) break;
  }
  if (raw_fd < 0) return ErrnoError("create", temp);
  Fd fd(raw_fd);
  absl::Status written;
  if (direct) {
    int err = 0;
    written = WriteAllDirect(fd.get(), data, temp, err);
    if (err == EINVAL) {
      // The open was accepted, the I/O not (e.g. a FUSE passthrough that
      // opened its own file O_DIRECT, which clearing our flag would not
      // change): start the object again on a fresh, buffered descriptor.
      DirectIoRefused(temp, err);
      direct = false;
      fd.Reset(open(temp.c_str(), O_WRONLY | O_TRUNC | O_CLOEXEC));
      written = fd.get() < 0 ? ErrnoError("reopen", temp) : absl::OkStatus();
    }
  }
  if (!direct && written.ok()) written = WriteAll(fd.get(), data, temp);
  if (written.ok() && fsync(fd.get()) != 0) written = ErrnoError("fsync", temp);
  if (fd.Close() != 0 && written.ok()) written = ErrnoError("close", temp);
  if (written.ok() && rename(temp.c_str(), target.c_str()) != 0) written = ErrnoError("rename", temp);
  if (!written.ok()) {
    unlink(temp.c_str());
    return written;
  }
  return FsyncDir(dir);
}

absl::StatusOr<std::vector<uint8_t>> LocalDirStore::Get(std::string_view key) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  return ReadRange(PathOf(key), 0, 0, /*whole=*/true);
}

absl::StatusOr<std::vector<uint8_t>> LocalDirStore::GetRange(std::string_view key, uint64_t offset,
                                                             uint64_t length) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  return ReadRange(PathOf(key), offset, length, /*whole=*/false);
}

absl::StatusOr<std::vector<ObjectInfo>> LocalDirStore::List(std::string_view prefix) {
  RETURN_IF_ERROR(ValidateObjectPrefix(prefix));
  // Walk only the deepest folder the prefix names completely.
  const size_t slash = prefix.rfind('/');
  const std::string base_key(slash == std::string_view::npos ? std::string_view() : prefix.substr(0, slash));
  const fs::path base = base_key.empty() ? fs::path(root_) : fs::path(PathOf(base_key));
  std::vector<ObjectInfo> out;
  std::error_code ec;
  if (!fs::is_directory(base, ec)) return out;
  fs::recursive_directory_iterator it(base, ec), end;
  for (; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    if (name.starts_with(".")) {
      // Temporary files of in-flight Puts, and anything else hidden.
      if (it->is_directory(ec)) it.disable_recursion_pending();
      continue;
    }
    std::error_code type_ec;
    if (!it->is_regular_file(type_ec)) continue;
    std::string key = it->path().lexically_relative(root_).string();
    if (!key.starts_with(prefix)) continue;
    std::error_code size_ec;
    const uint64_t size = it->file_size(size_ec);
    if (size_ec) continue;  // deleted while listing
    out.push_back({std::move(key), size});
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", base.string(), ": ", ec.message()));
  std::sort(out.begin(), out.end(), [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return out;
}

absl::StatusOr<std::vector<std::string>> LocalDirStore::ListFolders(std::string_view prefix) {
  RETURN_IF_ERROR(ValidateObjectPrefix(prefix));
  if (!prefix.empty() && prefix.back() != '/') {
    return absl::InvalidArgumentError("ListFolders needs a prefix ending in '/'");
  }
  const fs::path base = prefix.empty() ? fs::path(root_) : fs::path(PathOf(prefix.substr(0, prefix.size() - 1)));
  std::vector<std::string> out;
  std::error_code ec;
  if (!fs::is_directory(base, ec)) return out;
  for (fs::directory_iterator it(base, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    std::error_code type_ec;
    if (name.starts_with(".") || !it->is_directory(type_ec)) continue;
    out.push_back(absl::StrCat(ToAbsl(prefix), name, "/"));
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", base.string(), ": ", ec.message()));
  std::sort(out.begin(), out.end());
  return out;
}

absl::Status LocalDirStore::Delete(std::string_view key) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  const fs::path path(PathOf(key));
  if (unlink(path.c_str()) != 0) {
    if (errno == ENOENT) return absl::OkStatus();
    return ErrnoError("unlink", path.string());
  }
  // Drop folders left empty, as S3 has no empty folders to list. rmdir fails
  // harmlessly on the first one that still holds something.
  const fs::path root(root_);
  for (fs::path dir = path.parent_path(); dir != root && dir.has_relative_path() &&
                                          dir.string().size() > root_.size();
       dir = dir.parent_path()) {
    if (rmdir(dir.c_str()) != 0) break;
  }
  return absl::OkStatus();
}

absl::StatusOr<ObjectInfo> LocalDirStore::Head(std::string_view key) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  const std::string path = PathOf(key);
  struct stat st;
  if (stat(path.c_str(), &st) != 0) return ErrnoError("stat", path);
  if (!S_ISREG(st.st_mode)) return absl::NotFoundError(absl::StrCat("not an object: ", path));
  return ObjectInfo{std::string(key), static_cast<uint64_t>(st.st_size)};
}

}  // namespace ingest
