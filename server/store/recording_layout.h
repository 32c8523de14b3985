// Where recordings live in the object store, and reading them back. One pack
// object per sealed batch of one camera's segments, at
//
//   <zone>/<camera>/<YYYY-MM-DD>/<HH>/<first_capture_us:20>-<first_seq:20>-<last_seq:20>.cpk
//
// dated by the UTC capture start of the batch's first segment. The sealer
// never lets a pack cross an hour: every segment of a pack starts in the hour
// its folder names, so a time-range read lists only the folders it needs.
// docs/storage-layout.md explains the choices.
//
//   RecordingReader reader(&store, "dev");
//   ASSIGN_OR_RETURN(std::vector<RecordedRange> ranges, reader.Ranges("cam-1"));
//   ASSIGN_OR_RETURN(ExportStats stats, reader.Export("cam-1", from_us, to_us,
//       [&](absl::Span<const uint8_t> payload) { return out.Write(payload); }));
#ifndef SERVER_STORE_RECORDING_LAYOUT_H_
#define SERVER_STORE_RECORDING_LAYOUT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/store/object_store.h"
#include "server/store/segment_pack.h"

namespace ingest {

inline constexpr int64_t kMicrosPerHour = int64_t{3600} * 1000 * 1000;

// The capture time a key is dated by: clamped to [0, end of year 9999], so a
// camera with a broken clock still gets a well-formed key (its index keeps
// the true value).
int64_t RecordingKeyTimeUs(int64_t capture_start_us);

// Start of the UTC hour (of RecordingKeyTimeUs) a segment's pack is filed under.
int64_t RecordingHourStartUs(int64_t capture_start_us);

// "<zone>/<camera>/".
std::string RecordingCameraPrefix(std::string_view zone, std::string_view camera);

// The key of a pack whose first segment (lowest seq) starts at first_capture_us.
std::string RecordingKey(std::string_view zone, std::string_view camera, int64_t first_capture_us,
                         uint64_t first_seq, uint64_t last_seq);

struct RecordingKeyParts {
  std::string zone;
  std::string camera;
  int64_t first_capture_us = 0;  // as in the key (clamped)
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
};

// Splits a key made by RecordingKey. InvalidArgument for anything else.
absl::StatusOr<RecordingKeyParts> ParseRecordingKey(std::string_view key);

// The highest seq stored for the camera (0 if none), from the keys in its
// newest non-empty hour folder; used by the sealer to skip segments sealed
// before a crash. A camera clock stepping back across an hour can hide a
// higher seq in an older folder; readers tolerate the duplicates that causes.
absl::StatusOr<uint64_t> HighestStoredSeq(ObjectStore& store, std::string_view zone,
                                          std::string_view camera);

// A stretch of contiguous recording: consecutive seqs, each segment starting
// no later than kRangeGapToleranceUs after the previous one ended.
struct RecordedRange {
  int64_t start_us = 0;
  int64_t end_us = 0;  // capture end of the last segment
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t segments = 0;
  uint64_t bytes = 0;
};
inline constexpr int64_t kRangeGapToleranceUs = 1'000'000;

struct ExportStats {
  uint64_t segments = 0;
  uint64_t bytes = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t duplicates_skipped = 0;  // copies of a seq found in a second object
};

struct VerifyProblem {
  std::string key;
  std::string message;
};

struct VerifyReport {
  uint64_t objects = 0;
  uint64_t segments = 0;
  uint64_t bytes = 0;
  std::vector<VerifyProblem> problems;  // empty when everything checked out
};

// Receives exported payloads in seq order; an error stops the export.
using PayloadSink = std::function<absl::Status(absl::Span<const uint8_t>)>;

// Reads one zone's recordings. Thread-compatible; the store must outlive it.
class RecordingReader {
 public:
  RecordingReader(ObjectStore* store, std::string zone);

  // Camera ids with at least one folder in the zone, sorted.
  absl::StatusOr<std::vector<std::string>> Cameras();

  // The camera's recorded time ranges, oldest first (reads every pack index).
  absl::StatusOr<std::vector<RecordedRange>> Ranges(std::string_view camera);

  // Sends to `sink`, in seq order and each seq once, the payload of every
  // segment whose capture interval [start, start + duration) overlaps
  // [from_us, to_us) (a zero-length segment counts if its start is inside).
  // Every payload's CRC is checked before it is sent: DataLoss on a mismatch.
  absl::StatusOr<ExportStats> Export(std::string_view camera, int64_t from_us, int64_t to_us,
                                     const PayloadSink& sink);

  // Checks every pack of `camera` (every camera of the zone if empty): key
  // format, header CRC, index against the key, each payload's CRC. Problems
  // are reported, not returned as errors; errors are for a failing store.
  absl::StatusOr<VerifyReport> Verify(std::string_view camera);

 private:
  struct IndexedPack {
    ObjectInfo object;
    PackIndex index;
  };
  // Reads the index of every pack of `camera` in `objects` (keys parsed OK).
  absl::StatusOr<std::vector<IndexedPack>> ReadIndexes(const std::vector<ObjectInfo>& objects);
  absl::StatusOr<PackIndex> ReadIndex(const ObjectInfo& object);

  ObjectStore* const store_;
  const std::string zone_;
};

}  // namespace ingest

#endif  // SERVER_STORE_RECORDING_LAYOUT_H_
