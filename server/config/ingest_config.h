// The daemon's configuration: one struct per component, gathered in
// IngestConfig, built once at start-up and read-only afterwards.
//
// Sources, in order: the built-in defaults below, an optional TOML file, then
// command-line flags (ingest_flags.h); then derived defaults are filled in and
// the whole is validated. A typo in the file is an error, never ignored.
//
//   ASSIGN_OR_RETURN(IngestConfig config, LoadConfigFile("ingestd.toml"));
//   RETURN_IF_ERROR(ApplyFlagOverrides(config));
//   RETURN_IF_ERROR(ResolveDefaults(config));
//   RETURN_IF_ERROR(ValidateConfig(config));
//   std::cout << ConfigToToml(config);  // --print-config
//
// In the file, sizes are integers or strings with a binary unit ("64MiB");
// durations are integers in milliseconds, with the unit in the key's name.
#ifndef SERVER_CONFIG_INGEST_CONFIG_H_
#define SERVER_CONFIG_INGEST_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace ingest {

// [server]: identity and the listening socket.
struct ServerConfig {
  std::string id;  // empty until ResolveDefaults: the hostname
  std::string zone = "dev";
  // Numeric "host:port": "0.0.0.0:7443", "[::1]:7443". Port 0 picks a free one.
  std::string listen = "127.0.0.1:7443";
  // Health, readiness, metrics and status over HTTP. Loopback by default; the
  // load balancer's health checks need a reachable address.
  std::string admin_listen = "127.0.0.1:9090";
  // HTTPS ingest for encoders (docs/https-ingest.md): "ip:port", empty = off.
  std::string https_listen{};
  int shards = 0;  // 0 until ResolveDefaults: one per online core (at most 256)
  uint32_t max_connections = 50000;
  // Per remote IP address. 0 until ResolveDefaults: the smaller of 1000 and
  // max_connections, so lowering max_connections alone is enough.
  uint32_t max_connections_per_source = 0;
  std::string state_dir = "var";  // spool and embedded store live under it unless set
  // Zone map file (docs/zones.md); empty = no map: every camera is admitted.
  // With a map, `zone` must be one of its zones; cameras of other zones are
  // redirected, unknown cameras rejected, and SIGHUP or a change of the file
  // reloads it.
  std::string zone_map{};
  // What to do when none of this host's addresses lies in the zone's
  // subnets: "warn" or "refuse" (to start).
  std::string zone_subnet_check = "warn";

  friend bool operator==(const ServerConfig&, const ServerConfig&) = default;
};

// [tls]: mutual TLS with the cameras.
struct TlsConfig {
  std::string cert_file;         // server certificate chain, PEM
  std::string key_file;          // its private key, PEM
  std::string camera_ca_file;    // CA(s) that sign camera certificates, PEM
  std::string ticket_keys_file;  // optional; empty = random keys per process
  // Revocation, both optional and re-read on reload (SIGHUP or a change of
  // any TLS file): PEM CRL(s) of the camera CA(s), and a list of camera ids
  // refused whatever their certificate (server/tls/camera_revocation.h).
  std::string crl_file;
  std::string camera_deny_list_file;
  // Tokens and signed-URL keys of encoders without a client certificate
  // (server/tls/encoder_credentials.h); re-read like the files above.
  std::string encoder_credentials_file{};
  bool allow_tls12 = false;
  // Keep TLS 1.3 connections on OpenSSL's record layer after the handshake
  // instead of our own (camproto::Tls13RecordLayer): a fallback, at ~17 KB
  // more per idle camera and a copy on each side of every record.
  bool openssl_record_layer = false;
  uint32_t handshake_timeout_ms = 10000;
  // Per shard: connections accepted and not yet through their handshake.
  // At the limit a shard stops accepting and leaves the rest in the
  // kernel's backlog, so a reconnect storm is taken in at the rate the
  // shard finishes handshakes instead of timing most of them out.
  uint32_t max_handshakes_in_progress = 1024;
  // Generate a development CA and certificates under <state_dir>/dev-certs on
  // first run and use them for any of the three PEM files left empty. The
  // paths stay empty in this struct: the TLS set-up fills them in.
  bool dev_certs = false;

  friend bool operator==(const TlsConfig&, const TlsConfig&) = default;
};

// [protocol]: limits announced to cameras in WELCOME and enforced per session.
struct ProtocolConfig {
  uint32_t hello_timeout_ms = 10000;
  uint32_t idle_timeout_ms = 60000;
  uint32_t keepalive_interval_ms = 15000;
  uint32_t max_segment_bytes = 4 << 20;
  uint32_t ack_window_bytes = 8 << 20;
  // The capture window: a SEGMENT's capture_start_us may lie at most this far
  // before the server's clock (what a camera holds through an outage) and at
  // most this far after it (clock drift); anything else is INVALID_FIELD.
  uint32_t max_capture_age_s = 30 * 86400;
  uint32_t max_capture_lead_s = 86400;
  // HTTPS streams (docs/https-ingest.md): a POSTed MPEG-TS stream is cut at
  // its first keyframe once a piece lasts this long in stream time (or holds
  // 1 MiB), and at a frame once it lasts three times this without one.
  uint32_t stream_segment_ms = 4000;

  friend bool operator==(const ProtocolConfig&, const ProtocolConfig&) = default;
};

// [spool]: the local, fsync'd segment journal.
struct SpoolConfig {
  std::string dir;  // empty until ResolveDefaults: <state_dir>/spool
  uint32_t commit_interval_ms = 2;
  uint64_t commit_bytes = 1 << 20;
  uint64_t file_bytes = 64 << 20;
  uint64_t max_bytes = 8ull << 30;  // spool full -> stop reading from cameras
  // Free space left on the spool's file system -> stop reading from cameras
  // (the batch journal, which every upload needs, lives on the same disk).
  uint64_t min_free_bytes = 64 << 20;
  uint64_t shard_memory_bytes = 256 << 20;  // segment buffers per shard
  // Spool writes bypass the page cache (O_DIRECT, records padded to 4 KiB);
  // a file system that refuses it gets buffered writes and one log line.
  bool direct_io = true;

  friend bool operator==(const SpoolConfig&, const SpoolConfig&) = default;
};

// [store]: where sealed objects go.
struct StoreConfig {
  // "dir:<path>" (embedded store on a local file system) or "s3://bucket/prefix".
  // Empty until ResolveDefaults: dir:<state_dir>/store.
  std::string url;
  // A batch object is sealed at this many bytes or once its oldest segment
  // waited seal_age_ms (docs/storage-layout.md explains the defaults).
  uint64_t seal_bytes = 16 << 20;
  uint32_t seal_age_ms = 10000;
  uint32_t index_interval_s = 600;  // longest a persisted segment waits for its camera index
  uint32_t upload_threads = 4;
  // S3 only.
  std::string endpoint;  // "" = AWS (https://s3.<region>.amazonaws.com)
  // Empty until ResolveDefaults: "us-east-1" with an endpoint (what
  // S3-compatible stores accept); AWS S3 has no safe guess, so there it is
  // required (a wrong region fails every request).
  std::string region;
  bool path_style = false;  // bucket in the path instead of the host name
  std::string ca_file;      // extra trust anchors for an https endpoint
  // How uploads vouch for object bytes (server/s3/s3_payload.h): "auto" =
  // "unsigned" over https, "signed" over http; "unsigned" = UNSIGNED-PAYLOAD
  // plus x-amz-checksum-crc32c (one CRC, no SHA-256/MD5 of the body);
  // "signed" = the body's SHA-256 signed plus Content-MD5 (the old way).
  std::string payload_signing = "auto";
  // Credentials: environment, then the shared files' profile, then instance
  // metadata; then, if role_arn is set, AssumeRole into it.
  std::string profile;
  bool use_instance_metadata = true;
  std::string imds_endpoint;  // "" = the EC2 default
  std::string role_arn;
  std::string role_session_name = "ingestd";
  std::string external_id;
  std::string sts_endpoint;  // "" = https://sts.<sts_region>.amazonaws.com
  std::string sts_region;    // empty until ResolveDefaults: store.region

  friend bool operator==(const StoreConfig&, const StoreConfig&) = default;
};

// [drain]: leaving without losing anything and without a reconnect storm
// (SIGTERM or POST /admin/drain; docs/runbook.md walks through the phases).
struct DrainConfig {
  // Readiness fails at once, but cameras are served this long so the load
  // balancer stops sending new ones (NLB: health-check interval 10 s x
  // unhealthy threshold 2).
  uint32_t announce_delay_ms = 20000;
  uint32_t goaway_per_second = 500;  // cameras told to leave per second, in 100 ms waves
  // Each GOAWAY carries a reconnect-after drawn uniformly from this range, so
  // the peers see the cameras arrive spread out.
  uint32_t reconnect_after_min_ms = 1000;
  uint32_t reconnect_after_max_ms = 10000;
  // Trigger to exit, flush included; shorter than systemd's TimeoutStopSec,
  // CodeDeploy's ApplicationStop timeout and the ASG lifecycle-hook timeout.
  uint32_t deadline_ms = 120000;
  // File holding a bearer token that lets non-loopback clients POST
  // /admin/drain; empty = loopback only.
  std::string token_file{};

  friend bool operator==(const DrainConfig&, const DrainConfig&) = default;
};

// [log]
struct LogConfig {
  std::string level = "info";  // debug, info, warn or error
  double connection_errors_per_second = 20;  // per shard, for per-connection lines
  double session_lines_per_second = 200;     // per shard, session_open lines (each camera also paced)

  friend bool operator==(const LogConfig&, const LogConfig&) = default;
};

struct IngestConfig {
  ServerConfig server;
  TlsConfig tls;
  ProtocolConfig protocol;
  SpoolConfig spool;
  StoreConfig store;
  DrainConfig drain;
  LogConfig log;

  friend bool operator==(const IngestConfig&, const IngestConfig&) = default;
};

// Parses a TOML document over the defaults. Unknown sections, unknown keys,
// wrong types and values out of a key's own range are InvalidArgument errors
// reading "<source_name>:<line>: <section>.<key>: <problem>". Rules that
// involve several keys or derived defaults are checked by ValidateConfig.
absl::StatusOr<IngestConfig> ParseConfigToml(std::string_view text,
                                             std::string_view source_name);

// Reads `path` and parses it as ParseConfigToml does, naming the file as
// given in errors. A missing or unreadable file is an error (NotFound,
// PermissionDenied, ...), not an empty configuration.
absl::StatusOr<IngestConfig> LoadConfigFile(const std::string& path);

// Overrides fields with the command-line flags that were given (see
// ingest_flags.h for the list: one flag per field, e.g. --commit_interval_ms
// for spool.commit_interval_ms); flags not given leave the field alone. Each
// value is range-checked like a file value; errors read
// "flag --<name>: <section>.<key>: <problem>". Call after absl::ParseCommandLine.
absl::Status ApplyFlagOverrides(IngestConfig& config);

// Fills what the defaults leave empty: server.id from the hostname,
// server.shards from the online cores (clamped to 1..256), spool.dir and
// store.url under server.state_dir, and the store's regions
// (ResolveStoreRegions). Fields already set are kept. Call after
// ApplyFlagOverrides so a --state_dir moves the derived directories too.
absl::Status ResolveDefaults(IngestConfig& config);

// The store's regions when left empty: store.region is "us-east-1" if
// store.endpoint names an S3-compatible store and stays empty for AWS S3
// (ValidateConfig then asks for it); store.sts_region is store.region.
void ResolveStoreRegions(StoreConfig& store);

// Checks every key's range and the rules between keys (ack window holds a
// segment, per-source limit within the total, TLS files present unless
// dev_certs, ...). Expects a config after ResolveDefaults. Reports every
// problem found, one "<section>.<key>: <problem>" each, joined with "; ".
absl::Status ValidateConfig(const IngestConfig& config);

// The whole config as TOML, every key with a one-line comment: the output of
// --print-config. ParseConfigToml(ConfigToToml(c)) gives back c.
std::string ConfigToToml(const IngestConfig& config);

}  // namespace ingest

#endif  // SERVER_CONFIG_INGEST_CONFIG_H_
