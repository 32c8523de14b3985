#include "server/release/release_check.h"

#include <openssl/err.h>
#include <openssl/ssl.h>

#include <boost/asio/ssl/context.hpp>  // MakeClientTlsContext's result, destroyed here
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "proto/ssl_ptr.h"
#include "server/admin/drain_token.h"
#include "server/config/ingest_config.h"
#include "server/ingestd/startup_config.h"
#include "server/ingestd/zone_setup.h"
#include "server/s3/client_tls_context.h"
#include "server/tls/camera_revocation.h"
#include "server/tls/certificate_validity.h"
#include "server/tls/server_tls.h"
#include "server/tls/ticket_keys.h"
#include "server/tls/tls_server_context.h"

namespace ingest {
namespace {

bool IsRegularFile(const std::string& path) {
  std::error_code ec;
  return std::filesystem::is_regular_file(path, ec);
}

// "/etc/ingestd/tls/server.crt (staged copy /opt/.../tls/server.crt)",
// "/etc/ingestd/zones.toml (host copy)", or the path as named.
std::string Describe(const FileCopy& copy) {
  if (copy.origin == FileOrigin::kAsNamed) return copy.named;
  return absl::StrCat(copy.named, " (", FileOriginName(copy.origin), " copy",
                      copy.origin == FileOrigin::kStaged ? " " + copy.read : "", ")");
}

std::string FormatDate(absl::Time t) { return absl::FormatTime("%Y-%m-%d %H:%M:%S UTC", t, absl::UTCTimeZone()); }

// Fills a report, one file at a time.
class ReleaseChecker {
 public:
  ReleaseChecker(const ReleaseCheckOptions& options, ReleaseCheckReport& report) : options_(options), report_(report) {}

  // Points every file the configuration names at the copy to read, and
  // lists it as checked.
  void ChooseCopies(IngestConfig& config) {
    std::string staged_dir = options_.staged_config_dir;
    if (staged_dir.empty()) staged_dir = std::filesystem::path(options_.config_file).parent_path().string();
    // A std::string, not a literal: GCC 12 at -O3 warns -Wrestrict, wrongly
    // (GCC bug 105651), on assigning a short literal to a string.
    if (staged_dir.empty()) staged_dir = std::string(".");
    const StagedRelease release{.installed_config_dir = options_.installed_config_dir, .staged_config_dir = staged_dir};
    const std::pair<const char*, std::string*> fields[] = {
        {"server.zone_map", &config.server.zone_map},
        {"tls.cert_file", &config.tls.cert_file},
        {"tls.key_file", &config.tls.key_file},
        {"tls.camera_ca_file", &config.tls.camera_ca_file},
        {"tls.ticket_keys_file", &config.tls.ticket_keys_file},
        {"tls.crl_file", &config.tls.crl_file},
        {"tls.camera_deny_list_file", &config.tls.camera_deny_list_file},
        {"tls.encoder_credentials_file", &config.tls.encoder_credentials_file},
        {"drain.token_file", &config.drain.token_file},
        {"store.ca_file", &config.store.ca_file},
    };
    for (const auto& [key, path] : fields) {
      if (path->empty()) continue;
      FileCopy copy = ChooseFileCopy(*path, release, IsRegularFile);
      *path = copy.read;
      report_.files.push_back(CheckedFile{.key = key, .copy = std::move(copy), .status = absl::OkStatus()});
    }
  }

  // Loads the map as the server does (which also takes the zone's store
  // settings into `config`) and checks the host against the zone's subnets.
  void CheckZoneMap(IngestConfig& config) {
    absl::StatusOr<std::shared_ptr<const zones::ZoneMap>> map = ApplyZoneMapStore(config);
    if (!map.ok()) return Fail("server.zone_map", map.status());
    if (*map == nullptr) return;
    const zones::Zone& zone = *(*map)->Find(config.server.zone);
    absl::Status placed = CheckAddressesInZone(zone, HostAddresses(config.server.listen));
    if (placed.ok()) return;
    if (config.server.zone_subnet_check == "refuse") return Fail("server.zone_map", placed);
    Warn("server.zone_map", absl::StrCat(placed.message(), " (server.zone_subnet_check = \"warn\": it starts anyway)"));
  }

  // The steps of CreateServerContext, one file at a time.
  void CheckTls(const TlsConfig& tls) {
    camproto::SslCtxPtr ctx(SSL_CTX_new(TLS_server_method()));
    if (ctx == nullptr) {
      report_.problems.push_back("tls: OpenSSL cannot create a server context");
      return;
    }
    bool have_certificate = false;
    bool have_key = false;
    if (Has("tls.cert_file")) {
      absl::Status loaded = UseServerCertificateChain(ctx.get(), tls.cert_file);
      Fail("tls.cert_file", loaded);
      have_certificate = loaded.ok();
      if (have_certificate) CheckChainDates(ctx.get());
    }
    if (Has("tls.key_file")) {
      absl::Status loaded = UseServerPrivateKey(ctx.get(), tls.key_file);
      Fail("tls.key_file", loaded);
      have_key = loaded.ok();
    }
    if (have_certificate && have_key && !ServerKeyMatchesCertificate(ctx.get(), tls.key_file, tls.cert_file).ok()) {
      Fail("tls.key_file", absl::InvalidArgumentError(absl::StrCat("does not match the certificate in tls.cert_file ",
                                                                   Describe(Find("tls.cert_file")->copy))));
    }
    ERR_clear_error();
    bool have_camera_ca = false;
    if (Has("tls.camera_ca_file")) {
      absl::Status loaded = UseCameraCa(ctx.get(), tls.camera_ca_file);
      Fail("tls.camera_ca_file", loaded);
      have_camera_ca = loaded.ok();
    }
    if (Has("tls.crl_file")) {
      absl::StatusOr<std::vector<X509CrlPtr>> crls = ReadCrlFile(tls.crl_file);
      absl::Status checked = crls.status();
      // The signatures can only be checked against a camera CA bundle that loaded.
      if (crls.ok() && have_camera_ca) checked = UseCameraCrls(ctx.get(), *crls, tls.crl_file);
      Fail("tls.crl_file", checked);
    }
    if (Has("tls.camera_deny_list_file")) {
      Fail("tls.camera_deny_list_file", ReadCameraDenyListFile(tls.camera_deny_list_file).status());
    }
    if (Has("tls.encoder_credentials_file")) {
      Fail("tls.encoder_credentials_file", ReadEncoderCredentialsFile(tls.encoder_credentials_file).status());
    }
    if (Has("tls.ticket_keys_file")) Fail("tls.ticket_keys_file", ReadTicketKeysFile(tls.ticket_keys_file).status());
  }

  void CheckOtherFiles(const IngestConfig& config) {
    if (Has("drain.token_file")) Fail("drain.token_file", ReadDrainToken(config.drain.token_file).status());
    if (Has("store.ca_file")) Fail("store.ca_file", MakeClientTlsContext(config.store.ca_file).status());
  }

  // What is left of start-up's configuration building; ValidateConfig's
  // problems (joined by "; ") get a line each.
  void CheckWholeConfig(IngestConfig& config) {
    absl::Status status = ResolveDefaults(config);
    if (status.ok()) status = ValidateConfig(config);
    if (status.ok()) return;
    for (absl::string_view problem : absl::StrSplit(status.message(), "; ")) {
      report_.problems.push_back(absl::StrCat("configuration: ", problem));
    }
  }

 private:
  // Records a problem with the file behind `key` (only the file's first
  // problem marks it FAILED; every problem gets its line).
  void Fail(std::string_view key, const absl::Status& status) {
    if (status.ok()) return;
    CheckedFile* file = Find(key);
    if (file == nullptr) return;
    if (file->status.ok()) file->status = status;
    report_.problems.push_back(absl::StrCat(std::string(key), " ", Describe(file->copy), ": ", status.message()));
  }

  void Warn(std::string_view key, std::string_view message) {
    CheckedFile* file = Find(key);
    report_.warnings.push_back(
        absl::StrCat(std::string(key), " ", file != nullptr ? Describe(file->copy) : "", ": ", std::string(message)));
  }

  bool Has(std::string_view key) { return Find(key) != nullptr; }

  CheckedFile* Find(std::string_view key) {
    for (CheckedFile& file : report_.files) {
      if (file.key == key) return &file;
    }
    return nullptr;
  }

  // Every certificate the server presents must be valid now: cameras refuse
  // an expired (or not yet valid) leaf or intermediate.
  void CheckChainDates(SSL_CTX* ctx) {
    std::vector<X509*> certificates = {SSL_CTX_get0_certificate(ctx)};
    STACK_OF(X509)* chain = nullptr;
    SSL_CTX_get0_chain_certs(ctx, &chain);
    for (int i = 0; chain != nullptr && i < sk_X509_num(chain); ++i) certificates.push_back(sk_X509_value(chain, i));
    for (X509* certificate : certificates) {
      if (certificate == nullptr) continue;
      absl::StatusOr<CertificateValidity> validity = ValidityOf(certificate);
      if (!validity.ok()) {
        Fail("tls.cert_file", validity.status());
        continue;
      }
      const std::string subject = SubjectLine(certificate);
      if (options_.now < validity->not_before) {
        Fail("tls.cert_file", absl::FailedPreconditionError(absl::StrCat(
                                  "certificate ", subject, " is not valid before ", FormatDate(validity->not_before))));
      } else if (options_.now > validity->not_after) {
        Fail("tls.cert_file", absl::FailedPreconditionError(absl::StrCat("certificate ", subject, " expired on ",
                                                                         FormatDate(validity->not_after))));
      } else if (validity->not_after - options_.now < options_.expiry_warning) {
        Warn("tls.cert_file",
             absl::StrCat("certificate ", subject, " expires on ", FormatDate(validity->not_after), ", in ",
                          absl::ToInt64Hours(validity->not_after - options_.now) / 24, " days: renew it"));
      }
    }
  }

  const ReleaseCheckOptions& options_;
  ReleaseCheckReport& report_;
};

}  // namespace

ReleaseCheckReport CheckRelease(const ReleaseCheckOptions& options) {
  ReleaseCheckReport report;
  absl::StatusOr<IngestConfig> config = ReadConfigAndFlags(options.config_file);
  if (!config.ok()) {
    report.problems.push_back(absl::StrCat("configuration: ", config.status().message()));
    return report;
  }
  ReleaseChecker checker(options, report);
  checker.ChooseCopies(*config);
  checker.CheckZoneMap(*config);
  checker.CheckTls(config->tls);
  checker.CheckOtherFiles(*config);
  checker.CheckWholeConfig(*config);
  return report;
}

void PrintReleaseCheckReport(const ReleaseCheckReport& report, std::FILE* out, std::FILE* err) {
  for (const CheckedFile& file : report.files) {
    std::fprintf(out, "%-7s %s %s\n", file.status.ok() ? "ok" : "FAILED", file.key.c_str(),
                 Describe(file.copy).c_str());
  }
  // Both streams often end up in one log: keep the files, then the
  // problems, then the summary, in that order.
  std::fflush(out);
  for (const std::string& problem : report.problems) std::fprintf(err, "%s\n", problem.c_str());
  for (const std::string& warning : report.warnings) std::fprintf(err, "warning: %s\n", warning.c_str());
  std::fflush(err);
  std::fprintf(out, "ingestd check: %zu files checked, %s\n", report.files.size(),
               report.ok() ? "no problems" : absl::StrCat(report.problems.size(), " problem(s)").c_str());
}

}  // namespace ingest
