// Test support for the model-based oracle test: a well-behaved camera, the
// protocol client library (BlockingCameraClient) as firmware would use it.
// The test cannot see its frames, so the record follows what the library
// reports after every Poll: each WELCOME's durable_seq, the released mark
// (which moves with ACKs at the release level), the persisted mark, and any
// ERROR or REJECT — which a camera that keeps the rules must never get.
//
//   LibraryCamera camera(7, &server_view, &log);
//   camera.Act(ActionKind::kLibraryRecord, rng);
//   camera.Poll(absl::Milliseconds(1));  // between other cameras' actions
//   camera.FinishUp(absl::Seconds(20));
#ifndef TESTS_SUPPORT_ORACLE_LIBRARY_CAMERA_H_
#define TESTS_SUPPORT_ORACLE_LIBRARY_CAMERA_H_

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/blocking_camera_client.h"
#include "proto/frame_decoder.h"
#include "tests/support/oracle/camera_record.h"
#include "tests/support/oracle/run_log.h"
#include "tests/support/oracle/server_view.h"

namespace ingest::testing::oracle {

class LibraryCamera {
 public:
  LibraryCamera(int number, const ServerView* server, RunLog* log)
      : server_(server), log_(log), record_(number, CameraId(number), /*library=*/true, log) {
    absl::StatusOr<std::unique_ptr<camproto::BlockingCameraClient>> client = camproto::BlockingCameraClient::Create(
        {.host = "127.0.0.1",
         .port = server->port,
         .tls = {.ca_file = server->server_ca_file, .cert_file = server->CameraPem(number)},
         .client = {.camera_id = record_.id()},
         .connect_timeout = server->io_timeout,
         .io_timeout = 2 * server->io_timeout,
         .reconnect_backoff_min = absl::Milliseconds(20),
         .reconnect_backoff_max = absl::Milliseconds(300)});
    if (client.ok()) {
      client_ = std::move(*client);
    } else {
      log_->Violate("library client not created", number, 0, client.status().ToString());
    }
  }

  static const std::vector<std::pair<ActionKind, int>>& Weights() {
    static const std::vector<std::pair<ActionKind, int>> kWeights = {{ActionKind::kLibraryRecord, 70},
                                                                     {ActionKind::kLibraryPoll, 20},
                                                                     {ActionKind::kLibraryFlush, 10},
                                                                     {ActionKind::kLibraryOversize, 3}};
    return kWeights;
  }

  const CameraRecord& record() const { return record_; }
  int number() const { return record_.number(); }

  void Act(ActionKind kind, Rng& rng) {
    if (client_ == nullptr) return;
    switch (kind) {
      case ActionKind::kLibraryRecord: {
        const int count = 1 + static_cast<int>(rng.Below(6));
        for (int i = 0; i < count; ++i) {
          const uint64_t seq = client_->protocol().next_seq();
          if (!Record(Payload(number(), seq, Variant::kCanonical), /*deliverable=*/true)) break;
        }
        Poll(absl::Milliseconds(30));
        break;
      }
      case ActionKind::kLibraryPoll:
        Poll(absl::Milliseconds(50));
        break;
      case ActionKind::kLibraryFlush: {
        absl::Status flushed = client_->Flush(absl::Seconds(1));
        log_->Note(flushed.ok() ? "flushed" : std::string(flushed.message()));
        Observe(flushed);
        break;
      }
      case ActionKind::kLibraryOversize: {
        // The library drops what the server cannot take; the seq is given
        // up, and the next segment must say so with SKIP.
        const uint64_t seq = client_->protocol().next_seq();
        std::string big(server_->max_segment_bytes + 1, 'x');
        if (Record(std::move(big), /*deliverable=*/false)) record_.GiveUp(seq);
        Poll(absl::Milliseconds(30));
        break;
      }
      default:
        break;
    }
  }

  // Lets the client do network work for `budget` (connect, send, read ACKs).
  void Poll(absl::Duration budget) {
    if (client_ == nullptr) return;
    Observe(client_->Poll(budget));
  }

  // End of the run: everything recorded must be acknowledged.
  void FinishUp(absl::Duration timeout) {
    if (client_ == nullptr) return;
    log_->Begin(ActionKind::kLibraryFlush, number(), "final flush");
    const absl::Status flushed = client_->Flush(timeout);
    Observe(flushed);
    if (!flushed.ok() || !record_.AllSettled()) {
      std::vector<uint64_t> left = record_.PendingAbove(0);
      log_->Violate("camera could not deliver everything", number(), left.empty() ? 0 : left.front(),
                    absl::StrCat(flushed.ToString(), "; ", left.size(),
                                 " seqs unclaimed; last disconnect: ", client_->last_disconnect_reason().ToString()));
    }
  }

 private:
  // Adds one segment; the payload was made for the seq the library will
  // assign, which must be the next one the record numbers. An undeliverable
  // one (over the server's limit) is never sent.
  bool Record(std::string payload, bool deliverable) {
    const uint64_t expected = record_.next_new();
    const camproto::SegmentHeader h = server_->content.Header(number(), expected, Variant::kCanonical, false);
    absl::StatusOr<uint64_t> seq = client_->AddSegment(
        h.capture_start_us, h.duration_us, (h.flags & camproto::kSegmentFlagKeyframe) != 0, std::move(payload));
    if (!seq.ok()) {
      log_->Note(absl::StrCat("AddSegment: ", seq.status().message()));
      return false;
    }
    record_.Assign();
    // The library numbers on its own: a different seq means it renumbered
    // (a WELCOME claimed seqs it had not sent), and the payload now names
    // another seq than the one it travels under.
    if (*seq != expected) {
      log_->Violate("library numbered differently", number(), *seq,
                    absl::StrCat("AddSegment gave seq ", *seq, ", the record expected ", expected));
    }
    // The library sends it when it can; counted as sent from now on (which
    // makes the S3-outage check conservative).
    if (deliverable) record_.MarkSent(expected, server_->epoch, absl::Now());
    log_->Touch(expected, expected);
    return true;
  }

  void Observe(const absl::Status& poll) {
    const camproto::CameraClient& p = client_->protocol();
    if (client_->connections() != seen_connections_) {
      seen_connections_ = client_->connections();
      welcome_seen_ = false;
    }
    if (!welcome_seen_ && p.welcome() != nullptr) {
      welcome_seen_ = true;
      record_.Claim(p.welcome()->durable_seq, "WELCOME durable_seq");
    }
    record_.Claim(p.released_seq(), "ACK (library released mark)");
    record_.PersistedAck(p.acked_seq(camproto::DurabilityLevel::kPersisted), server_->outage_since);
    // The client disconnects at once after an ERROR (and may reconnect in
    // the same Poll), so the reason it gives is what is sure to be seen.
    const std::string reason = client_->last_disconnect_reason().ToString();
    if (reason != last_reason_) {
      last_reason_ = reason;
      if (reason.find("server sent ERROR") != std::string::npos) {
        log_->Violate("ERROR to a well-behaved camera", number(), 0, reason);
      }
      for (const char* violation :
           {"ACK for seq", "ACK before WELCOME", "WELCOME durable_seq", "second WELCOME", "from the server in state"}) {
        if (reason.find(violation) != std::string::npos) {
          log_->Violate("library saw a protocol violation", number(), 0, reason);
          break;
        }
      }
    }
    // A Flush that ran out of time is not a refusal (FinishUp judges that).
    if (!poll.ok() && !absl::IsDeadlineExceeded(poll) && server_->accepting) {
      log_->Violate("library camera refused", number(), 0, poll.ToString());
    }
  }

  const ServerView* const server_;
  RunLog* const log_;
  CameraRecord record_;
  std::unique_ptr<camproto::BlockingCameraClient> client_;
  int seen_connections_ = 0;
  bool welcome_seen_ = false;
  std::string last_reason_;
};

}  // namespace ingest::testing::oracle

#endif  // TESTS_SUPPORT_ORACLE_LIBRARY_CAMERA_H_
