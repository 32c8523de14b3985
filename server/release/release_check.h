// `ingestd check`: loads the configuration exactly as the server would
// (file, flags, the zone map's store settings, derived defaults, validation)
// and then opens every file the server will open, with the server's own
// loaders, so a release that would not start is refused before it replaces
// the running one.
//
//   ingestd check --config /etc/ingestd/ingestd.toml
//   # a release staged for /etc/ingestd, before it is installed:
//   ingestd check --config /opt/ingestd/staging/config/ingestd.toml --installed_config_dir /etc/ingestd
//   # the host's configuration with the files a bundle ships:
//   ingestd check --config /etc/ingestd/ingestd.toml --installed_config_dir /etc/ingestd
//                 --staged_config_dir /opt/ingestd/staging/config
//
// Files checked (those set): server.zone_map (loads, holds server.zone; this
// host in the zone's subnets when server.zone_subnet_check = "refuse"),
// tls.cert_file (the chain parses; every certificate in it valid now),
// tls.key_file (parses, belongs to the certificate), tls.camera_ca_file (at
// least one certificate), tls.ticket_keys_file, drain.token_file (a token of
// 16 characters or more), store.ca_file (loads as the S3 client loads it).
// With tls.dev_certs, TLS files left empty are made at start-up and are not
// checked. Staging: staged_paths.h says which copy of each file is read.
//
// Certificate dates: a certificate not valid now is a problem (cameras
// refuse the handshake). One that expires within 14 days is a warning only:
// the release still starts and serves, and blocking it would also block a
// release that fixes something else; the warning is the prompt to renew.
#ifndef SERVER_RELEASE_RELEASE_CHECK_H_
#define SERVER_RELEASE_RELEASE_CHECK_H_

#include <cstdio>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/time/time.h"
#include "server/release/staged_paths.h"

namespace ingest {

struct ReleaseCheckOptions {
  std::string config_file{};
  // The folder the configuration will be installed into; empty = every file
  // is read where the configuration names it (an installed release).
  std::string installed_config_dir{};
  // Where the release's configuration folder is staged; empty = the folder
  // of config_file.
  std::string staged_config_dir{};
  absl::Time now = absl::Now();
  absl::Duration expiry_warning = absl::Hours(14 * 24);
};

struct CheckedFile {
  std::string key;  // "tls.cert_file"
  FileCopy copy;
  absl::Status status;  // the first problem with the file, if any
};

struct ReleaseCheckReport {
  std::vector<CheckedFile> files;
  // One line per problem: "<key> <file>: <problem>", or "configuration:
  // <problem>" for what is not about one file.
  std::vector<std::string> problems;
  std::vector<std::string> warnings;

  bool ok() const { return problems.empty(); }
};

// Never stops at the first problem with a file: every file is checked, so
// one run lists everything to fix. Stops early only when the configuration
// file itself cannot be read or parsed.
ReleaseCheckReport CheckRelease(const ReleaseCheckOptions& options);

// One line per checked file on `out` ("ok      tls.cert_file /etc/...
// (staged copy /opt/...)"), then a summary line; problems and warnings on
// `err`.
void PrintReleaseCheckReport(const ReleaseCheckReport& report, std::FILE* out, std::FILE* err);

}  // namespace ingest

#endif  // SERVER_RELEASE_RELEASE_CHECK_H_
