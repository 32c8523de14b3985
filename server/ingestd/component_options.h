// Each component's options, built from the configuration in one place, so a
// component never sees the whole IngestConfig and the mapping from config
// keys to options can be read (and tested) on its own.
//
//   ASSIGN_OR_RETURN(catalog, SpoolCatalog::Open(SpoolCatalogOptionsFrom(config), &recovery));
//   auto sealer = std::make_unique<BatchSealer>(BatchSealerOptionsFrom(config), catalog, store);
//   Shard shard(ShardOptionsFrom(config, i, listeners.fd(i), listeners.family()), shared);
#ifndef SERVER_INGESTD_COMPONENT_OPTIONS_H_
#define SERVER_INGESTD_COMPONENT_OPTIONS_H_

#include <string>

#include "server/admin/admin_server.h"
#include "server/batch/batch_sealer.h"
#include "server/config/ingest_config.h"
#include "server/ingestd/zone_reloader.h"
#include "server/shard/shard.h"
#include "server/spool/spool_catalog.h"
#include "server/tls/server_tls.h"

namespace ingest {

// `config` has gone through ResolveDefaults (shards, ids and paths are set).
SpoolCatalogOptions SpoolCatalogOptionsFrom(const IngestConfig& config);
BatchSealerOptions BatchSealerOptionsFrom(const IngestConfig& config);
// Shard `index` of config.server.shards, serving the socket `listen_fd`.
ShardOptions ShardOptionsFrom(const IngestConfig& config, int index, int listen_fd, int listen_family);
// `drain_token` is the drain.token_file's token (ReadDrainToken).
AdminServerOptions AdminServerOptionsFrom(const IngestConfig& config, std::string drain_token);
// The tls.* files; the dev-certificate paths must be filled in already
// (PrepareDevCertificates).
ServerTlsFiles ServerTlsFilesFrom(const TlsConfig& tls);
ZoneReloaderOptions ZoneReloaderOptionsFrom(const IngestConfig& config);

}  // namespace ingest

#endif  // SERVER_INGESTD_COMPONENT_OPTIONS_H_
