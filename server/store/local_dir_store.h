// The embedded ObjectStore: each object is a file under a root folder, at the
// path its key names. Puts write a hidden temporary file beside the target,
// fsync it, rename it into place and fsync the folder.
//
//   LocalDirStore store("/var/lib/ingest/store");
//   RETURN_IF_ERROR(store.Put("dev/cam-1/2026-11-22/10/x.cpk", bytes));
//
// A key cannot be both an object and a folder of other keys ("a/b" and
// "a/b/c"); S3 allows it, our layout never does it.
#ifndef SERVER_STORE_LOCAL_DIR_STORE_H_
#define SERVER_STORE_LOCAL_DIR_STORE_H_

#include <string>

#include "server/store/object_store.h"

namespace ingest {

class LocalDirStore : public ObjectStore {
 public:
  // `root` is created on the first Put if missing.
  explicit LocalDirStore(std::string root);

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

  const std::string root_;
};

}  // namespace ingest

#endif  // SERVER_STORE_LOCAL_DIR_STORE_H_
