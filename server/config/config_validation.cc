// ResolveDefaults and ValidateConfig: the rules that need the whole config
// (derived defaults, limits that must agree with each other).
#include "server/config/ingest_config.h"

#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/descriptor_limit.h"
#include "server/config/byte_size.h"
#include "server/config/config_fields.h"
#include "server/config/connection_capacity.h"

namespace ingest {
namespace {

constexpr int kMaxShards = 256;

// Collects every problem so an operator fixes them in one round.
class Problems {
 public:
  void Add(absl::Status status) {
    if (!status.ok()) messages_.push_back(std::string(status.message()));
  }
  void Add(std::string message) { messages_.push_back(std::move(message)); }

  absl::Status ToStatus() const {
    if (messages_.empty()) return absl::OkStatus();
    return absl::InvalidArgumentError(absl::StrJoin(messages_, "; "));
  }

 private:
  std::vector<std::string> messages_;
};

}  // namespace

absl::Status ResolveDefaults(IngestConfig& config) {
  if (config.server.id.empty()) {
    char host[HOST_NAME_MAX + 1] = {};
    if (gethostname(host, sizeof(host) - 1) != 0) {
      return absl::ErrnoToStatus(errno, "server.id is not set and gethostname failed");
    }
    config.server.id = host;
  }
  if (config.server.shards == 0) {
    // One shard per core, or more where one ring per core cannot hold
    // max_connections (a ring's table is capped by the descriptor limit).
    // hardware_concurrency() is 0 when it cannot tell.
    const int cores = static_cast<int>(std::thread::hardware_concurrency());
    const int to_hold = ShardsToHold(config.server.max_connections, RingFileLimit());
    config.server.shards = std::clamp(std::max(cores, to_hold), 1, kMaxShards);
  }
  if (config.server.max_connections_per_source == 0) {
    config.server.max_connections_per_source = std::min<uint32_t>(1000, config.server.max_connections);
  }
  if (config.spool.dir.empty()) config.spool.dir = absl::StrCat(config.server.state_dir, "/spool");
  if (config.store.url.empty()) config.store.url = absl::StrCat("dir:", config.server.state_dir, "/store");
  ResolveStoreRegions(config.store);
  return absl::OkStatus();
}

void ResolveStoreRegions(StoreConfig& store) {
  // S3-compatible stores sign with a region but rarely care which; this is
  // the one they all accept.
  if (store.region.empty() && !store.endpoint.empty()) store.region = "us-east-1";
  if (store.sts_region.empty()) store.sts_region = store.region;
}

namespace {

// Values ResolveDefaults should have filled.
void CheckResolvedDefaults(const IngestConfig& config, Problems& problems) {
  if (config.server.id.empty()) problems.Add("server.id: must not be empty (ResolveDefaults sets the hostname)");
  if (config.server.shards < 1 || config.server.shards > kMaxShards) {
    problems.Add(absl::StrCat("server.shards: must be between 1 and ", kMaxShards, ", got ",
                              config.server.shards, " (ResolveDefaults turns 0 into the core count, or more to hold server.max_connections)"));
  }
  if (config.spool.dir.empty()) problems.Add("spool.dir: must not be empty (ResolveDefaults sets <state_dir>/spool)");
  if (config.store.url.empty()) problems.Add("store.url: must not be empty (ResolveDefaults sets dir:<state_dir>/store)");
  if (config.server.max_connections_per_source == 0) {
    problems.Add("server.max_connections_per_source: must not be 0 (ResolveDefaults sets min(1000, max_connections))");
  }
}

void CheckStoreAndServer(const IngestConfig& config, Problems& problems) {
  // A guessed AWS region would fail every request (or sign for the wrong
  // one); only the operator knows where the bucket lives.
  const StoreConfig& store = config.store;
  if (store.url.starts_with("s3://") && store.endpoint.empty() && store.region.empty()) {
    problems.Add("store.region is required for AWS S3 (e.g. \"eu-west-1\")");
  }

  const ServerConfig& server = config.server;
  if (server.max_connections_per_source > server.max_connections) {
    problems.Add(absl::StrCat("server.max_connections_per_source: must not exceed server.max_connections (",
                              server.max_connections, "), got ", server.max_connections_per_source));
  }
  if (server.shards >= 1 && server.shards <= kMaxShards) {
    problems.Add(CheckShardsHoldMaxConnections(server, RingFileLimit()));
  }
}

void CheckTlsFiles(const IngestConfig& config, Problems& problems) {
  if (config.tls.dev_certs) return;
  const std::pair<std::string_view, const std::string*> required[] = {
      {"tls.cert_file", &config.tls.cert_file},
      {"tls.key_file", &config.tls.key_file},
      {"tls.camera_ca_file", &config.tls.camera_ca_file},
  };
  for (const auto& [name, value] : required) {
    if (value->empty()) problems.Add(absl::StrCat(std::string(name), ": required unless tls.dev_certs = true"));
  }
}

void CheckProtocol(const IngestConfig& config, Problems& problems) {
  const ProtocolConfig& protocol = config.protocol;
  // A window smaller than one segment would stall a camera forever.
  if (protocol.ack_window_bytes < protocol.max_segment_bytes) {
    problems.Add(absl::StrCat("protocol.ack_window_bytes: must be at least protocol.max_segment_bytes (",
                              FormatByteSize(protocol.max_segment_bytes), "), got ",
                              FormatByteSize(protocol.ack_window_bytes)));
  }
  // The camera pings when idle for keepalive_interval_ms; the server must not
  // give up on it before then.
  if (protocol.keepalive_interval_ms >= protocol.idle_timeout_ms) {
    problems.Add(absl::StrCat("protocol.keepalive_interval_ms: must be less than protocol.idle_timeout_ms (",
                              protocol.idle_timeout_ms, "), got ", protocol.keepalive_interval_ms));
  }
}

void CheckDrain(const IngestConfig& config, Problems& problems) {
  const DrainConfig& drain = config.drain;
  if (drain.reconnect_after_min_ms > drain.reconnect_after_max_ms) {
    problems.Add(absl::StrCat("drain.reconnect_after_min_ms: must be at most drain.reconnect_after_max_ms (",
                              drain.reconnect_after_max_ms, "), got ", drain.reconnect_after_min_ms));
  }
  // The announce delay is spent before any camera is moved; leave the rest
  // of the deadline for moving and flushing.
  if (drain.announce_delay_ms >= drain.deadline_ms) {
    problems.Add(absl::StrCat("drain.announce_delay_ms: must be less than drain.deadline_ms (", drain.deadline_ms,
                              "), got ", drain.announce_delay_ms));
  }
}

void CheckSpool(const IngestConfig& config, Problems& problems) {
  const SpoolConfig& spool = config.spool;
  const ProtocolConfig& protocol = config.protocol;
  if (spool.shard_memory_bytes < protocol.max_segment_bytes) {
    problems.Add(absl::StrCat("spool.shard_memory_bytes: must be at least protocol.max_segment_bytes (",
                              FormatByteSize(protocol.max_segment_bytes), "), got ",
                              FormatByteSize(spool.shard_memory_bytes)));
  }
  if (spool.file_bytes < protocol.max_segment_bytes) {
    problems.Add(absl::StrCat("spool.file_bytes: must be at least protocol.max_segment_bytes (",
                              FormatByteSize(protocol.max_segment_bytes), "), got ",
                              FormatByteSize(spool.file_bytes)));
  }
  // Every shard appends to its own file, and a file is sealed and reclaimed
  // only once it is full and rotated: a spool limit below two files per shard
  // could stop all shards short of a rotation, and nothing would drain it.
  const uint64_t shards = static_cast<uint64_t>(std::max(config.server.shards, 1));
  if (spool.max_bytes < 2 * shards * spool.file_bytes) {
    problems.Add(absl::StrCat("spool.max_bytes: must be at least 2 x server.shards x spool.file_bytes (",
                              FormatByteSize(2 * shards * spool.file_bytes), "), got ",
                              FormatByteSize(spool.max_bytes)));
  }
}

}  // namespace

absl::Status ValidateConfig(const IngestConfig& config) {
  Problems problems;
  for (const auto& field : config_internal::ConfigFields()) {
    problems.Add(config_internal::CheckField(field, config));
  }
  CheckResolvedDefaults(config, problems);
  CheckStoreAndServer(config, problems);
  CheckTlsFiles(config, problems);
  CheckProtocol(config, problems);
  CheckDrain(config, problems);
  CheckSpool(config, problems);
  return problems.ToStatus();
}

}  // namespace ingest
