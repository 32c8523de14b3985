// The S3 backend of ObjectStore: every object key becomes "<prefix><key>" in
// one bucket. Large objects go up as parallel multipart uploads; listings are
// paginated ListObjectsV2 calls with the prefix stripped again.
//
//   ASSIGN_OR_RETURN(S3Location where, ParseS3Url("s3://recordings/zone-a"));
//   S3StoreOptions options{.client = {.bucket = where.bucket, .region = "eu-west-1"},
//                          .prefix = where.prefix};
//   ASSIGN_OR_RETURN(std::unique_ptr<S3Store> store, OpenS3Store(options, credentials));
//   RETURN_IF_ERROR(store->CheckAccess());  // fail start-up loudly on bad credentials
//   RETURN_IF_ERROR(store->Put("dev/cam-1/x.cpk", bytes));
#ifndef SERVER_S3_S3_STORE_H_
#define SERVER_S3_S3_STORE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "server/s3/aws_credentials.h"
#include "server/s3/s3_client.h"
#include "server/store/object_store.h"

namespace ingest {

struct S3Location {
  std::string bucket{};
  std::string prefix{};  // "" or ends with '/'
};

// "s3://bucket" or "s3://bucket/some/prefix[/]" -> {bucket, "" or "some/prefix/"}.
// InvalidArgument naming the problem for another scheme, a bad bucket name
// (ValidateBucketName) or a prefix that is not a valid key prefix.
absl::StatusOr<S3Location> ParseS3Url(std::string_view url);

struct S3StoreOptions {
  S3ClientOptions client{};
  // "" or ends with '/'; object keys are prefix + key.
  std::string prefix{};
  // Objects of at least this many bytes go up as multipart uploads.
  uint64_t multipart_threshold = 64ull << 20;
  // List and ListFolders fail with ResourceExhausted beyond this many entries
  // rather than grow without bound.
  size_t max_list_keys = 1000000;
};

class S3Store : public ObjectStore {
 public:
  // See ObjectStore for the contracts. S3 errors come back as described in
  // s3_client.h; object keys in messages include the store prefix.
  absl::Status Put(std::string_view key, absl::Span<const uint8_t> data) override;
  // A single PUT sends `crc32c` as the body's checksum without reading the
  // body; a multipart upload (data.size() >= multipart_threshold) computes
  // each part's own.
  absl::Status PutWithCrc32c(std::string_view key, absl::Span<const uint8_t> data,
                             uint32_t crc32c) override;
  absl::StatusOr<std::vector<uint8_t>> Get(std::string_view key) override;
  absl::StatusOr<std::vector<uint8_t>> GetRange(std::string_view key, uint64_t offset,
                                                uint64_t length) override;
  absl::StatusOr<std::vector<ObjectInfo>> List(std::string_view prefix) override;
  absl::StatusOr<std::vector<std::string>> ListFolders(std::string_view prefix) override;
  absl::Status Delete(std::string_view key) override;
  absl::StatusOr<ObjectInfo> Head(std::string_view key) override;

  // One cheap authenticated request under the store prefix: OK when the
  // bucket is reachable and readable with these credentials;
  // PermissionDenied (bad keys), FailedPrecondition (no such bucket, wrong
  // region) or Unavailable (unreachable) otherwise. For start-up and
  // readiness.
  absl::Status CheckAccess() override;
  // The client's counters (stats()) in the store-neutral form.
  std::optional<ObjectStoreStats> request_stats() const override;

  S3ClientStats stats() const { return client_->stats(); }
  const S3StoreOptions& options() const { return options_; }
  S3Client& client() { return *client_; }

 private:
  friend absl::StatusOr<std::unique_ptr<S3Store>> OpenS3Store(
      S3StoreOptions options, std::shared_ptr<CredentialsProvider> credentials);
  S3Store(S3StoreOptions options, std::unique_ptr<S3Client> client);

  std::string FullKey(std::string_view key) const;

  const S3StoreOptions options_;
  const std::unique_ptr<S3Client> client_;
};

// Validates `options` (InvalidArgument naming the bad field) and builds the
// store. Sends nothing: call CheckAccess() to find out whether S3 answers.
absl::StatusOr<std::unique_ptr<S3Store>> OpenS3Store(
    S3StoreOptions options, std::shared_ptr<CredentialsProvider> credentials);

}  // namespace ingest

#endif  // SERVER_S3_S3_STORE_H_
