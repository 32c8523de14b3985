#include "server/ingestd/tls_reloader.h"

#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/json_log.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "common/thread_name.h"
#include "server/ingestd/file_stamp.h"
#include "server/tls/dev_certs.h"

namespace ingest {
namespace {

std::string TimeText(absl::Time t) { return absl::FormatTime(absl::RFC3339_sec, t, absl::UTCTimeZone()); }

// What /status and /metrics say about `tls` (the reload record is kept).
void DescribeServing(const ServerTls& tls, absl::Time loaded_at, TlsView& view) {
  view.loaded = true;
  view.certificate_subject = tls.certificate_subject;
  view.certificate_serial = tls.certificate_serial;
  view.certificate_not_after = tls.certificate_not_after;
  view.camera_ca_not_after = tls.camera_ca_not_after;
  view.camera_cas = tls.camera_ca_count;
  view.denied_cameras = tls.revocation->denied_cameras();
  view.crls = tls.revocation->crl_count();
  view.revoked_serials = tls.revocation->revoked_serials();
  view.loaded_at = loaded_at;
}

// Loading an expired certificate would make every camera refuse us; at
// start-up that is `ingestd check`'s to catch, on a reload it is ours.
absl::Status CheckValidNow(const ServerTls& tls, const std::string& cert_file, absl::Time now) {
  if (tls.certificate_not_before <= now && now <= tls.certificate_not_after) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat("the certificate in ", cert_file, " (", tls.certificate_subject,
                                                 ") is not valid now: ", TimeText(tls.certificate_not_before), " .. ",
                                                 TimeText(tls.certificate_not_after)));
}

}  // namespace

absl::Status PrepareDevCertificates(IngestConfig& config) {
  if (!config.tls.dev_certs) return absl::OkStatus();
  std::string dir = config.server.state_dir + "/dev-certs";
  RETURN_IF_ERROR(MakeDevCertificates(DevCertOptions{.out_dir = dir, .camera_count = 0}));
  DevCertPaths paths = DevCertPathsIn(dir);
  if (config.tls.cert_file.empty()) config.tls.cert_file = paths.server_cert;
  if (config.tls.key_file.empty()) config.tls.key_file = paths.server_key;
  if (config.tls.camera_ca_file.empty()) config.tls.camera_ca_file = paths.camera_ca_cert;
  if (config.tls.ticket_keys_file.empty()) config.tls.ticket_keys_file = paths.ticket_keys;
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TlsReloader>> TlsReloader::Load(ServerTlsFiles files, AuditLog& audit) {
  std::unique_ptr<TlsReloader> reloader(new TlsReloader(std::move(files), audit));
  RETURN_IF_ERROR(reloader->SetUp());
  return reloader;
}

TlsReloader::~TlsReloader() { StopWatching(); }

std::string TlsReloader::FileStamps() const {
  std::string stamps;
  for (const std::string* path : {&files_.context.cert_file, &files_.context.key_file, &files_.context.camera_ca_file,
                                  &files_.context.ticket_keys_file, &files_.crl_file, &files_.camera_deny_list_file,
                                  &files_.encoder_credentials_file}) {
    absl::StrAppend(&stamps, path->empty() ? "-" : FileStamp(*path), "|");
  }
  return stamps;
}

absl::Status TlsReloader::SetUp() {
  const std::string stamps = FileStamps();
  ASSIGN_OR_RETURN(std::shared_ptr<const ServerTls> tls, LoadServerTls(files_));
  {
    absl::MutexLock lock(&mu_);
    stamps_loaded_ = stamps_seen_ = stamps;
    DescribeServing(*tls, absl::Now(), status_);
  }
  log::Info("tls_loaded", {{"certificate", tls->certificate_subject},
                           {"serial", tls->certificate_serial},
                           {"not_after", TimeText(tls->certificate_not_after)},
                           {"camera_cas", tls->camera_ca_count},
                           {"denied_cameras", tls->revocation->denied_cameras()},
                           {"crl_revoked_serials", tls->revocation->revoked_serials()}});
  serving_ = std::make_unique<ServingTls>(std::move(tls));
  return absl::OkStatus();
}

absl::Status TlsReloader::Reload(std::string_view trigger) {
  absl::MutexLock lock(&mu_);
  const absl::Time now = absl::Now();
  // A refused file is not tried again until one of the files changes.
  stamps_loaded_ = stamps_seen_ = FileStamps();
  status_.last_reload_at = now;
  status_.last_reload_trigger = std::string(trigger);
  const std::shared_ptr<const ServerTls> previous = serving_->Get().tls;
  absl::StatusOr<std::shared_ptr<const ServerTls>> next = LoadServerTls(files_, previous->ctx.get());
  absl::Status status = next.status();
  if (status.ok()) status = CheckValidNow(**next, files_.context.cert_file, now);
  if (!status.ok()) {
    RecordRefusal(trigger, status, *previous);
    return status;
  }
  RecordReload(trigger, **next, *previous, now);
  // From here on new handshakes use it; each shard picks it up within a loop
  // turn and closes the sessions it revokes.
  serving_->Replace(*std::move(next));
  return absl::OkStatus();
}

void TlsReloader::RecordRefusal(std::string_view trigger, const absl::Status& status, const ServerTls& previous) {
  ++status_.reload_failures;
  status_.last_reload_ok = false;
  status_.last_reload_error = std::string(status.message());
  audit_.Write("tls_reload_refused", {{"trigger", trigger},
                                      {"error", ToStd(status.message())},
                                      {"serving_certificate_serial", previous.certificate_serial}});
}

void TlsReloader::RecordReload(std::string_view trigger, const ServerTls& tls, const ServerTls& previous,
                               absl::Time now) {
  DescribeServing(tls, now, status_);
  ++status_.reloads;
  status_.last_reload_ok = true;
  status_.last_reload_error.clear();
  audited_refusals_.clear();
  audit_.Write("tls_reloaded", {{"trigger", trigger},
                                {"certificate", tls.certificate_subject},
                                {"certificate_serial", tls.certificate_serial},
                                {"certificate_not_after", TimeText(tls.certificate_not_after)},
                                {"previous_certificate_serial", previous.certificate_serial},
                                {"camera_cas", tls.camera_ca_count},
                                {"camera_ca_not_after", TimeText(tls.camera_ca_not_after)},
                                {"denied_cameras", tls.revocation->denied_cameras()},
                                {"crl_revoked_serials", tls.revocation->revoked_serials()}});
}

void TlsReloader::ReloadIfChanged() {
  {
    absl::MutexLock lock(&mu_);
    const std::string stamps = FileStamps();
    const bool settled = stamps == stamps_seen_;
    stamps_seen_ = stamps;
    if (stamps == stamps_loaded_ || !settled) return;
  }
  absl::Status reloaded = Reload("file_changed");
  if (!reloaded.ok()) log::Error("tls_reload_failed", {{"error", reloaded.ToString()}});
}

void TlsReloader::StartWatching() {
  absl::MutexLock lock(&watcher_mu_);
  if (watcher_stop_ || watcher_.joinable()) return;
  watcher_ = std::thread([this] {
    NameThisThread("tls-reload");
    RunWatcher();
  });
}

void TlsReloader::StopWatching() {
  std::thread watcher;
  {
    absl::MutexLock lock(&watcher_mu_);
    watcher_stop_ = true;
    watcher = std::move(watcher_);
  }
  if (watcher.joinable()) watcher.join();
  AuditRevocations();  // what the shards did last
}

void TlsReloader::RunWatcher() {
  absl::Time next_check = absl::Now() + absl::Seconds(1);
  while (true) {
    {
      absl::MutexLock lock(&watcher_mu_);
      watcher_mu_.AwaitWithTimeout(absl::Condition(&watcher_stop_), absl::Milliseconds(250));
      if (watcher_stop_) return;
    }
    AuditRevocations();
    if (absl::Now() >= next_check) {
      ReloadIfChanged();
      next_check = absl::Now() + absl::Seconds(1);
    }
  }
}

void TlsReloader::AuditRevocations() {
  uint64_t dropped = 0;
  const std::vector<RevocationEvent> events = revocation_events_.Take(&dropped);
  for (const RevocationEvent& event : events) {
    if (!event.session_closed) {
      absl::MutexLock lock(&mu_);
      if (!audited_refusals_.insert(absl::StrCat(event.camera, "/", event.serial)).second) continue;
    }
    audit_.Write(event.session_closed ? "camera_revoked_session_closed" : "camera_revoked_handshake_refused",
                 {{"camera", event.camera},
                  {"certificate_serial", event.serial},
                  {"peer", event.peer},
                  {"shard", event.shard},
                  {"reason", event.reason}});
  }
  if (dropped > 0) audit_.Write("camera_revocations_not_audited", {{"events", dropped}});
}

TlsView TlsReloader::Status() const {
  absl::MutexLock lock(&mu_);
  return status_;
}

}  // namespace ingest
