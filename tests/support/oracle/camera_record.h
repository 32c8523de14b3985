// Test support for the model-based oracle test: one camera's own record of
// its life (the model), kept the way proto/README.md tells a camera to keep
// it. Every seq the camera numbered is in one state:
//
//   assigned  numbered, not yet sent whole
//   sent      sent whole at least once, not claimed
//   claimed   an ACK or WELCOME durable_seq at or above it arrived while the
//             camera had not released it: the server has promised to hold it
//   given up  skipped with SKIP (or dropped as undeliverable) before a claim
//
// The camera releases the claimed and given-up seqs; its HELLO
// last_durable_seq is the highest seq below which everything is released.
// Claims are checked as they arrive (a claim of a seq never sent whole, or
// never numbered at all, is a violation at once); the oracle checks the rest
// against the store after the run.
//
//   CameraRecord record(3, "cam-000003", &log);
//   uint64_t seq = record.Assign();
//   record.MarkSent(seq, epoch, absl::Now());
//   record.Claim(ack.seq, "ACK");
//   hello.last_durable_seq = record.released();
#ifndef TESTS_SUPPORT_ORACLE_CAMERA_RECORD_H_
#define TESTS_SUPPORT_ORACLE_CAMERA_RECORD_H_

#include <algorithm>
#include <cstdint>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/support/oracle/run_log.h"
#include "tests/support/oracle/segment_content.h"

namespace ingest::testing::oracle {

// The run's one source of randomness; everything random derives from the seed.
class Rng {
 public:
  explicit Rng(uint64_t seed) : engine_(seed) {}
  // Uniform in [0, n); n > 0. (Modulo bias is irrelevant at these sizes, and
  // unlike std::uniform_int_distribution this is the same on every library.)
  uint64_t Below(uint64_t n) { return engine_() % n; }
  bool Chance(double p) { return static_cast<double>(engine_() >> 11) * 0x1.0p-53 < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[static_cast<size_t>(Below(items.size()))];
  }

 private:
  std::mt19937_64 engine_;
};

enum class SeqState { kAssigned, kSent, kClaimed, kGivenUp };

struct SeqRecord {
  SeqState state = SeqState::kAssigned;
  bool sent_whole = false;  // a whole canonical frame of it went out at least once
  int first_epoch = -1;     // server lifetimes of the first and last whole send
  int last_epoch = -1;
  absl::Time first_sent = absl::InfiniteFuture();
  bool claimed_unsent = false;  // claimed before it was ever sent whole (reported)
  bool renumbered = false;      // claimed although never numbered (reported)
};

class CameraRecord {
 public:
  CameraRecord(int number, std::string id, bool library, RunLog* log)
      : number_(number), id_(std::move(id)), library_(library), log_(log) {}

  int number() const { return number_; }
  const std::string& id() const { return id_; }
  bool library() const { return library_; }

  // Numbers the next segment.
  uint64_t Assign() {
    const uint64_t seq = next_new_++;
    seqs_[seq] = SeqRecord{};
    return seq;
  }
  uint64_t next_new() const { return next_new_; }

  // The camera gives `seq` up (SKIP, or undeliverable); only before a claim.
  void GiveUp(uint64_t seq) {
    SeqRecord& r = seqs_[seq];
    if (r.state == SeqState::kAssigned || r.state == SeqState::kSent) r.state = SeqState::kGivenUp;
    AdvanceReleased();
  }

  // A whole canonical frame of `seq` was written to a connection.
  void MarkSent(uint64_t seq, int epoch, absl::Time now) {
    SeqRecord& r = seqs_[seq];
    if (r.state == SeqState::kAssigned) r.state = SeqState::kSent;
    if (!r.sent_whole) {
      r.sent_whole = true;
      r.first_epoch = epoch;
      r.first_sent = now;
    }
    r.last_epoch = epoch;
    NoteFrame(seq);
  }
  // Any whole frame with this seq (also refused ones): bounds which stored
  // seqs the server can still compare a re-send with.
  void NoteFrame(uint64_t seq) { highest_frame_seq_ = std::max(highest_frame_seq_, seq); }
  uint64_t highest_frame_seq() const { return highest_frame_seq_; }

  // An ACK (any level) or WELCOME durable_seq of `upto` arrived: every seq at
  // or below it the camera has not released is now claimed.
  void Claim(uint64_t upto, const char* how) {
    if (upto <= released_) return;
    if (upto >= next_new_) {
      log_->Violate("claim of a seq never numbered", number_, next_new_,
                    absl::StrCat(how, " ", upto, " but the camera numbered only up to ", next_new_ - 1));
      // Like the reference client, the camera continues after the claim so
      // that it never sends new video under a seq the server says it holds.
      // A runaway value is not walked seq by seq.
      const uint64_t last = std::min(upto, next_new_ + 100000);
      for (uint64_t s = next_new_; s <= last; ++s) {
        seqs_[s] = SeqRecord{.state = SeqState::kGivenUp, .renumbered = true};
      }
      next_new_ = upto + 1;
    }
    for (auto it = seqs_.upper_bound(released_); it != seqs_.end() && it->first <= upto; ++it) {
      SeqRecord& r = it->second;
      if (r.state == SeqState::kAssigned) {
        r.claimed_unsent = true;
        log_->Violate("claim of a seq never sent whole", number_, it->first,
                      absl::StrCat(how, " ", upto, " covers seq ", it->first,
                                   ", which this camera never sent in a complete frame"));
      }
      if (r.state == SeqState::kAssigned || r.state == SeqState::kSent) {
        r.state = SeqState::kClaimed;
        ++claimed_count_;
        log_->Touch(it->first, it->first);
      }
    }
    AdvanceReleased();
  }

  // An ACK PERSISTED of `upto`. While the store is down (since
  // `outage_since`), nothing first sent after that moment can be in it.
  void PersistedAck(uint64_t upto, std::optional<absl::Time> outage_since) {
    if (upto <= persisted_) return;
    if (outage_since.has_value()) {
      for (auto it = seqs_.upper_bound(persisted_); it != seqs_.end() && it->first <= upto; ++it) {
        if (it->second.first_sent > *outage_since && it->second.state != SeqState::kGivenUp) {
          log_->Violate(
              "ACK PERSISTED during an S3 outage", number_, it->first,
              absl::StrCat("ACK PERSISTED ", upto, " covers seq ", it->first, ", first sent ",
                           absl::FormatDuration(it->second.first_sent - *outage_since), " after radosgw was stopped"));
          break;
        }
      }
    }
    persisted_ = upto;
  }

  // HELLO last_durable_seq: everything at or below it is released.
  uint64_t released() const { return released_; }

  // Seqs above `base` the camera still holds, ascending: what a resume re-sends.
  std::vector<uint64_t> PendingAbove(uint64_t base) const {
    std::vector<uint64_t> out;
    for (auto it = seqs_.upper_bound(base); it != seqs_.end(); ++it) {
      if (it->second.state == SeqState::kAssigned || it->second.state == SeqState::kSent) {
        out.push_back(it->first);
      }
    }
    return out;
  }

  // Claimed seqs above `lowest`, for re-sends.
  std::vector<uint64_t> ClaimedAbove(uint64_t lowest) const {
    std::vector<uint64_t> out;
    for (auto it = seqs_.upper_bound(lowest); it != seqs_.end(); ++it) {
      if (it->second.state == SeqState::kClaimed && it->second.sent_whole) out.push_back(it->first);
    }
    return out;
  }

  bool AllSettled() const { return PendingAbove(0).empty(); }

  const std::map<uint64_t, SeqRecord>& seqs() const { return seqs_; }
  const SeqRecord* Find(uint64_t seq) const {
    auto it = seqs_.find(seq);
    return it == seqs_.end() ? nullptr : &it->second;
  }
  uint64_t claimed_count() const { return claimed_count_; }

  // Frames of other contents than the canonical one (all refused by
  // protocol), as (seq, variant): none of them may ever be stored.
  void NoteRefusedFrame(uint64_t seq, Variant variant) {
    refused_frames_.emplace_back(seq, variant);
    NoteFrame(seq);
  }
  const std::vector<std::pair<uint64_t, Variant>>& refused_frames() const { return refused_frames_; }

 private:
  void AdvanceReleased() {
    while (true) {
      auto it = seqs_.find(released_ + 1);
      if (it == seqs_.end()) {
        // A gap below next_new_ exists only after a runaway claim jumped the
        // numbering; those seqs count as released.
        if (released_ + 1 >= next_new_) return;
        auto next = seqs_.upper_bound(released_);
        released_ = next == seqs_.end() ? next_new_ - 1 : next->first - 1;
        continue;
      }
      if (it->second.state != SeqState::kClaimed && it->second.state != SeqState::kGivenUp) return;
      ++released_;
    }
  }

  const int number_;
  const std::string id_;
  const bool library_;
  RunLog* const log_;
  std::map<uint64_t, SeqRecord> seqs_;
  uint64_t next_new_ = 1;
  uint64_t released_ = 0;
  uint64_t persisted_ = 0;
  uint64_t highest_frame_seq_ = 0;
  uint64_t claimed_count_ = 0;
  std::vector<std::pair<uint64_t, Variant>> refused_frames_;
};

}  // namespace ingest::testing::oracle

#endif  // TESTS_SUPPORT_ORACLE_CAMERA_RECORD_H_
