// How often a camera's index objects are written, and how long a persisted
// segment waits before a reader can find it by time range: the batch
// sealer's index rule (server/batch/batch_sealer.cc, FlushIndexes), followed
// for one camera that records without pause. Pure arithmetic; the
// planner (capacity_plan.h) multiplies it by cameras and prices it.
//
//   IndexFreshness f = ModelIndexWrites(600);
//   f.puts_per_camera_hour;  // 7: six writes, one of them two objects
//   f.worst_delay_s;         // 600
//
// The rule being modelled. A segment joins its camera's index buffer when
// its batch PUT succeeds (the camera gets ACK PERSISTED then). The camera's
// buffer is written once its oldest entry has waited index_interval_s, or
// once the capture hour of its oldest entry has been over for
// kIndexHourGraceS, whichever comes first (and at drain or shutdown). A
// write puts one new object per capture hour its entries fall in, holding
// only the entries since the camera's previous write: nothing is rewritten,
// and a camera with no new segments writes nothing. A reader finds a segment
// by time range only through these objects.
//
// What follows for a camera recording without pause: its windows between
// writes follow one another, so each hour's end falls inside one of them,
// and that write puts two objects (the end of one hour, the start of the
// next). A camera-hour costs one PUT more than it has writes: 7 at 600 s, 2
// at 3,600 s and above. Once the hour rule has fired, writes fall at
// kIndexHourGraceS + k x interval past the hour until it fires again; the
// model follows that cycle from one firing to the next and averages over
// it, which is exact for any whole number of seconds. (Intervals shorter
// than the grace less the lag are never cut: 3,600 / interval writes.)
//
// Assumed, and said so in the plan: segments are persisted
// kAssumedPersistLagS after their capture starts (a 2 s segment, then a
// batch on a busy server). Any lag under the grace gives the same figures
// unless a whole number of intervals falls short of the hour by less than
// the grace (1,190 s: 3 x 1,190 = 3,570). The interval's clock restarts the
// moment a write leaves; the server restarts it when the write returns, or
// with the next segment persisted after that, so its windows run slightly
// longer and the counts here are an upper bound (a few per cent high at
// 60 s). No failed or retried PUTs, no restarts.
#ifndef ZONES_PLAN_INDEX_FRESHNESS_H_
#define ZONES_PLAN_INDEX_FRESHNESS_H_

#include <cstdint>

namespace ingest::zones {

// BatchSealerOptions::index_hour_grace: how long after a capture hour ends
// its last entries are written regardless of the interval.
inline constexpr double kIndexHourGraceS = 120;
// BatchSealerOptions::poll_interval: the sealer checks for due index writes
// once per pass, so a write may start this much after it is due.
inline constexpr double kSealerPassS = 0.1;
// Assumed time from a segment's capture start to ACK PERSISTED.
inline constexpr double kAssumedPersistLagS = 5;

// What one continuously recording camera costs and waits at one interval.
struct IndexFreshness {
  uint32_t interval_s = 0;
  double writes_per_camera_hour = 0;  // index writes (each one or two objects)
  double puts_per_camera_hour = 0;    // index objects = PUTs; also GETs to read the camera-hour back
  // From ACK PERSISTED until the segment's index object is written (then add
  // up to kSealerPassS and the index PUT's own latency).
  double worst_delay_s = 0;    // the longest window between writes
  double typical_delay_s = 0;  // the mean over segments
};

// interval_s as store.index_interval_s: a whole number of seconds, 1..86,400.
IndexFreshness ModelIndexWrites(uint32_t interval_s);

}  // namespace ingest::zones

#endif  // ZONES_PLAN_INDEX_FRESHNESS_H_
