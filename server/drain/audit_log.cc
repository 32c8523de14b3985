#include "server/drain/audit_log.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace ingest {

AuditLog::AuditLog(std::string path, std::string server_id, std::string zone)
    : path_(std::move(path)), server_id_(std::move(server_id)), zone_(std::move(zone)) {}

void AuditLog::Write(std::string_view event, std::initializer_list<log::Field> fields) {
  std::vector<log::Field> all = {{"server_id", server_id_}, {"zone", zone_}};
  all.insert(all.end(), fields.begin(), fields.end());
  const std::string line = log::FormatLine(log::Level::kInfo, event, all);
  log::WriteLine(line);
  if (path_.empty()) return;
  absl::MutexLock lock(&mu_);
  const int fd = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) {
    log::Error("audit_log_unwritable", {{"path", path_}, {"error", std::strerror(errno)}});
    return;
  }
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size());
  const bool synced = ::fsync(fd) == 0;
  ::close(fd);
  if (!written || !synced) log::Error("audit_log_unwritable", {{"path", path_}, {"error", std::strerror(errno)}});
}

}  // namespace ingest
