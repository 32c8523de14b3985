// Moved to common/host_port.h (one "host:port" grammar for the configuration,
// the zone map, REDIRECT and the camera client). This forwarding header keeps
// the includes of server/shard/ingest_server.cc and zone_setup.cc compiling
// until they name common/host_port.h themselves.
#ifndef SERVER_CONFIG_HOST_PORT_H_
#define SERVER_CONFIG_HOST_PORT_H_

#include "common/host_port.h"

#endif  // SERVER_CONFIG_HOST_PORT_H_
