// Shard: the spool side of its sessions — record buffers from the shard's
// pool while the spool (and its disk) has room, records handed to the group
// commit, and the ACKs due once a batch is durable.
#include "common/monotonic_clock.h"
#include "server/shard/shard.h"

namespace ingest {

void Shard::OnSpoolCompletion(Op op, int res) {
  const absl::Time stalled_since = writer_->stalled_since();
  const uint64_t commits_before = writer_->counters().commits;
  absl::Status s = writer_->OnCompletion(op, res, [this](const SpoolPendingRecord& r) { OnDurable(r); });
  if (!s.ok()) {
    log::Error("spool_failed", {{"shard", options_.index}, {"error", s.ToString()}});
    fatal_ = s;
  }
  if (writer_->counters().commits != commits_before) {
    counters_.spool_commit.Record(MonotonicNow() - writer_->commit_started());
  }
  NoteSpoolStall(stalled_since);
}

SegmentBuffer Shard::AllocateRecord(size_t bytes) {
  if (!AcceptingSegments()) return {};
  if (!paused_.MayStartSegment()) return {};  // paused cameras first (pause_queue.h)
  SegmentBuffer buffer = pool_.Allocate(bytes);
  if (buffer.data != nullptr) ++segments_started_;
  return buffer;
}

void Shard::ReleaseRecord(const SegmentBuffer& buffer) { pool_.Release(buffer); }

bool Shard::AcceptingSegments() const {
  // A full disk pauses the cameras like a full spool: what they send waits in
  // their socket buffers, unacknowledged, until uploads free space.
  const uint64_t pending = writer_->open_bytes() + writer_->in_flight_bytes();
  return !writer_->stalled() && !shared_.catalog->disk_low(pending) &&
         shared_.catalog->total_bytes() + pending < options_.spool_max_bytes;
}

void Shard::SpoolRecord(CameraSession& session, const SegmentBuffer& buffer, size_t record_bytes,
                        uint64_t seq, uint32_t payload_bytes) {
  AppendRecord(session.host_tag(), session.camera_id(), buffer, record_bytes, seq, payload_bytes);
}

void Shard::AppendRecord(uint64_t tag, const std::string& camera_id, const SegmentBuffer& buffer, size_t record_bytes,
                         uint64_t seq, uint32_t payload_bytes) {
  writer_->Append(SpoolPendingRecord{.buffer = buffer,
                                     .record_bytes = static_cast<uint32_t>(record_bytes),
                                     .payload_bytes = payload_bytes,
                                     .seq = seq,
                                     .camera = &shared_.registry->Get(camera_id),
                                     .conn_id = static_cast<uint32_t>(tag >> 32),
                                     .conn_generation = static_cast<uint32_t>(tag),
                                     .received = MonotonicNow()});
  Bump(counters_.segments_accepted);
  Bump(counters_.payload_bytes_accepted, payload_bytes);
}

void Shard::OnDurable(const SpoolPendingRecord& record) {
  record.camera->RaiseDurable(record.seq);
  pool_.Release(record.buffer);
  Bump(counters_.spool_records);
  Bump(counters_.spool_bytes, record.record_bytes);
  const absl::Duration latency = MonotonicNow() - record.received;
  Bump(counters_.ack_latency_us_sum, static_cast<uint64_t>(absl::ToInt64Microseconds(latency)));
  Bump(counters_.ack_latency_count);
  counters_.ack_spooled.Record(latency);
  Connection* conn = Find(record.conn_id, record.conn_generation);
  if (conn != nullptr && conn->session != nullptr) {
    conn->session->OnDurable(record.seq, record.payload_bytes);
    MarkDirty(*conn);
  } else if (conn != nullptr && conn->http != nullptr) {
    OnHttpDurable(*conn, record.seq);
  }
}

void Shard::NoteSpoolStall(absl::Time stalled_since_before) {
  counters_.spool_disk_full_errors.store(writer_->counters().disk_full_errors, std::memory_order_relaxed);
  const bool was = stalled_since_before != absl::InfinitePast();
  if (was == writer_->stalled()) return;
  counters_.spool_write_stalled.store(writer_->stalled() ? 1 : 0, std::memory_order_relaxed);
  if (writer_->stalled()) {
    log::Error("spool_disk_full", {{"shard", options_.index},
                                   {"error", "no space left on the spool's file system; cameras paused, "
                                             "the batch is retried until uploads free space"},
                                   {"free_bytes", static_cast<int64_t>(shared_.catalog->disk_free_bytes())}});
  } else {
    log::Info("spool_disk_space_back", {{"shard", options_.index},
                                        {"stalled_ms", absl::ToInt64Milliseconds(MonotonicNow() - stalled_since_before)}});
  }
}

}  // namespace ingest
