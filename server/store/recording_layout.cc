#include "server/store/recording_layout.h"

#include <algorithm>
#include <limits>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/time/time.h"
#include "common/crc32c.h"
#include "common/status_macros.h"

namespace ingest {
namespace {

// 9999-12-31T23:59:59.999999Z: keeps the date folder at four year digits.
constexpr int64_t kMaxKeyTimeUs = 253402300799999999;
constexpr int64_t kMicrosPerDay = 24 * kMicrosPerHour;
// A segment lasts at most this long (duration_us is a u32).
constexpr int64_t kMaxSegmentDurationUs = std::numeric_limits<uint32_t>::max();
// Wider ranges list the camera's whole prefix instead of one folder per day.
constexpr int64_t kMaxDaysListedOneByOne = 62;
// A contiguous run of payloads fetched with one range read is capped here.
constexpr uint64_t kMaxRangeReadBytes = 32 << 20;
constexpr std::string_view kPackSuffix = ".cpk";

std::string_view View(absl::string_view s) { return std::string_view(s.data(), s.size()); }
absl::string_view AView(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool ParseFixedDigits(std::string_view s, size_t digits, uint64_t* out) {
  if (s.size() != digits || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  return absl::SimpleAtoi(AView(s), out);
}

// "YYYY-MM-DD/" of a (clamped) key time.
std::string DayFolder(int64_t key_time_us) {
  return absl::FormatTime("%Y-%m-%d/", absl::FromUnixMicros(key_time_us), absl::UTCTimeZone());
}

bool Overlaps(const PackEntry& e, int64_t from_us, int64_t to_us) {
  if (e.duration_us == 0) return e.capture_start_us >= from_us && e.capture_start_us < to_us;
  return e.capture_start_us < to_us && e.capture_start_us + int64_t{e.duration_us} > from_us;
}

}  // namespace

int64_t RecordingKeyTimeUs(int64_t capture_start_us) {
  return std::clamp<int64_t>(capture_start_us, 0, kMaxKeyTimeUs);
}

int64_t RecordingHourStartUs(int64_t capture_start_us) {
  const int64_t t = RecordingKeyTimeUs(capture_start_us);
  return t - t % kMicrosPerHour;
}

std::string RecordingCameraPrefix(std::string_view zone, std::string_view camera) {
  return absl::StrCat(AView(zone), "/", AView(camera), "/");
}

std::string RecordingKey(std::string_view zone, std::string_view camera, int64_t first_capture_us,
                         uint64_t first_seq, uint64_t last_seq) {
  const int64_t t = RecordingKeyTimeUs(first_capture_us);
  return absl::StrFormat("%s%s/%s/%020d-%020d-%020d%s", RecordingCameraPrefix(zone, camera),
                         absl::FormatTime("%Y-%m-%d", absl::FromUnixMicros(t), absl::UTCTimeZone()),
                         absl::FormatTime("%H", absl::FromUnixMicros(t), absl::UTCTimeZone()), t,
                         first_seq, last_seq, AView(kPackSuffix));
}

absl::StatusOr<RecordingKeyParts> ParseRecordingKey(std::string_view key) {
  std::vector<absl::string_view> parts = absl::StrSplit(AView(key), '/');
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("not a recording key (", AView(why), "): ", AView(key)));
  };
  if (parts.size() != 5 || parts[0].empty() || parts[1].empty()) return bad("expected 5 segments");
  const std::string_view name = View(parts[4]);
  if (name.size() != 3 * 20 + 2 + kPackSuffix.size() || !name.ends_with(kPackSuffix) || name[20] != '-' ||
      name[41] != '-') {
    return bad("file name");
  }
  RecordingKeyParts out;
  uint64_t t = 0;
  if (!ParseFixedDigits(name.substr(0, 20), 20, &t) || t > uint64_t{kMaxKeyTimeUs} ||
      !ParseFixedDigits(name.substr(21, 20), 20, &out.first_seq) ||
      !ParseFixedDigits(name.substr(42, 20), 20, &out.last_seq) || out.first_seq > out.last_seq) {
    return bad("numbers");
  }
  out.first_capture_us = static_cast<int64_t>(t);
  out.zone = std::string(parts[0]);
  out.camera = std::string(parts[1]);
  return out;
}

absl::StatusOr<uint64_t> HighestStoredSeq(ObjectStore& store, std::string_view zone,
                                          std::string_view camera) {
  ASSIGN_OR_RETURN(std::vector<std::string> days, store.ListFolders(RecordingCameraPrefix(zone, camera)));
  for (auto day = days.rbegin(); day != days.rend(); ++day) {
    ASSIGN_OR_RETURN(std::vector<std::string> hours, store.ListFolders(*day));
    for (auto hour = hours.rbegin(); hour != hours.rend(); ++hour) {
      ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store.List(*hour));
      bool found = false;
      uint64_t highest = 0;
      for (const ObjectInfo& object : objects) {
        absl::StatusOr<RecordingKeyParts> parts = ParseRecordingKey(object.key);
        if (!parts.ok()) continue;  // not ours (e.g. left by hand); never a reason to fail sealing
        found = true;
        highest = std::max(highest, parts->last_seq);
      }
      if (found) return highest;
    }
  }
  return 0;
}

RecordingReader::RecordingReader(ObjectStore* store, std::string zone)
    : store_(store), zone_(std::move(zone)) {}

absl::StatusOr<std::vector<std::string>> RecordingReader::Cameras() {
  const std::string zone_prefix = absl::StrCat(zone_, "/");
  ASSIGN_OR_RETURN(std::vector<std::string> folders, store_->ListFolders(zone_prefix));
  std::vector<std::string> cameras;
  for (const std::string& folder : folders) {
    cameras.push_back(folder.substr(zone_prefix.size(), folder.size() - zone_prefix.size() - 1));
  }
  return cameras;
}

absl::StatusOr<PackIndex> RecordingReader::ReadIndex(const ObjectInfo& object) {
  ASSIGN_OR_RETURN(std::vector<uint8_t> head, store_->GetRange(object.key, 0, kPackIndexPrefetchBytes));
  absl::StatusOr<size_t> header_bytes = PackHeaderBytes(head);
  if (!header_bytes.ok()) {
    return absl::DataLossError(absl::StrCat(object.key, ": ", header_bytes.status().message()));
  }
  if (head.size() < *header_bytes) {
    ASSIGN_OR_RETURN(head, store_->GetRange(object.key, 0, *header_bytes));
  }
  absl::StatusOr<PackIndex> index = DecodePackIndex(head, object.size);
  if (!index.ok()) return absl::DataLossError(absl::StrCat(object.key, ": ", index.status().message()));
  return index;
}

absl::StatusOr<std::vector<RecordingReader::IndexedPack>> RecordingReader::ReadIndexes(
    const std::vector<ObjectInfo>& objects) {
  std::vector<IndexedPack> packs;
  packs.reserve(objects.size());
  for (const ObjectInfo& object : objects) {
    ASSIGN_OR_RETURN(PackIndex index, ReadIndex(object));
    packs.push_back({object, std::move(index)});
  }
  return packs;
}

absl::StatusOr<std::vector<RecordedRange>> RecordingReader::Ranges(std::string_view camera) {
  ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store_->List(RecordingCameraPrefix(zone_, camera)));
  std::erase_if(objects, [](const ObjectInfo& o) { return !ParseRecordingKey(o.key).ok(); });
  ASSIGN_OR_RETURN(std::vector<IndexedPack> packs, ReadIndexes(objects));
  std::map<uint64_t, PackEntry> by_seq;  // each seq once
  for (const IndexedPack& pack : packs) {
    for (const PackEntry& e : pack.index.entries) by_seq.emplace(e.seq, e);
  }
  std::vector<RecordedRange> ranges;
  for (const auto& [seq, e] : by_seq) {
    const int64_t end = e.capture_start_us + int64_t{e.duration_us};
    if (!ranges.empty()) {
      RecordedRange& last = ranges.back();
      if (seq == last.last_seq + 1 && e.capture_start_us <= last.end_us + kRangeGapToleranceUs) {
        last.last_seq = seq;
        last.end_us = std::max(last.end_us, end);
        last.start_us = std::min(last.start_us, e.capture_start_us);
        ++last.segments;
        last.bytes += e.length;
        continue;
      }
    }
    ranges.push_back({e.capture_start_us, end, seq, seq, 1, e.length});
  }
  std::stable_sort(ranges.begin(), ranges.end(),
                   [](const RecordedRange& a, const RecordedRange& b) { return a.start_us < b.start_us; });
  return ranges;
}

absl::StatusOr<ExportStats> RecordingReader::Export(std::string_view camera, int64_t from_us, int64_t to_us,
                                                    const PayloadSink& sink) {
  ExportStats stats;
  if (from_us >= to_us) return stats;
  const std::string camera_prefix = RecordingCameraPrefix(zone_, camera);
  // A pack's segments all start in its key's hour and last at most
  // kMaxSegmentDurationUs, so only packs dated in this window can overlap.
  const int64_t earliest_hour =
      RecordingHourStartUs(from_us <= 0 ? 0 : from_us - kMicrosPerHour - kMaxSegmentDurationUs);
  const int64_t latest_hour = RecordingHourStartUs(to_us - 1);
  std::vector<ObjectInfo> objects;
  const int64_t first_day = earliest_hour - earliest_hour % kMicrosPerDay;
  if ((latest_hour - first_day) / kMicrosPerDay < kMaxDaysListedOneByOne) {
    for (int64_t day = first_day; day <= latest_hour; day += kMicrosPerDay) {
      ASSIGN_OR_RETURN(std::vector<ObjectInfo> listed, store_->List(camera_prefix + DayFolder(day)));
      objects.insert(objects.end(), listed.begin(), listed.end());
    }
  } else {
    ASSIGN_OR_RETURN(objects, store_->List(camera_prefix));
  }
  std::erase_if(objects, [&](const ObjectInfo& o) {
    absl::StatusOr<RecordingKeyParts> parts = ParseRecordingKey(o.key);
    if (!parts.ok()) return true;
    const int64_t hour = RecordingHourStartUs(parts->first_capture_us);
    return hour < earliest_hour || hour > latest_hour;
  });
  ASSIGN_OR_RETURN(std::vector<IndexedPack> packs, ReadIndexes(objects));

  struct Selected {
    uint64_t seq;
    size_t pack;
    const PackEntry* entry;
  };
  std::vector<Selected> selected;
  for (size_t i = 0; i < packs.size(); ++i) {
    for (const PackEntry& e : packs[i].index.entries) {
      if (Overlaps(e, from_us, to_us)) selected.push_back({e.seq, i, &e});
    }
  }
  std::stable_sort(selected.begin(), selected.end(),
                   [](const Selected& a, const Selected& b) { return a.seq < b.seq; });
  const size_t before = selected.size();
  selected.erase(std::unique(selected.begin(), selected.end(),
                             [](const Selected& a, const Selected& b) { return a.seq == b.seq; }),
                 selected.end());
  stats.duplicates_skipped = before - selected.size();

  // Fetch runs of payloads that sit back to back in one pack with one read.
  for (size_t run_start = 0; run_start < selected.size();) {
    size_t run_end = run_start + 1;
    const IndexedPack& pack = packs[selected[run_start].pack];
    const uint64_t offset = selected[run_start].entry->offset;
    uint64_t length = selected[run_start].entry->length;
    while (run_end < selected.size() && selected[run_end].pack == selected[run_start].pack &&
           selected[run_end].entry->offset == offset + length &&
           length + selected[run_end].entry->length <= kMaxRangeReadBytes) {
      length += selected[run_end].entry->length;
      ++run_end;
    }
    ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, store_->GetRange(pack.object.key, offset, length));
    if (bytes.size() != length) {
      return absl::DataLossError(absl::StrCat(pack.object.key, ": short read of segment payloads"));
    }
    for (size_t i = run_start; i < run_end; ++i) {
      const PackEntry& e = *selected[i].entry;
      absl::Span<const uint8_t> payload(bytes.data() + (e.offset - offset), e.length);
      if (Crc32c({payload.data(), payload.size()}) != e.crc32c) {
        return absl::DataLossError(absl::StrCat(pack.object.key, ": bad payload crc for seq ", e.seq));
      }
      RETURN_IF_ERROR(sink(payload));
      if (stats.segments == 0) stats.first_seq = e.seq;
      stats.last_seq = e.seq;
      ++stats.segments;
      stats.bytes += e.length;
    }
    run_start = run_end;
  }
  return stats;
}

absl::StatusOr<VerifyReport> RecordingReader::Verify(std::string_view camera) {
  const std::string prefix = camera.empty() ? absl::StrCat(zone_, "/") : RecordingCameraPrefix(zone_, camera);
  ASSIGN_OR_RETURN(std::vector<ObjectInfo> objects, store_->List(prefix));
  VerifyReport report;
  for (const ObjectInfo& object : objects) {
    ++report.objects;
    auto problem = [&](std::string message) { report.problems.push_back({object.key, std::move(message)}); };
    absl::StatusOr<RecordingKeyParts> parts = ParseRecordingKey(object.key);
    if (!parts.ok()) {
      problem(std::string(parts.status().message()));
      continue;
    }
    ASSIGN_OR_RETURN(std::vector<uint8_t> data, store_->Get(object.key));
    absl::StatusOr<PackIndex> index = DecodePackIndex(data, data.size());
    if (!index.ok()) {
      problem(std::string(index.status().message()));
      continue;
    }
    if (index->camera_id != parts->camera) problem("camera id in the pack differs from the key");
    if (index->entries.front().seq != parts->first_seq || index->entries.back().seq != parts->last_seq) {
      problem("first/last seq in the pack differ from the key");
    }
    if (RecordingKeyTimeUs(index->entries.front().capture_start_us) != parts->first_capture_us) {
      problem("first capture time in the pack differs from the key");
    }
    for (const PackEntry& e : index->entries) {
      ++report.segments;
      report.bytes += e.length;
      if (Crc32c({data.data() + e.offset, e.length}) != e.crc32c) {
        problem(absl::StrCat("bad payload crc for seq ", e.seq));
      }
    }
  }
  return report;
}

}  // namespace ingest
