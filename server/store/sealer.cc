#include "server/store/sealer.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crc32c.h"
#include "common/status_macros.h"
#include "server/spool/spool_file_reader.h"
#include "server/store/recording_layout.h"
#include "server/store/segment_pack.h"

namespace ingest {
namespace {

std::string_view View(absl::string_view s) { return std::string_view(s.data(), s.size()); }

absl::Status PreadAll(int fd, uint8_t* out, size_t length, uint64_t offset, const std::string& path) {
  size_t done = 0;
  while (done < length) {
    ssize_t n = pread(fd, out + done, length - done, static_cast<off_t>(offset + done));
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("pread ", path, ": ", std::strerror(errno)));
    }
    if (n == 0) return absl::DataLossError(absl::StrCat("pread ", path, ": file shorter than its durable size"));
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

}  // namespace

Sealer::Sealer(SealerOptions options, SpoolCatalog* catalog, ObjectStore* store)
    : options_(std::move(options)), catalog_(catalog), store_(store) {}

Sealer::~Sealer() {
  Stop(/*flush_all=*/false);
  absl::MutexLock lock(&run_mu_);
  for (auto& [key, file] : files_) {
    if (file.fd >= 0) close(file.fd);
  }
}

void Sealer::set_on_sealed(std::function<void(const std::string&, uint64_t)> on_sealed) {
  absl::MutexLock lock(&run_mu_);
  on_sealed_ = std::move(on_sealed);
}

void Sealer::Start() {
  thread_ = std::thread([this] { Loop(); });
}

void Sealer::Loop() {
  while (!stop_.HasBeenNotified()) {
    RunOnce(/*flush_all=*/false).IgnoreError();  // errors are counted and logged in the pass
    stop_.WaitForNotificationWithTimeout(options_.poll_interval);
  }
}

void Sealer::Stop(bool flush_all) {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
  if (flush_all) {
    absl::Status flushed = RunOnce(/*flush_all=*/true);
    if (!flushed.ok()) {
      log::Error("sealer_flush_failed", {{"error", View(flushed.message())}});
    }
  }
}

SealerStats Sealer::stats() const {
  absl::MutexLock lock(&stats_mu_);
  return stats_;
}

void Sealer::NoteError(std::string_view event, const absl::Status& status, absl::Status& first_error) {
  if (first_error.ok()) first_error = status;
  if (error_log_.Allow(absl::Now())) {
    log::Error(event, {{"error", View(status.message())},
                       {"suppressed", static_cast<int64_t>(error_log_.TakeSuppressed())}});
  }
}

absl::Status Sealer::RunOnce(bool flush_all) {
  absl::MutexLock lock(&run_mu_);
  ++pass_;
  const absl::Time now = absl::Now();
  absl::Status first_error;

  // New files first, so a shard at its rotation size never waits long.
  absl::Status prepared = catalog_->PrepareNextFiles();
  if (!prepared.ok()) {
    {
      absl::MutexLock stats_lock(&stats_mu_);
      ++stats_.spool_errors;
    }
    NoteError("sealer_prepare_spool_failed", prepared, first_error);
  }

  const std::vector<SpoolFileState> snapshot = catalog_->Snapshot();
  for (const SpoolFileState& file : snapshot) ScanFile(file, now, first_error);

  for (auto& [camera, state] : cameras_) SealCamera(camera, state, flush_all, now, first_error);

  ReclaimFiles(snapshot, first_error);

  uint64_t pending = 0;
  absl::Time oldest = now;
  for (const auto& [camera, state] : cameras_) {
    pending += state.pending.size();
    for (const PendingSegment& s : state.pending) oldest = std::min(oldest, s.seen_at);
  }
  absl::MutexLock stats_lock(&stats_mu_);
  stats_.pending_segments = pending;
  stats_.oldest_pending_age = now - oldest;
  return first_error;
}

void Sealer::ScanFile(const SpoolFileState& snap, absl::Time now, absl::Status& first_error) {
  const FileKey key{snap.shard, snap.file_seq};
  FileState& file = files_[key];
  if (file.path.empty()) file.path = snap.path;
  if (file.scan_stopped || file.scan_offset >= snap.durable_bytes) return;
  if (file.fd < 0) {
    file.fd = open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
    if (file.fd < 0) {
      {
        absl::MutexLock stats_lock(&stats_mu_);
        ++stats_.spool_errors;
      }
      NoteError("sealer_spool_open_failed",
                absl::InternalError(absl::StrCat("open ", file.path, ": ", std::strerror(errno))), first_error);
      return;
    }
  }
  SpoolFileReader reader(file.fd, file.path, file.scan_offset, snap.durable_bytes);
  while (true) {
    absl::StatusOr<std::optional<SpoolRecord>> next = reader.Next();
    if (!next.ok()) {
      // Corruption below the durable size cannot be a torn write: keep the
      // file for an operator instead of guessing where records resume.
      if (absl::IsDataLoss(next.status())) file.scan_stopped = true;
      {
        absl::MutexLock stats_lock(&stats_mu_);
        ++stats_.spool_errors;
      }
      NoteError("sealer_spool_read_failed", next.status(), first_error);
      break;
    }
    if (!next->has_value()) break;
    ++file.records;
    AddPending(**next, key, now);
    file.scan_offset = reader.offset();
  }
}

void Sealer::AddPending(const SpoolRecord& record, const FileKey& file, absl::Time now) {
  CameraState& state = cameras_[record.camera_id];
  auto at = std::lower_bound(state.pending.begin(), state.pending.end(), record.seq,
                             [](const PendingSegment& s, uint64_t seq) { return s.seq < seq; });
  const bool duplicate = (state.store_checked && record.seq <= state.sealed_through) ||
                         (at != state.pending.end() && at->seq == record.seq);
  if (duplicate) {
    ++files_[file].records_done;
    absl::MutexLock stats_lock(&stats_mu_);
    ++stats_.duplicates_skipped;
    return;
  }
  PendingSegment s;
  s.seq = record.seq;
  s.capture_start_us = record.capture_start_us;
  s.duration_us = record.duration_us;
  s.flags = record.flags;
  s.length = record.payload_bytes;
  s.crc = record.payload_crc;
  s.payload_offset = record.payload_offset;
  s.file = file;
  s.pass_seen = pass_;
  s.seen_at = now;
  state.pending.insert(at, s);
  state.pending_bytes += s.length;
}

void Sealer::SealCamera(const std::string& camera, CameraState& state, bool flush_all, absl::Time now,
                        absl::Status& first_error) {
  if (state.pending.empty()) return;
  absl::Time oldest = now;
  for (const PendingSegment& s : state.pending) oldest = std::min(oldest, s.seen_at);
  if (!flush_all && state.pending_bytes < options_.seal_bytes && now - oldest < options_.seal_age) return;

  if (!state.store_checked) {
    absl::StatusOr<uint64_t> stored = HighestStoredSeq(*store_, options_.zone, camera);
    if (!stored.ok()) {
      {
        absl::MutexLock stats_lock(&stats_mu_);
        ++stats_.store_errors;
      }
      NoteError("sealer_store_failed",
                absl::Status(stored.status().code(),
                             absl::StrCat("highest stored seq of camera ", camera, ": ", stored.status().message())),
                first_error);
      return;
    }
    state.sealed_through = std::max(state.sealed_through, *stored);
    state.store_checked = true;
  }

  // Drop what the store already holds.
  size_t duplicates = 0;
  while (duplicates < state.pending.size() && state.pending[duplicates].seq <= state.sealed_through) {
    ++files_[state.pending[duplicates].file].records_done;
    state.pending_bytes -= state.pending[duplicates].length;
    ++duplicates;
  }
  if (duplicates > 0) {
    state.pending.erase(state.pending.begin(), state.pending.begin() + duplicates);
    absl::MutexLock stats_lock(&stats_mu_);
    stats_.duplicates_skipped += duplicates;
  }

  size_t eligible = 0;
  while (eligible < state.pending.size() && (flush_all || state.pending[eligible].pass_seen < pass_)) {
    ++eligible;
  }
  // Cut packs at seal_bytes and at hour boundaries (readers rely on a pack's
  // segments all starting in its key's hour).
  size_t sealed = 0;
  while (sealed < eligible) {
    size_t end = sealed + 1;
    uint64_t bytes = state.pending[sealed].length;
    const int64_t hour = RecordingHourStartUs(state.pending[sealed].capture_start_us);
    while (end < eligible && end - sealed < kMaxPackSegments &&
           bytes + state.pending[end].length <= options_.seal_bytes &&
           RecordingHourStartUs(state.pending[end].capture_start_us) == hour) {
      bytes += state.pending[end].length;
      ++end;
    }
    absl::Status status = SealRun(camera, state, sealed, end);
    if (!status.ok()) {
      NoteError("sealer_seal_failed", status, first_error);
      break;
    }
    sealed = end;
  }
  for (size_t i = 0; i < sealed; ++i) state.pending_bytes -= state.pending[i].length;
  state.pending.erase(state.pending.begin(), state.pending.begin() + sealed);
}

absl::Status Sealer::SealRun(const std::string& camera, CameraState& state, size_t begin, size_t end) {
  uint64_t total = 0;
  for (size_t i = begin; i < end; ++i) total += state.pending[i].length;
  std::vector<uint8_t> payloads(total);
  std::vector<PackSegment> segments;
  segments.reserve(end - begin);
  uint64_t at = 0;
  uint64_t corrupt = 0;
  for (size_t i = begin; i < end; ++i) {
    const PendingSegment& s = state.pending[i];
    FileState& file = files_[s.file];
    if (file.fd < 0) {
      return absl::InternalError(absl::StrCat("spool file ", file.path, " of camera ", camera, " is not open"));
    }
    absl::Status read = PreadAll(file.fd, payloads.data() + at, s.length, s.payload_offset, file.path);
    if (!read.ok()) {
      absl::MutexLock stats_lock(&stats_mu_);
      ++stats_.spool_errors;
      return read;
    }
    absl::Span<const uint8_t> payload(payloads.data() + at, s.length);
    at += s.length;
    if (Crc32c({payload.data(), payload.size()}) != s.crc) {
      // Verified when scanned, so the disk changed under us. Sealing the
      // bad bytes would hide it; dropping the segment and keeping the
      // file leaves the evidence.
      file.keep = true;
      ++corrupt;
      log::Error("sealer_corrupt_segment",
                 {{"camera", camera}, {"seq", static_cast<int64_t>(s.seq)}, {"file", file.path}});
      continue;
    }
    segments.push_back({s.seq, s.capture_start_us, s.duration_us, s.flags, s.crc, payload});
  }

  uint64_t stored_bytes = 0;
  if (!segments.empty()) {
    const std::string key = RecordingKey(options_.zone, camera, segments.front().capture_start_us,
                                         segments.front().seq, segments.back().seq);
    absl::StatusOr<std::vector<uint8_t>> pack = EncodePack(camera, segments);
    absl::Status put = pack.ok() ? store_->Put(key, *pack) : pack.status();
    if (!put.ok()) {
      absl::MutexLock stats_lock(&stats_mu_);
      ++stats_.store_errors;
      return absl::Status(put.code(), absl::StrCat("seal ", key, ": ", put.message()));
    }
    for (const PackSegment& s : segments) stored_bytes += s.payload.size();
  }

  for (size_t i = begin; i < end; ++i) ++files_[state.pending[i].file].records_done;
  const uint64_t last_seq = state.pending[end - 1].seq;
  state.sealed_through = std::max(state.sealed_through, last_seq);
  {
    absl::MutexLock stats_lock(&stats_mu_);
    stats_.corrupt_segments += corrupt;
    if (!segments.empty()) {
      ++stats_.objects_written;
      stats_.segments_sealed += segments.size();
      stats_.bytes_sealed += stored_bytes;
    }
  }
  if (!segments.empty() && on_sealed_) on_sealed_(camera, segments.back().seq);
  return absl::OkStatus();
}

void Sealer::ReclaimFiles(const std::vector<SpoolFileState>& snapshot, absl::Status& first_error) {
  for (const SpoolFileState& snap : snapshot) {
    auto it = files_.find({snap.shard, snap.file_seq});
    if (it == files_.end()) continue;
    FileState& file = it->second;
    if (!snap.closed || snap.durable_bytes < snap.final_bytes || file.scan_offset != snap.final_bytes ||
        file.records_done != file.records || file.scan_stopped || file.keep) {
      continue;
    }
    if (file.fd >= 0) {
      close(file.fd);
      file.fd = -1;
    }
    absl::Status reclaimed = catalog_->Reclaim(snap.shard, snap.file_seq);
    if (!reclaimed.ok()) {
      {
        absl::MutexLock stats_lock(&stats_mu_);
        ++stats_.spool_errors;
      }
      NoteError("sealer_reclaim_failed", reclaimed, first_error);
      continue;
    }
    files_.erase(it);
    absl::MutexLock stats_lock(&stats_mu_);
    ++stats_.files_reclaimed;
  }
}

}  // namespace ingest
