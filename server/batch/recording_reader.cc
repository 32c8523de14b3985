#include "server/batch/recording_reader.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/time.h"
#include "common/crc32c.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "server/batch/batch_layout.h"
#include "server/batch/batch_object.h"
#include "server/batch/camera_index.h"
#include "server/spool/metadata_streams.h"

namespace ingest {
namespace {

constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;
// A segment lasts at most this long (duration_us is a u32), so only segments
// starting at most this long before a range can overlap it.
constexpr int64_t kMaxSegmentDurationUs = std::numeric_limits<uint32_t>::max();
// Wider ranges list the camera's day folders instead of trying each day.
constexpr int64_t kMaxDaysListedOneByOne = 62;
// One range read fetches at most this much...
constexpr uint64_t kMaxRangeReadBytes = 32 << 20;
// ...and reads over a gap of up to this many bytes (other cameras' payloads)
// rather than paying another request's latency for the next payload.
constexpr uint64_t kMaxCoalescedGapBytes = 256 << 10;
// Bounds on what a CRC-valid but wrong index may make us read or allocate.
constexpr uint64_t kMaxBatchIndexBytes = 64 << 20;
constexpr uint64_t kMaxBatchOffset = uint64_t{1} << 48;
constexpr std::string_view kIndexSuffix = ".cix";
// Untrusted strings quoted in a problem are cut to this many bytes.
constexpr size_t kMaxQuotedBytes = 200;

absl::Status WithContext(const absl::Status& status, std::string_view context) {
  return absl::Status(status.code(), absl::StrCat(ToAbsl(context), ": ", status.message()));
}

// Bytes read from the store (a camera id in an index, a batch key, a listed
// name) as printable ASCII of at most about kMaxQuotedBytes: a problem report
// must not carry control characters, invalid UTF-8 or 64 KiB of garbage to a
// terminal or into JSON. Anything else becomes \xNN.
std::string Printable(std::string_view untrusted) {
  std::string out;
  for (const char ch : untrusted) {
    if (out.size() >= kMaxQuotedBytes) {
      absl::StrAppend(&out, "...(", untrusted.size(), " bytes)");
      break;
    }
    const auto c = static_cast<unsigned char>(ch);
    if (c >= 0x20 && c < 0x7f && c != '\\') {
      out.push_back(ch);
    } else {
      absl::StrAppendFormat(&out, "\\x%02x", c);
    }
  }
  return out;
}

// "YYYY-MM-DD" of a time inside the accepted capture times.
std::string DayUtc(int64_t us) { return absl::FormatTime("%Y-%m-%d", absl::FromUnixMicros(us), absl::UTCTimeZone()); }

// A problem with one segment: "camera C seq N: <what>".
ReadProblem SegmentProblem(std::string_view key, const SegmentLocation& e, std::string_view what) {
  const std::string camera = Printable(e.camera);
  return {Printable(key), camera, e.seq, absl::StrCat("camera ", camera, " seq ", e.seq, ": ", ToAbsl(what))};
}

absl::Status FirstProblemIsDataLoss(ReadProblem problem) { return absl::DataLossError(ProblemText(problem)); }

bool IsDataError(const absl::Status& status) {
  return absl::IsDataLoss(status) || absl::IsNotFound(status) || absl::IsInvalidArgument(status) ||
         absl::IsOutOfRange(status);
}

absl::Status ValidateCameraId(std::string_view camera) {
  if (camera.empty() || camera.size() > 255 || camera.find('/') != std::string_view::npos ||
      !ValidateObjectKey(camera).ok()) {
    return absl::InvalidArgumentError(absl::StrCat("not a camera id: '", ToAbsl(camera), "'"));
  }
  return absl::OkStatus();
}

// The hour an index hour folder ("<camera prefix>YYYY-MM-DD/HH/") names, if
// it is exactly the folder our layout writes for that hour.
std::optional<int64_t> ParseHourFolder(std::string_view zone, std::string_view camera, std::string_view folder) {
  const std::string prefix = CameraIndexPrefix(zone, camera);
  if (folder.size() != prefix.size() + 14 || !folder.starts_with(prefix)) return std::nullopt;
  const std::string_view rest = folder.substr(prefix.size());
  absl::StatusOr<int64_t> hour = ParseIndexHourFolders(rest.substr(0, 10), rest.substr(11, 2));
  if (!hour.ok() || CameraIndexHourPrefix(zone, camera, *hour) != folder) return std::nullopt;
  return *hour;
}

// An index object directly in `hour_folder`; anything else there is not ours.
bool IsIndexObjectKey(std::string_view hour_folder, std::string_view key) {
  if (!key.starts_with(hour_folder)) return false;
  const std::string_view name = key.substr(hour_folder.size());
  return name.size() > kIndexSuffix.size() && name.ends_with(kIndexSuffix) && name.find('/') == std::string_view::npos;
}

template <typename Entry>
bool SeqLess(const Entry& a, const Entry& b) {
  return a.seq < b.seq;
}

// True when two index entries point at the same stored payload: the same
// segment indexed twice (an index write retried with more entries after its
// first answer was lost, or an index written again after a restart), not a
// second stored copy. Entries that do not carry a location never match.
template <typename Entry>
bool SameStoredPayload(const Entry& a, const Entry& b) {
  if constexpr (requires { a.batch_key; a.offset; }) {
    return a.batch_key == b.batch_key && a.offset == b.offset && a.length == b.length && a.crc32c == b.crc32c;
  } else {
    return false;
  }
}

// Stable-sorts `entries` by seq and keeps the first copy of each seq. The
// same payload indexed again counts as `reindexed`; a second stored copy (a
// seal redone after a crash into another batch) as a duplicate, and as a
// conflict too when its length or CRC differ. Further stored copies go to
// `later_copies` (if given), still sorted by seq.
template <typename Entry>
void KeepFirstCopyOfEachSeq(std::vector<Entry>& entries, uint64_t& duplicates, uint64_t& conflicts,
                            uint64_t& reindexed, std::vector<Entry>* later_copies = nullptr) {
  std::stable_sort(entries.begin(), entries.end(), SeqLess<Entry>);
  size_t kept = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (kept > 0 && entries[kept - 1].seq == entries[i].seq) {
      if (SameStoredPayload(entries[kept - 1], entries[i])) {
        ++reindexed;
        continue;
      }
      ++duplicates;
      if (entries[kept - 1].length != entries[i].length || entries[kept - 1].crc32c != entries[i].crc32c) {
        ++conflicts;
      }
      if (later_copies != nullptr) later_copies->push_back(std::move(entries[i]));
      continue;
    }
    if (kept != i) entries[kept] = std::move(entries[i]);
    ++kept;
  }
  entries.resize(kept);
}

using PayloadVisitor = absl::FunctionRef<absl::Status(const SegmentLocation&, absl::Span<const uint8_t>)>;
// An entry whose payload cannot be read, and why (its batch object is
// missing, or the payload lies past the object's end).
using UnreadableVisitor = absl::FunctionRef<absl::Status(const SegmentLocation&, std::string_view why)>;

// Where the run of entries starting at `begin` ends: the following entries of
// the same batch that lie at or after the run's end, close enough, within the
// read cap. Offsets grow along a run.
size_t RunEnd(absl::Span<const SegmentLocation> entries, size_t begin) {
  const SegmentLocation& first = entries[begin];
  uint64_t end = first.offset + first.length;
  size_t i = begin + 1;
  for (; i < entries.size(); ++i) {
    const SegmentLocation& e = entries[i];
    if (e.batch_key != first.batch_key || e.offset < end || e.offset - end > kMaxCoalescedGapBytes ||
        e.offset + e.length - first.offset > kMaxRangeReadBytes) {
      break;
    }
    end = e.offset + e.length;
  }
  return i;
}

// Reads the payloads of `entries` (offsets validated: at most
// kMaxBatchOffset, so no sum here overflows) and hands each to `visit`, or to
// `unreadable`, in the given order, with one range read per run of RunEnd.
// A read returns what the object holds of the range, so every allocation is
// bounded by the real object, whatever length an entry claims.
absl::Status ReadPayloads(ObjectStore& store, absl::Span<const SegmentLocation> entries, PayloadVisitor visit,
                          UnreadableVisitor unreadable) {
  absl::flat_hash_set<std::string> missing;  // batch objects already found missing: not asked again
  for (size_t begin = 0; begin < entries.size();) {
    const size_t end = RunEnd(entries, begin);
    const SegmentLocation& first = entries[begin];
    const SegmentLocation& last = entries[end - 1];
    const uint64_t length = last.offset + last.length - first.offset;
    absl::StatusOr<std::vector<uint8_t>> bytes = missing.contains(first.batch_key)
                                                     ? absl::NotFoundError("missing")
                                                     : store.GetRange(first.batch_key, first.offset, length);
    // OutOfRange: the run starts past the object's end; a short read: it
    // ends past it. Either way only entries past the end are lost.
    if (!bytes.ok() && !absl::IsNotFound(bytes.status()) && !absl::IsOutOfRange(bytes.status())) {
      return WithContext(bytes.status(), first.batch_key);
    }
    if (absl::IsNotFound(bytes.status())) missing.insert(first.batch_key);
    for (size_t i = begin; i < end; ++i) {
      const SegmentLocation& e = entries[i];
      const uint64_t at = e.offset - first.offset;
      if (bytes.ok() && at + e.length <= bytes->size()) {
        RETURN_IF_ERROR(visit(e, absl::Span<const uint8_t>(bytes->data() + at, e.length)));
      } else if (absl::IsNotFound(bytes.status())) {
        RETURN_IF_ERROR(unreadable(e, "batch object missing"));
      } else {
        const uint64_t object_end = first.offset + (bytes.ok() ? bytes->size() : 0);
        RETURN_IF_ERROR(unreadable(
            e, absl::StrCat("payload [", e.offset, ", ", e.offset + e.length, ") lies past the end of the batch object",
                            bytes.ok() ? absl::StrCat(" (", object_end, " bytes)") : "")));
      }
    }
    begin = end;
  }
  return absl::OkStatus();
}

// The hour every capture time at or after year 9999's last hour is filed under.
int64_t LastIndexHourUs() { return IndexHourStartUs(std::numeric_limits<int64_t>::max()); }

bool PayloadCrcMatches(const SegmentLocation& e, absl::Span<const uint8_t> payload) {
  return Crc32c({payload.data(), payload.size()}) == e.crc32c;
}

bool SameSegment(const SegmentLocation& a, const SegmentLocation& b) {
  return a.offset == b.offset && a.length == b.length && a.crc32c == b.crc32c &&
         a.capture_start_us == b.capture_start_us && a.duration_us == b.duration_us && a.flags == b.flags;
}

}  // namespace

std::string ProblemText(const ReadProblem& problem) { return absl::StrCat(problem.key, ": ", problem.message); }

absl::StatusOr<BatchFooter> ReadBatchFooter(ObjectStore& store, std::string_view key) {
  auto corrupt = [&](absl::string_view why) { return absl::DataLossError(absl::StrCat(ToAbsl(key), ": ", why)); };
  absl::StatusOr<ObjectInfo> info = store.Head(key);
  if (!info.ok()) return WithContext(info.status(), key);
  if (info->size < kBatchHeaderBytes + kBatchTrailerBytes) {
    return corrupt(absl::StrCat("batch object of ", info->size, " bytes"));
  }
  absl::StatusOr<std::vector<uint8_t>> tail = store.GetRange(key, info->size - kBatchTrailerBytes, kBatchTrailerBytes);
  if (!tail.ok()) return WithContext(tail.status(), key);
  absl::StatusOr<BatchTrailer> trailer = DecodeBatchTrailer(*tail, info->size);
  if (!trailer.ok()) return corrupt(trailer.status().message());
  if (trailer->index_bytes > kMaxBatchIndexBytes) {
    return corrupt(absl::StrCat("batch index of ", trailer->index_bytes, " bytes"));
  }
  absl::StatusOr<std::vector<uint8_t>> index = store.GetRange(key, trailer->index_offset, trailer->index_bytes);
  if (!index.ok()) return WithContext(index.status(), key);
  // A short read (the object changed under us) fails here too.
  absl::StatusOr<std::vector<SegmentLocation>> entries = DecodeBatchIndex(*index, *trailer);
  if (!entries.ok()) return corrupt(entries.status().message());
  BatchFooter footer{info->size, std::move(*entries)};
  for (SegmentLocation& e : footer.entries) e.batch_key = std::string(key);
  return footer;
}

RecordingReader::RecordingReader(ObjectStore* store, std::string zone)
    : store_(store), zone_(std::move(zone)), batches_prefix_(absl::StrCat(zone_, "/batches/")) {}

absl::StatusOr<std::vector<std::string>> RecordingReader::Cameras() {
  const std::string root = IndexRootPrefix(zone_);
  ASSIGN_OR_RETURN(std::vector<std::string> folders, store_->ListFolders(root));
  std::vector<std::string> cameras;
  cameras.reserve(folders.size());
  for (const std::string& folder : folders) {
    cameras.push_back(folder.substr(root.size(), folder.size() - root.size() - 1));
  }
  return cameras;
}

absl::StatusOr<std::vector<std::string>> RecordingReader::DayFolders(std::string_view camera, int64_t earliest_hour_us,
                                                                     int64_t latest_hour_us) {
  const std::string prefix = CameraIndexPrefix(zone_, camera);
  const int64_t first_day = earliest_hour_us - earliest_hour_us % kMicrosPerDay;
  std::vector<std::string> days;
  if ((latest_hour_us - first_day) / kMicrosPerDay < kMaxDaysListedOneByOne) {
    for (int64_t day = first_day; day <= latest_hour_us; day += kMicrosPerDay) {
      const std::string hour_folder = CameraIndexHourPrefix(zone_, camera, day);
      days.push_back(hour_folder.substr(0, prefix.size() + 11));  // "<prefix>YYYY-MM-DD/"
    }
    return days;
  }
  ASSIGN_OR_RETURN(std::vector<std::string> listed, store_->ListFolders(prefix));
  for (std::string& folder : listed) {
    // A day folder is kept if its 00 hour parses and the day meets the window.
    const std::optional<int64_t> day = ParseHourFolder(zone_, camera, absl::StrCat(folder, "00/"));
    if (day && *day + kMicrosPerDay > earliest_hour_us && *day <= latest_hour_us) days.push_back(std::move(folder));
  }
  return days;
}

absl::Status RecordingReader::ForEachIndexHour(std::string_view camera, int64_t earliest_hour_us,
                                               int64_t latest_hour_us, HourVisitor visit) {
  RETURN_IF_ERROR(ValidateCameraId(camera));
  ASSIGN_OR_RETURN(std::vector<std::string> days, DayFolders(camera, earliest_hour_us, latest_hour_us));
  for (const std::string& day : days) {
    ASSIGN_OR_RETURN(std::vector<std::string> hours, store_->ListFolders(day));
    for (const std::string& folder : hours) {
      const std::optional<int64_t> hour = ParseHourFolder(zone_, camera, folder);
      if (!hour || *hour < earliest_hour_us || *hour > latest_hour_us) continue;
      ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store_->List(folder));
      std::erase_if(objects, [&](const ObjectInfo& o) { return !IsIndexObjectKey(folder, o.key); });
      if (!objects.empty()) RETURN_IF_ERROR(visit(*hour, objects));
    }
  }
  return absl::OkStatus();
}

std::optional<std::string> RecordingReader::EntryProblem(const SegmentLocation& e) const {
  if (!CaptureStartInBounds(e.capture_start_us)) {
    return absl::StrCat("capture start ", e.capture_start_us, " us lies outside the accepted capture times [",
                        DayUtc(kEarliestCaptureStartUs), ", ", DayUtc(kCaptureStartLimitUs), ")");
  }
  if (!e.batch_key.starts_with(batches_prefix_) || !ValidateObjectKey(e.batch_key).ok()) {
    return absl::StrCat("names a batch outside ", batches_prefix_, ": ", Printable(e.batch_key));
  }
  if (e.offset < kBatchHeaderBytes || e.offset > kMaxBatchOffset) {
    return absl::StrCat("payload at offset ", e.offset, " of ", e.batch_key, ", outside any batch's payloads");
  }
  return std::nullopt;
}

absl::StatusOr<std::vector<SegmentLocation>> RecordingReader::ReadIndexObject(std::string_view camera,
                                                                              const ObjectInfo& object,
                                                                              ProblemHandler on_problem) {
  const std::string key = Printable(object.key);
  auto bad_object = [&](std::string_view why) -> absl::StatusOr<std::vector<SegmentLocation>> {
    RETURN_IF_ERROR(on_problem({key, std::string(camera), std::nullopt, std::string(why)}));
    return std::vector<SegmentLocation>();
  };
  // Checked before the read: the listed size bounds what Get allocates.
  if (object.size > kMaxCameraIndexBytes) {
    return bad_object(absl::StrCat("camera index object of ", object.size, " bytes"));
  }
  absl::StatusOr<std::vector<uint8_t>> bytes = store_->Get(object.key);
  if (!bytes.ok()) {
    if (!IsDataError(bytes.status())) return WithContext(bytes.status(), object.key);
    return bad_object(absl::StrCat("unreadable camera index object: ", bytes.status().message()));
  }
  absl::StatusOr<CameraIndex> index = DecodeCameraIndex(*bytes);
  if (!index.ok()) return bad_object(ToStd(index.status().message()));
  if (index->camera != camera) return bad_object(absl::StrCat("index of camera ", Printable(index->camera)));
  std::vector<SegmentLocation> entries;
  entries.reserve(index->entries.size());
  for (SegmentLocation& e : index->entries) {
    if (std::optional<std::string> why = EntryProblem(e)) {
      RETURN_IF_ERROR(on_problem(SegmentProblem(object.key, e, *why)));
      continue;
    }
    entries.push_back(std::move(e));
  }
  return entries;
}

absl::StatusOr<std::vector<RecordedRange>> RecordingReader::Ranges(std::string_view camera) {
  return CollectRanges(camera, FirstProblemIsDataLoss);
}

absl::StatusOr<RangesReport> RecordingReader::RangesSkippingBad(std::string_view camera) {
  RangesReport report;
  ASSIGN_OR_RETURN(report.ranges, CollectRanges(camera, [&](ReadProblem problem) {
                     report.skipped.push_back(std::move(problem));
                     return absl::OkStatus();
                   }));
  return report;
}

absl::StatusOr<std::vector<RecordedRange>> RecordingReader::CollectRanges(std::string_view camera,
                                                                          ProblemHandler on_problem) {
  struct Entry {  // what a range needs of a segment; a camera's history can be millions
    uint64_t seq;
    int64_t capture_start_us;
    uint32_t duration_us;
    uint32_t length;
    uint32_t crc32c;
  };
  std::vector<Entry> entries;
  RETURN_IF_ERROR(ForEachIndexHour(
      camera, 0, LastIndexHourUs(), [&](int64_t, const std::vector<ObjectInfo>& objects) -> absl::Status {
        for (const ObjectInfo& object : objects) {
          ASSIGN_OR_RETURN(std::vector<SegmentLocation> index, ReadIndexObject(camera, object, on_problem));
          for (const SegmentLocation& e : index) {
            entries.push_back({e.seq, e.capture_start_us, e.duration_us, e.length, e.crc32c});
          }
        }
        return absl::OkStatus();
      }));
  uint64_t duplicates = 0, conflicts = 0, reindexed = 0;
  KeepFirstCopyOfEachSeq(entries, duplicates, conflicts, reindexed);

  // Every start is inside CaptureStartInBounds (ReadIndexObject left the
  // others out), so these sums cannot overflow; saturating anyway keeps that
  // true whatever the bounds become.
  std::vector<RecordedRange> ranges;
  for (const Entry& e : entries) {
    const int64_t end = SaturatingAdd(e.capture_start_us, int64_t{e.duration_us});
    if (!ranges.empty()) {
      RecordedRange& last = ranges.back();
      if (e.seq == last.last_seq + 1 && e.capture_start_us <= SaturatingAdd(last.end_us, kRangeGapToleranceUs)) {
        last.last_seq = e.seq;
        last.end_us = std::max(last.end_us, end);
        last.start_us = std::min(last.start_us, e.capture_start_us);
        ++last.segments;
        last.bytes += e.length;
        continue;
      }
    }
    ranges.push_back({e.capture_start_us, end, e.seq, e.seq, 1, e.length});
  }
  std::stable_sort(ranges.begin(), ranges.end(),
                   [](const RecordedRange& a, const RecordedRange& b) { return a.start_us < b.start_us; });
  return ranges;
}

absl::StatusOr<RecordingReader::Selection> RecordingReader::Select(std::string_view camera, int64_t from_us,
                                                                   int64_t to_us, ProblemHandler on_problem) {
  Selection selection;
  if (from_us >= to_us) return selection;
  // A segment is indexed under the hour it starts in, and lasts at most
  // kMaxSegmentDurationUs, so only these hours can hold overlapping ones.
  // (to_us > from_us, so to_us - 1 cannot overflow.)
  const int64_t earliest_hour =
      from_us <= kMaxSegmentDurationUs ? 0 : IndexHourStartUs(from_us - kMaxSegmentDurationUs);
  const int64_t latest_hour = IndexHourStartUs(to_us - 1);
  RETURN_IF_ERROR(ForEachIndexHour(
      camera, earliest_hour, latest_hour, [&](int64_t, const std::vector<ObjectInfo>& objects) -> absl::Status {
        for (const ObjectInfo& object : objects) {
          ASSIGN_OR_RETURN(std::vector<SegmentLocation> index, ReadIndexObject(camera, object, on_problem));
          for (SegmentLocation& e : index) {
            if (e.Overlaps(from_us, to_us)) selection.locations.push_back(std::move(e));
          }
        }
        return absl::OkStatus();
      }));
  KeepFirstCopyOfEachSeq(selection.locations, selection.duplicates, selection.conflicts, selection.reindexed,
                         &selection.later_copies);
  return selection;
}

absl::StatusOr<std::vector<SegmentLocation>> RecordingReader::InitLocations(std::string_view camera,
                                                                            ProblemHandler on_problem) {
  const std::string stream = InitStreamId(camera);
  std::vector<SegmentLocation> inits;
  RETURN_IF_ERROR(ForEachIndexHour(
      stream, 0, LastIndexHourUs(), [&](int64_t, const std::vector<ObjectInfo>& objects) -> absl::Status {
        for (const ObjectInfo& object : objects) {
          ASSIGN_OR_RETURN(std::vector<SegmentLocation> index, ReadIndexObject(stream, object, on_problem));
          for (SegmentLocation& e : index) inits.push_back(std::move(e));
        }
        return absl::OkStatus();
      }));
  uint64_t duplicates = 0, conflicts = 0, reindexed = 0;
  KeepFirstCopyOfEachSeq(inits, duplicates, conflicts, reindexed);
  return inits;
}

absl::StatusOr<std::vector<SegmentLocation>> RecordingReader::Locations(std::string_view camera, int64_t from_us,
                                                                        int64_t to_us) {
  ASSIGN_OR_RETURN(Selection selection, Select(camera, from_us, to_us, FirstProblemIsDataLoss));
  return std::move(selection.locations);
}

absl::StatusOr<ExportStats> RecordingReader::Export(std::string_view camera, int64_t from_us, int64_t to_us,
                                                    const PayloadSink& sink) {
  return ExportWith(camera, from_us, to_us, sink, FirstProblemIsDataLoss);
}

absl::StatusOr<ExportStats> RecordingReader::ExportSkippingBad(std::string_view camera, int64_t from_us, int64_t to_us,
                                                               const PayloadSink& sink) {
  std::vector<ReadProblem> problems;
  ASSIGN_OR_RETURN(ExportStats stats, ExportWith(camera, from_us, to_us, sink, [&](ReadProblem problem) {
                     problems.push_back(std::move(problem));
                     return absl::OkStatus();
                   }));
  stats.problems = std::move(problems);
  return stats;
}

absl::StatusOr<ExportStats> RecordingReader::ExportWith(std::string_view camera, int64_t from_us, int64_t to_us,
                                                        const PayloadSink& sink, ProblemHandler on_problem) {
  ASSIGN_OR_RETURN(Selection selection, Select(camera, from_us, to_us, on_problem));
  ExportStats stats;
  stats.duplicates_skipped = selection.duplicates;
  stats.reindexed_skipped = selection.reindexed;
  stats.conflicting_copies = selection.conflicts;
  // fMP4 segments are read after their initialization segment: the one of
  // the highest init seq at or below InitSeq(seq, kMaxInitsPerSeq).
  std::vector<SegmentLocation> inits;
  if (std::any_of(selection.locations.begin(), selection.locations.end(),
                  [](const SegmentLocation& e) { return (e.flags & kRecordFlagFragment) != 0; })) {
    ASSIGN_OR_RETURN(inits, InitLocations(camera, on_problem));
  }
  std::optional<std::pair<uint32_t, uint32_t>> init_sent;  // (length, crc32c) of the last init sent
  std::optional<uint64_t> init_tried;  // the init seq last looked at
  bool reported_no_init = false;
  auto send_init_for = [&](const SegmentLocation& e) -> absl::Status {
    if ((e.flags & kRecordFlagFragment) == 0) return absl::OkStatus();
    const auto after = std::upper_bound(inits.begin(), inits.end(), InitSeq(e.seq, kMaxInitsPerSeq),
                                        [](uint64_t seq, const SegmentLocation& init) { return seq < init.seq; });
    if (after == inits.begin()) {
      if (reported_no_init) return absl::OkStatus();
      reported_no_init = true;
      return on_problem(SegmentProblem(e.batch_key, e, "fMP4 segment with no initialization segment stored for it"));
    }
    const SegmentLocation& init = *(after - 1);
    if (init_tried == init.seq) return absl::OkStatus();  // sent already, or bad and reported
    init_tried = init.seq;
    if (init_sent == std::make_pair(init.length, init.crc32c)) return absl::OkStatus();  // a copy pushed again
    auto bad_init = [&](const SegmentLocation& i, std::string_view why) {
      return on_problem(SegmentProblem(i.batch_key, i, absl::StrCat("initialization segment: ", ToAbsl(why))));
    };
    return ReadPayloads(
        *store_, absl::MakeConstSpan(&init, 1),
        [&](const SegmentLocation& i, absl::Span<const uint8_t> payload) -> absl::Status {
          if (!PayloadCrcMatches(i, payload)) return bad_init(i, "bad payload CRC");
          RETURN_IF_ERROR(sink(payload));
          init_sent = std::make_pair(i.length, i.crc32c);
          ++stats.init_segments;
          stats.init_bytes += i.length;
          return absl::OkStatus();
        },
        bad_init);
  };
  auto send = [&](const SegmentLocation& e, absl::Span<const uint8_t> payload) -> absl::Status {
    RETURN_IF_ERROR(send_init_for(e));
    RETURN_IF_ERROR(sink(payload));
    if (stats.segments == 0) stats.first_seq = e.seq;
    stats.last_seq = e.seq;
    ++stats.segments;
    stats.bytes += e.length;
    return absl::OkStatus();
  };
  auto bad_later_copy = [&](const SegmentLocation& e, std::string_view why) {
    return on_problem(SegmentProblem(e.batch_key, e, why));
  };
  // The first copy of a seq is bad: report it, then send the first intact
  // later copy in its place (a seal retried after a crash stored it twice),
  // one range read each, so the seq order holds.
  auto bad_copy = [&](const SegmentLocation& e, std::string_view why) -> absl::Status {
    RETURN_IF_ERROR(on_problem(SegmentProblem(e.batch_key, e, why)));
    const auto [copies_begin, copies_end] =
        std::equal_range(selection.later_copies.begin(), selection.later_copies.end(), e, SeqLess<SegmentLocation>);
    bool replaced = false;
    for (auto copy = copies_begin; copy != copies_end && !replaced; ++copy) {
      RETURN_IF_ERROR(ReadPayloads(
          *store_, absl::MakeConstSpan(&*copy, 1),
          [&](const SegmentLocation& c, absl::Span<const uint8_t> payload) -> absl::Status {
            if (!PayloadCrcMatches(c, payload)) return bad_later_copy(c, "bad payload CRC");
            replaced = true;
            return send(c, payload);
          },
          bad_later_copy));
    }
    if (!replaced) ++stats.segments_skipped;
    return absl::OkStatus();
  };
  RETURN_IF_ERROR(ReadPayloads(
      *store_, selection.locations,
      [&](const SegmentLocation& e, absl::Span<const uint8_t> payload) -> absl::Status {
        if (!PayloadCrcMatches(e, payload)) return bad_copy(e, "bad payload CRC");
        return send(e, payload);
      },
      bad_copy));
  return stats;
}

absl::StatusOr<VerifyReport> RecordingReader::Verify(std::string_view camera) {
  std::vector<std::string> cameras;
  if (camera.empty()) {
    ASSIGN_OR_RETURN(cameras, Cameras());
  } else {
    RETURN_IF_ERROR(ValidateCameraId(camera));
    cameras.emplace_back(camera);
  }
  VerifyState state;
  state.whole_batches = camera.empty();
  for (const std::string& c : cameras) RETURN_IF_ERROR(VerifyCamera(c, state));
  state.report.objects = state.report.index_objects + state.report.batch_objects;
  return std::move(state.report);
}

absl::Status RecordingReader::VerifyCamera(std::string_view camera, VerifyState& state) {
  if (!ValidateCameraId(camera).ok()) {
    state.report.problems.push_back(
        {Printable(CameraIndexPrefix(zone_, camera)), Printable(camera), std::nullopt, "not a camera id"});
    return absl::OkStatus();
  }
  FirstCopies first_copies;
  // Hour by hour, so memory follows one hour's index, not the camera's history.
  return ForEachIndexHour(camera, 0, LastIndexHourUs(), [&](int64_t hour, const std::vector<ObjectInfo>& objects) {
    return VerifyHour(camera, hour, objects, first_copies, state);
  });
}

absl::Status RecordingReader::VerifyHour(std::string_view camera, int64_t hour_start_us,
                                         const std::vector<ObjectInfo>& objects, FirstCopies& first_copies,
                                         VerifyState& state) {
  auto add = [&](ReadProblem problem) { state.report.problems.push_back(std::move(problem)); };
  std::map<std::string, std::vector<SegmentLocation>> by_batch;
  for (const ObjectInfo& object : objects) {
    ++state.report.index_objects;
    ASSIGN_OR_RETURN(std::vector<SegmentLocation> entries, ReadIndexObject(camera, object, [&](ReadProblem problem) {
                       add(std::move(problem));
                       return absl::OkStatus();
                     }));
    for (SegmentLocation& e : entries) {
      if (IndexHourStartUs(e.capture_start_us) != hour_start_us) {
        add(SegmentProblem(object.key, e,
                           absl::StrCat("starts at ", e.capture_start_us, " us, outside the index's hour")));
      }
      auto [first, inserted] = first_copies.try_emplace(e.seq, e.length, e.crc32c);
      if (!inserted && first->second != std::make_pair(e.length, e.crc32c)) {
        add(SegmentProblem(object.key, e, "indexed twice with different length or CRC"));
      }
      by_batch[e.batch_key].push_back(std::move(e));
    }
  }
  for (const auto& [batch_key, referenced] : by_batch) RETURN_IF_ERROR(VerifyBatch(batch_key, referenced, state));
  return absl::OkStatus();
}

absl::Status RecordingReader::VerifyBatch(const std::string& batch_key, const std::vector<SegmentLocation>& referenced,
                                          VerifyState& state) {
  if (state.bad_batches.contains(batch_key)) return absl::OkStatus();
  auto problem = [&](const SegmentLocation& e, std::string_view what) {
    state.report.problems.push_back(SegmentProblem(batch_key, e, what));
  };
  absl::StatusOr<BatchFooter> footer = ReadBatchFooter(*store_, batch_key);
  if (!footer.ok()) {
    if (!IsDataError(footer.status())) return footer.status();
    state.bad_batches.insert(batch_key);
    const SegmentLocation& e = referenced.front();
    if (absl::IsNotFound(footer.status())) {
      problem(e, "batch object missing (indexed in it)");
    } else {
      state.report.problems.push_back({batch_key, e.camera, std::nullopt, std::string(footer.status().message())});
    }
    return absl::OkStatus();
  }
  const bool first_visit = state.batches_seen.insert(batch_key).second;
  if (first_visit) ++state.report.batch_objects;

  absl::flat_hash_map<std::pair<absl::string_view, uint64_t>, const SegmentLocation*> own;
  for (const SegmentLocation& e : footer->entries) own.try_emplace(std::make_pair(ToAbsl(e.camera), e.seq), &e);
  std::vector<SegmentLocation> to_check;
  for (const SegmentLocation& e : referenced) {
    auto it = own.find(std::make_pair(ToAbsl(e.camera), e.seq));
    if (it == own.end()) {
      problem(e, "indexed here but not in the batch's own index");
    } else if (!SameSegment(e, *it->second)) {
      problem(e, "differs from the batch's own index");
    } else if (!state.whole_batches) {
      to_check.push_back(*it->second);
    }
  }
  if (state.whole_batches) {
    if (!first_visit) return absl::OkStatus();
    to_check = std::move(footer->entries);
  }
  return VerifyPayloads(batch_key, std::move(to_check), state);
}

absl::Status RecordingReader::VerifyPayloads(const std::string& batch_key, std::vector<SegmentLocation> entries,
                                             VerifyState& state) {
  std::sort(entries.begin(), entries.end(),
            [](const SegmentLocation& a, const SegmentLocation& b) { return a.offset < b.offset; });
  auto problem = [&](const SegmentLocation& e, std::string_view what) {
    state.report.problems.push_back(SegmentProblem(batch_key, e, what));
    return absl::OkStatus();
  };
  return ReadPayloads(
      *store_, entries,
      [&](const SegmentLocation& e, absl::Span<const uint8_t> payload) {
        ++state.report.segments;
        state.report.bytes += e.length;
        if (!PayloadCrcMatches(e, payload)) return problem(e, "bad payload CRC");
        return absl::OkStatus();
      },
      problem);
}

}  // namespace ingest
