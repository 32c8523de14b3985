// Test support for the model-based oracle test: what the cameras know about
// the ingestd under test and the run's fault state — where it listens, which
// of its lifetimes is current (a restart forgets what was not in its spool),
// whether it drains, since when S3 is down — and the run's time bounds.
#ifndef TESTS_SUPPORT_ORACLE_SERVER_VIEW_H_
#define TESTS_SUPPORT_ORACLE_SERVER_VIEW_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "tests/support/oracle/segment_content.h"

namespace ingest::testing::oracle {

inline std::string CameraId(int number) { return absl::StrFormat("cam-%06d", number); }

struct ServerView {
  uint16_t port = 0;
  std::string server_ca_file;
  std::string cameras_dir;  // <id>.pem for each camera
  int epoch = 0;            // ingestd lifetimes so far; 1 is the first
  bool accepting = false;   // running, listening, not draining
  bool draining = false;
  std::optional<absl::Time> outage_since;  // radosgw stopped at this time
  uint32_t max_segment_bytes = 0;
  // How long one answer from the server may take (sanitized builds: longer).
  absl::Duration io_timeout = absl::Seconds(5);
  // "closed within a second" (invariant 4) plus scheduling slack.
  absl::Duration supersede_within = absl::Seconds(2);
  // A short wait for something that should follow at once (an ERROR after
  // an ACK that should not have come).
  absl::Duration short_wait = absl::Milliseconds(300);
  SegmentContent content;

  std::string CameraPem(int number) const { return cameras_dir + "/" + CameraId(number) + ".pem"; }
};

}  // namespace ingest::testing::oracle

#endif  // TESTS_SUPPORT_ORACLE_SERVER_VIEW_H_
