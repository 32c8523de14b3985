// Append-only JSON-lines audit trail of operator-visible actions (drains),
// kept in <state_dir>/audit.log so a deploy hook or an SRE can read what the
// last drain did after the process is gone. Every line also goes to the
// normal log on stderr.
//
//   AuditLog audit(state_dir + "/audit.log", server_id, zone);
//   audit.Write("drain_started", {{"trigger", "SIGTERM"}, {"cameras", 1000}});
//   ->
//   {"ts":"...","level":"info","event":"drain_started","server_id":"a","zone":"z1","trigger":"SIGTERM","cameras":1000}
#ifndef SERVER_DRAIN_AUDIT_LOG_H_
#define SERVER_DRAIN_AUDIT_LOG_H_

#include <initializer_list>
#include <string>
#include <string_view>

#include "absl/synchronization/mutex.h"
#include "common/json_log.h"

namespace ingest {

class AuditLog {
 public:
  // An empty path writes to stderr only.
  AuditLog(std::string path, std::string server_id, std::string zone);

  // Appends one line and syncs it (the process may be killed right after a
  // drain). A file that cannot be written is reported on stderr; the event
  // still reaches the normal log.
  void Write(std::string_view event, std::initializer_list<log::Field> fields);

  const std::string& path() const { return path_; }

 private:
  const std::string path_;
  const std::string server_id_;
  const std::string zone_;
  absl::Mutex mu_;
};

}  // namespace ingest

#endif  // SERVER_DRAIN_AUDIT_LOG_H_
