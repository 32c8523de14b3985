// Graceful drain: how a server leaves without losing an acknowledged byte and
// without sending its cameras to the peers all at once.
//
//   announced  readiness fails at once; cameras are still served and new ones
//              accepted for announce_delay, while the load balancer notices
//   moving     listeners shut (new connections refused); GOAWAY in waves of
//              goaway_per_second / 10 every 100 ms, each with a jittered
//              reconnect-after; cameras finish their in-flight segments, get
//              their ACKs and leave
//   flushing   shards stop, everything spooled is uploaded to the store
//   done       exit code 0 if all of it is in the store, 1 if the deadline
//              came first (the spool and journal keep the rest)
//
// A second trigger makes the drain fast: no more announce delay, GOAWAY to all
// remaining cameras at once, a short wait for stragglers, then the flush.
// Every phase writes an audit line (see AuditLog).
//
//   DrainController drain(config.drain, server, audit);
//   drain.Trigger("SIGTERM");
//   ... drain.done() ... exit(drain.Progress().exit_code);
#ifndef SERVER_DRAIN_DRAIN_CONTROLLER_H_
#define SERVER_DRAIN_DRAIN_CONTROLLER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "server/config/ingest_config.h"
#include "server/drain/audit_log.h"

namespace ingest {

enum class DrainPhase : int { kServing = 0, kAnnounced = 1, kMoving = 2, kFlushing = 3, kDone = 4 };
const char* DrainPhaseName(DrainPhase phase);

// What a flush achieved (see DrainTarget::StopAndFlush).
struct DrainFlushResult {
  bool complete = false;          // everything acknowledged is in the store
  uint64_t bytes_flushed = 0;     // batch bytes uploaded during the flush
  uint64_t segments_flushed = 0;  // segments persisted during the flush
  uint64_t segments_left = 0;     // still only in the spool
};

// The server as the drain sees it. Implemented by IngestServer; thread-safe.
class DrainTarget {
 public:
  virtual ~DrainTarget() = default;
  virtual uint64_t CamerasConnected() const = 0;
  virtual uint64_t GoawaysSent() const = 0;
  virtual uint64_t AcceptedWhileDraining() const = 0;
  // Readiness fails from here on; accepted connections are counted.
  virtual void MarkDraining() = 0;
  // No new camera connections: listeners are shut, waiting ones refused.
  virtual void CloseListeners() = 0;
  // Tells up to `cameras` more streaming cameras GOAWAY, spread over shards.
  virtual void RequestGoaways(uint32_t cameras) = 0;
  // Stops the shards (closing whatever is left) and uploads what is spooled,
  // giving up at `deadline`.
  virtual DrainFlushResult StopAndFlush(absl::Time deadline) = 0;
};

struct DrainProgress {
  DrainPhase phase = DrainPhase::kServing;
  std::string trigger;
  bool fast = false;
  absl::Time started = absl::InfinitePast();
  absl::Duration elapsed;
  uint64_t cameras_at_start = 0;
  uint64_t cameras_connected = 0;
  uint64_t goaways_sent = 0;
  std::string outcome;  // once done: "complete" or "deadline_exceeded"
  int exit_code = 0;

  std::string ToJson() const;
};

class DrainController {
 public:
  // A wave every kWave; goaway_per_second is spread over them.
  static constexpr absl::Duration kWave = absl::Milliseconds(100);
  // Once every camera has been told, how long the stragglers get to leave
  // (normal / fast) before the flush closes them.
  static constexpr absl::Duration kStragglerGrace = absl::Seconds(10);
  static constexpr absl::Duration kFastStragglerGrace = absl::Seconds(2);

  DrainController(const DrainConfig& config, DrainTarget& target, AuditLog& audit);
  // Joins the drain thread (a drain that was started runs to its end).
  ~DrainController();
  DrainController(const DrainController&) = delete;
  DrainController& operator=(const DrainController&) = delete;

  static constexpr std::string_view kApiTrigger = "api";

  // Starts a drain on its own thread. If one is running, makes it fast when
  // `fast` is set or the same signal arrives again (not for kApiTrigger, so a
  // retried POST or the service manager's SIGTERM after a POST only waits).
  // Thread-safe. `trigger` names the cause in the audit ("SIGTERM", "api").
  void Trigger(std::string_view trigger, bool fast = false);

  DrainProgress Progress() const;
  DrainPhase phase() const;
  bool draining() const { return phase() != DrainPhase::kServing; }
  bool done() const { return phase() == DrainPhase::kDone; }
  // Blocks until a drain that was started is done; at once if none was.
  void AwaitDone() const;

 private:
  void Run();
  // Sleeps until `until`, or until the drain is made fast; true if it was.
  bool SleepUntil(absl::Time until);
  void SetPhase(DrainPhase phase);
  bool fast() const;

  const DrainConfig config_;
  DrainTarget& target_;
  AuditLog& audit_;
  std::thread thread_;

  mutable absl::Mutex mu_;
  DrainProgress progress_ ABSL_GUARDED_BY(mu_);
};

}  // namespace ingest

#endif  // SERVER_DRAIN_DRAIN_CONTROLLER_H_
