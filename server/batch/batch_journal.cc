#include "server/batch/batch_journal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/byte_codec.h"
#include "common/crc32c.h"
#include "common/little_endian.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"

namespace ingest {
namespace {

constexpr uint32_t kRecordMagic = 0x31524a42;  // "BJR1" in memory order
constexpr size_t kFrameBytes = 12;
// Bounds what replay reads: rotation keeps files far smaller.
constexpr uint64_t kMaxJournalFileBytes = uint64_t{4} << 30;
constexpr uint32_t kMaxRecordBytes = 256 << 20;

enum RecordType : uint8_t { kIntent = 1, kCommit = 2, kIndexed = 3, kHigh = 4 };


absl::Status Errno(std::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(ToAbsl(what), " ", path, ": ", std::strerror(errno)));
}

absl::Status WriteAll(int fd, const uint8_t* data, size_t size, const std::string& path) {
  while (size > 0) {
    const ssize_t n = write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Errno("write", path);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::Status SyncDir(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return Errno("open", dir);
  const int rc = fsync(fd);
  close(fd);
  return rc == 0 ? absl::OkStatus() : Errno("fsync", dir);
}

void Frame(std::vector<uint8_t>& out, const std::vector<uint8_t>& body) {
  ByteWriter w(&out);
  w.U32(kRecordMagic);
  w.U32(static_cast<uint32_t>(body.size()));
  w.U32(Crc32c({body.data(), body.size()}));
  out.insert(out.end(), body.begin(), body.end());
}

std::vector<uint8_t> IntentBody(const BatchManifest& manifest) {
  std::vector<uint8_t> body;
  ByteWriter w(&body);
  w.U8(kIntent);
  w.String16(manifest.key);
  w.U32(static_cast<uint32_t>(manifest.entries.size()));
  for (const SegmentLocation& e : manifest.entries) {
    w.String8(e.camera);
    WriteSegmentFields(w, e);
  }
  return body;
}

std::vector<uint8_t> KeyBody(std::string_view key) {
  std::vector<uint8_t> body;
  ByteWriter w(&body);
  w.U8(kCommit);
  w.String16(key);
  return body;
}

std::vector<uint8_t> CameraSeqBody(RecordType type, std::string_view camera, uint64_t seq) {
  std::vector<uint8_t> body;
  ByteWriter w(&body);
  w.U8(type);
  w.String8(camera);
  w.U64(seq);
  return body;
}

// The replayed state before it is boiled down to a JournalRecovery.
struct ReplayState {
  std::map<std::string, BatchManifest> intents;  // by key
  std::vector<std::string> intent_order;          // first appearance
  std::set<std::string> committed;
  absl::flat_hash_map<std::string, uint64_t> indexed_through;
  absl::flat_hash_map<std::string, uint64_t> high;
  uint64_t records = 0;
  uint64_t truncated_bytes = 0;
};

bool ApplyRecord(absl::Span<const uint8_t> body, ReplayState& state) {
  ByteReader r(body);
  const uint8_t type = r.U8();
  switch (type) {
    case kIntent: {
      BatchManifest manifest;
      manifest.key = std::string(r.String16());
      const uint32_t count = r.U32();
      if (!r.ok() || count > r.remaining() / (1 + kSegmentFieldBytes)) return false;
      manifest.entries.resize(count);
      bool cameras_named = true;
      for (SegmentLocation& e : manifest.entries) {
        e.camera = std::string(r.String8());
        cameras_named = cameras_named && !e.camera.empty();
        e.batch_key = manifest.key;
        ReadSegmentFields(r, e);
      }
      // An entry without a camera is corrupt, as in indexed and high records:
      // the writer never makes one, and accepting it would make Rotate write
      // a high record for camera "" that the next replay stops at, dropping
      // every record after it.
      if (!r.ok() || manifest.key.empty() || !cameras_named) return false;
      state.committed.erase(manifest.key);
      auto [it, inserted] = state.intents.try_emplace(manifest.key);
      if (inserted) state.intent_order.push_back(manifest.key);
      it->second = std::move(manifest);
      return true;
    }
    case kCommit: {
      std::string key(r.String16());
      if (!r.ok() || key.empty()) return false;
      state.committed.insert(std::move(key));
      return true;
    }
    case kIndexed:
    case kHigh: {
      std::string camera(r.String8());
      const uint64_t seq = r.U64();
      if (!r.ok() || camera.empty()) return false;
      uint64_t& slot = type == kIndexed ? state.indexed_through[camera] : state.high[camera];
      slot = std::max(slot, seq);
      return true;
    }
    default:
      return false;
  }
}

absl::Status ReplayFile(const std::string& path, ReplayState& state) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Errno("open", path);
  struct stat st {};
  if (fstat(fd, &st) != 0) {
    close(fd);
    return Errno("stat", path);
  }
  const uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size > kMaxJournalFileBytes) {
    close(fd);
    return absl::FailedPreconditionError(absl::StrCat("journal file ", path, " is ", size, " bytes; too big to replay"));
  }
  std::vector<uint8_t> bytes(size);
  size_t done = 0;
  while (done < size) {
    const ssize_t n = pread(fd, bytes.data() + done, size - done, static_cast<off_t>(done));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return Errno("read", path);
    }
    done += static_cast<size_t>(n);
  }
  close(fd);
  size_t at = 0;
  while (at + kFrameBytes <= size) {
    const uint8_t* p = bytes.data() + at;
    const uint32_t length = LoadLittleEndian<uint32_t>(p + 4);
    if (LoadLittleEndian<uint32_t>(p) != kRecordMagic || length > kMaxRecordBytes ||
        length > size - at - kFrameBytes ||
        Crc32c({p + kFrameBytes, length}) != LoadLittleEndian<uint32_t>(p + 8) ||
        !ApplyRecord({p + kFrameBytes, length}, state)) {
      break;
    }
    ++state.records;
    at += kFrameBytes + length;
  }
  state.truncated_bytes += size - at;
  return absl::OkStatus();
}

JournalRecovery Summarize(ReplayState& state) {
  JournalRecovery out;
  out.records = state.records;
  out.truncated_bytes = state.truncated_bytes;
  for (const auto& [camera, seq] : state.high) out.committed_through[camera] = seq;
  // In journal order: a camera's uncommitted batches must be redone in seq order.
  for (const std::string& key : state.intent_order) {
    BatchManifest& manifest = state.intents[key];
    if (!state.committed.contains(key)) {
      out.uncommitted.push_back(std::move(manifest));
      continue;
    }
    for (SegmentLocation& e : manifest.entries) {
      uint64_t& through = out.committed_through[e.camera];
      through = std::max(through, e.seq);
      auto indexed = state.indexed_through.find(e.camera);
      if (indexed == state.indexed_through.end() || e.seq > indexed->second) out.unindexed.push_back(std::move(e));
    }
  }
  std::sort(out.unindexed.begin(), out.unindexed.end(), [](const SegmentLocation& a, const SegmentLocation& b) {
    return std::tie(a.camera, a.seq) < std::tie(b.camera, b.seq);
  });
  return out;
}

// journal-<16 digits>.log files in `dir`, by number.
absl::StatusOr<std::map<uint64_t, std::string>> ListJournalFiles(const std::string& dir) {
  std::map<uint64_t, std::string> files;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return Errno("opendir", dir);
  while (dirent* entry = readdir(d)) {
    std::string_view name = entry->d_name;
    uint64_t number = 0;
    if (name.size() == 28 && name.substr(0, 8) == "journal-" && name.substr(24) == ".log" &&
        absl::SimpleAtoi(ToAbsl(name.substr(8, 16)), &number)) {
      files[number] = absl::StrCat(dir, "/", ToAbsl(name));
    }
  }
  closedir(d);
  return files;
}

// Replay refuses a record naming no camera, and a camera id is stored with
// a one-byte length: so the writer refuses both rather than write a record
// that would end every replay there.
absl::Status CheckJournalCamera(std::string_view camera) {
  if (camera.empty() || camera.size() > 0xff) {
    return absl::InvalidArgumentError(absl::StrCat("bad camera id of ", camera.size(), " bytes for the journal"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<JournalRecovery> ReadJournal(const std::string& dir) {
  struct stat st {};
  if (stat(dir.c_str(), &st) != 0 && errno == ENOENT) return JournalRecovery{};
  ASSIGN_OR_RETURN(auto files, ListJournalFiles(dir));
  ReplayState state;
  for (const auto& [number, path] : files) RETURN_IF_ERROR(ReplayFile(path, state));
  return Summarize(state);
}

BatchJournal::BatchJournal(std::string dir, uint64_t next_file) : dir_(std::move(dir)), next_file_(next_file) {}

BatchJournal::~BatchJournal() {
  if (fd_ >= 0) close(fd_);
}

absl::StatusOr<std::unique_ptr<BatchJournal>> BatchJournal::Open(const std::string& dir,
                                                                 JournalRecovery* recovered) {
  if (mkdir(dir.c_str(), 0750) != 0 && errno != EEXIST) return Errno("mkdir", dir);
  ASSIGN_OR_RETURN(auto files, ListJournalFiles(dir));
  ReplayState state;
  for (const auto& [number, path] : files) RETURN_IF_ERROR(ReplayFile(path, state));
  *recovered = Summarize(state);
  const uint64_t next = files.empty() ? 1 : files.rbegin()->first + 1;
  std::unique_ptr<BatchJournal> journal(new BatchJournal(dir, next));
  RETURN_IF_ERROR(journal->Rotate(*recovered));
  return journal;
}

absl::Status BatchJournal::Rotate(const JournalRecovery& live) {
  std::vector<uint8_t> out;
  for (const auto& [camera, seq] : live.committed_through) Frame(out, CameraSeqBody(kHigh, camera, seq));
  for (const BatchManifest& manifest : live.uncommitted) Frame(out, IntentBody(manifest));
  // Unindexed entries go back in as committed intents, one per batch.
  std::map<std::string, BatchManifest> by_batch;
  for (const SegmentLocation& e : live.unindexed) {
    BatchManifest& manifest = by_batch[e.batch_key];
    manifest.key = e.batch_key;
    manifest.entries.push_back(e);
  }
  for (const auto& [key, manifest] : by_batch) {
    Frame(out, IntentBody(manifest));
    Frame(out, KeyBody(key));
  }

  const std::string path = absl::StrCat(dir_, "/", absl::StrFormat("journal-%016d.log", next_file_));
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND | O_CLOEXEC, 0640);
  if (fd < 0) return Errno("create", path);
  absl::Status written = WriteAll(fd, out.data(), out.size(), path);
  if (written.ok() && fdatasync(fd) != 0) written = Errno("fdatasync", path);
  if (written.ok()) written = SyncDir(dir_);
  if (!written.ok()) {
    close(fd);
    unlink(path.c_str());
    return written;
  }
  // The new file holds everything live: the old ones can go.
  ASSIGN_OR_RETURN(auto files, ListJournalFiles(dir_));
  for (const auto& [number, old_path] : files) {
    if (number < next_file_) unlink(old_path.c_str());
  }
  if (fd_ >= 0) close(fd_);
  fd_ = fd;
  path_ = path;
  bytes_ = out.size();
  unsynced_ = false;
  broken_ = absl::OkStatus();
  ++next_file_;
  return SyncDir(dir_);
}

absl::Status BatchJournal::Break(absl::Status failure) {
  if (broken_.ok()) broken_ = failure;
  return failure;
}

absl::Status BatchJournal::Append(const std::vector<uint8_t>& body, bool sync) {
  if (!broken_.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("batch journal needs rewriting after: ", broken_.message()));
  }
  std::vector<uint8_t> record;
  record.reserve(kFrameBytes + body.size());
  Frame(record, body);
  absl::Status written = WriteAll(fd_, record.data(), record.size(), path_);
  if (!written.ok()) {
    // Part of the record may be in the file: cut it off, or a crash before
    // the rewrite would replay up to it and stop there.
    if (ftruncate(fd_, static_cast<off_t>(bytes_)) != 0) {
      return Break(absl::InternalError(absl::StrCat(written.message(), "; and truncating it back failed: ",
                                                    std::strerror(errno))));
    }
    return Break(written);
  }
  bytes_ += record.size();
  unsynced_ = true;
  return sync ? Sync() : absl::OkStatus();
}

absl::Status BatchJournal::AppendIntent(const BatchManifest& manifest) {
  if (manifest.key.empty() || manifest.key.size() > 0xffff) return absl::InvalidArgumentError("bad batch key");
  for (const SegmentLocation& e : manifest.entries) RETURN_IF_ERROR(CheckJournalCamera(e.camera));
  return Append(IntentBody(manifest), /*sync=*/true);
}

absl::Status BatchJournal::AppendCommit(std::string_view batch_key) {
  return Append(KeyBody(batch_key), /*sync=*/false);
}

absl::Status BatchJournal::AppendIndexed(std::string_view camera, uint64_t through_seq) {
  RETURN_IF_ERROR(CheckJournalCamera(camera));
  return Append(CameraSeqBody(kIndexed, camera, through_seq), /*sync=*/false);
}

absl::Status BatchJournal::Sync() {
  if (!broken_.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("batch journal needs rewriting after: ", broken_.message()));
  }
  if (!unsynced_) return absl::OkStatus();
  // After a failed fdatasync the kernel may have dropped the unsynced
  // records' pages as if written: only a rewrite makes them durable.
  if (fdatasync(fd_) != 0) return Break(Errno("fdatasync", path_));
  unsynced_ = false;
  return absl::OkStatus();
}

}  // namespace ingest
