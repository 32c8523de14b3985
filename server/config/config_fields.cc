#include "server/config/config_fields.h"

#include <array>
#include <charconv>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "server/config/byte_size.h"
#include "common/host_port.h"

namespace ingest::config_internal {
namespace {

constexpr int64_t kKiB = int64_t{1} << 10;
constexpr int64_t kMiB = int64_t{1} << 20;
constexpr int64_t kGiB = int64_t{1} << 30;
constexpr int64_t kTiB = int64_t{1} << 40;

std::string S(std::string_view s) { return std::string(s); }

absl::Status Invalid(const ConfigField& field, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat(S(field.name), ": ", S(problem)));
}

// Identifiers end up in object names (zone/camera/time) and WELCOME frames,
// so they are kept to characters that need no escaping anywhere.
absl::Status CheckIdentifier(std::string_view value, size_t max_bytes) {
  if (value.size() > max_bytes) return absl::InvalidArgumentError(absl::StrCat("longer than ", max_bytes, " bytes"));
  for (char c : value) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
    if (!ok) {
      return absl::InvalidArgumentError(absl::StrCat(
          "\"", S(value), "\" may only contain letters, digits, '-', '_' and '.'"));
    }
  }
  return absl::OkStatus();
}

// Empty means "the hostname", filled in by ResolveDefaults.
absl::Status CheckServerId(std::string_view value) { return CheckIdentifier(value, 128); }

absl::Status CheckZone(std::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError("must not be empty");
  return CheckIdentifier(value, 64);
}

absl::Status CheckSubnetCheck(std::string_view value) {
  if (value == "warn" || value == "refuse") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("\"", S(value), "\" must be \"warn\" or \"refuse\""));
}

absl::Status CheckNotEmpty(std::string_view value) {
  if (value.empty()) return absl::InvalidArgumentError("must not be empty");
  return absl::OkStatus();
}

// The listener binds without name resolution: a literal address only.
absl::Status CheckListen(std::string_view value) { return ParseListenAddress(value).status(); }
absl::Status CheckOptionalListen(std::string_view value) {
  return value.empty() ? absl::OkStatus() : CheckListen(value);
}

// Empty means dir:<state_dir>/store, filled in by ResolveDefaults.
absl::Status CheckStoreUrl(std::string_view value) {
  if (value.empty()) return absl::OkStatus();
  if (value.starts_with("dir:")) {
    if (value.size() == 4) return absl::InvalidArgumentError("\"dir:\" needs a path, e.g. dir:/var/lib/ingestd/store");
    return absl::OkStatus();
  }
  if (value.starts_with("s3://")) {
    std::string_view rest = value.substr(5);
    if (rest.empty() || rest.front() == '/') {
      return absl::InvalidArgumentError("\"s3://\" needs a bucket, e.g. s3://bucket/prefix");
    }
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown store \"", S(value), "\" (use dir:<path> or s3://bucket/prefix)"));
}

absl::Status CheckEndpointUrl(std::string_view value) {
  if (value.empty() || value.starts_with("http://") || value.starts_with("https://")) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("must be an http:// or https:// URL, got \"", S(value), "\""));
}

absl::Status CheckPayloadSigning(std::string_view value) {
  if (value == "auto" || value == "unsigned" || value == "signed") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "must be \"auto\", \"unsigned\" or \"signed\", got \"", S(value), "\""));
}

absl::Status CheckLogLevel(std::string_view value) {
  if (value == "debug" || value == "info" || value == "warn" || value == "error") return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "must be one of debug, info, warn, error, got \"", S(value), "\""));
}

// `+` turns the capture-less lambda into a plain function pointer, whose type
// (e.g. uint32_t& (*)(IngestConfig&)) picks the matching FieldRef alternative.
#define INGEST_FIELD(path) .name = #path, .kind
#define INGEST_REF(path) +[](IngestConfig& c) -> auto& { return c.path; }

const ConfigField kFields[] = {
    // [server]
    {INGEST_FIELD(server.id) = FieldKind::kString, .ref = INGEST_REF(server.id),
     .help = "Names this server in WELCOME frames, logs and metrics; empty = the hostname.",
     .check_string = CheckServerId},
    {INGEST_FIELD(server.zone) = FieldKind::kString, .ref = INGEST_REF(server.zone),
     .help = "Zone this server records for; the first part of every object name.",
     .check_string = CheckZone},
    {INGEST_FIELD(server.listen) = FieldKind::kString, .ref = INGEST_REF(server.listen),
     .help = "Address cameras connect to: \"ip:port\" or \"[ipv6]:port\"; port 0 = any free port.",
     .check_string = CheckListen},
    {INGEST_FIELD(server.https_listen) = FieldKind::kString, .ref = INGEST_REF(server.https_listen),
     .help = "Address encoders push HLS and MPEG-TS to over HTTPS (docs/https-ingest.md); empty = off.",
     .check_string = CheckOptionalListen},
    {INGEST_FIELD(server.admin_listen) = FieldKind::kString, .ref = INGEST_REF(server.admin_listen),
     .help = "Admin HTTP (healthz, readyz, metrics, status): \"ip:port\"; port 0 = any free port.",
     .check_string = CheckListen},
    {INGEST_FIELD(server.zone_map) = FieldKind::kString, .ref = INGEST_REF(server.zone_map),
     .help = "Zone map file (docs/zones.md); empty = no map, every camera is admitted."},
    {INGEST_FIELD(server.zone_subnet_check) = FieldKind::kString, .ref = INGEST_REF(server.zone_subnet_check),
     .help = "If no address of this host is in the zone's subnets: \"warn\" or \"refuse\" to start.",
     .check_string = CheckSubnetCheck},
    {INGEST_FIELD(server.shards) = FieldKind::kInteger, .ref = INGEST_REF(server.shards),
     .help = "Event-loop threads, each with its own listener and io_uring; 0 = one per online core, or more where "
             "those rings cannot hold max_connections (a ring holds RLIMIT_NOFILE - 64 sockets).",
     .min = 0, .max = 256},
    {INGEST_FIELD(server.max_connections) = FieldKind::kInteger,
     .ref = INGEST_REF(server.max_connections),
     .help = "Camera connections held at once, over all shards; more get REJECT SERVER_FULL. /readyz fails "
             "from 95% of it.",
     .min = 1, .max = 10'000'000},
    {INGEST_FIELD(server.max_connections_per_source) = FieldKind::kInteger,
     .ref = INGEST_REF(server.max_connections_per_source),
     .help = "Connections from one remote IP address (a NAT gateway counts once); 0 = min(1000, max_connections).",
     .min = 0, .max = 10'000'000},
    {INGEST_FIELD(server.state_dir) = FieldKind::kString, .ref = INGEST_REF(server.state_dir),
     .help = "Directory for local state; spool.dir, the dir: store and dev certificates default under it.",
     .check_string = CheckNotEmpty},
    // [tls]
    {INGEST_FIELD(tls.cert_file) = FieldKind::kString, .ref = INGEST_REF(tls.cert_file),
     .help = "Server certificate chain (PEM) presented to cameras."},
    {INGEST_FIELD(tls.key_file) = FieldKind::kString, .ref = INGEST_REF(tls.key_file),
     .help = "Private key (PEM) of the server certificate."},
    {INGEST_FIELD(tls.camera_ca_file) = FieldKind::kString, .ref = INGEST_REF(tls.camera_ca_file),
     .help = "CA certificates (PEM) that sign camera certificates; cameras without one are refused."},
    {INGEST_FIELD(tls.ticket_keys_file) = FieldKind::kString, .ref = INGEST_REF(tls.ticket_keys_file),
     .help = "Session-ticket keys shared by the servers of a zone; empty = random keys per process."},
    {INGEST_FIELD(tls.crl_file) = FieldKind::kString, .ref = INGEST_REF(tls.crl_file),
     .help = "CRLs (PEM, one or more) of the camera CA(s); revoked camera certificates are refused. Empty = none."},
    {INGEST_FIELD(tls.camera_deny_list_file) = FieldKind::kString, .ref = INGEST_REF(tls.camera_deny_list_file),
     .help = "Camera ids refused whatever their certificate, one per line, # comments. Empty = none."},
    {INGEST_FIELD(tls.encoder_credentials_file) = FieldKind::kString,
     .ref = INGEST_REF(tls.encoder_credentials_file),
     .help = "Bearer tokens and signed-URL keys of encoders without a client certificate (HTTPS ingest); re-read "
             "with the other TLS files. Empty = client certificates only."},
    {INGEST_FIELD(tls.allow_tls12) = FieldKind::kBool, .ref = INGEST_REF(tls.allow_tls12),
     .help = "Accept TLS 1.2 as well as TLS 1.3 (for old camera firmware)."},
    {INGEST_FIELD(tls.openssl_record_layer) = FieldKind::kBool, .ref = INGEST_REF(tls.openssl_record_layer),
     .help = "Keep TLS 1.3 connections on OpenSSL's record layer after the handshake instead of ingestd's own "
             "(a fallback: ~17 KB more per idle camera, a copy more per record)."},
    {INGEST_FIELD(tls.handshake_timeout_ms) = FieldKind::kInteger,
     .ref = INGEST_REF(tls.handshake_timeout_ms),
     .help = "Time a new connection has to finish the TLS handshake.",
     .min = 100, .max = 120'000},
    {INGEST_FIELD(tls.max_handshakes_in_progress) = FieldKind::kInteger,
     .ref = INGEST_REF(tls.max_handshakes_in_progress),
     .help = "Per shard: handshakes under way at once; at it the shard stops accepting until some finish, so a "
             "reconnect storm waits in the kernel's backlog instead of timing out.",
     .min = 1, .max = 1'000'000},
    {INGEST_FIELD(tls.dev_certs) = FieldKind::kBool, .ref = INGEST_REF(tls.dev_certs),
     .help = "Development only: create a CA and certificates under <state_dir>/dev-certs for any file left empty."},
    // [protocol]
    {INGEST_FIELD(protocol.hello_timeout_ms) = FieldKind::kInteger,
     .ref = INGEST_REF(protocol.hello_timeout_ms),
     .help = "Time a camera has to send HELLO after the handshake.",
     .min = 100, .max = 120'000},
    {INGEST_FIELD(protocol.idle_timeout_ms) = FieldKind::kInteger,
     .ref = INGEST_REF(protocol.idle_timeout_ms),
     .help = "A connection silent this long is closed; must exceed keepalive_interval_ms.",
     .min = 1'000, .max = 3'600'000},
    {INGEST_FIELD(protocol.keepalive_interval_ms) = FieldKind::kInteger,
     .ref = INGEST_REF(protocol.keepalive_interval_ms),
     .help = "Announced in WELCOME: a camera idle this long sends PING.",
     .min = 100, .max = 600'000},
    {INGEST_FIELD(protocol.max_segment_bytes) = FieldKind::kByteSize,
     .ref = INGEST_REF(protocol.max_segment_bytes),
     .help = "Largest SEGMENT payload accepted; announced in WELCOME.",
     .min = kKiB, .max = 256 * kMiB},
    {INGEST_FIELD(protocol.ack_window_bytes) = FieldKind::kByteSize,
     .ref = INGEST_REF(protocol.ack_window_bytes),
     .help = "Unacknowledged payload a camera may have in flight; at least max_segment_bytes.",
     .min = kKiB, .max = kGiB},
    {INGEST_FIELD(protocol.max_capture_age_s) = FieldKind::kInteger,
     .ref = INGEST_REF(protocol.max_capture_age_s),
     .help = "Oldest capture_start_us accepted, in seconds before the server's clock (a camera's outage buffer).",
     .min = 60, .max = 10 * 365 * 86400},
    {INGEST_FIELD(protocol.max_capture_lead_s) = FieldKind::kInteger,
     .ref = INGEST_REF(protocol.max_capture_lead_s),
     .help = "Latest capture_start_us accepted, in seconds after the server's clock (camera clock drift).",
     .min = 1, .max = 30 * 86400},
    {INGEST_FIELD(protocol.stream_segment_ms) = FieldKind::kInteger,
     .ref = INGEST_REF(protocol.stream_segment_ms),
     .help = "HTTPS streams: a POSTed MPEG-TS stream is cut at its first keyframe once a piece lasts this long (or "
             "holds 1 MiB), and at a frame once it lasts three times this without a keyframe.",
     .min = 100, .max = 120'000},
    // [spool]
    {INGEST_FIELD(spool.dir) = FieldKind::kString, .ref = INGEST_REF(spool.dir),
     .help = "Spool directory (fast local disk); empty = <state_dir>/spool."},
    {INGEST_FIELD(spool.commit_interval_ms) = FieldKind::kInteger,
     .ref = INGEST_REF(spool.commit_interval_ms),
     .help = "Longest a received segment waits for the fsync that lets it be acknowledged.",
     .min = 1, .max = 1'000},
    {INGEST_FIELD(spool.commit_bytes) = FieldKind::kByteSize, .ref = INGEST_REF(spool.commit_bytes),
     .help = "Pending bytes that trigger an fsync before commit_interval_ms is up.",
     .min = 4 * kKiB, .max = kGiB},
    {INGEST_FIELD(spool.file_bytes) = FieldKind::kByteSize, .ref = INGEST_REF(spool.file_bytes),
     .help = "Size at which a spool file is closed and a new one started.",
     .min = kMiB, .max = 64 * kGiB},
    {INGEST_FIELD(spool.max_bytes) = FieldKind::kByteSize, .ref = INGEST_REF(spool.max_bytes),
     .help = "Spool capacity; when full the server stops reading from cameras until sealing frees space.",
     .min = kMiB, .max = 1024 * kTiB},
    {INGEST_FIELD(spool.min_free_bytes) = FieldKind::kByteSize, .ref = INGEST_REF(spool.min_free_bytes),
     .help = "Free space kept on the spool's file system (for the batch journal and anything sharing the disk); "
             "below it the server stops reading from cameras until uploads free space.",
     .min = 0, .max = kTiB},
    {INGEST_FIELD(spool.shard_memory_bytes) = FieldKind::kByteSize,
     .ref = INGEST_REF(spool.shard_memory_bytes),
     .help = "Memory for segment buffers per shard; at least max_segment_bytes.",
     .min = kMiB, .max = kTiB},
    {INGEST_FIELD(spool.direct_io) = FieldKind::kBool, .ref = INGEST_REF(spool.direct_io),
     .help = "Write the spool with O_DIRECT (no page-cache copy; records padded to 4 KiB); buffered where "
             "the file system refuses it."},
    // [store]
    {INGEST_FIELD(store.url) = FieldKind::kString, .ref = INGEST_REF(store.url),
     .help = "Object store: \"dir:<path>\" or \"s3://bucket/prefix\"; empty = dir:<state_dir>/store.",
     .check_string = CheckStoreUrl},
    {INGEST_FIELD(store.seal_bytes) = FieldKind::kByteSize, .ref = INGEST_REF(store.seal_bytes),
     .help = "A batch object (many cameras' segments) is sealed once it holds this many bytes.",
     .min = 64 * kKiB, .max = 4 * kGiB},
    {INGEST_FIELD(store.seal_age_ms) = FieldKind::kInteger, .ref = INGEST_REF(store.seal_age_ms),
     .help = "... or once its oldest segment waited this long, however few bytes are waiting.",
     .min = 100, .max = 86'400'000},
    {INGEST_FIELD(store.index_interval_s) = FieldKind::kInteger, .ref = INGEST_REF(store.index_interval_s),
     .help = "Longest a persisted segment waits before its camera index object is written.",
     .min = 1, .max = 86'400},
    {INGEST_FIELD(store.upload_threads) = FieldKind::kInteger, .ref = INGEST_REF(store.upload_threads),
     .help = "Objects uploaded at once.", .min = 1, .max = 64},
    {INGEST_FIELD(store.endpoint) = FieldKind::kString, .ref = INGEST_REF(store.endpoint),
     .help = "S3 endpoint URL (http[s]://host[:port]); empty = AWS for the region.",
     .check_string = CheckEndpointUrl},
    {INGEST_FIELD(store.region) = FieldKind::kString, .ref = INGEST_REF(store.region),
     .help = "S3 region, used for signing; empty = \"us-east-1\" with an endpoint, required for AWS S3."},
    {INGEST_FIELD(store.path_style) = FieldKind::kBool, .ref = INGEST_REF(store.path_style),
     .help = "Address the bucket in the path (S3-compatible stores) instead of the host name."},
    {INGEST_FIELD(store.ca_file) = FieldKind::kString, .ref = INGEST_REF(store.ca_file),
     .help = "Extra CA certificates (PEM) for an https endpoint; empty = system trust store."},
    {INGEST_FIELD(store.payload_signing) = FieldKind::kString, .ref = INGEST_REF(store.payload_signing),
     .help = "How uploads vouch for object bytes: \"unsigned\" (UNSIGNED-PAYLOAD + x-amz-checksum-crc32c, "
             "one cheap CRC; TLS guards the body), \"signed\" (the body's SHA-256 signed + Content-MD5: "
             "about 10x the CPU, and a body changed on a plain-http path is refused), \"auto\" = unsigned "
             "over https, signed over http.",
     .check_string = CheckPayloadSigning},
    {INGEST_FIELD(store.profile) = FieldKind::kString, .ref = INGEST_REF(store.profile),
     .help = "Shared credentials/config file profile; empty = $AWS_PROFILE or default."},
    {INGEST_FIELD(store.use_instance_metadata) = FieldKind::kBool,
     .ref = INGEST_REF(store.use_instance_metadata),
     .help = "Fall back to EC2 instance metadata (IMDSv2) role credentials."},
    {INGEST_FIELD(store.imds_endpoint) = FieldKind::kString, .ref = INGEST_REF(store.imds_endpoint),
     .help = "Instance metadata endpoint; empty = the EC2 default.", .check_string = CheckEndpointUrl},
    {INGEST_FIELD(store.role_arn) = FieldKind::kString, .ref = INGEST_REF(store.role_arn),
     .help = "Assume this IAM role (any account) on top of the base credentials; empty = don't."},
    {INGEST_FIELD(store.role_session_name) = FieldKind::kString, .ref = INGEST_REF(store.role_session_name),
     .help = "Session name for AssumeRole (shows in CloudTrail).", .check_string = CheckNotEmpty},
    {INGEST_FIELD(store.external_id) = FieldKind::kString, .ref = INGEST_REF(store.external_id),
     .help = "External id for AssumeRole, if the role's trust policy asks for one."},
    {INGEST_FIELD(store.sts_endpoint) = FieldKind::kString, .ref = INGEST_REF(store.sts_endpoint),
     .help = "STS endpoint URL; empty = https://sts.<sts_region>.amazonaws.com.",
     .check_string = CheckEndpointUrl},
    {INGEST_FIELD(store.sts_region) = FieldKind::kString, .ref = INGEST_REF(store.sts_region),
     .help = "STS region, used for signing AssumeRole; empty = store.region."},
    // [drain]
    {INGEST_FIELD(drain.announce_delay_ms) = FieldKind::kInteger, .ref = INGEST_REF(drain.announce_delay_ms),
     .help = "Draining: readiness fails but cameras are still served this long, so the load balancer notices.",
     .min = 0, .max = 3'600'000},
    {INGEST_FIELD(drain.goaway_per_second) = FieldKind::kInteger, .ref = INGEST_REF(drain.goaway_per_second),
     .help = "Draining: cameras told GOAWAY per second (in waves every 100 ms).", .min = 1, .max = 1'000'000},
    {INGEST_FIELD(drain.reconnect_after_min_ms) = FieldKind::kInteger,
     .ref = INGEST_REF(drain.reconnect_after_min_ms),
     .help = "Draining: least reconnect-after a GOAWAY carries (each is jittered up to the max).",
     .min = 0, .max = 3'600'000},
    {INGEST_FIELD(drain.reconnect_after_max_ms) = FieldKind::kInteger,
     .ref = INGEST_REF(drain.reconnect_after_max_ms),
     .help = "Draining: greatest reconnect-after a GOAWAY carries.", .min = 0, .max = 3'600'000},
    {INGEST_FIELD(drain.deadline_ms) = FieldKind::kInteger, .ref = INGEST_REF(drain.deadline_ms),
     .help = "Draining: trigger to exit, upload of the spool included.", .min = 1000, .max = 86'400'000},
    {INGEST_FIELD(drain.token_file) = FieldKind::kString, .ref = INGEST_REF(drain.token_file),
     .help = "File with a bearer token for POST /admin/drain from non-loopback clients; empty = loopback only."},
    // [log]
    {INGEST_FIELD(log.level) = FieldKind::kString, .ref = INGEST_REF(log.level),
     .help = "Lowest level written: debug, info, warn or error.", .check_string = CheckLogLevel},
    {INGEST_FIELD(log.connection_errors_per_second) = FieldKind::kDouble,
     .ref = INGEST_REF(log.connection_errors_per_second),
     .help = "Per-connection error lines per second per shard; the rest are counted as suppressed.",
     .min_double = 0.01, .max_double = 1e6},
    {INGEST_FIELD(log.session_lines_per_second) = FieldKind::kDouble,
     .ref = INGEST_REF(log.session_lines_per_second),
     .help = "session_open lines per second per shard (a burst of 10 s worth); each camera is also paced to 5 "
             "sessions, then one per 30 s. A skipped open skips its close; both are counted.",
     .min_double = 0.01, .max_double = 1e6},
};

#undef INGEST_FIELD
#undef INGEST_REF

constexpr std::array<std::string_view, 7> kSections = {"server", "tls",   "protocol", "spool",
                                                       "store",  "drain", "log"};

std::string_view KindName(FieldKind kind) {
  switch (kind) {
    case FieldKind::kString: return "a string";
    case FieldKind::kBool: return "true or false";
    case FieldKind::kInteger: return "an integer";
    case FieldKind::kByteSize: return "a size (an integer or a string such as \"64MiB\")";
    case FieldKind::kDouble: return "a number";
  }
  return "?";
}

absl::Status WrongType(const ConfigField& field, std::string_view got) {
  return Invalid(field, absl::StrCat("wrong type: expected ", S(KindName(field.kind)),
                                     ", got ", S(got)));
}

std::string FormatBound(const ConfigField& field, int64_t value) {
  if (field.kind == FieldKind::kByteSize && std::cmp_greater_equal(value, 0)) {
    return FormatByteSize(static_cast<uint64_t>(value));
  }
  return absl::StrCat(value);
}

template <typename T>
absl::Status CheckIntegerRange(const ConfigField& field, T value) {
  if (std::cmp_greater_equal(value, field.min) && std::cmp_less_equal(value, field.max)) {
    return absl::OkStatus();
  }
  std::string got = field.kind == FieldKind::kByteSize && std::cmp_greater_equal(value, 0)
                        ? FormatByteSize(static_cast<uint64_t>(value))
                        : absl::StrCat(value);
  return Invalid(field, absl::StrCat("must be between ", FormatBound(field, field.min), " and ",
                                     FormatBound(field, field.max), ", got ", got));
}

absl::Status CheckDoubleRange(const ConfigField& field, double value) {
  // Written so NaN fails too.
  if (value >= field.min_double && value <= field.max_double) return absl::OkStatus();
  return Invalid(field, absl::StrFormat("must be between %g and %g, got %g", field.min_double,
                                        field.max_double, value));
}

absl::Status CheckString(const ConfigField& field, std::string_view value) {
  if (field.check_string == nullptr) return absl::OkStatus();
  absl::Status status = field.check_string(value);
  if (status.ok()) return status;
  return Invalid(field, std::string(status.message()));
}

void AppendTomlString(std::string& out, std::string_view s) {
  out.push_back('"');
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      default:
        if (c < 0x20 || c == 0x7f) {
          absl::StrAppendFormat(&out, "\\u%04X", c);
        } else {
          out.push_back(static_cast<char>(c));
        }
    }
  }
  out.push_back('"');
}

// Shortest text that reads back as the same double, always with a '.' or an
// exponent so TOML sees a float, not an integer.
std::string DoubleToToml(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value > 0 ? "inf" : "-inf";
  char buffer[64];
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value);
  std::string text(buffer, ec == std::errc() ? end : buffer);
  if (text.find_first_of(".e") == std::string::npos) text += ".0";
  return text;
}

}  // namespace

absl::Span<const ConfigField> ConfigFields() { return kFields; }

absl::Span<const std::string_view> ConfigSections() { return kSections; }

const ConfigField* FindConfigField(std::string_view name) {
  for (const ConfigField& field : kFields) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

absl::Status SetFieldString(const ConfigField& field, IngestConfig& config, std::string value) {
  if (field.kind == FieldKind::kByteSize) {
    absl::StatusOr<uint64_t> bytes = ParseByteSize(value);
    if (!bytes.ok()) return Invalid(field, std::string(bytes.status().message()));
    RETURN_IF_ERROR(CheckIntegerRange(field, *bytes));
    // In range, so it fits in int64_t.
    return SetFieldInteger(field, config, static_cast<int64_t>(*bytes));
  }
  if (field.kind != FieldKind::kString) return WrongType(field, "a string");
  RETURN_IF_ERROR(CheckString(field, value));
  std::get<FieldRef<std::string>>(field.ref)(config) = std::move(value);
  return absl::OkStatus();
}

absl::Status SetFieldBool(const ConfigField& field, IngestConfig& config, bool value) {
  if (field.kind != FieldKind::kBool) return WrongType(field, "a boolean");
  std::get<FieldRef<bool>>(field.ref)(config) = value;
  return absl::OkStatus();
}

absl::Status SetFieldInteger(const ConfigField& field, IngestConfig& config, int64_t value) {
  if (field.kind == FieldKind::kDouble) return SetFieldDouble(field, config, static_cast<double>(value));
  if (field.kind != FieldKind::kInteger && field.kind != FieldKind::kByteSize) {
    return WrongType(field, "an integer");
  }
  RETURN_IF_ERROR(CheckIntegerRange(field, value));
  return std::visit(
      [&](auto ref) -> absl::Status {
        using T = std::remove_reference_t<decltype(ref(config))>;
        if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
          // The table's bounds fit the field's type; this guards the table.
          if (!std::in_range<T>(value)) {
            return absl::InternalError(absl::StrCat(S(field.name), ": bounds exceed the field's type"));
          }
          ref(config) = static_cast<T>(value);
          return absl::OkStatus();
        } else {
          return absl::InternalError(absl::StrCat(S(field.name), ": not an integer field"));
        }
      },
      field.ref);
}

absl::Status SetFieldDouble(const ConfigField& field, IngestConfig& config, double value) {
  if (field.kind != FieldKind::kDouble) return WrongType(field, "a floating-point number");
  RETURN_IF_ERROR(CheckDoubleRange(field, value));
  std::get<FieldRef<double>>(field.ref)(config) = value;
  return absl::OkStatus();
}

absl::Status CheckField(const ConfigField& field, const IngestConfig& config) {
  // The refs take a mutable config; reading through them does not modify it.
  IngestConfig& readable = const_cast<IngestConfig&>(config);
  return std::visit(
      [&](auto ref) -> absl::Status {
        const auto& value = ref(readable);
        using T = std::decay_t<decltype(value)>;
        if constexpr (std::is_same_v<T, std::string>) {
          return CheckString(field, value);
        } else if constexpr (std::is_same_v<T, bool>) {
          return absl::OkStatus();
        } else if constexpr (std::is_same_v<T, double>) {
          return CheckDoubleRange(field, value);
        } else {
          return CheckIntegerRange(field, value);
        }
      },
      field.ref);
}

std::string FieldToToml(const ConfigField& field, const IngestConfig& config) {
  IngestConfig& readable = const_cast<IngestConfig&>(config);
  return std::visit(
      [&](auto ref) -> std::string {
        const auto& value = ref(readable);
        using T = std::decay_t<decltype(value)>;
        std::string out;
        if constexpr (std::is_same_v<T, std::string>) {
          AppendTomlString(out, value);
        } else if constexpr (std::is_same_v<T, bool>) {
          out = value ? "true" : "false";
        } else if constexpr (std::is_same_v<T, double>) {
          out = DoubleToToml(value);
        } else if (field.kind == FieldKind::kByteSize && std::cmp_greater_equal(value, 0)) {
          std::string size = FormatByteSize(static_cast<uint64_t>(value));
          // A bare number stays a TOML integer; one with a unit is a string.
          if (size.back() == 'B') {
            AppendTomlString(out, size);
          } else {
            out = size;
          }
        } else {
          out = absl::StrCat(value);
        }
        return out;
      },
      field.ref);
}

}  // namespace ingest::config_internal
