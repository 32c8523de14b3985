#include "server/batch/batch_sealer.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <optional>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/crc32c.h"
#include "common/monotonic_clock.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "common/thread_name.h"
#include "common/thread_priority.h"
#include "server/batch/batch_layout.h"
#include "server/batch/batch_object.h"
#include "server/batch/camera_index.h"
#include "server/spool/spool_file_reader.h"

namespace ingest {
namespace {

// One spool read fetches consecutive chosen segments of a file when each
// starts at most kReadGapBytes after the previous one ends (a record header
// and its padding lie between), up to kCoalescedReadBytes: on this VM each
// O_DIRECT read costs a virtio notification, so fewer, longer reads.
constexpr uint64_t kReadGapBytes = 8 << 10;
constexpr uint64_t kCoalescedReadBytes = 4 << 20;

// The end of the run of chosen segments from `begin` that one read fetches.
size_t CoalescedRunEnd(const std::vector<ChosenSegment>& chosen, size_t begin) {
  const SpooledSegment& first = chosen[begin].segment;
  uint64_t end = first.payload_offset + first.length;
  size_t i = begin + 1;
  for (; i < chosen.size(); ++i) {
    const SpooledSegment& s = chosen[i].segment;
    if (s.file != first.file || s.payload_offset < end || s.payload_offset - end > kReadGapBytes) break;
    if (s.payload_offset + s.length - first.payload_offset > kCoalescedReadBytes) break;
    end = s.payload_offset + s.length;
  }
  return i;
}

}  // namespace

BatchSealer::BatchSealer(BatchSealerOptions options, SpoolCatalog* catalog, ObjectStore* store)
    : options_([&] {
        if (options.instance.empty()) options.instance = NewInstanceId();
        return std::move(options);
      }()),
      catalog_(catalog),
      store_(store) {}

BatchSealer::~BatchSealer() {
  Stop(/*flush_all=*/false);
  pool_.reset();  // joins the workers before the buffers they read go away
  absl::MutexLock lock(&run_mu_);
  for (auto& [key, file] : files_) {
    if (file.fd >= 0) close(file.fd);
  }
}

absl::Status BatchSealer::Open() {
  absl::MutexLock lock(&run_mu_);
  JournalRecovery recovered;
  ASSIGN_OR_RETURN(journal_, BatchJournal::Open(options_.journal_dir, &recovered));
  recovered_committed_ = order_.Recover(recovered, MonotonicNow());
  recovered_intents_ = std::move(recovered.uncommitted);
  pool_ = std::make_unique<UploadPool>(store_, options_.upload_threads);
  log::Info("batch_journal_recovered", {{"records", recovered.records},
                                        {"truncated_bytes", recovered.truncated_bytes},
                                        {"cameras", recovered_committed_.size()},
                                        {"unindexed_segments", recovered.unindexed.size()},
                                        {"uncommitted_batches", recovered_intents_.size()},
                                        {"instance", options_.instance}});
  return absl::OkStatus();
}

void BatchSealer::set_on_persisted(std::function<void(const std::string&, uint64_t)> on_persisted) {
  absl::MutexLock lock(&run_mu_);
  on_persisted_ = std::move(on_persisted);
}

void BatchSealer::Start() {
  thread_ = std::thread([this] {
    NameThisThread("sealer");
    // Sealing may lag by as much as the spool holds; a camera's ACK may not.
    if (absl::Status lowered = LowerThisThreadPriority(kBackgroundNice); !lowered.ok()) {
      log::Warn("sealer_priority_unchanged", {{"error", lowered.ToString()}});
    }
    Loop();
  });
}

void BatchSealer::Loop() {
  absl::Time next_probe = MonotonicNow();
  while (!stop_.HasBeenNotified()) {
    // Errors are counted and logged in the pass; waiting on the pool wakes
    // the loop as soon as an upload finishes.
    RunOnce(/*flush_all=*/false, options_.poll_interval).IgnoreError();
    if (options_.probe_store && MonotonicNow() >= next_probe) {
      next_probe = MonotonicNow() + options_.probe_interval;
      ProbeStoreIfIdleAndFailing();
    }
  }
}

void BatchSealer::ProbeStoreIfIdleAndFailing() {
  const BatchSealerStats s = stats();
  // Uploads in flight will tell soon enough.
  if (s.store_ok || s.batches_in_flight > 0) return;
  absl::Status reachable = store_->CheckAccess();
  if (!reachable.ok()) {
    NoteStoreError(reachable);
    return;
  }
  {
    absl::MutexLock stats_lock(&stats_mu_);
    stats_.store_ok = true;
    stats_.last_store_error.clear();
  }
  log::Info("store_reachable", {{"after_error", ToStd(s.last_store_error)}});
}

bool BatchSealer::Stop(bool flush_all, absl::Time deadline) {
  if (!stop_.HasBeenNotified()) stop_.Notify();
  if (thread_.joinable()) thread_.join();
  if (!flush_all || pool_ == nullptr) return true;
  deadline = std::min(deadline, absl::Now() + options_.flush_deadline);
  absl::Status last;
  while (absl::Now() < deadline) {
    last = RunOnce(/*flush_all=*/true, options_.poll_interval);
    if (Idle()) break;
  }
  absl::MutexLock lock(&run_mu_);
  absl::Status rotated;
  MaybeRotateJournal(rotated);
  absl::Status synced = journal_->Sync();
  const BatchSealerStats s = stats();
  if (!Idle() || !synced.ok()) {
    log::Error("batch_flush_incomplete", {{"pending_segments", s.pending_segments},
                                          {"batches_in_flight", s.batches_in_flight},
                                          {"unindexed_segments", s.unindexed_segments},
                                          {"error", ToStd(last.ok() ? synced.message() : last.message())}});
    return false;
  }
  return true;
}

bool BatchSealer::Idle() const {
  const BatchSealerStats s = stats();
  return s.pending_segments == 0 && s.batches_in_flight == 0 && s.unindexed_segments == 0;
}

BatchSealerStats BatchSealer::stats() const {
  absl::MutexLock lock(&stats_mu_);
  return stats_;
}

void BatchSealer::NoteError(std::string_view event, const absl::Status& status, absl::Status& first_error) {
  if (first_error.ok()) first_error = status;
  if (error_log_.Allow(MonotonicNow())) {
    log::Error(event,
               {{"error", ToStd(status.message())}, {"suppressed", static_cast<int64_t>(error_log_.TakeSuppressed())}});
  }
}

void BatchSealer::NoteStoreError(const absl::Status& status) {
  absl::MutexLock stats_lock(&stats_mu_);
  ++stats_.store_errors;
  stats_.store_ok = false;
  stats_.last_store_error = std::string(ToStd(status.ToString()));
}

absl::Duration BatchSealer::RetryDelay(int attempts) const {
  // Exponential with full jitter, so servers that lost the store together
  // do not come back in lockstep.
  absl::Duration cap = options_.retry_min;
  for (int i = 1; i < attempts && cap < options_.retry_max; ++i) cap *= 2;
  cap = std::min(cap, options_.retry_max);
  thread_local std::mt19937_64 random{std::random_device{}()};
  std::uniform_int_distribution<int64_t> pick(absl::ToInt64Milliseconds(options_.retry_min) / 2,
                                              std::max<int64_t>(1, absl::ToInt64Milliseconds(cap)));
  return absl::Milliseconds(pick(random));
}

absl::Status BatchSealer::RunOnce(bool flush_all, absl::Duration wait) {
  absl::MutexLock lock(&run_mu_);
  if (journal_ == nullptr) return absl::FailedPreconditionError("batch sealer used before Open()");
  return Pass(flush_all, wait);
}

absl::Status BatchSealer::Pass(bool flush_all, absl::Duration wait) {
  absl::Status first_error;
  // Results first: they free batch slots and may make spool files reclaimable.
  if (wait > absl::ZeroDuration() && pool_->outstanding() > 0) {
    run_mu_.Unlock();  // the pool's own lock only; nothing of ours is touched
    std::vector<UploadResult> results = pool_->WaitForResults(wait);
    run_mu_.Lock();
    HandleResults(results, MonotonicNow(), first_error);
  } else {
    HandleResults(pool_->WaitForResults(absl::ZeroDuration()), MonotonicNow(), first_error);
    if (wait > absl::ZeroDuration()) {
      run_mu_.Unlock();
      // Stop() notifies stop_ before its flush passes, which must still pace.
      if (stop_.HasBeenNotified() || !stop_.WaitForNotificationWithTimeout(wait)) {
        if (stop_.HasBeenNotified()) absl::SleepFor(std::min(wait, absl::Milliseconds(20)));
      }
      run_mu_.Lock();
    }
  }
  ++pass_;
  // Batch ages, retry and index times run on the monotonic clock, so a step
  // of the wall clock neither hurries nor stalls them.
  const absl::Time now = MonotonicNow();

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

  CutBatches(flush_all, now, first_error);
  SubmitDue(now);
  FlushIndexes(flush_all, now, first_error);
  ReclaimFiles(snapshot, first_error);
  // After reclaiming, so the shards see the space it freed at once.
  absl::Status measured = catalog_->RefreshDiskSpace();
  if (!measured.ok()) NoteError("sealer_disk_space_unknown", measured, first_error);
  MaybeRotateJournal(first_error);

  const PersistOrderCounts counts = order_.Counts();
  absl::MutexLock stats_lock(&stats_mu_);
  stats_.pending_segments = counts.pending_segments;
  stats_.unindexed_segments = counts.unindexed_segments;
  stats_.batches_in_flight = batches_.size() + recovered_intents_.size();
  stats_.oldest_pending_age = now - std::min(now, counts.oldest_pending_seen);
  return first_error;
}

void BatchSealer::ScanFile(const SpoolFileState& snap, absl::Time now, absl::Status& first_error) {
  const SpoolFileKey key{snap.shard, snap.file_seq};
  FileState& file = files_[key];
  if (file.path.empty()) file.path = snap.path;
  if (file.scan_stopped || file.scan_offset >= snap.durable_bytes) return;
  // Published records are taken only once the file is open: a failed open
  // is tried again next pass with none of them handed out and lost.
  if (file.fd < 0) {
    // Direct like the shards' writes: their pages are not in the page cache,
    // and a buffered read would fill it only to copy out of it.
    if (catalog_->direct_io()) file.fd = open(file.path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT);
    if (file.fd < 0) file.fd = open(file.path.c_str(), O_RDONLY | O_CLOEXEC);
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
  if (snap.records_published) {
    // This run's shard wrote the file and handed over the headers with the
    // bytes: nothing to read back.
    for (const SpoolRecord& record : catalog_->TakeRecords(snap.shard, snap.file_seq)) {
      AddPending(record, key, now);
      file.scan_offset = record.end_offset();
    }
    return;
  }
  // Headers only: each payload's CRC is checked as CutOneBatch copies it
  // into a batch, so reading it here too would read every byte twice.
  SpoolFileReader reader(file.fd, file.path, file.scan_offset, snap.durable_bytes, kScanReadBytes,
                         SpoolPayloadCheck::kSkip);
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
    AddPending(**next, key, now);
    file.scan_offset = reader.offset();
  }
}

void BatchSealer::AddPending(const SpoolRecord& record, const SpoolFileKey& file, absl::Time now) {
  SpooledSegment s;
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
  if (!order_.Spooled(record.camera_id, s)) {
    absl::MutexLock stats_lock(&stats_mu_);
    ++stats_.duplicates_skipped;
  }
}

void BatchSealer::CutBatches(bool flush_all, absl::Time now, absl::Status& first_error) {
  // Batches the previous run journaled but may not have uploaded are redone
  // first, under their old keys, once every recovered spool file was read
  // (the first pass reads them all).
  if (!recovered_intents_.empty()) {
    if (pass_ < 2 && !flush_all) return;
    // An intent is redone once; its seqs stop being exempt from the
    // duplicate check as soon as it is cut.
    size_t done = 0;
    while (done < recovered_intents_.size() && static_cast<int>(batches_.size()) < options_.max_batches_in_flight) {
      const BatchManifest& intent = recovered_intents_[done++];
      if (!CutOneBatch(/*flush_all=*/true, &intent, first_error)) {
        log::Warn("batch_recovery_nothing_to_redo", {{"batch", intent.key}});
      }
      order_.RedoCut(intent);
    }
    recovered_intents_.erase(recovered_intents_.begin(), recovered_intents_.begin() + static_cast<ptrdiff_t>(done));
    if (!recovered_intents_.empty()) return;
  }
  while (static_cast<int>(batches_.size()) < options_.max_batches_in_flight) {
    const EligibleSegments eligible = order_.Eligible(pass_, flush_all);
    if (eligible.bytes == 0) return;
    if (!flush_all && eligible.bytes < options_.batch_bytes && now - eligible.oldest_seen < options_.batch_age) return;
    if (!CutOneBatch(flush_all, nullptr, first_error)) return;
  }
}

bool BatchSealer::CutOneBatch(bool flush_all, const BatchManifest* only, absl::Status& first_error) {
  const std::vector<ChosenSegment> chosen =
      only != nullptr
          ? order_.ChooseRedo(*only)
          : order_.ChooseBatch({.bytes = options_.batch_bytes, .max_segments = kMaxBatchSegments}, pass_, flush_all);
  if (chosen.empty()) return false;
  uint64_t total = 0;
  uint64_t camera_id_bytes = 0;
  for (const ChosenSegment& c : chosen) {
    total += c.segment.length;
    camera_id_bytes += c.camera.size();
  }

  // Payloads are read (O_DIRECT: from the device; neighbours in the spool in
  // one read) and copied into the object: the one copy from the spool to the
  // upload buffer. Its index and trailer are reserved too: appending them to
  // an object sized to its payloads reallocated it to twice its size
  // (heaptrack: 8 batches in flight held 264 MiB, not 130). A reused buffer
  // keeps its old bytes below its old size; every byte of the object is
  // written below (header, payloads back to back, then index and trailer).
  std::shared_ptr<BatchBytes> object =
      buffers_.Take(FinishedBatchObjectBytes(total, chosen.size(), camera_id_bytes));
  object->resize(kBatchHeaderBytes + total);
  BatchInFlight batch;
  batch.manifest.key =
      only != nullptr ? only->key : BatchKey(options_.zone, options_.instance, next_batch_seq_++, absl::Now());
  uint64_t at = kBatchHeaderBytes;
  uint64_t corrupt = 0;
  // The CRC of the payloads as laid out, combined from the segment CRCs
  // checked below: the object's checksum for the store without a second
  // pass over its bytes.
  uint32_t payloads_crc = 0;
  for (size_t run = 0; run < chosen.size();) {
    const size_t run_end = CoalescedRunEnd(chosen, run);
    const SpooledSegment& first = chosen[run].segment;
    const SpooledSegment& last = chosen[run_end - 1].segment;
    const uint64_t run_bytes = last.payload_offset + last.length - first.payload_offset;
    FileState& file = files_[first.file];
    absl::StatusOr<absl::Span<const uint8_t>> read =
        file.fd < 0 ? absl::InternalError(absl::StrCat("spool file ", file.path, " is not open"))
                    : payload_read_.Read(file.fd, file.path, first.payload_offset, run_bytes);
    if (read.ok() && read->size() < run_bytes) {
      read = absl::DataLossError(absl::StrCat(file.path, ": file shorter than its durable size"));
    }
    if (!read.ok()) {
      {
        absl::MutexLock stats_lock(&stats_mu_);
        ++stats_.spool_errors;
      }
      NoteError("sealer_spool_read_failed", read.status(), first_error);
      return false;
    }
    for (size_t i = run; i < run_end; ++i) {
      const ChosenSegment& c = chosen[i];
      const SpooledSegment& s = c.segment;
      const uint8_t* payload = read->data() + (s.payload_offset - first.payload_offset);
      // Checked and copied in one pass; a bad copy is overwritten by the next.
      if (Crc32cCopy(0, {payload, s.length}, object->data() + at) != s.crc) {
        // The scan checked the header only; a payload that does not match
        // the CRC the shard computed as it arrived changed on the disk.
        // Uploading the bad bytes would hide it; dropping the segment and
        // keeping the file leaves the evidence.
        order_.CorruptFound(c.camera, s.seq, s.file);
        ++corrupt;
        log::Error("sealer_corrupt_segment",
                   {{"camera", c.camera}, {"seq", static_cast<int64_t>(s.seq)}, {"file", file.path}});
        continue;
      }
      SegmentLocation location;
      location.camera = c.camera;
      location.batch_key = batch.manifest.key;
      location.seq = s.seq;
      location.capture_start_us = s.capture_start_us;
      location.duration_us = s.duration_us;
      location.flags = s.flags;
      location.offset = at;
      location.length = s.length;
      location.crc32c = s.crc;
      batch.manifest.entries.push_back(std::move(location));
      payloads_crc = Crc32cCombine(payloads_crc, s.crc, s.length);
      at += s.length;
    }
    run = run_end;
  }
  object->resize(at);
  absl::Status finished =
      batch.manifest.entries.empty() ? absl::OkStatus() : FinishBatchObject(*object, batch.manifest.entries);
  if (finished.ok() && !batch.manifest.entries.empty()) finished = journal_->AppendIntent(batch.manifest);
  if (!finished.ok()) {
    NoteError("sealer_batch_failed", finished, first_error);
    return false;
  }

  // Journaled: the chosen segments leave the waiting queues and wait for the
  // batch's commit (the corrupt ones are dropped).
  order_.BatchCut(chosen, batch.manifest.entries);
  {
    absl::MutexLock stats_lock(&stats_mu_);
    stats_.corrupt_segments += corrupt;
  }
  if (batch.manifest.entries.empty()) return true;
  batch.object_crc32c = FinishedBatchObjectCrc32c(*object, at, payloads_crc);
  batch.object = std::move(object);
  batches_.emplace(next_job_id_++, std::move(batch));
  return true;
}

void BatchSealer::SubmitDue(absl::Time now) {
  for (auto& [id, batch] : batches_) {
    if (batch.submitted || now < batch.retry_at) continue;
    batch.submitted = true;
    ++batch.attempts;
    pool_->Submit(UploadJob{.id = id, .objects = {{batch.manifest.key, batch.object, batch.object_crc32c}}});
  }
}

void BatchSealer::HandleResults(const std::vector<UploadResult>& results, absl::Time now, absl::Status& first_error) {
  for (const UploadResult& result : results) {
    if (auto index = index_jobs_.find(result.id); index != index_jobs_.end()) {
      if (!result.status.ok()) {
        NoteStoreError(result.status);
        NoteError("sealer_index_put_failed", result.status, first_error);
        order_.IndexFailed(index->second, now + RetryDelay(2));
      } else {
        const uint64_t mark = order_.IndexWritten(index->second, now);
        if (mark > 0) {
          absl::Status noted = journal_->AppendIndexed(index->second, mark);
          if (!noted.ok()) NoteError("sealer_journal_failed", noted, first_error);
        }
        absl::MutexLock stats_lock(&stats_mu_);
        stats_.store_ok = true;
      }
      index_jobs_.erase(index);
      continue;
    }
    auto it = batches_.find(result.id);
    if (it == batches_.end()) continue;
    BatchInFlight& batch = it->second;
    if (!result.status.ok()) {
      NoteStoreError(result.status);
      NoteError("sealer_batch_put_failed", result.status, first_error);
      batch.submitted = false;
      batch.retry_at = now + RetryDelay(batch.attempts);
      continue;
    }
    CommitBatch(result.id, first_error);
  }
}

void BatchSealer::CommitBatch(uint64_t id, absl::Status& first_error) {
  BatchInFlight& batch = batches_[id];
  // Not synced here: spool files are reclaimed only after a Sync, and until
  // then a restart finds the intent and simply uploads the batch again.
  absl::Status noted = journal_->AppendCommit(batch.manifest.key);
  if (!noted.ok()) NoteError("sealer_journal_failed", noted, first_error);
  const CommitOutcome outcome = order_.Committed(batch.manifest.entries, MonotonicNow());
  if (on_persisted_) {
    for (const PersistedMark& mark : outcome.raised) on_persisted_(mark.camera, mark.seq);
  }
  absl::MutexLock stats_lock(&stats_mu_);
  ++stats_.batches_written;
  stats_.batch_bytes_written += batch.object->size();
  stats_.segments_persisted += outcome.segments_persisted;
  stats_.store_ok = true;
  batches_.erase(id);
}

void BatchSealer::FlushIndexes(bool flush_all, absl::Time now, absl::Status& first_error) {
  const IndexPolicy policy{.interval = options_.index_interval, .hour_grace = options_.index_hour_grace};
  for (const IndexCover& due : order_.IndexesDue(policy, now, absl::Now(), flush_all)) {
    // One index object per capture hour the entries fall in.
    std::map<int64_t, std::vector<SegmentLocation>> by_hour;
    for (const SegmentLocation& e : due.entries) by_hour[IndexHourStartUs(e.capture_start_us)].push_back(e);
    UploadJob job{.id = next_job_id_++, .objects = {}};
    absl::Status encoded;
    for (auto& [hour, entries] : by_hour) {
      absl::StatusOr<std::vector<uint8_t>> bytes = EncodeCameraIndex(due.camera, entries);
      if (!bytes.ok()) {
        encoded = bytes.status();
        break;
      }
      // Named by its contents: the same index written again after a restart
      // replaces the object rather than adding a copy.
      std::string key = CameraIndexKey(options_.zone, due.camera, hour, entries.front().seq, entries.back().seq,
                                       IndexContentTag(*bytes));
      job.objects.push_back({std::move(key), std::make_shared<const std::vector<uint8_t>>(std::move(*bytes))});
    }
    if (!encoded.ok()) {
      NoteError("sealer_index_encode_failed", encoded, first_error);
      continue;
    }
    order_.IndexStarted(due.camera);
    index_jobs_[job.id] = due.camera;
    {
      absl::MutexLock stats_lock(&stats_mu_);
      stats_.index_objects_written += job.objects.size();
    }
    pool_->Submit(std::move(job));
  }
}

void BatchSealer::ReclaimFiles(const std::vector<SpoolFileState>& snapshot, absl::Status& first_error) {
  bool synced = false;
  for (const SpoolFileState& snap : snapshot) {
    auto it = files_.find({snap.shard, snap.file_seq});
    if (it == files_.end()) continue;
    FileState& file = it->second;
    const bool fully_read = snap.closed && snap.durable_bytes >= snap.final_bytes &&
                            file.scan_offset == snap.final_bytes && !file.scan_stopped;
    if (!order_.Reclaimable(it->first, fully_read)) continue;
    // The commits that made this file's records done must be durable before
    // the only other copy of their payloads goes.
    if (!synced) {
      absl::Status sync = journal_->Sync();
      if (!sync.ok()) {
        NoteError("sealer_journal_failed", sync, first_error);
        return;
      }
      synced = true;
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
    order_.FileReclaimed(it->first);
    files_.erase(it);
    absl::MutexLock stats_lock(&stats_mu_);
    ++stats_.files_reclaimed;
  }
}

void BatchSealer::MaybeRotateJournal(absl::Status& first_error) {
  // A broken journal (a record lost to a full disk) is rewritten from what
  // this process knows as soon as there is room again.
  if (journal_->bytes() < options_.journal_rotate_bytes && journal_->broken().ok()) return;
  JournalRecovery live;
  order_.AddLiveState(live);
  for (const auto& [id, batch] : batches_) live.uncommitted.push_back(batch.manifest);
  live.uncommitted.insert(live.uncommitted.end(), recovered_intents_.begin(), recovered_intents_.end());
  const absl::Status broken = journal_->broken();
  absl::Status rotated = journal_->Rotate(live);
  if (!rotated.ok()) {
    NoteError("sealer_journal_rotate_failed", rotated, first_error);
  } else if (!broken.ok()) {
    log::Info("batch_journal_rewritten", {{"after", ToStd(broken.message())}, {"bytes", journal_->bytes()}});
  }
}

}  // namespace ingest
