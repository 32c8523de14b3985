#include "server/s3/s3_store.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"

namespace ingest {
namespace {

constexpr size_t kMaxUrlBytes = 2048;

// Listing answers must stay under the prefix asked for; anything else means
// the server (or something between) is broken, and the key must not be
// trimmed into a wrong one.
absl::StatusOr<std::string> StripPrefix(std::string_view full, std::string_view store_prefix) {
  if (!absl::StartsWith(ToAbsl(full), ToAbsl(store_prefix))) {
    return absl::InternalError(
        absl::StrCat("S3 listing returned '", std::string(full.substr(0, 200)),
                     "' outside the store prefix '", std::string(store_prefix), "'"));
  }
  return std::string(full.substr(store_prefix.size()));
}

}  // namespace

absl::StatusOr<S3Location> ParseS3Url(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad S3 URL '", std::string(url.substr(0, 200)), "': ", std::string(why)));
  };
  if (url.size() > kMaxUrlBytes) return bad("too long");
  if (url.size() < 5 || absl::AsciiStrToLower(ToAbsl(url.substr(0, 5))) != "s3://") {
    return bad("must start with s3://");
  }
  std::string_view rest = url.substr(5);
  const size_t slash = rest.find('/');
  S3Location location;
  location.bucket = std::string(rest.substr(0, slash));
  absl::Status bucket_ok = ValidateBucketName(location.bucket);
  if (!bucket_ok.ok()) return bad(ToStd(bucket_ok.message()));
  if (slash != std::string_view::npos) {
    std::string prefix(rest.substr(slash + 1));
    if (!prefix.empty() && prefix.back() != '/') prefix.push_back('/');
    absl::Status prefix_ok = ValidateObjectPrefix(prefix);
    if (!prefix_ok.ok()) {
      return bad(absl::StrCat("prefix: ", std::string(ToStd(prefix_ok.message()))));
    }
    location.prefix = std::move(prefix);
  }
  return location;
}

absl::StatusOr<std::unique_ptr<S3Store>> OpenS3Store(
    S3StoreOptions options, std::shared_ptr<CredentialsProvider> credentials) {
  if (!options.prefix.empty()) {
    if (options.prefix.back() != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("S3 store prefix '", options.prefix, "' must be empty or end with '/'"));
    }
    absl::Status prefix_ok = ValidateObjectPrefix(options.prefix);
    if (!prefix_ok.ok()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "S3 store prefix '", options.prefix, "': ", std::string(ToStd(prefix_ok.message()))));
    }
  }
  if (options.multipart_threshold < kS3MinPartBytes) {
    return absl::InvalidArgumentError("S3 store multipart_threshold must be at least 5 MiB");
  }
  if (options.max_list_keys < 1) {
    return absl::InvalidArgumentError("S3 store max_list_keys must be at least 1");
  }
  ASSIGN_OR_RETURN(std::unique_ptr<S3Client> client,
                   S3Client::Create(options.client, std::move(credentials)));
  return std::unique_ptr<S3Store>(new S3Store(std::move(options), std::move(client)));
}

S3Store::S3Store(S3StoreOptions options, std::unique_ptr<S3Client> client)
    : options_(std::move(options)), client_(std::move(client)) {}

std::string S3Store::FullKey(std::string_view key) const {
  return absl::StrCat(options_.prefix, std::string(key));
}

absl::Status S3Store::Put(std::string_view key, absl::Span<const uint8_t> data) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  const std::string full = FullKey(key);
  if (data.size() >= options_.multipart_threshold) {
    return client_->PutObjectMultipart(full, data).status();
  }
  return client_->PutObject(full, data).status();
}

absl::Status S3Store::PutWithCrc32c(std::string_view key, absl::Span<const uint8_t> data,
                                    uint32_t crc32c) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  const std::string full = FullKey(key);
  if (data.size() >= options_.multipart_threshold) {
    return client_->PutObjectMultipart(full, data).status();
  }
  return client_->PutObject(full, data, crc32c).status();
}

absl::StatusOr<std::vector<uint8_t>> S3Store::Get(std::string_view key) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  return client_->GetObject(FullKey(key));
}

absl::StatusOr<std::vector<uint8_t>> S3Store::GetRange(std::string_view key, uint64_t offset,
                                                       uint64_t length) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  const std::string full = FullKey(key);
  if (length > 0) {
    absl::StatusOr<std::vector<uint8_t>> bytes =
        client_->GetObject(full, S3ByteRange{.offset = offset, .length = length});
    if (!absl::IsOutOfRange(bytes.status())) return bytes;
  }
  // S3 answers 416 for a range starting exactly at the end (and for any
  // range of an empty object), where ObjectStore promises an empty result;
  // a zero-length read still has to tell a missing object apart.
  ASSIGN_OR_RETURN(S3ObjectHead head, client_->HeadObject(full));
  if (offset > head.size) {
    return absl::OutOfRangeError(absl::StrCat("S3 GetRange s3://", options_.client.bucket, "/",
                                              full, ": offset ", offset, " is past the end (",
                                              head.size, " bytes)"));
  }
  if (offset == head.size || length == 0) return std::vector<uint8_t>();
  // The object changed between the two requests; one more try reads it as
  // it is now.
  return client_->GetObject(full, S3ByteRange{.offset = offset, .length = length});
}

absl::StatusOr<std::vector<ObjectInfo>> S3Store::List(std::string_view prefix) {
  RETURN_IF_ERROR(ValidateObjectPrefix(prefix));
  ASSIGN_OR_RETURN(S3ListPage listing,
                   client_->ListObjectsV2(FullKey(prefix), "", options_.max_list_keys));
  std::vector<ObjectInfo> objects;
  objects.reserve(listing.contents.size());
  for (S3ObjectEntry& entry : listing.contents) {
    ASSIGN_OR_RETURN(std::string key, StripPrefix(entry.key, options_.prefix));
    objects.push_back(ObjectInfo{.key = std::move(key), .size = entry.size});
  }
  std::sort(objects.begin(), objects.end(),
            [](const ObjectInfo& a, const ObjectInfo& b) { return a.key < b.key; });
  return objects;
}

absl::StatusOr<std::vector<std::string>> S3Store::ListFolders(std::string_view prefix) {
  RETURN_IF_ERROR(ValidateObjectPrefix(prefix));
  if (!prefix.empty() && prefix.back() != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("folder prefix '", std::string(prefix), "' must be empty or end with '/'"));
  }
  ASSIGN_OR_RETURN(S3ListPage listing,
                   client_->ListObjectsV2(FullKey(prefix), "/", options_.max_list_keys));
  std::vector<std::string> folders;
  folders.reserve(listing.common_prefixes.size());
  for (const std::string& common : listing.common_prefixes) {
    ASSIGN_OR_RETURN(std::string folder, StripPrefix(common, options_.prefix));
    folders.push_back(std::move(folder));
  }
  std::sort(folders.begin(), folders.end());
  return folders;
}

absl::Status S3Store::Delete(std::string_view key) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  return client_->DeleteObject(FullKey(key));
}

absl::StatusOr<ObjectInfo> S3Store::Head(std::string_view key) {
  RETURN_IF_ERROR(ValidateObjectKey(key));
  ASSIGN_OR_RETURN(S3ObjectHead head, client_->HeadObject(FullKey(key)));
  return ObjectInfo{.key = std::string(key), .size = head.size};
}

absl::Status S3Store::CheckAccess() { return client_->CheckAccess(options_.prefix); }

std::optional<ObjectStoreStats> S3Store::request_stats() const { return client_->stats(); }

}  // namespace ingest
