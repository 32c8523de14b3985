// Opens the object store a [store] configuration names: the embedded
// local-directory store for "dir:<path>", S3 (with the credential chain) for
// "s3://bucket/prefix". Shared by ingestd and ingestctl so both read the same
// settings the same way; neither needs to know which kind it got.
//
//   ASSIGN_OR_RETURN(OpenedStore opened, OpenStoreFromConfig(config.store));
//   RETURN_IF_ERROR(opened.store->CheckAccess());  // S3: fails loudly on bad credentials
#ifndef SERVER_STORE_CONFIG_STORE_FROM_CONFIG_H_
#define SERVER_STORE_CONFIG_STORE_FROM_CONFIG_H_

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "server/config/ingest_config.h"
#include "server/store/object_store.h"

namespace ingest {

struct OpenedStore {
  std::unique_ptr<ObjectStore> store;
  std::string description;  // for logs: "dir:/x" or "s3://b/p at <endpoint>, credentials from <source>"
};

// Builds the store; sends nothing over the network.
absl::StatusOr<OpenedStore> OpenStoreFromConfig(const StoreConfig& config);

}  // namespace ingest

#endif  // SERVER_STORE_CONFIG_STORE_FROM_CONFIG_H_
