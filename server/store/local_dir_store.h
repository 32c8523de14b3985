// The embedded ObjectStore: each object is a file under a root folder, at the
// path its key names. Puts write a hidden temporary file beside the target,
// fsync it, rename it into place and fsync the folder. Objects of
// kDirectPutMinBytes or more (batch objects) are written with O_DIRECT through
// a small aligned bounce buffer, which costs the writer about half the CPU of
// the page-cache copy; where the file system refuses O_DIRECT, Puts are
// buffered from then on and one line says so.
//
//   LocalDirStore store("/var/lib/ingest/store");
//   RETURN_IF_ERROR(store.Put("dev/cam-1/2026-11-22/10/x.cpk", bytes));
//
// A key cannot be both an object and a folder of other keys ("a/b" and
// "a/b/c"); S3 allows it, our layout never does it.
#ifndef SERVER_STORE_LOCAL_DIR_STORE_H_
#define SERVER_STORE_LOCAL_DIR_STORE_H_

#include <atomic>
#include <cstddef>
#include <string>

#include "server/store/object_store.h"

namespace ingest {

// Objects at least this large are written with O_DIRECT.
inline constexpr size_t kDirectPutMinBytes = 1 << 20;

class LocalDirStore : public ObjectStore {
 public:
  // `root` is created on the first Put if missing. `direct_io` false keeps
  // every Put buffered (for comparisons).
  explicit LocalDirStore(std::string root, bool direct_io = true);

  absl::Status Put(std::string_view key, absl::Span<const uint8_t> data) override;
  absl::StatusOr<std::vector<uint8_t>> Get(std::string_view key) override;
  absl::StatusOr<std::vector<uint8_t>> GetRange(std::string_view key, uint64_t offset,
                                                uint64_t length) override;
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  absl::StatusOr<std::vector<std::string>> ListFolders(std::string_view prefix) override;
  absl::Status Delete(std::string_view key) override;
  absl::StatusOr<ObjectInfo> Head(std::string_view key) override;

  const std::string& root() const { return root_; }

 private:
  std::string PathOf(std::string_view key) const;
  // O_DIRECT was refused for `path`: Puts are buffered from now on; logs once.
  void DirectIoRefused(const std::string& path, int err);

  const std::string root_;
  std::atomic<bool> direct_io_;
};

}  // namespace ingest

#endif  // SERVER_STORE_LOCAL_DIR_STORE_H_
