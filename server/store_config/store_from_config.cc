#include "server/store_config/store_from_config.h"

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "server/s3/credentials_chain.h"
#include "server/s3/s3_store.h"
#include "server/store/local_dir_store.h"

namespace ingest {

absl::StatusOr<OpenedStore> OpenStoreFromConfig(const StoreConfig& config) {
  const std::string& url = config.url;
  OpenedStore opened;
  if (url.starts_with("dir:")) {
    const std::string root = url.substr(4);
    if (root.empty()) return absl::InvalidArgumentError("store url 'dir:' needs a path");
    opened.store = std::make_unique<LocalDirStore>(root);
    opened.description = url;
    return opened;
  }
  if (!url.starts_with("s3://")) {
    return absl::InvalidArgumentError(absl::StrCat("store url '", url, "': use dir:<path> or s3://bucket/prefix"));
  }
  ASSIGN_OR_RETURN(S3Location where, ParseS3Url(url));
  ASSIGN_OR_RETURN(std::shared_ptr<CredentialsProvider> credentials,
                   MakeCredentialsChain(CredentialsOptions{.profile = config.profile,
                                                           .use_instance_metadata = config.use_instance_metadata,
                                                           .imds_endpoint = config.imds_endpoint,
                                                           .role_arn = config.role_arn,
                                                           .role_session_name = config.role_session_name,
                                                           .external_id = config.external_id,
                                                           .sts_endpoint = config.sts_endpoint,
                                                           .sts_region = config.sts_region}));
  S3StoreOptions options;
  options.client.bucket = where.bucket;
  options.client.endpoint = config.endpoint;
  options.client.region = config.region;
  options.client.addressing = config.path_style ? S3Addressing::kPathStyle : S3Addressing::kAuto;
  options.client.ca_file = config.ca_file;
  // Validated with the configuration; an unparsable value cannot get here
  // from a file or a flag, only from code building a StoreConfig by hand.
  ASSIGN_OR_RETURN(options.client.payload_signing, ParseS3PayloadSigning(config.payload_signing));
  // Every upload thread may hold one connection, readers a few more.
  options.client.max_connections = std::max<size_t>(8, 2 * size_t{config.upload_threads});
  options.prefix = where.prefix;
  const std::string source = credentials->Describe();
  ASSIGN_OR_RETURN(std::unique_ptr<S3Store> s3, OpenS3Store(std::move(options), std::move(credentials)));
  opened.description = absl::StrCat(url, " at ", config.endpoint.empty() ? "AWS" : config.endpoint, " (",
                                    config.region, "), credentials from ", source, ", object bodies ",
                                    s3->client().signs_payload() ? "signed (SHA-256, Content-MD5)"
                                                                 : "unsigned with x-amz-checksum-crc32c");
  opened.store = std::move(s3);
  return opened;
}

}  // namespace ingest
