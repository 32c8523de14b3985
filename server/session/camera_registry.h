// What this process knows about each camera, shared by all shards: the
// highest sequence accepted into a spool, made durable, and persisted to the
// store, and which session currently speaks for the camera.
//
// It is what makes resume safe when a camera reconnects, possibly to another
// shard: a re-sent segment at or below `accepted` is acknowledged but not
// stored again, and a new session waits to be welcomed until everything its
// predecessor accepted is durable (so a camera's spool records are always
// durable in sequence order, which the sealer relies on).
//
//   CameraState& cam = registry.Get("cam-000001");
//   uint64_t token = cam.Claim();            // on HELLO
//   if (cam.accepted() > cam.durable()) ...  // predecessor still committing
//
// It also remembers what the last kRememberedSegments segments of each
// camera were (a fingerprint of their contents), so a re-sent segment can be
// told from a different one with the same seq (proto/README.md, "Re-sends").
//
// Thread-safe. Entries are never removed while the process runs (one small
// entry per camera ever seen, ~100 bytes, plus ~0.5 KiB once it sent a
// segment).
#ifndef SERVER_SESSION_CAMERA_REGISTRY_H_
#define SERVER_SESSION_CAMERA_REGISTRY_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"

namespace ingest {

// What identifies a segment's contents: its payload CRC-32C and size, and the
// header fields a re-send must repeat (capture time, duration, keyframe).
struct SegmentFingerprint {
  uint32_t payload_crc = 0;
  uint32_t payload_bytes = 0;
  int64_t capture_start_us = 0;
  uint32_t duration_us = 0;
  bool keyframe = false;

  friend bool operator==(const SegmentFingerprint&, const SegmentFingerprint&) = default;
};

// One track of a camera's fMP4 initialization segment, as far as timing goes
// (HTTPS ingest reads each fragment's duration with it; fmp4_timing.h).
struct TrackTiming {
  uint32_t track_id = 0;
  uint32_t timescale = 0;                // ticks per second (mdhd)
  uint32_t default_sample_duration = 0;  // ticks (trex); 0 when not given

  friend bool operator==(const TrackTiming&, const TrackTiming&) = default;
};

// How many of a camera's most recent segments the server can compare a
// re-send against (proto/README.md promises this number).
inline constexpr size_t kRememberedSegments = 32;

inline constexpr int kSessionLogBurst = 5;
inline constexpr absl::Duration kSessionLogInterval = absl::Seconds(30);

class CameraState {
 public:
  explicit CameraState(std::string id) : id_(std::move(id)) {}

  const std::string& id() const { return id_; }

  // Makes the caller the camera's only live session; returns its token. An
  // older session sees owner() change and closes.
  uint64_t Claim() { return owner_.fetch_add(1, std::memory_order_acq_rel) + 1; }
  uint64_t owner() const { return owner_.load(std::memory_order_acquire); }

  // Accepts `seq` if it is above everything accepted so far (only the owner
  // calls this, so a plain check-then-store is race-free).
  bool TryAccept(uint64_t seq) {
    if (seq <= accepted_.load(std::memory_order_relaxed)) return false;
    accepted_.store(seq, std::memory_order_release);
    return true;
  }
  void RaiseDurable(uint64_t seq) { RaiseTo(durable_, seq); }
  void RaisePersisted(uint64_t seq) { RaiseTo(persisted_, seq); }
  // Recovery: everything up to `seq` is already on disk.
  void SeedDurable(uint64_t seq) {
    RaiseTo(accepted_, seq);
    RaiseTo(durable_, seq);
  }

  // Notes the contents of an accepted (or recovered) seq; keeps the last
  // kRememberedSegments by seq.
  void Remember(uint64_t seq, const SegmentFingerprint& fingerprint);
  // The contents of `seq` if it is among the remembered ones.
  std::optional<SegmentFingerprint> Recall(uint64_t seq) const;

  // The tracks of the fMP4 initialization segment the camera last pushed
  // (empty before one, and after a restart until it pushes one again): any
  // connection of the camera reads fragment durations with them.
  void set_track_timing(std::vector<TrackTiming> tracks);
  std::vector<TrackTiming> track_timing() const;
  // The camera's last fMP4 segment stored without a duration (no init known
  // here): the playlist that lists it next gives its track's timescale.
  struct UntimedFragment {
    uint64_t seq = 0;
    uint32_t track_id = 0;
    uint64_t ticks = 0;
  };
  void set_untimed_fragment(std::optional<UntimedFragment> fragment);
  std::optional<UntimedFragment> untimed_fragment() const;

  // Paces this camera's session_open lines (and their session_close), so a
  // camera reconnecting in a tight loop cannot flood the log while every
  // ordinary reconnect is still logged: kSessionLogBurst sessions at once,
  // then one per kSessionLogInterval. Lock-free (the camera may reconnect to
  // another shard). On true, `suppressed` is how many were skipped since the
  // last logged one.
  bool AllowSessionLog(absl::Time now, uint64_t& suppressed);

  uint64_t accepted() const { return accepted_.load(std::memory_order_acquire); }
  uint64_t durable() const { return durable_.load(std::memory_order_acquire); }
  uint64_t persisted() const { return persisted_.load(std::memory_order_acquire); }

 private:
  // GCRA: the time (unix us) at which the bucket would be full again.
  std::atomic<int64_t> log_full_at_us_{0};
  std::atomic<uint64_t> log_suppressed_{0};

  static void RaiseTo(std::atomic<uint64_t>& value, uint64_t seq) {
    uint64_t current = value.load(std::memory_order_relaxed);
    while (seq > current && !value.compare_exchange_weak(current, seq, std::memory_order_acq_rel)) {
    }
  }

  struct RememberedSegment {
    uint64_t seq = 0;  // 0: empty slot
    SegmentFingerprint fingerprint;
  };

  const std::string id_;
  // Touched once per segment by the camera's owner; a mutex because an old
  // owner may still be finishing a segment when a new connection takes over.
  mutable absl::Mutex remembered_mu_;
  // Slot seq % kRememberedSegments; allocated with the first segment.
  std::unique_ptr<std::array<RememberedSegment, kRememberedSegments>> remembered_ ABSL_GUARDED_BY(remembered_mu_);
  std::vector<TrackTiming> track_timing_ ABSL_GUARDED_BY(remembered_mu_);
  std::optional<UntimedFragment> untimed_fragment_ ABSL_GUARDED_BY(remembered_mu_);
  std::atomic<uint64_t> owner_{0};
  std::atomic<uint64_t> accepted_{0};
  std::atomic<uint64_t> durable_{0};
  std::atomic<uint64_t> persisted_{0};
};

class CameraRegistry {
 public:
  // The state for `camera_id`, created on first use. The reference stays valid
  // for the registry's lifetime.
  CameraState& Get(std::string_view camera_id);
  // Cameras known, not counting their metadata streams (ids with a '~',
  // server/spool/metadata_streams.h), which the registry also keeps.
  size_t size() const;

 private:
  mutable absl::Mutex mu_;
  absl::flat_hash_map<std::string, std::unique_ptr<CameraState>> cameras_ ABSL_GUARDED_BY(mu_);
  size_t metadata_streams_ ABSL_GUARDED_BY(mu_) = 0;
};

}  // namespace ingest

#endif  // SERVER_SESSION_CAMERA_REGISTRY_H_
