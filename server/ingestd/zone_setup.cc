#include "server/ingestd/zone_setup.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <netinet/in.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/host_port.h"

namespace ingest {

absl::StatusOr<std::shared_ptr<const zones::ZoneMap>> LoadZoneMapFor(const IngestConfig& config) {
  return LoadZoneMapFor(config.server.zone_map, config.server.zone);
}

absl::StatusOr<std::shared_ptr<const zones::ZoneMap>> LoadZoneMapFor(const std::string& zone_map,
                                                                     const std::string& zone) {
  absl::StatusOr<zones::ZoneMap> map = zones::ZoneMap::Load(zone_map);
  if (!map.ok()) return map.status();
  if (map->Find(zone) == nullptr) {
    std::vector<std::string> ids;
    for (const zones::Zone& z : map->zones()) ids.push_back(z.id);
    return absl::FailedPreconditionError(absl::StrCat("server.zone \"", zone, "\" is not in zone map ", zone_map,
                                                      " (zones: ", absl::StrJoin(ids, ", "), ")"));
  }
  return std::make_shared<const zones::ZoneMap>(*std::move(map));
}

void ApplyZoneStore(const zones::Zone& zone, StoreConfig& store) {
  if (!store.url.empty() || zone.store.bucket.empty()) return;
  store.url = absl::StrCat("s3://", zone.store.bucket, zone.store.prefix.empty() ? "" : "/", zone.store.prefix);
  if (!zone.store.region.empty()) store.region = zone.store.region;
  if (!zone.store.role_arn.empty()) store.role_arn = zone.store.role_arn;
  if (!zone.store.endpoint.empty()) store.endpoint = zone.store.endpoint;
}

std::vector<std::string> HostAddresses(const std::string& listen) {
  absl::StatusOr<HostPort> host_port = ParseHostPort(listen);
  if (host_port.ok() && host_port->host != "0.0.0.0" && host_port->host != "::") return {host_port->host};
  std::vector<std::string> addresses;
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return addresses;
  for (ifaddrs* entry = list; entry != nullptr; entry = entry->ifa_next) {
    if (entry->ifa_addr == nullptr) continue;
    char text[INET6_ADDRSTRLEN] = {};
    if (entry->ifa_addr->sa_family == AF_INET) {
      inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(entry->ifa_addr)->sin_addr, text, sizeof(text));
    } else if (entry->ifa_addr->sa_family == AF_INET6) {
      inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(entry->ifa_addr)->sin6_addr, text, sizeof(text));
    } else {
      continue;
    }
    addresses.emplace_back(text);
  }
  freeifaddrs(list);
  return addresses;
}

absl::Status CheckAddressesInZone(const zones::Zone& zone, const std::vector<std::string>& addresses) {
  for (const std::string& address : addresses) {
    for (const zones::Cidr& subnet : zone.subnets) {
      if (subnet.Contains(address)) return absl::OkStatus();
    }
  }
  std::vector<std::string> subnets;
  for (const zones::Cidr& subnet : zone.subnets) subnets.push_back(subnet.ToString());
  return absl::FailedPreconditionError(absl::StrCat("none of this host's addresses (", absl::StrJoin(addresses, ", "),
                                                    ") is in zone ", zone.id, "'s subnets (",
                                                    absl::StrJoin(subnets, ", "), ")"));
}

}  // namespace ingest
