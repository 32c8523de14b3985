// Test support for the model-based oracle test: the kinds of action a run
// takes, the log of every action executed, and the violations found, each
// with the slice of the log that leads to it (the actions of the camera
// concerned that touched the seq, and the server's own actions since).
//
//   RunLog log;
//   int a = log.Begin(ActionKind::kReorder, /*camera=*/2, "send 18 then 17");
//   log.Touch(a, 17, 18);
//   log.Violate("reorder refused", 2, 18, "expected ERROR BAD_SEQUENCE, got ACK 18");
//   std::cout << log.Describe(log.violations()[0]);
#ifndef TESTS_SUPPORT_ORACLE_RUN_LOG_H_
#define TESTS_SUPPORT_ORACLE_RUN_LOG_H_

#include <algorithm>
#include <array>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"

namespace ingest::testing::oracle {

enum class ActionKind : int {
  // Misbehaving cameras (raw frames):
  kSendNext,               // the next 1..4 new segments, wait for their ACK
  kAckLost,                // new segments, then drop the connection before any ACK
  kGoDark,                 // like ack_lost, then offline for seconds (through server restarts)
  kResendSame,             // a stored seq again, same bytes: ACK again
  kResendDifferent,        // a stored seq with other contents: SEGMENT_MISMATCH
  kResendGivenUp,          // a seq given up with SKIP or in HELLO, now sent: BAD_SEQUENCE
  kResendForgotten,        // a stored seq far older than the last 32 the server remembers: BAD_SEQUENCE
  kJumpWithoutSkip,        // seq n+1 while n is next, no SKIP flag: BAD_SEQUENCE
  kSkipWithFlag,           // give up 1..3 seqs, next one with SKIP: ACK
  kReorder,                // n+1 before n: BAD_SEQUENCE before anything covers n
  kDuplicateInConnection,  // n twice back to back: ACK, stored once
  kOversize,               // payload over max_segment_bytes: FRAME_TOO_LARGE; seq given up
  kInvalidField,           // capture time, duration or reserved flags out of range: INVALID_FIELD
  kDisconnectMidFrame,     // a frame (or TLS record) cut off, then the connection drops
  kReconnect,              // close, connect again, resume from HELLO/WELCOME
  kTwoConnections,         // a second connection while the first is open: SUPERSEDED
  kInFlight,               // new segments left unacknowledged when the server is killed or drains
  kBurst,                  // several cameras send at once, then all wait for their ACKs
  // Well-behaved cameras (the protocol client library):
  kLibraryRecord,    // record 1..6 segments, poll
  kLibraryPoll,      // poll only
  kLibraryFlush,     // wait (bounded) for every ACK
  kLibraryOversize,  // record a segment over max_segment_bytes: dropped, the next one says SKIP
  // The server:
  kSigkill,   // kill -9 and restart on the same state
  kDrain,     // SIGTERM, serve the drain, restart
  kS3Outage,  // stop radosgw for a few seconds (S3 runs only)
  kCount,
};

inline constexpr int kActionKinds = static_cast<int>(ActionKind::kCount);

inline const char* ActionName(ActionKind kind) {
  static constexpr std::array<const char*, kActionKinds> kNames = {
      "send_next",       "ack_lost",         "go_dark",       "resend_same",    "resend_different",
      "resend_given_up", "resend_forgotten", "jump_no_skip",  "skip_with_flag", "reorder",
      "duplicate",       "oversize",         "invalid_field", "mid_frame_cut",  "reconnect",
      "two_connections", "in_flight",        "burst",         "lib_record",     "lib_poll",
      "lib_flush",       "lib_oversize",     "sigkill",       "drain",          "s3_outage"};
  return kNames[static_cast<size_t>(kind)];
}

inline std::optional<ActionKind> ActionByName(absl::string_view name) {
  for (int i = 0; i < kActionKinds; ++i) {
    if (name == ActionName(static_cast<ActionKind>(i))) return static_cast<ActionKind>(i);
  }
  return std::nullopt;
}

inline bool IsServerAction(ActionKind kind) {
  return kind == ActionKind::kSigkill || kind == ActionKind::kDrain || kind == ActionKind::kS3Outage;
}

// Which kinds a run may choose; `Parse` takes a comma-separated list of names.
struct ActionSet {
  std::array<bool, kActionKinds> enabled{};

  static ActionSet Default() {
    ActionSet set;
    set.enabled.fill(true);
    return set;
  }
  static std::optional<ActionSet> Parse(absl::string_view list) {
    ActionSet set;
    for (absl::string_view name : absl::StrSplit(list, ',', absl::SkipEmpty())) {
      std::optional<ActionKind> kind = ActionByName(name);
      if (!kind.has_value()) return std::nullopt;
      set.enabled[static_cast<size_t>(*kind)] = true;
    }
    return set;
  }
  bool Has(ActionKind kind) const { return enabled[static_cast<size_t>(kind)]; }
};

struct ActionRecord {
  int index = 0;
  double at_s = 0;  // seconds since the run started
  int camera = -1;  // -1: the server
  ActionKind kind = ActionKind::kSendNext;
  std::string detail;
  uint64_t min_seq = UINT64_MAX;  // seqs the action sent or saw claimed
  uint64_t max_seq = 0;
};

struct Violation {
  std::string check;  // which rule, short
  int camera = -1;
  uint64_t seq = 0;  // 0: not about one seq
  std::string detail;
  int action = -1;  // the action during which it was seen (-1: afterwards)
};

class RunLog {
 public:
  RunLog() : start_(absl::Now()) {}

  // Starts the record of an action; `counted` false for the second half of
  // one already counted (a burst's waits).
  int Begin(ActionKind kind, int camera, std::string detail = {}, bool counted = true) {
    ActionRecord a{.index = static_cast<int>(actions_.size()),
                   .at_s = absl::ToDoubleSeconds(absl::Now() - start_),
                   .camera = camera,
                   .kind = kind,
                   .detail = std::move(detail)};
    actions_.push_back(std::move(a));
    if (counted) ++counts_[static_cast<size_t>(kind)];
    return actions_.back().index;
  }
  // Adds text to the current action's detail.
  void Note(absl::string_view text) {
    if (actions_.empty()) return;
    std::string& d = actions_.back().detail;
    absl::StrAppend(&d, d.empty() ? "" : "; ", text);
  }
  // The current action touched seqs lo..hi.
  void Touch(uint64_t lo, uint64_t hi) {
    if (actions_.empty()) return;
    actions_.back().min_seq = std::min(actions_.back().min_seq, lo);
    actions_.back().max_seq = std::max(actions_.back().max_seq, hi);
  }
  int current() const { return static_cast<int>(actions_.size()) - 1; }

  void Violate(std::string check, int camera, uint64_t seq, std::string detail, bool after_run = false) {
    violations_.push_back(Violation{.check = std::move(check),
                                    .camera = camera,
                                    .seq = seq,
                                    .detail = std::move(detail),
                                    .action = after_run ? -1 : current()});
  }

  const std::vector<Violation>& violations() const { return violations_; }
  const std::vector<ActionRecord>& actions() const { return actions_; }
  int count(ActionKind kind) const { return counts_[static_cast<size_t>(kind)]; }
  double elapsed_s() const { return absl::ToDoubleSeconds(absl::Now() - start_); }

  // "send_next=120 ack_lost=4 ..." for the kinds that ran.
  std::string CountsLine() const {
    std::string out;
    for (int i = 0; i < kActionKinds; ++i) {
      if (counts_[static_cast<size_t>(i)] == 0) continue;
      absl::StrAppend(&out, out.empty() ? "" : " ", ActionName(static_cast<ActionKind>(i)), "=",
                      counts_[static_cast<size_t>(i)]);
    }
    return out;
  }

  // One line per action, for a trace of the whole run.
  std::string Line(const ActionRecord& a, bool seen_here = false) const {
    return absl::StrCat("    #", a.index, " t=", absl::StrFormat("%.2f", a.at_s), "s ",
                        a.camera < 0 ? std::string("server") : absl::StrCat("camera ", a.camera), " ",
                        ActionName(a.kind), a.detail.empty() ? "" : ": ", a.detail, seen_here ? "   <== seen here" : "",
                        "\n");
  }

  // The actions that lead to `v`: those of its camera that touched its seq
  // (or, for a violation not about one seq, the camera's last few), every
  // server action from the first of them on, and the action it was seen in.
  // At most `max_lines`, the latest kept.
  std::string Describe(const Violation& v, size_t max_lines = 24) const {
    std::vector<const ActionRecord*> picked;
    const int upto = v.action >= 0 ? v.action : static_cast<int>(actions_.size()) - 1;
    int first = -1;
    for (int i = 0; i <= upto && i < static_cast<int>(actions_.size()); ++i) {
      const ActionRecord& a = actions_[static_cast<size_t>(i)];
      const bool touches = a.camera == v.camera && v.seq != 0 && a.min_seq <= v.seq + 1 && v.seq <= a.max_seq + 1;
      if (touches && first < 0) first = i;
      const bool server_since = first >= 0 && a.camera < 0;
      if (touches || server_since || i == v.action) picked.push_back(&a);
    }
    if (v.seq == 0 || first < 0) {
      // Not about one seq: the camera's last actions and the server's.
      picked.clear();
      for (int i = upto; i >= 0 && picked.size() < 12; --i) {
        const ActionRecord& a = actions_[static_cast<size_t>(i)];
        if (a.camera == v.camera || a.camera < 0) picked.push_back(&a);
      }
      std::reverse(picked.begin(), picked.end());
    }
    std::string out = absl::StrCat("  violation: ", v.check, " (camera ", v.camera,
                                   v.seq != 0 ? absl::StrCat(", seq ", v.seq) : "", "): ", v.detail, "\n");
    const size_t skip = picked.size() > max_lines ? picked.size() - max_lines : 0;
    if (skip > 0) absl::StrAppend(&out, "    ... ", skip, " earlier actions\n");
    for (size_t i = skip; i < picked.size(); ++i) absl::StrAppend(&out, Line(*picked[i], picked[i]->index == v.action));
    return out;
  }

 private:
  absl::Time start_;
  std::vector<ActionRecord> actions_;
  std::array<int, kActionKinds> counts_{};
  std::vector<Violation> violations_;
};

}  // namespace ingest::testing::oracle

#endif  // TESTS_SUPPORT_ORACLE_RUN_LOG_H_
