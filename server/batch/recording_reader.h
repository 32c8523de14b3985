// Reading recordings back from the batch layout (docs/storage-layout.md): a
// camera's segments are found through its per-camera-hour index objects
// (CIX1) and fetched with range reads from the batch objects (CBT1) they name,
// so a read never lists or opens batches that hold none of its segments.
//
//   RecordingReader reader(&store, "dev");
//   ASSIGN_OR_RETURN(std::vector<RecordedRange> ranges, reader.Ranges("cam-1"));
//   ASSIGN_OR_RETURN(ExportStats stats, reader.Export("cam-1", from_us, to_us,
//       [&](absl::Span<const uint8_t> payload) { return out.Write(payload); }));
//   ASSIGN_OR_RETURN(VerifyReport report, reader.Verify(""));  // the whole zone
//
// A store may hold damaged or hostile data (a torn copy, a bit flip, a
// segment an older server accepted with an absurd time). Ranges, Locations
// and Export stop at the first such item with DataLoss naming it;
// RangesSkippingBad and ExportSkippingBad report each one and go on with the
// rest, and Verify always does. A failing store is an error for all of them.
#ifndef SERVER_BATCH_RECORDING_READER_H_
#define SERVER_BATCH_RECORDING_READER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/functional/function_ref.h"
#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "server/batch/segment_location.h"
#include "server/store/object_store.h"

namespace ingest {

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

// One damaged or hostile item of the store: an index object that is not an
// intact CIX1 object, an index entry that cannot be real (time outside the
// accepted window, offset or batch outside the layout), a payload that is
// missing, outside its batch or fails its CRC, a batch whose own index is
// unreadable. Strings are printable ASCII: bytes read from the store are
// escaped before they get here.
struct ReadProblem {
  std::string key;              // the object it is in (or, for a missing batch, should be)
  std::string camera;           // whose index or segment it is; empty if not one camera's
  std::optional<uint64_t> seq;  // the segment, when it is one segment's problem
  std::string message;          // what is wrong; names the camera and seq too, to read alone
};
using VerifyProblem = ReadProblem;

// "<key>: <message>", the way a log line or an error names a problem.
std::string ProblemText(const ReadProblem& problem);

struct RangesReport {
  std::vector<RecordedRange> ranges;  // of the camera's intact entries only
  std::vector<ReadProblem> skipped;   // index objects and entries left out, in the order found
};

struct ExportStats {
  uint64_t segments = 0;
  uint64_t bytes = 0;
  uint64_t first_seq = 0;
  uint64_t last_seq = 0;
  uint64_t duplicates_skipped = 0;  // further stored copies of a seq (a seal redone after a crash)
  uint64_t reindexed_skipped = 0;   // the same stored payload indexed again (not a second copy)
  uint64_t conflicting_copies = 0;  // of those, copies whose length or CRC differ from the one sent
  // fMP4 initialization segments sent before the segments that need them
  // (from the camera's ~init stream, metadata_streams.h); not in `segments`
  // or `bytes`.
  uint64_t init_segments = 0;
  uint64_t init_bytes = 0;
  // ExportSkippingBad only: segments of the range it could not send (every
  // copy bad), and every problem met — also bad copies another copy replaced
  // and index objects it could not read (whose segments it cannot count).
  uint64_t segments_skipped = 0;
  std::vector<ReadProblem> problems;
};

struct VerifyReport {
  uint64_t objects = 0;  // index_objects + batch_objects
  uint64_t index_objects = 0;
  uint64_t batch_objects = 0;
  uint64_t segments = 0;                // payloads whose CRC was checked
  uint64_t bytes = 0;                   // their bytes
  std::vector<VerifyProblem> problems;  // empty when everything checked out
};

// Receives exported payloads in seq order; an error stops the export.
using PayloadSink = std::function<absl::Status(absl::Span<const uint8_t>)>;

// A batch object's own index, read from its trailer and footer.
struct BatchFooter {
  uint64_t object_size = 0;
  std::vector<SegmentLocation> entries;  // batch_key filled in, in stored order
};

// Reads the trailer and index of the batch object `key` with one Head and two
// range reads. NotFound if the object is missing, DataLoss (naming the key) if
// it is not an intact CBT1 object, other errors for a failing store.
absl::StatusOr<BatchFooter> ReadBatchFooter(ObjectStore& store, std::string_view key);

// Reads one zone's recordings. Thread-compatible; the store must outlive it.
class RecordingReader {
 public:
  RecordingReader(ObjectStore* store, std::string zone);

  // Camera ids with an index folder in the zone, sorted.
  absl::StatusOr<std::vector<std::string>> Cameras();

  // The camera's recorded time ranges, oldest first. Reads every index object
  // of the camera (never a batch); a seq indexed twice counts once (the copy
  // in the first index object by key order). DataLoss naming the object if an
  // index object is corrupt or holds an entry that cannot be real.
  absl::StatusOr<std::vector<RecordedRange>> Ranges(std::string_view camera);

  // As Ranges, but a corrupt index object or an entry that cannot be real (a
  // capture start outside CaptureStartInBounds, an offset or batch key outside
  // the layout) is reported in `skipped` and left out; the ranges are those of
  // every intact entry. Errors only for a failing store or a bad camera id.
  absl::StatusOr<RangesReport> RangesSkippingBad(std::string_view camera);

  // Where the segments Export would send live, in seq order and each seq
  // once, without reading any payload.
  absl::StatusOr<std::vector<SegmentLocation>> Locations(std::string_view camera, int64_t from_us, int64_t to_us);

  // Sends to `sink`, in seq order and each seq once, the payload of every
  // segment whose capture interval [start, start + duration) overlaps
  // [from_us, to_us) (a zero-length segment counts if its start is inside).
  // An fMP4 segment is preceded by its initialization segment whenever that
  // differs from the last one sent, so the output plays from its first byte;
  // one missing is a problem (DataLoss here).
  // Reads only the index hours that can hold such segments, and fetches
  // payloads with range reads, adjacent ones of a batch together. Every
  // payload's CRC is checked before it is sent: DataLoss naming the batch,
  // camera and seq on a mismatch, a missing batch object or a payload outside
  // it, and DataLoss naming the object for a bad index object or entry.
  absl::StatusOr<ExportStats> Export(std::string_view camera, int64_t from_us, int64_t to_us, const PayloadSink& sink);

  // As Export, but every bad item is reported in `problems` and skipped, and
  // every good segment of the range is sent. A seq whose copy is bad is sent
  // from another intact copy if one is indexed (a seal retried after a
  // crash), else counted in `segments_skipped`. Errors only for a failing
  // store, a bad camera id, or an error from `sink` (which stops the export).
  absl::StatusOr<ExportStats> ExportSkippingBad(std::string_view camera, int64_t from_us, int64_t to_us,
                                                const PayloadSink& sink);

  // Checks every index object of `camera` (every camera of the zone if empty)
  // and every batch object they name: index CRCs, each index entry against the
  // batch's own index, copies of one seq that disagree, and payload CRCs (for
  // one camera its own payloads; for the zone every payload of each batch,
  // once). Problems are reported, not returned as errors, and the check goes
  // on past each; errors are for a failing store or a bad camera id.
  absl::StatusOr<VerifyReport> Verify(std::string_view camera);

 private:
  struct Selection {
    std::vector<SegmentLocation> locations;     // the first copy of each seq, in seq order
    std::vector<SegmentLocation> later_copies;  // the others, by seq (stable): stand-ins for a bad first copy
    uint64_t duplicates = 0;
    uint64_t conflicts = 0;
    uint64_t reindexed = 0;
  };
  // What a read does with a bad item: OK to skip it and go on, an error to
  // stop with that error.
  using ProblemHandler = absl::FunctionRef<absl::Status(ReadProblem)>;
  struct VerifyState {
    bool whole_batches = false;  // zone-wide: every payload of a batch, once
    absl::flat_hash_set<std::string> batches_seen;
    absl::flat_hash_set<std::string> bad_batches;  // missing or corrupt, reported once
    VerifyReport report;
  };
  // (length, crc32c) of the first copy of each seq of the camera being verified.
  using FirstCopies = absl::flat_hash_map<uint64_t, std::pair<uint32_t, uint32_t>>;
  using HourVisitor = absl::FunctionRef<absl::Status(int64_t hour_start_us, const std::vector<ObjectInfo>&)>;

  // Calls `visit` with the index objects of every hour folder of `camera`
  // within [earliest_hour_us, latest_hour_us], oldest hour first, keys sorted.
  absl::Status ForEachIndexHour(std::string_view camera, int64_t earliest_hour_us, int64_t latest_hour_us,
                                HourVisitor visit);
  // The camera's day folders that can hold those hours.
  absl::StatusOr<std::vector<std::string>> DayFolders(std::string_view camera, int64_t earliest_hour_us,
                                                      int64_t latest_hour_us);
  // Reads, decodes and validates one index object of `camera`: its intact
  // entries. A bad object or entry goes to `on_problem` and is left out.
  absl::StatusOr<std::vector<SegmentLocation>> ReadIndexObject(std::string_view camera, const ObjectInfo& object,
                                                               ProblemHandler on_problem);
  // Why an index entry cannot be real, if it cannot.
  std::optional<std::string> EntryProblem(const SegmentLocation& e) const;
  absl::StatusOr<std::vector<RecordedRange>> CollectRanges(std::string_view camera, ProblemHandler on_problem);
  absl::StatusOr<Selection> Select(std::string_view camera, int64_t from_us, int64_t to_us, ProblemHandler on_problem);
  // The intact entries of the camera's ~init stream, each seq once, in seq
  // order (an init is a few KiB, pushed once per encoder start: few).
  absl::StatusOr<std::vector<SegmentLocation>> InitLocations(std::string_view camera, ProblemHandler on_problem);
  absl::StatusOr<ExportStats> ExportWith(std::string_view camera, int64_t from_us, int64_t to_us,
                                         const PayloadSink& sink, ProblemHandler on_problem);

  absl::Status VerifyCamera(std::string_view camera, VerifyState& state);
  absl::Status VerifyHour(std::string_view camera, int64_t hour_start_us, const std::vector<ObjectInfo>& objects,
                          FirstCopies& first_copies, VerifyState& state);
  absl::Status VerifyBatch(const std::string& batch_key, const std::vector<SegmentLocation>& referenced,
                           VerifyState& state);
  absl::Status VerifyPayloads(const std::string& batch_key, std::vector<SegmentLocation> entries, VerifyState& state);

  ObjectStore* const store_;
  const std::string zone_;
  const std::string batches_prefix_;  // "<zone>/batches/": every batch key an index may name
};

}  // namespace ingest

#endif  // SERVER_BATCH_RECORDING_READER_H_
