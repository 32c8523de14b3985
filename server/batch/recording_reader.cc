#include "server/batch/recording_reader.h"

#include <algorithm>
#include <limits>
#include <map>
#include <optional>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/time/time.h"
#include "common/crc32c.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "server/batch/batch_layout.h"
#include "server/batch/batch_object.h"
#include "server/batch/camera_index.h"

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
// Far past year 9999, far enough from INT64_MAX that end times and gap sums
// never overflow.
constexpr int64_t kMaxCaptureStartUs = int64_t{1} << 62;
constexpr std::string_view kIndexSuffix = ".cix";

absl::Status WithContext(const absl::Status& status, std::string_view context) {
  return absl::Status(status.code(), absl::StrCat(ToAbsl(context), ": ", status.message()));
}

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

// Stable-sorts `entries` by seq and keeps the first copy of each seq. A seal
// retried after a crash indexes a segment twice with the same bytes; copies
// whose length or CRC differ are counted as conflicts too.
template <typename Entry>
void KeepFirstCopyOfEachSeq(std::vector<Entry>& entries, uint64_t& duplicates, uint64_t& conflicts) {
  std::stable_sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) { return a.seq < b.seq; });
  size_t kept = 0;
  for (size_t i = 0; i < entries.size(); ++i) {
    if (kept > 0 && entries[kept - 1].seq == entries[i].seq) {
      ++duplicates;
      if (entries[kept - 1].length != entries[i].length || entries[kept - 1].crc32c != entries[i].crc32c) {
        ++conflicts;
      }
      continue;
    }
    if (kept != i) entries[kept] = std::move(entries[i]);
    ++kept;
  }
  entries.resize(kept);
}

using PayloadVisitor = absl::FunctionRef<absl::Status(const SegmentLocation&, absl::Span<const uint8_t>)>;

// Where the run of entries starting at `begin` ends: the following entries of
// the same batch that lie at or after the run's end, close enough, within the
// read cap.
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

// Reads the payloads of `entries` (offsets validated) and hands each to
// `visit` in the given order, with one range read per run of RunEnd.
absl::Status ReadPayloads(ObjectStore& store, absl::Span<const SegmentLocation> entries, PayloadVisitor visit) {
  for (size_t begin = 0; begin < entries.size();) {
    const size_t end = RunEnd(entries, begin);
    const SegmentLocation& first = entries[begin];
    const SegmentLocation& last = entries[end - 1];
    const uint64_t length = last.offset + last.length - first.offset;
    absl::StatusOr<std::vector<uint8_t>> bytes = store.GetRange(first.batch_key, first.offset, length);
    if (absl::IsNotFound(bytes.status())) {
      return absl::DataLossError(absl::StrCat("batch object ", first.batch_key, " is missing (camera ", first.camera,
                                              " seq ", first.seq, ")"));
    }
    if (!bytes.ok() && !absl::IsOutOfRange(bytes.status())) return WithContext(bytes.status(), first.batch_key);
    if (!bytes.ok() || bytes->size() != length) {
      return absl::DataLossError(absl::StrCat(first.batch_key, ": short read of payloads for camera ", first.camera,
                                              " seq ", first.seq, "..", last.seq));
    }
    for (size_t i = begin; i < end; ++i) {
      const SegmentLocation& e = entries[i];
      RETURN_IF_ERROR(visit(e, absl::Span<const uint8_t>(bytes->data() + (e.offset - first.offset), e.length)));
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

absl::Status RecordingReader::ValidateEntry(const SegmentLocation& e) const {
  if (!e.batch_key.starts_with(batches_prefix_) || !ValidateObjectKey(e.batch_key).ok()) {
    return absl::DataLossError(
        absl::StrCat("seq ", e.seq, " names a batch outside ", batches_prefix_, ": ", e.batch_key));
  }
  if (e.offset < kBatchHeaderBytes || e.offset > kMaxBatchOffset) {
    return absl::DataLossError(absl::StrCat("seq ", e.seq, " at offset ", e.offset, " of ", e.batch_key));
  }
  if (e.capture_start_us > kMaxCaptureStartUs) {
    return absl::DataLossError(absl::StrCat("seq ", e.seq, " has capture start ", e.capture_start_us));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<SegmentLocation>> RecordingReader::ReadIndexObject(std::string_view camera,
                                                                              const ObjectInfo& object) {
  if (object.size > kMaxCameraIndexBytes) {
    return absl::DataLossError(absl::StrCat(object.key, ": camera index object of ", object.size, " bytes"));
  }
  ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, store_->Get(object.key));
  absl::StatusOr<CameraIndex> index = DecodeCameraIndex(bytes);
  if (!index.ok()) return WithContext(index.status(), object.key);
  if (index->camera != camera) {
    return absl::DataLossError(absl::StrCat(object.key, ": index of camera ", index->camera));
  }
  for (const SegmentLocation& e : index->entries) {
    absl::Status valid = ValidateEntry(e);
    if (!valid.ok()) return WithContext(valid, object.key);
  }
  return std::move(index->entries);
}

absl::StatusOr<std::vector<RecordedRange>> RecordingReader::Ranges(std::string_view camera) {
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
          ASSIGN_OR_RETURN(std::vector<SegmentLocation> index, ReadIndexObject(camera, object));
          for (const SegmentLocation& e : index) {
            entries.push_back({e.seq, e.capture_start_us, e.duration_us, e.length, e.crc32c});
          }
        }
        return absl::OkStatus();
      }));
  uint64_t duplicates = 0, conflicts = 0;
  KeepFirstCopyOfEachSeq(entries, duplicates, conflicts);

  std::vector<RecordedRange> ranges;
  for (const Entry& e : entries) {
    const int64_t end = e.capture_start_us + int64_t{e.duration_us};
    if (!ranges.empty()) {
      RecordedRange& last = ranges.back();
      if (e.seq == last.last_seq + 1 && e.capture_start_us <= last.end_us + kRangeGapToleranceUs) {
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
                                                                   int64_t to_us) {
  Selection selection;
  if (from_us >= to_us) return selection;
  // A segment is indexed under the hour it starts in, and lasts at most
  // kMaxSegmentDurationUs, so only these hours can hold overlapping ones.
  const int64_t earliest_hour =
      from_us <= kMaxSegmentDurationUs ? 0 : IndexHourStartUs(from_us - kMaxSegmentDurationUs);
  const int64_t latest_hour = IndexHourStartUs(to_us - 1);
  RETURN_IF_ERROR(ForEachIndexHour(
      camera, earliest_hour, latest_hour, [&](int64_t, const std::vector<ObjectInfo>& objects) -> absl::Status {
        for (const ObjectInfo& object : objects) {
          ASSIGN_OR_RETURN(std::vector<SegmentLocation> index, ReadIndexObject(camera, object));
          for (SegmentLocation& e : index) {
            if (e.Overlaps(from_us, to_us)) selection.locations.push_back(std::move(e));
          }
        }
        return absl::OkStatus();
      }));
  KeepFirstCopyOfEachSeq(selection.locations, selection.duplicates, selection.conflicts);
  return selection;
}

absl::StatusOr<std::vector<SegmentLocation>> RecordingReader::Locations(std::string_view camera, int64_t from_us,
                                                                        int64_t to_us) {
  ASSIGN_OR_RETURN(Selection selection, Select(camera, from_us, to_us));
  return std::move(selection.locations);
}

absl::StatusOr<ExportStats> RecordingReader::Export(std::string_view camera, int64_t from_us, int64_t to_us,
                                                    const PayloadSink& sink) {
  ASSIGN_OR_RETURN(Selection selection, Select(camera, from_us, to_us));
  ExportStats stats;
  stats.duplicates_skipped = selection.duplicates;
  stats.conflicting_copies = selection.conflicts;
  RETURN_IF_ERROR(ReadPayloads(
      *store_, selection.locations, [&](const SegmentLocation& e, absl::Span<const uint8_t> payload) -> absl::Status {
        if (!PayloadCrcMatches(e, payload)) {
          return absl::DataLossError(
              absl::StrCat(e.batch_key, ": bad payload CRC for camera ", e.camera, " seq ", e.seq));
        }
        RETURN_IF_ERROR(sink(payload));
        if (stats.segments == 0) stats.first_seq = e.seq;
        stats.last_seq = e.seq;
        ++stats.segments;
        stats.bytes += e.length;
        return absl::OkStatus();
      }));
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
    state.report.problems.push_back({CameraIndexPrefix(zone_, camera), "not a camera id"});
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
  std::map<std::string, std::vector<SegmentLocation>> by_batch;
  for (const ObjectInfo& object : objects) {
    ++state.report.index_objects;
    auto problem = [&](std::string message) { state.report.problems.push_back({object.key, std::move(message)}); };
    absl::StatusOr<std::vector<SegmentLocation>> entries = ReadIndexObject(camera, object);
    if (!entries.ok()) {
      if (!IsDataError(entries.status())) return entries.status();
      problem(std::string(entries.status().message()));
      continue;
    }
    for (SegmentLocation& e : *entries) {
      if (IndexHourStartUs(e.capture_start_us) != hour_start_us) {
        problem(absl::StrCat("seq ", e.seq, " starts at ", e.capture_start_us, ", outside the index's hour"));
      }
      auto [first, inserted] = first_copies.try_emplace(e.seq, e.length, e.crc32c);
      if (!inserted && first->second != std::make_pair(e.length, e.crc32c)) {
        problem(absl::StrCat("seq ", e.seq, " is indexed twice with different length or CRC"));
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
  auto problem = [&](std::string message) { state.report.problems.push_back({batch_key, std::move(message)}); };
  absl::StatusOr<BatchFooter> footer = ReadBatchFooter(*store_, batch_key);
  if (!footer.ok()) {
    if (!IsDataError(footer.status())) return footer.status();
    state.bad_batches.insert(batch_key);
    const SegmentLocation& e = referenced.front();
    problem(absl::IsNotFound(footer.status())
                ? absl::StrCat("batch object missing (camera ", e.camera, " seq ", e.seq, " is indexed in it)")
                : std::string(footer.status().message()));
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
      problem(absl::StrCat("camera ", e.camera, " seq ", e.seq, " is indexed here but not in the batch's own index"));
    } else if (!SameSegment(e, *it->second)) {
      problem(absl::StrCat("camera ", e.camera, " seq ", e.seq, " differs from the batch's own index"));
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
  absl::Status read = ReadPayloads(*store_, entries, [&](const SegmentLocation& e, absl::Span<const uint8_t> payload) {
    ++state.report.segments;
    state.report.bytes += e.length;
    if (!PayloadCrcMatches(e, payload)) {
      state.report.problems.push_back(
          {batch_key, absl::StrCat("bad payload CRC for camera ", e.camera, " seq ", e.seq)});
    }
    return absl::OkStatus();
  });
  if (!read.ok()) {
    if (!IsDataError(read)) return read;
    state.report.problems.push_back({batch_key, std::string(read.message())});
  }
  return absl::OkStatus();
}

}  // namespace ingest
