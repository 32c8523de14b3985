// Test support for the model-based oracle test: a camera driven frame by
// frame over RawCameraConnection, so it can misbehave on purpose — jump,
// reorder, repeat, re-send other contents, send fields out of range or a
// segment over the limit, cut a frame off, open a second connection — and
// check each answer of the server against what proto/README.md predicts.
// Its CameraRecord is what it knows; every surprise is a violation in the
// RunLog, and after one the connection is dropped so the model never has to
// guess what the server believes.
//
// Each action runs to completion (the answer, or a bounded wait for it)
// before the next one starts; a camera is connected between actions only
// after it has re-sent everything it holds (resume), so a new seq is always
// the next one after the connection's last.
//
//   RawCamera camera(3, &server_view, &log);
//   camera.Act(ActionKind::kReorder, rng);
//   camera.FinishUp();  // end of run: resume until everything is claimed
#ifndef TESTS_SUPPORT_ORACLE_RAW_CAMERA_H_
#define TESTS_SUPPORT_ORACLE_RAW_CAMERA_H_

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "proto/frame.h"
#include "proto/frame_decoder.h"
#include "proto/frame_encoder.h"
#include "tests/support/oracle/camera_record.h"
#include "tests/support/oracle/run_log.h"
#include "tests/support/oracle/server_view.h"
#include "tests/support/raw_camera_connection.h"

namespace ingest::testing::oracle {

class RawCamera {
 public:
  RawCamera(int number, const ServerView* server, RunLog* log)
      : server_(server), log_(log), record_(number, CameraId(number), /*library=*/false, log) {}

  // The kinds a misbehaving camera chooses from, with their weights.
  static const std::vector<std::pair<ActionKind, int>>& Weights() {
    static const std::vector<std::pair<ActionKind, int>> kWeights = {{ActionKind::kSendNext, 30},
                                                                     {ActionKind::kAckLost, 4},
                                                                     {ActionKind::kGoDark, 2},
                                                                     {ActionKind::kResendSame, 8},
                                                                     {ActionKind::kResendDifferent, 6},
                                                                     {ActionKind::kResendGivenUp, 3},
                                                                     {ActionKind::kResendForgotten, 2},
                                                                     {ActionKind::kJumpWithoutSkip, 4},
                                                                     {ActionKind::kSkipWithFlag, 6},
                                                                     {ActionKind::kReorder, 4},
                                                                     {ActionKind::kDuplicateInConnection, 5},
                                                                     {ActionKind::kOversize, 3},
                                                                     {ActionKind::kInvalidField, 6},
                                                                     {ActionKind::kDisconnectMidFrame, 4},
                                                                     {ActionKind::kReconnect, 4},
                                                                     {ActionKind::kTwoConnections, 3}};
    return kWeights;
  }

  const CameraRecord& record() const { return record_; }
  int number() const { return record_.number(); }
  bool connected() const { return conn_ != nullptr; }
  // Gone dark (kGoDark): it takes no action until then, bursts included.
  bool offline() const { return absl::Now() < offline_until_; }

  void Act(ActionKind kind, Rng& rng) {
    switch (kind) {
      case ActionKind::kSendNext:
        SendNext(1 + static_cast<int>(rng.Below(4)));
        break;
      case ActionKind::kAckLost:
        AckLost(rng);
        break;
      case ActionKind::kGoDark: {
        AckLost(rng);
        const absl::Duration dark = absl::Milliseconds(2000 + rng.Below(6000));
        offline_until_ = absl::Now() + dark;
        log_->Note(absl::StrCat("offline for ", absl::FormatDuration(dark)));
        break;
      }
      case ActionKind::kResendSame:
      case ActionKind::kResendDifferent:
        Resend(kind == ActionKind::kResendDifferent, rng);
        break;
      case ActionKind::kResendGivenUp:
        ResendGivenUp(rng);
        break;
      case ActionKind::kResendForgotten:
        ResendForgotten(rng);
        break;
      case ActionKind::kJumpWithoutSkip:
        JumpWithoutSkip();
        break;
      case ActionKind::kSkipWithFlag:
        SkipWithFlag(1 + static_cast<int>(rng.Below(3)));
        break;
      case ActionKind::kReorder:
        Reorder();
        break;
      case ActionKind::kDuplicateInConnection:
        Duplicate();
        break;
      case ActionKind::kOversize:
        Oversize(rng);
        break;
      case ActionKind::kInvalidField:
        InvalidField(rng);
        break;
      case ActionKind::kDisconnectMidFrame:
        DisconnectMidFrame(rng);
        break;
      case ActionKind::kReconnect:
        if (conn_ != nullptr && rng.Chance(0.5)) conn_->raw->Abort();
        conn_.reset();
        EnsureConnected();
        break;
      case ActionKind::kTwoConnections:
        TwoConnections(rng);
        break;
      default:
        break;
    }
  }

  // The server was killed: nothing more will come on the connection.
  void ServerGone() { conn_.reset(); }

  // New segments sent without waiting for their ACK, just before the server
  // is killed or drains; they are in flight when it happens.
  // (Connects first if need be.) False if it could not.
  bool SendInFlight(int count) {
    if (!EnsureConnected()) return false;
    std::vector<uint64_t> seqs;
    for (int i = 0; i < count; ++i) seqs.push_back(record_.Assign());
    Send(*conn_, NewFrames(*conn_, seqs));
    conn_->in_flight_high = seqs.back();
    return true;
  }

  // The ACK for what SendInFlight sent (several cameras send, then all
  // wait: their segments meet in the server's group commits).
  void AwaitInFlight() {
    if (conn_ == nullptr || conn_->in_flight_high <= conn_->acked) return;
    if (!Await(*conn_, {.ack_at_least = conn_->in_flight_high, .what = "segments sent in a burst"},
               conn_->in_flight_high)) {
      conn_.reset();
    }
  }

  // During a drain: handles what arrives within `wait`. After GOAWAY the
  // camera waits for the ACKs of what it has in flight, then leaves.
  void ServeDrain(absl::Duration wait) {
    if (conn_ == nullptr) return;
    absl::StatusOr<camproto::ControlFrame> frame = conn_->raw->ReadFrame(wait);
    if (!frame.ok()) {
      if (!IsConnectionClosed(frame.status())) return;
      if (!conn_->goaway && server_->draining) {
        log_->Violate("drain closed a connection without GOAWAY", number(), 0, std::string(frame.status().message()));
      }
      conn_.reset();
      return;
    }
    if (auto* ack = std::get_if<camproto::Ack>(&*frame)) {
      HandleAck(*conn_, *ack);
    } else if (std::holds_alternative<camproto::Goaway>(*frame)) {
      conn_->goaway = true;
    } else if (auto* ping = std::get_if<camproto::Ping>(&*frame)) {
      SendPong(*conn_, ping->nonce);
    } else if (auto* error = std::get_if<camproto::Error>(&*frame)) {
      log_->Violate("ERROR during a drain", number(), 0, DescribeError(*error));
      conn_.reset();
      return;
    }
    if (conn_->goaway && conn_->acked >= conn_->in_flight_high) conn_.reset();
  }

  // End of the run: connect and resume until the server claims everything
  // this camera holds (three attempts).
  void FinishUp() {
    for (int attempt = 0; attempt < 3 && !record_.AllSettled(); ++attempt) {
      log_->Begin(ActionKind::kReconnect, number(), "final resume");
      if (EnsureConnected() && !record_.AllSettled()) conn_.reset();
    }
    if (!record_.AllSettled()) {
      std::vector<uint64_t> left = record_.PendingAbove(0);
      log_->Violate("camera could not deliver everything", number(), left.front(),
                    absl::StrCat(left.size(), " seqs never claimed, first ", left.front()));
    }
  }

 private:
  struct Connection {
    std::unique_ptr<RawCameraConnection> raw;
    uint64_t base = 0;             // max(HELLO last_durable_seq, WELCOME durable_seq)
    uint64_t welcome_durable = 0;  // WELCOME durable_seq
    uint64_t last_new = 0;         // last new seq sent on it (base before any)
    uint64_t sent_high = 0;        // highest seq in any frame sent on it
    uint64_t acked = 0;            // highest ACK on it, any level
    uint64_t in_flight_high = 0;   // last of the segments sent without waiting (SendInFlight)
    bool goaway = false;
  };

  // What an action predicts for its frames.
  struct Expect {
    uint64_t ack_at_least = 0;                  // 0: no ACK; else done at an ACK >= this
    std::vector<camproto::ErrorCode> errors{};  // done at an ERROR with one of these
    // An ACK at or above this (if nothing had covered it before) means the
    // server acknowledged a segment it should have refused.
    uint64_t refused_seq = 0;
    // A refused re-send of a stored seq: an ACK SPOOLED covering it means
    // the server took other contents for the same segment.
    uint64_t refused_resend = 0;
    // A re-send of a stored seq is answered by an ACK SPOOLED again; an ACK
    // PERSISTED meanwhile is a batch landing and says nothing about it.
    bool spooled_ack_only = false;
    std::string what{};
  };

  static std::string DescribeError(const camproto::Error& error) {
    return absl::StrCat("ERROR ", camproto::ErrorCodeName(error.code), " (", static_cast<int>(error.code),
                        "): ", error.message);
  }

  static std::string DescribeExpect(const Expect& e) {
    std::vector<std::string> parts;
    if (e.ack_at_least != 0) parts.push_back(absl::StrCat("ACK >= ", e.ack_at_least));
    for (camproto::ErrorCode code : e.errors) {
      parts.push_back(absl::StrCat("ERROR ", camproto::ErrorCodeName(code)));
    }
    return absl::StrJoin(parts, " or ");
  }

  void Violate(std::string check, uint64_t seq, std::string detail) {
    log_->Violate(std::move(check), number(), seq, std::move(detail));
  }

  // A connection, HELLO with the released mark, WELCOME; null if refused.
  std::unique_ptr<Connection> Open() {
    absl::StatusOr<std::unique_ptr<RawCameraConnection>> raw =
        RawCameraConnection::Connect({.port = server_->port,
                                      .server_ca_file = server_->server_ca_file,
                                      .cert_file = server_->CameraPem(number()),
                                      .io_timeout = server_->io_timeout});
    absl::Status s = raw.ok() ? (*raw)->Handshake() : raw.status();
    const uint64_t hello_released = record_.released();
    if (s.ok()) s = (*raw)->SendPlain(HelloFrame(record_.id(), camproto::kProtocolVersion, hello_released));
    if (!s.ok()) {
      Unreachable(absl::StrCat("connect: ", s.message()));
      return nullptr;
    }
    absl::StatusOr<camproto::ControlFrame> frame = (*raw)->ReadFrame();
    if (!frame.ok()) {
      Unreachable(absl::StrCat("HELLO unanswered: ", frame.status().message()));
      return nullptr;
    }
    auto* welcome = std::get_if<camproto::Welcome>(&*frame);
    if (welcome == nullptr) {
      auto* reject = std::get_if<camproto::Reject>(&*frame);
      if (reject != nullptr && reject->code == camproto::RejectCode::kShuttingDown && server_->draining) {
        return nullptr;
      }
      Violate("HELLO not welcomed", 0,
              reject != nullptr ? absl::StrCat("REJECT ", static_cast<int>(reject->code), ": ", reject->reason)
                                : absl::StrCat("frame variant ", frame->index()));
      return nullptr;
    }
    auto conn = std::make_unique<Connection>();
    conn->raw = std::move(*raw);
    const uint64_t durable = welcome->durable_seq;
    log_->Note(absl::StrCat("HELLO ", hello_released, " -> WELCOME durable ", durable));
    record_.Claim(durable, "WELCOME durable_seq");
    conn->welcome_durable = durable;
    conn->base = std::max(hello_released, durable);
    conn->last_new = conn->base;
    conn->acked = durable;
    return conn;
  }

  void Unreachable(const std::string& what) {
    if (server_->accepting) {
      Violate("server unreachable", 0, what);
    } else {
      log_->Note(what);
    }
  }

  // Connected, with everything this camera holds re-sent and acknowledged.
  bool EnsureConnected() {
    if (conn_ != nullptr) {
      Settle(*conn_);
      if (conn_ != nullptr) return true;
    }
    conn_ = Open();
    if (conn_ == nullptr) return false;
    std::vector<uint64_t> pending = record_.PendingAbove(conn_->base);
    if (pending.empty()) return true;
    log_->Note(absl::StrCat("resume re-sends ", pending.size(), " seqs ", pending.front(), "..", pending.back()));
    Send(*conn_, NewFrames(*conn_, pending));
    if (!Await(*conn_, {.ack_at_least = pending.back(), .what = "resume"}, pending.back())) {
      conn_.reset();
      return false;
    }
    return true;
  }

  // Frames for new seqs, in order; SKIP where the camera gave up the seqs
  // in between (the only way a gap arises).
  std::string NewFrames(Connection& c, const std::vector<uint64_t>& seqs) {
    std::string out;
    for (uint64_t seq : seqs) {
      const bool skip = seq != c.last_new + 1;
      out += server_->content.Frame(number(), seq, Variant::kCanonical, skip);
      record_.MarkSent(seq, server_->epoch, absl::Now());
      log_->Touch(seq, seq);
      c.last_new = seq;
      c.sent_high = std::max(c.sent_high, seq);
    }
    return out;
  }

  // Sends; a failure shows up as the close on the next read.
  void Send(Connection& c, const std::string& bytes) {
    absl::Status s = c.raw->SendPlain(bytes);
    if (!s.ok()) log_->Note(absl::StrCat("send: ", s.message()));
  }

  void SendPong(Connection& c, uint64_t nonce) {
    std::string pong;
    camproto::AppendPong(camproto::Pong{.nonce = nonce}, pong);
    Send(c, pong);
  }

  void HandleAck(Connection& c, const camproto::Ack& ack) {
    const uint64_t limit = std::max(c.sent_high, c.welcome_durable);
    const bool persisted = ack.level == camproto::DurabilityLevel::kPersisted;
    if (ack.seq > limit) {
      Violate("ACK above anything sent", ack.seq,
              absl::StrCat("ACK ", ack.seq, " but the highest seq sent on this connection is ", c.sent_high,
                           " and WELCOME durable_seq ", c.welcome_durable));
    }
    record_.Claim(ack.seq, persisted ? "ACK PERSISTED" : "ACK SPOOLED");
    if (persisted) record_.PersistedAck(ack.seq, server_->outage_since);
    c.acked = std::max(c.acked, ack.seq);
  }

  // Handles what already arrived on an idle connection (late ACKs); drops
  // the connection if the server closed it or sent ERROR unasked.
  void Settle(Connection& c) {
    for (int i = 0; i < 64; ++i) {
      absl::StatusOr<camproto::ControlFrame> frame = c.raw->ReadFrame(absl::ZeroDuration());
      if (!frame.ok()) {
        if (!IsConnectionClosed(frame.status())) return;
        if (server_->accepting) {
          Violate("idle connection closed", 0, std::string(frame.status().message()));
        }
        conn_.reset();
        return;
      }
      if (auto* ack = std::get_if<camproto::Ack>(&*frame)) {
        HandleAck(c, *ack);
      } else if (auto* ping = std::get_if<camproto::Ping>(&*frame)) {
        SendPong(c, ping->nonce);
      } else if (std::holds_alternative<camproto::Goaway>(*frame)) {
        c.goaway = true;
      } else {
        Violate("unsolicited frame", 0, FrameText(*frame));
        conn_.reset();
        return;
      }
    }
  }

  static std::string FrameText(const camproto::ControlFrame& frame) {
    if (auto* error = std::get_if<camproto::Error>(&frame)) return DescribeError(*error);
    return absl::StrCat("frame variant ", frame.index());
  }

  // Reads until the prediction is met (true) or broken (false, recorded; the
  // caller drops the connection). An expected ERROR must be followed by the
  // server closing; after it the connection is gone either way.
  bool Await(Connection& c, const Expect& e, uint64_t seq) {
    absl::Time deadline = absl::Now() + server_->io_timeout;
    const uint64_t acked_before = c.acked;
    bool taken_as_same = false;
    while (true) {
      absl::StatusOr<camproto::ControlFrame> frame =
          c.raw->ReadFrame(std::max(deadline - absl::Now(), absl::ZeroDuration()));
      if (!frame.ok()) {
        if (taken_as_same) {
          Violate("re-send with other contents acknowledged", seq,
                  absl::StrCat(e.what, ": ACK SPOOLED covering it and no ERROR; expected ", DescribeExpect(e)));
        } else if (IsConnectionClosed(frame.status())) {
          Violate("closed without the predicted answer", seq,
                  absl::StrCat(e.what, ": connection closed (", frame.status().message(), "); expected ",
                               DescribeExpect(e)));
        } else {
          Violate("no answer", seq,
                  absl::StrCat(e.what, ": nothing within ", absl::FormatDuration(server_->io_timeout), "; expected ",
                               DescribeExpect(e)));
        }
        return false;
      }
      if (auto* ack = std::get_if<camproto::Ack>(&*frame)) {
        HandleAck(c, *ack);
        const bool level_counts = !e.spooled_ack_only || ack->level == camproto::DurabilityLevel::kSpooled;
        if (e.ack_at_least != 0 && ack->seq >= e.ack_at_least && level_counts) return true;
        if (e.refused_seq != 0 && ack->seq >= e.refused_seq && e.refused_seq > acked_before) {
          Violate("refused segment acknowledged", e.refused_seq,
                  absl::StrCat(e.what, ": ACK ", ack->seq, " arrived; expected ", DescribeExpect(e)));
          return false;
        }
        if (e.refused_resend != 0 && ack->seq >= e.refused_resend &&
            ack->level == camproto::DurabilityLevel::kSpooled && !taken_as_same) {
          // Probably taken for the same segment; the ERROR would be right
          // behind the ACK if it were coming at all.
          taken_as_same = true;
          deadline = std::min(deadline, absl::Now() + server_->short_wait);
        }
        continue;
      }
      if (auto* error = std::get_if<camproto::Error>(&*frame)) {
        const bool predicted = std::find(e.errors.begin(), e.errors.end(), error->code) != e.errors.end();
        if (!predicted) {
          Violate("unpredicted ERROR", seq,
                  absl::StrCat(e.what, ": ", DescribeError(*error), "; expected ", DescribeExpect(e)));
          return false;
        }
        log_->Note(absl::StrCat("ERROR ", camproto::ErrorCodeName(error->code)));
        absl::Status closed = c.raw->WaitForClose(server_->io_timeout);
        if (!closed.ok()) {
          Violate("open after ERROR", seq, absl::StrCat(e.what, ": ", closed.message()));
        }
        return true;
      }
      if (auto* ping = std::get_if<camproto::Ping>(&*frame)) {
        SendPong(c, ping->nonce);
        continue;
      }
      if (std::holds_alternative<camproto::Goaway>(*frame)) {
        c.goaway = true;
        continue;
      }
      Violate("unexpected frame", seq, absl::StrCat(e.what, ": ", FrameText(*frame), "; expected ", DescribeExpect(e)));
      return false;
    }
  }

  // Awaits a refusal; the connection is over afterwards whatever came.
  void AwaitRefusal(const Expect& e, uint64_t seq) {
    Await(*conn_, e, seq);
    conn_.reset();
  }

  // Makes the next new seq follow the connection's last one directly (sends
  // one segment with SKIP if the camera had given seqs up), so a fault can
  // be the only thing wrong with the next frame.
  bool EnsureConsecutive() {
    if (!EnsureConnected()) return false;
    if (conn_->last_new + 1 == record_.next_new()) return true;
    return SendNext(1);
  }

  bool SendNext(int count) {
    if (!EnsureConnected()) return false;
    std::vector<uint64_t> seqs;
    for (int i = 0; i < count; ++i) seqs.push_back(record_.Assign());
    Send(*conn_, NewFrames(*conn_, seqs));
    if (!Await(*conn_, {.ack_at_least = seqs.back(), .what = "new segments"}, seqs.back())) {
      conn_.reset();
      return false;
    }
    return true;
  }

  void AckLost(Rng& rng) {
    if (!EnsureConnected()) return;
    std::vector<uint64_t> seqs;
    for (uint64_t i = 0, n = 1 + rng.Below(2); i < n; ++i) seqs.push_back(record_.Assign());
    Send(*conn_, NewFrames(*conn_, seqs));
    const bool reset = rng.Chance(0.5);
    log_->Note(reset ? "then TCP reset" : "then close");
    if (reset) conn_->raw->Abort();
    conn_.reset();
  }

  // A stored seq again: the same contents get an ACK covering it, others
  // SEGMENT_MISMATCH. The server compares with the last 32 seqs it stored
  // (proto/README.md), so only seqs well inside that are chosen; and after a
  // restart it may have forgotten them (it remembers what its spool still
  // holds), where BAD_SEQUENCE is right too.
  void Resend(bool different, Rng& rng) {
    if (!EnsureConnected()) return;
    const uint64_t high = record_.highest_frame_seq();
    std::vector<uint64_t> candidates = record_.ClaimedAbove(high > 24 ? high - 24 : 0);
    if (candidates.empty()) {
      log_->Note("nothing claimed recently enough: sends new segments instead");
      SendNext(1);
      return;
    }
    // ACKs still owed for earlier segments first: ACKs are cumulative, so a
    // late one would pass for the answer to this re-send.
    if (conn_->last_new > conn_->base && conn_->acked < conn_->last_new &&
        !Await(*conn_, {.ack_at_least = conn_->last_new, .what = "earlier segments"}, conn_->last_new)) {
      conn_.reset();
      return;
    }
    const uint64_t seq = rng.Pick(candidates);
    const SeqRecord& r = *record_.Find(seq);
    const bool remembered = r.first_epoch == server_->epoch && r.last_epoch == server_->epoch;
    static constexpr Variant kOthers[] = {Variant::kOtherBytesSameSize, Variant::kOtherSize, Variant::kOtherCaptureTime,
                                          Variant::kOtherDuration, Variant::kOtherKeyframe};
    const Variant variant = different ? kOthers[rng.Below(5)] : Variant::kCanonical;
    log_->Touch(seq, seq);
    log_->Note(absl::StrCat("seq ", seq, " variant ", static_cast<int>(variant),
                            remembered ? "" : " (stored before a restart)"));
    conn_->sent_high = std::max(conn_->sent_high, seq);
    Send(*conn_, server_->content.Frame(number(), seq, variant));
    Expect e{.what = absl::StrCat(different ? "re-send with other contents of " : "re-send of ", "stored seq ", seq)};
    if (!remembered) e.errors.push_back(camproto::ErrorCode::kBadSequence);
    if (different) {
      record_.NoteRefusedFrame(seq, variant);
      e.errors.push_back(camproto::ErrorCode::kSegmentMismatch);
      e.refused_resend = seq;
      AwaitRefusal(e, seq);
      return;
    }
    record_.MarkSent(seq, server_->epoch, absl::Now());
    e.ack_at_least = seq;
    e.spooled_ack_only = true;
    if (!Await(*conn_, e, seq)) conn_.reset();
    // A BAD_SEQUENCE (allowed after a restart) ended the connection.
    if (conn_ != nullptr && !conn_->raw->close_reason().ok()) conn_.reset();
  }

  // A seq the camera gave up (SKIP, or dropped as undeliverable) that the
  // connection is past: the server never stored it, so a re-send is
  // BAD_SEQUENCE whatever it carries.
  void ResendGivenUp(Rng& rng) {
    if (!EnsureConnected()) return;
    std::vector<uint64_t> candidates;
    for (const auto& [seq, r] : record_.seqs()) {
      if (r.state == SeqState::kGivenUp && !r.sent_whole && !r.renumbered && seq < conn_->last_new) {
        candidates.push_back(seq);
      }
    }
    if (candidates.empty()) {
      log_->Note("nothing given up yet: sends new segments instead");
      SendNext(1);
      return;
    }
    const uint64_t seq = rng.Pick(candidates);
    log_->Touch(seq, seq);
    log_->Note(absl::StrCat("given-up seq ", seq));
    record_.NoteFrame(seq);
    Send(*conn_, server_->content.Frame(number(), seq, Variant::kCanonical));
    AwaitRefusal({.errors = {camproto::ErrorCode::kBadSequence},
                  .refused_resend = seq,
                  .what = absl::StrCat("re-send of given-up seq ", seq)},
                 seq);
  }

  // A stored seq with at least 128 stored seqs after it (one of them in the
  // same slot of the server's 32-entry memory): older than anything the
  // server promises to remember, so even the same contents are BAD_SEQUENCE.
  void ResendForgotten(Rng& rng) {
    if (!EnsureConnected()) return;
    constexpr size_t kNewerStored = 128;
    const std::vector<uint64_t> claimed = record_.ClaimedAbove(0);
    std::vector<uint64_t> candidates;
    for (size_t i = 0; i + kNewerStored < claimed.size(); ++i) {
      const uint64_t seq = claimed[i];
      bool slot_reused = false;
      for (size_t j = i + 1; j < claimed.size() && !slot_reused; ++j) slot_reused = (claimed[j] - seq) % 32 == 0;
      if (slot_reused) candidates.push_back(seq);
    }
    if (candidates.empty()) {
      log_->Note("nothing old enough yet: sends new segments instead");
      SendNext(1);
      return;
    }
    const uint64_t seq = rng.Pick(candidates);
    log_->Touch(seq, seq);
    log_->Note(absl::StrCat("stored seq ", seq, ", long forgotten"));
    Send(*conn_, server_->content.Frame(number(), seq, Variant::kCanonical));
    AwaitRefusal({.errors = {camproto::ErrorCode::kBadSequence},
                  .refused_resend = seq,
                  .what = absl::StrCat("re-send of seq ", seq, ", ", kNewerStored, "+ stored seqs older")},
                 seq);
  }

  void JumpWithoutSkip() {
    if (!EnsureConsecutive()) return;
    const uint64_t next = record_.next_new();
    log_->Touch(next, next + 1);
    log_->Note(absl::StrCat("seq ", next + 1, " while ", next, " is next"));
    conn_->sent_high = std::max(conn_->sent_high, next + 1);
    record_.NoteRefusedFrame(next + 1, Variant::kJumpWithoutSkip);
    Send(*conn_, server_->content.Frame(number(), next + 1, Variant::kJumpWithoutSkip));
    AwaitRefusal({.errors = {camproto::ErrorCode::kBadSequence},
                  .refused_seq = next,
                  .what = absl::StrCat("seq ", next + 1, " without SKIP while ", next, " is next")},
                 next + 1);
  }

  void SkipWithFlag(int count) {
    if (!EnsureConnected()) return;
    for (int i = 0; i < count; ++i) record_.GiveUp(record_.Assign());
    const uint64_t seq = record_.Assign();
    log_->Note(absl::StrCat("gives up ", seq - static_cast<uint64_t>(count), "..", seq - 1));
    Send(*conn_, NewFrames(*conn_, {seq}));
    if (!Await(*conn_, {.ack_at_least = seq, .what = "segment with SKIP"}, seq)) conn_.reset();
  }

  // n+1 before n: refused before anything can cover n.
  void Reorder() {
    if (!EnsureConsecutive()) return;
    const uint64_t first = record_.Assign();
    const uint64_t second = record_.Assign();
    log_->Touch(first, second);
    conn_->sent_high = std::max(conn_->sent_high, second);
    record_.MarkSent(second, server_->epoch, absl::Now());
    Send(*conn_, server_->content.Frame(number(), second, Variant::kCanonical));
    const bool as_predicted = Await(*conn_,
                                    {.errors = {camproto::ErrorCode::kBadSequence},
                                     .refused_seq = first,
                                     .what = absl::StrCat("reorder: ", second, " before ", first)},
                                    second);
    if (!as_predicted && conn_ != nullptr && conn_->raw->close_reason().ok()) {
      // The server took it: finish the reorder and see what it makes of it.
      record_.MarkSent(first, server_->epoch, absl::Now());
      Send(*conn_, server_->content.Frame(number(), first, Variant::kCanonical));
      Linger(*conn_, server_->short_wait);
    }
    conn_.reset();
  }

  void Duplicate() {
    if (!EnsureConnected()) return;
    const uint64_t seq = record_.Assign();
    const std::string frame = NewFrames(*conn_, {seq});
    Send(*conn_, frame + frame);
    if (!Await(*conn_, {.ack_at_least = seq, .what = "segment sent twice"}, seq)) {
      conn_.reset();
      return;
    }
    // The copy must not be refused either.
    Linger(*conn_, absl::Milliseconds(20));
  }

  // Reads for `wait`; any ERROR or close now is a violation.
  void Linger(Connection& c, absl::Duration wait) {
    const absl::Time until = absl::Now() + wait;
    while (conn_ != nullptr && absl::Now() < until) {
      absl::StatusOr<camproto::ControlFrame> frame = c.raw->ReadFrame(until - absl::Now());
      if (!frame.ok()) {
        if (IsConnectionClosed(frame.status())) {
          Violate("connection closed unasked", 0, std::string(frame.status().message()));
          conn_.reset();
        }
        return;
      }
      if (auto* ack = std::get_if<camproto::Ack>(&*frame)) {
        HandleAck(c, *ack);
      } else if (auto* error = std::get_if<camproto::Error>(&*frame)) {
        Violate("unpredicted ERROR", 0, DescribeError(*error));
        conn_.reset();
      } else if (auto* ping = std::get_if<camproto::Ping>(&*frame)) {
        SendPong(c, ping->nonce);
      }
    }
  }

  // A segment the server cannot take (over max_segment_bytes): refused at
  // its header; the camera then gives the seq up, as the reference client
  // drops such segments, and skips it on its next connection.
  void Oversize(Rng& rng) {
    if (!EnsureConsecutive()) return;
    const uint64_t seq = record_.Assign();
    camproto::SegmentHeader header = server_->content.Header(number(), seq, Variant::kCanonical, false);
    header.payload_bytes = server_->max_segment_bytes + 1 + static_cast<uint32_t>(rng.Below(4096));
    log_->Touch(seq, seq);
    log_->Note(absl::StrCat("seq ", seq, " with ", header.payload_bytes, " payload bytes"));
    conn_->sent_high = std::max(conn_->sent_high, seq);
    record_.NoteRefusedFrame(seq, Variant::kOversize);
    // The header and a little payload: the server refuses at the header, and
    // a long tail it never reads would make its close a reset that could
    // destroy the ERROR before this side reads it.
    std::string bytes;
    camproto::AppendSegmentHeader(header, bytes);
    bytes += PayloadOfLength(number(), seq, static_cast<uint32_t>(Variant::kOversize), 256);
    Send(*conn_, bytes);
    AwaitRefusal({.errors = {camproto::ErrorCode::kFrameTooLarge},
                  .refused_seq = seq,
                  .what = absl::StrCat("oversize seq ", seq)},
                 seq);
    record_.GiveUp(seq);
  }

  void InvalidField(Rng& rng) {
    if (!EnsureConsecutive()) return;
    const uint64_t seq = record_.next_new();
    camproto::SegmentHeader h = server_->content.Header(number(), seq, Variant::kCanonical, false);
    const int64_t now_us = absl::ToUnixMicros(absl::Now());
    constexpr int64_t kDayUs = int64_t{86400} * 1'000'000;
    std::string fault;
    switch (rng.Below(9)) {
      case 0:
        h.capture_start_us = now_us - 60 * kDayUs;
        fault = "capture_start_us 60 days ago";
        break;
      case 1:
        h.capture_start_us = now_us + 3 * kDayUs;
        fault = "capture_start_us 3 days ahead";
        break;
      case 2:
        h.capture_start_us = std::numeric_limits<int64_t>::max();
        fault = "capture_start_us INT64_MAX";
        break;
      case 3:
        h.capture_start_us = std::numeric_limits<int64_t>::min();
        fault = "capture_start_us INT64_MIN";
        break;
      case 4:
        h.duration_us = camproto::kMaxSegmentDurationUs + 1;
        fault = "duration_us 600000001";
        break;
      case 5:
        h.duration_us = std::numeric_limits<uint32_t>::max();
        fault = "duration_us UINT32_MAX";
        break;
      case 6:
        h.flags |= 0x04;
        fault = "flags bit 2";
        break;
      case 7:
        h.flags |= 0x80;
        fault = "flags bit 7";
        break;
      default:
        h.flags = 0xFD;
        fault = "flags 0xFD (every reserved bit)";
        break;
    }
    log_->Touch(seq, seq);
    log_->Note(absl::StrCat("seq ", seq, ": ", fault));
    conn_->sent_high = std::max(conn_->sent_high, seq);
    record_.NoteRefusedFrame(seq, Variant::kInvalidField);
    Send(*conn_, SegmentContent::FrameWithHeader(number(), h, Variant::kInvalidField));
    AwaitRefusal({.errors = {camproto::ErrorCode::kInvalidField},
                  .refused_seq = seq,
                  .what = absl::StrCat("seq ", seq, " with ", fault)},
                 seq);
  }

  // A frame cut off (within the frame, or within a TLS record), then the
  // connection drops: the segment was never sent whole.
  void DisconnectMidFrame(Rng& rng) {
    if (!EnsureConnected()) return;
    const uint64_t seq = record_.Assign();
    const std::string frame = server_->content.Frame(number(), seq, Variant::kCanonical, seq != conn_->last_new + 1);
    const size_t cut = 1 + static_cast<size_t>(rng.Below(frame.size() - 1));
    log_->Touch(seq, seq);
    if (rng.Chance(0.5)) {
      log_->Note(absl::StrCat("seq ", seq, ": ", cut, " of ", frame.size(), " frame bytes"));
      Send(*conn_, frame.substr(0, cut));
    } else {
      log_->Note(absl::StrCat("seq ", seq, ": ", cut, " bytes of the TLS records of a ", frame.size(), "-byte frame"));
      conn_->raw->SendPlainCutAt(frame, cut).IgnoreError();
    }
    if (rng.Chance(0.5)) conn_->raw->Abort();
    conn_.reset();
  }

  // A second connection while the first is open: once the second is
  // welcomed the first gets ERROR SUPERSEDED and is closed within a second,
  // and a segment it sends after that is not acknowledged.
  void TwoConnections(Rng& rng) {
    if (!EnsureConnected()) return;
    if (rng.Chance(0.3)) {
      // In flight on the older connection while the newer one says HELLO:
      // stored and acknowledged there, or refused; either way never lost.
      const uint64_t early = record_.Assign();
      log_->Note(absl::StrCat("seq ", early, " in flight on the old connection"));
      Send(*conn_, NewFrames(*conn_, {early}));
      conn_->in_flight_high = early;
    }
    std::unique_ptr<Connection> second = Open();
    if (second == nullptr) return;
    const absl::Time welcomed = absl::Now();
    uint64_t late = 0;
    if (rng.Chance(0.5)) {
      late = record_.Assign();
      log_->Note(absl::StrCat("seq ", late, " on the old connection"));
      Send(*conn_, NewFrames(*conn_, {late}));
    }
    AwaitSuperseded(*conn_, late, welcomed);
    conn_ = std::move(second);
    std::vector<uint64_t> pending = record_.PendingAbove(conn_->base);
    if (pending.empty()) return;
    Send(*conn_, NewFrames(*conn_, pending));
    if (!Await(*conn_, {.ack_at_least = pending.back(), .what = "resume on the newer connection"}, pending.back())) {
      conn_.reset();
    }
  }

  void AwaitSuperseded(Connection& old, uint64_t late, absl::Time since) {
    const absl::Time deadline = since + server_->supersede_within;
    while (true) {
      absl::StatusOr<camproto::ControlFrame> frame =
          old.raw->ReadFrame(std::max(deadline - absl::Now(), absl::ZeroDuration()));
      if (!frame.ok()) {
        Violate(IsConnectionClosed(frame.status()) ? "superseded without ERROR SUPERSEDED"
                                                   : "superseded connection left open",
                late, absl::StrCat("older connection: ", frame.status().message()));
        return;
      }
      if (auto* ack = std::get_if<camproto::Ack>(&*frame)) {
        HandleAck(old, *ack);
        if (late != 0 && ack->seq >= late) {
          Violate("segment on a superseded connection acknowledged", late,
                  absl::StrCat("ACK ", ack->seq, " on the older connection"));
        }
        continue;
      }
      if (auto* error = std::get_if<camproto::Error>(&*frame)) {
        if (error->code != camproto::ErrorCode::kSuperseded) {
          Violate("superseded with another ERROR", late, DescribeError(*error));
        }
        absl::Status closed = old.raw->WaitForClose(std::max(deadline - absl::Now(), absl::Milliseconds(1)));
        if (!closed.ok()) {
          Violate("superseded connection left open", late,
                  absl::StrCat("open ", absl::FormatDuration(absl::Now() - since),
                               " after the newer WELCOME: ", closed.message()));
        } else {
          log_->Note(absl::StrCat("older connection closed after ", absl::FormatDuration(absl::Now() - since)));
        }
        return;
      }
      if (auto* ping = std::get_if<camproto::Ping>(&*frame)) SendPong(old, ping->nonce);
    }
  }

  const ServerView* const server_;
  RunLog* const log_;
  CameraRecord record_;
  std::unique_ptr<Connection> conn_;
  absl::Time offline_until_ = absl::InfinitePast();
};

}  // namespace ingest::testing::oracle

#endif  // TESTS_SUPPORT_ORACLE_RAW_CAMERA_H_
