// Where sealed recordings live: a flat key -> bytes store with S3's semantics,
// so the embedded local-directory backend and a later S3 backend are
// interchangeable. Keys are '/'-separated paths ("dev/cam-1/2026-11-22/10/...").
//
//   LocalDirStore store("/var/lib/ingest/store");
//   RETURN_IF_ERROR(store.Put("dev/cam-1/x.cpk", bytes));
//   ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store.List("dev/cam-1/"));
//   ASSIGN_OR_RETURN(std::vector<uint8_t> head, store.GetRange(objects[0].key, 0, 4096));
//   RETURN_IF_ERROR(store.CheckAccess());  // at start-up: bad credentials fail loudly
#ifndef SERVER_STORE_OBJECT_STORE_H_
#define SERVER_STORE_OBJECT_STORE_H_

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "common/histogram.h"

namespace ingest {

inline constexpr size_t kMaxObjectKeyBytes = 1024;

struct ObjectInfo {
  std::string key;
  uint64_t size = 0;
};

// Request latency buckets: upper bounds in microseconds (5 ms .. 30 s); a
// last, open bucket follows.
inline constexpr std::array<int64_t, 12> kStoreRequestLatencyBoundsUs = {
    5'000,     10'000,    25'000,    50'000,     100'000,    250'000,
    500'000,   1'000'000, 2'500'000, 5'000'000, 10'000'000, 30'000'000};

// What a store counted about the requests it sent to a remote service (S3)
// since it was opened, for the stats line and /metrics
// (ObjectStore::request_stats()).
struct ObjectStoreStats {
  uint64_t requests = 0;
  uint64_t retries = 0;         // attempts after the first of an operation
  uint64_t network_errors = 0;  // no complete response (connect, reset, timeout)
  uint64_t throttled = 0;       // asked to slow down (S3: a throttling error code, 429, or 503 with no code)
  uint64_t server_errors = 0;   // other errors on the service's side (5xx)
  uint64_t auth_errors = 0;     // refused credentials (401 / 403, credential errors)
  uint64_t not_found = 0;       // 404 (incl. NoSuchBucket)
  uint64_t client_errors = 0;   // any other failure (4xx, digest mismatch, bad reply)
  uint64_t bytes_up = 0;        // request bodies
  uint64_t bytes_down = 0;      // response bodies
  Histogram latency{kStoreRequestLatencyBoundsUs};  // every attempt, with its exact sum
};

// Every implementation is thread-safe. Every method validates its key (or
// prefix) with ValidateObjectKey / ValidateObjectPrefix first and returns
// InvalidArgument for a bad one.
class ObjectStore {
 public:
  virtual ~ObjectStore() = default;

  // Stores `data` under `key`, replacing any object there. Atomic: readers see
  // the old object or the whole new one, never a part. Durable on return.
  virtual absl::Status Put(std::string_view key, absl::Span<const uint8_t> data) = 0;

  // Put, for a caller that already knows the CRC-32C of `data` (computed as
  // the bytes were put together): a store that sends a checksum along (S3's
  // x-amz-checksum-crc32c) uses it instead of reading the bytes once more.
  // `crc32c` must equal Crc32c(data); a store that checks it refuses the Put
  // otherwise. The default ignores it.
  virtual absl::Status PutWithCrc32c(std::string_view key, absl::Span<const uint8_t> data,
                                     uint32_t /*crc32c*/) {
    return Put(key, data);
  }

  // The whole object. NotFound if there is none.
  virtual absl::StatusOr<std::vector<uint8_t>> Get(std::string_view key) = 0;

  // Bytes [offset, offset + length) of the object, cut short at its end.
  // NotFound if there is no object; OutOfRange if offset is past its end.
  virtual absl::StatusOr<std::vector<uint8_t>> GetRange(std::string_view key, uint64_t offset,
                                                        uint64_t length) = 0;

  // Every object whose key starts with `prefix` (plain string prefix, as S3;
  // "" lists everything), sorted by key.
  virtual absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) = 0;

  // The distinct "folders" directly below `prefix`, which must be "" or end in
  // '/': every "<prefix><name>/" some key starts with, sorted (S3's
  // CommonPrefixes with delimiter '/'). Lets readers walk a time-ordered
  // layout newest first without listing every key.
  virtual absl::StatusOr<std::vector<std::string>> ListFolders(std::string_view prefix) = 0;

  // Removes the object. Deleting a missing object succeeds (as on S3).
  virtual absl::Status Delete(std::string_view key) = 0;

  // The object's size. NotFound if there is none.
  virtual absl::StatusOr<ObjectInfo> Head(std::string_view key) = 0;

  // One cheap request proving the store can be used with the access it was
  // given: OK, or PermissionDenied (bad credentials), FailedPrecondition
  // (no such bucket, wrong region) or Unavailable / DeadlineExceeded (not
  // reachable now). For start-up and readiness. The default, for a store with
  // nothing to reach, is OK.
  virtual absl::Status CheckAccess() { return absl::OkStatus(); }

  // The counters of a store that sends requests to a remote service; nullopt
  // for one that sends none (the local directory).
  virtual std::optional<ObjectStoreStats> request_stats() const { return std::nullopt; }
};

namespace object_key_internal {
// '~' joins a camera id to the name of one of its metadata streams
// ("cam-1~init", metadata_streams.h); camera ids never hold one. All of these
// are unreserved in URIs, so SigV4 leaves them as they are.
inline bool IsKeyChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
         c == '_' || c == '-' || c == '~';
}
// Checks `s` as '/'-separated segments; `allow_partial_tail` admits an empty
// or partial last segment (prefixes).
inline absl::Status CheckSegments(std::string_view s, bool allow_partial_tail) {
  if (s.size() > kMaxObjectKeyBytes) return absl::InvalidArgumentError("object key too long");
  size_t start = 0;
  while (true) {
    const size_t slash = s.find('/', start);
    const bool last = slash == std::string_view::npos;
    const std::string_view segment = s.substr(start, last ? std::string_view::npos : slash - start);
    if (segment.empty() && !(last && allow_partial_tail)) {
      return absl::InvalidArgumentError("object key has an empty segment or a leading '/'");
    }
    if (!segment.empty() && segment.front() == '.') {
      return absl::InvalidArgumentError("object key segment starts with '.'");
    }
    for (char c : segment) {
      if (!IsKeyChar(c)) return absl::InvalidArgumentError("object key has a character outside [A-Za-z0-9._~-/]");
    }
    if (last) return absl::OkStatus();
    start = slash + 1;
  }
}
}  // namespace object_key_internal

// OK if `key` is 1..kMaxObjectKeyBytes bytes of '/'-separated segments, each
// non-empty, made of [A-Za-z0-9._~-] and not starting with '.' (so no "." or
// "..", and no clash with a backend's hidden temporary files).
inline absl::Status ValidateObjectKey(std::string_view key) {
  if (key.empty()) return absl::InvalidArgumentError("empty object key");
  return object_key_internal::CheckSegments(key, /*allow_partial_tail=*/false);
}

// As ValidateObjectKey, but also allows "" and a trailing '/' or partial last
// segment ("dev/cam-1/2026-").
inline absl::Status ValidateObjectPrefix(std::string_view prefix) {
  if (prefix.empty()) return absl::OkStatus();
  return object_key_internal::CheckSegments(prefix, /*allow_partial_tail=*/true);
}

}  // namespace ingest

#endif  // SERVER_STORE_OBJECT_STORE_H_
