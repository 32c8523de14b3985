// What a CameraSession needs from the shard that runs it. Keeping this an
// interface lets the protocol logic be tested without a ring or sockets.
#ifndef SERVER_SESSION_SESSION_HOST_H_
#define SERVER_SESSION_SESSION_HOST_H_

#include <cstdint>

#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "server/session/camera_registry.h"
#include "server/session/segment_buffer_pool.h"
#include "server/session/zone_admission.h"

namespace ingest {

class CameraSession;

// Things a session counts that the host aggregates (metrics).
enum class SessionEvent {
  kDuplicate,            // a re-send with the same contents: ACKed again
  kRefusedBadSequence,   // BAD_SEQUENCE
  kRefusedMismatch,      // SEGMENT_MISMATCH
  kRefusedInvalidField,  // INVALID_FIELD
};

class SessionHost {
 public:
  virtual ~SessionHost() = default;

  // Memory for one spool record of `bytes`; data == nullptr means "not now"
  // (memory budget or spool full): the session pauses reading and the host
  // resumes it later.
  virtual SegmentBuffer AllocateRecord(size_t bytes) = 0;
  virtual void ReleaseRecord(const SegmentBuffer& buffer) = 0;

  // Hands a complete spool record (header + payload, `record_bytes` long) to
  // the group commit. The host owns `buffer` from here on and calls
  // session.OnDurable(seq, payload_bytes) once the record is fsync'd (if the
  // session still exists).
  virtual void SpoolRecord(CameraSession& session, const SegmentBuffer& buffer, size_t record_bytes, uint64_t seq,
                           uint32_t payload_bytes) = 0;

  virtual CameraRegistry& registry() = 0;
  virtual uint64_t NextSessionId() = 0;
  // Which cameras this server takes (zone map); null admits everyone.
  virtual const ZoneAdmission* admission() const { return nullptr; }
  // The server's clock, for the capture window (a seam for tests).
  virtual int64_t NowUnixMicros() const { return absl::ToUnixMicros(absl::Now()); }
  virtual void Count(SessionEvent /*event*/) {}
};

}  // namespace ingest

#endif  // SERVER_SESSION_SESSION_HOST_H_
