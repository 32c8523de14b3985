#include "server/spool/spool_catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/json_log.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "server/spool/spool_file_reader.h"
#include "server/spool/spool_record.h"

namespace ingest {
namespace {

constexpr std::string_view kShardPrefix = "shard-";
constexpr std::string_view kSpoolSuffix = ".spool";
constexpr size_t kFileSeqDigits = 16;

absl::Status ErrnoError(std::string_view what, const std::string& path) {
  return absl::InternalError(absl::StrCat(std::string(what), " ", path, ": ", std::strerror(errno)));
}

absl::Status FsyncDir(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoError("open dir", path);
  int rc = fsync(fd);
  close(fd);
  if (rc != 0) return ErrnoError("fsync dir", path);
  return absl::OkStatus();
}

// Creates `path` (and missing parents), fsyncing the parent of each new folder
// so that the folder itself survives a crash.
absl::Status MakeDurableDir(const std::filesystem::path& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return absl::OkStatus();
  const std::filesystem::path parent =
      path.has_parent_path() ? path.parent_path() : std::filesystem::path(".");
  if (parent != path) RETURN_IF_ERROR(MakeDurableDir(parent));
  if (mkdir(path.c_str(), 0755) != 0 && errno != EEXIST) return ErrnoError("mkdir", path.string());
  return FsyncDir(parent.string());
}

// Whether `dir`'s file system takes O_DIRECT writes: some accept the open
// flag and refuse the I/O (a FUSE passthrough whose own file is O_DIRECT), and
// there clearing the flag on our descriptor does not help, so a refusal must
// be known before the first spool file is written. Empty when it takes them;
// otherwise why not.
std::string DirectIoRefusal(const std::string& dir) {
  const std::string path = dir + "/.direct-io-probe";
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_DIRECT, 0600);
  if (fd < 0) return absl::StrCat("open ", path, " with O_DIRECT: ", std::strerror(errno));
  std::string refusal;
  void* block = std::aligned_alloc(kSpoolRecordAlignment, kSpoolRecordAlignment);
  if (block == nullptr) {
    refusal = "no memory for the probe";
  } else {
    std::memset(block, 0, kSpoolRecordAlignment);
    if (pwrite(fd, block, kSpoolRecordAlignment, 0) != static_cast<ssize_t>(kSpoolRecordAlignment)) {
      refusal = absl::StrCat("O_DIRECT write to ", path, ": ", std::strerror(errno));
    }
    std::free(block);
  }
  close(fd);
  unlink(path.c_str());
  return refusal;
}

bool ParseDigits(std::string_view s, uint64_t* out) {
  if (s.empty() || !std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; })) {
    return false;
  }
  return absl::SimpleAtoi(ToAbsl(s), out);
}

}  // namespace

std::string SpoolShardDir(const std::string& dir, int shard) {
  return absl::StrFormat("%s/shard-%02d", dir, shard);
}

std::string SpoolFilePath(const std::string& dir, int shard, uint64_t file_seq) {
  return absl::StrFormat("%s/%016d.spool", SpoolShardDir(dir, shard), file_seq);
}

absl::StatusOr<std::vector<SpoolFileName>> ListSpoolFiles(const std::string& dir) {
  std::vector<SpoolFileName> out;
  std::error_code ec;
  for (std::filesystem::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string shard_name = it->path().filename().string();
    uint64_t shard = 0;
    if (!shard_name.starts_with(kShardPrefix) ||
        !ParseDigits(std::string_view(shard_name).substr(kShardPrefix.size()), &shard) ||
        shard > 1'000'000 || !it->is_directory(ec)) {
      continue;
    }
    std::error_code inner_ec;
    for (std::filesystem::directory_iterator f(it->path(), inner_ec), f_end; !inner_ec && f != f_end;
         f.increment(inner_ec)) {
      const std::string name = f->path().filename().string();
      uint64_t file_seq = 0;
      if (name.size() != kFileSeqDigits + kSpoolSuffix.size() || !name.ends_with(kSpoolSuffix) ||
          !ParseDigits(std::string_view(name).substr(0, kFileSeqDigits), &file_seq)) {
        continue;
      }
      out.push_back({static_cast<int>(shard), file_seq, f->path().string()});
    }
    if (inner_ec) {
      return absl::InternalError(absl::StrCat("list ", it->path().string(), ": ", inner_ec.message()));
    }
  }
  if (ec) return absl::InternalError(absl::StrCat("list spool dir ", dir, ": ", ec.message()));
  std::sort(out.begin(), out.end(), [](const SpoolFileName& a, const SpoolFileName& b) {
    return std::tie(a.shard, a.file_seq) < std::tie(b.shard, b.file_seq);
  });
  return out;
}

SpoolCatalog::SpoolCatalog(SpoolCatalogOptions options)
    : options_(std::move(options)), direct_io_(options_.direct_io) {}

absl::StatusOr<int> SpoolCatalog::CreateFile(int shard, uint64_t file_seq) {
  const std::string path = SpoolFilePath(options_.dir, shard, file_seq);
  const int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
  int fd = open(path.c_str(), flags | O_EXCL | (direct_io() ? O_DIRECT : 0), 0644);
  if (fd < 0 && errno == EINVAL && direct_io()) {
    // The file system refused O_DIRECT, possibly after creating the file (the
    // mode is checked once the file exists): open it again, buffered.
    DirectIoRefused(shard, absl::StrCat("open ", path, " with O_DIRECT: ", std::strerror(errno)));
    fd = open(path.c_str(), flags, 0644);
  }
  if (fd < 0) return ErrnoError("create spool file", path);
  absl::Status synced = FsyncDir(SpoolShardDir(options_.dir, shard));
  if (!synced.ok()) {
    close(fd);
    return synced;
  }
  return fd;
}

void SpoolCatalog::DirectIoRefused(int shard, std::string_view why) {
  if (!direct_io_.exchange(false, std::memory_order_relaxed)) return;
  log::Warn("spool_direct_io_refused",
            {{"dir", options_.dir},
             {"shard", shard},
             {"error", absl::StrCat(ToAbsl(why),
                                    "; the spool is written through the page cache from now on (slower, as safe)")}});
}

SpoolCatalog::~SpoolCatalog() {
  absl::MutexLock lock(&mu_);
  for (auto& [key, file] : files_) {
    if (file.fd >= 0) close(file.fd);
  }
  for (Shard& shard : shards_) {
    if (shard.prepared) close(shard.prepared->fd);
  }
}

absl::StatusOr<std::unique_ptr<SpoolCatalog>> SpoolCatalog::Open(SpoolCatalogOptions options,
                                                                 RecoveryReport* report) {
  if (options.dir.empty() || options.shard_count < 1 || options.file_bytes == 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("spool catalog: need a dir, shard_count >= 1 and file_bytes > 0 (dir '",
                     options.dir, "', shard_count ", options.shard_count, ")"));
  }
  std::unique_ptr<SpoolCatalog> catalog(new SpoolCatalog(std::move(options)));
  const std::string& dir = catalog->options_.dir;
  const int shard_count = catalog->options_.shard_count;
  for (int shard = 0; shard < shard_count; ++shard) {
    RETURN_IF_ERROR(MakeDurableDir(SpoolShardDir(dir, shard)));
  }
  if (catalog->direct_io()) {
    if (std::string refusal = DirectIoRefusal(dir); !refusal.empty()) catalog->DirectIoRefused(0, refusal);
  }

  RecoveryReport local_report;
  RecoveryReport& rep = report != nullptr ? *report : local_report;
  rep = RecoveryReport();
  ASSIGN_OR_RETURN(std::vector<SpoolFileName> existing, ListSpoolFiles(dir));

  absl::MutexLock lock(&catalog->mu_);
  catalog->shards_.resize(shard_count);
  uint64_t total = 0;
  for (const SpoolFileName& name : existing) {
    ASSIGN_OR_RETURN(SpoolFileRecovery recovered, RecoverSpoolFile(name.path));
    if (recovered.truncated_bytes > 0) {
      log::Warn("spool_torn_tail_truncated", {{"file", name.path},
                                              {"valid_bytes", static_cast<int64_t>(recovered.valid_bytes)},
                                              {"truncated_bytes", static_cast<int64_t>(recovered.truncated_bytes)}});
    }
    ++rep.files;
    rep.records += recovered.record_count;
    rep.valid_bytes += recovered.valid_bytes;
    rep.truncated_bytes += recovered.truncated_bytes;
    for (const auto& [camera, seq] : recovered.max_seq_by_camera) {
      uint64_t& max_seq = rep.max_seq_by_camera[camera];
      max_seq = std::max(max_seq, seq);
    }
    for (const auto& [camera, recent] : recovered.recent_by_camera) {
      std::vector<SpoolSegmentSummary>& kept = rep.recent_by_camera[camera];
      for (const SpoolSegmentSummary& summary : recent) KeepRecentSegment(kept, summary);
    }
    catalog->files_[{name.shard, name.file_seq}] =
        RecoveredFile(name.path, recovered.valid_bytes);
    total += recovered.valid_bytes;
    if (name.shard < shard_count) {
      Shard& shard = catalog->shards_[name.shard];
      shard.next_file_seq = std::max(shard.next_file_seq, name.file_seq + 1);
    }
  }
  for (int i = 0; i < shard_count; ++i) {
    Shard& shard = catalog->shards_[i];
    const uint64_t file_seq = shard.next_file_seq++;
    ASSIGN_OR_RETURN(int fd, catalog->CreateFile(i, file_seq));
    catalog->files_[{i, file_seq}] = ActiveFile(SpoolFilePath(dir, i, file_seq), fd);
    shard.active_file_seq = file_seq;
  }
  catalog->total_bytes_.store(total);
  RETURN_IF_ERROR(catalog->RefreshDiskSpace());
  return catalog;
}

ActiveSpoolFile SpoolCatalog::active_file(int shard) const {
  absl::MutexLock lock(&mu_);
  const uint64_t file_seq = shards_.at(shard).active_file_seq;
  const File& file = files_.at({shard, file_seq});
  return {file.fd, file_seq, file.durable_bytes};
}

void SpoolCatalog::PublishDurable(int shard, uint64_t file_seq, uint64_t durable_bytes) {
  absl::MutexLock lock(&mu_);
  auto it = files_.find({shard, file_seq});
  if (it != files_.end()) PublishDurableLocked(it->second, durable_bytes);
}

void SpoolCatalog::PublishDurableRecords(int shard, uint64_t file_seq, uint64_t durable_bytes,
                                         absl::Span<const SpoolRecord> records) {
  absl::MutexLock lock(&mu_);
  auto it = files_.find({shard, file_seq});
  if (it == files_.end()) return;
  File& file = it->second;
  // Set with the bytes, under the same lock: a snapshot never shows durable
  // bytes of this file without the flag that says where its records are.
  file.records_published = true;
  file.records.insert(file.records.end(), records.begin(), records.end());
  PublishDurableLocked(file, durable_bytes);
}

std::vector<SpoolRecord> SpoolCatalog::TakeRecords(int shard, uint64_t file_seq) {
  absl::MutexLock lock(&mu_);
  std::vector<SpoolRecord> out;
  auto it = files_.find({shard, file_seq});
  if (it != files_.end()) out.swap(it->second.records);
  return out;
}

void SpoolCatalog::PublishDurableLocked(File& file, uint64_t durable_bytes) {
  if (durable_bytes <= file.durable_bytes) return;
  const uint64_t before = LiveBytes(file);
  file.durable_bytes = durable_bytes;
  const uint64_t added = LiveBytes(file) - before;
  total_bytes_.fetch_add(added, std::memory_order_relaxed);
  // Saturating: the next RefreshDiskSpace() sets the true figure.
  uint64_t free = disk_free_bytes_.load(std::memory_order_relaxed);
  while (!disk_free_bytes_.compare_exchange_weak(free, free - std::min(free, added), std::memory_order_relaxed)) {
  }
}

absl::Status SpoolCatalog::RefreshDiskSpace() {
  struct statvfs st {};
  if (statvfs(options_.dir.c_str(), &st) != 0) {
    return absl::InternalError(absl::StrCat("statvfs ", options_.dir, ": ", std::strerror(errno)));
  }
  disk_free_bytes_.store(static_cast<uint64_t>(st.f_bavail) * st.f_frsize, std::memory_order_relaxed);
  return absl::OkStatus();
}

std::optional<ActiveSpoolFile> SpoolCatalog::RotateIfPrepared(int shard, uint64_t final_bytes) {
  absl::MutexLock lock(&mu_);
  Shard& s = shards_.at(shard);
  if (!s.prepared) return std::nullopt;
  File& old_file = files_.at({shard, s.active_file_seq});
  const uint64_t before = LiveBytes(old_file);
  old_file.closed = true;
  old_file.final_bytes = std::max(final_bytes, old_file.durable_bytes);
  total_bytes_.fetch_add(LiveBytes(old_file) - before, std::memory_order_relaxed);

  ActiveSpoolFile next = *s.prepared;
  s.prepared.reset();
  files_[{shard, next.file_seq}] = ActiveFile(SpoolFilePath(options_.dir, shard, next.file_seq), next.fd);
  s.active_file_seq = next.file_seq;
  return next;
}

absl::Status SpoolCatalog::PrepareNextFiles() {
  std::vector<std::pair<int, uint64_t>> to_create;
  std::vector<int> to_close;
  {
    absl::MutexLock lock(&mu_);
    for (int i = 0; i < static_cast<int>(shards_.size()); ++i) {
      if (!shards_[i].prepared) to_create.push_back({i, shards_[i].next_file_seq++});
    }
    for (auto& [key, file] : files_) {
      if (file.closed && file.fd >= 0 && file.durable_bytes >= file.final_bytes) {
        to_close.push_back(file.fd);
        file.fd = -1;
      }
    }
  }
  for (int fd : to_close) close(fd);
  for (const auto& [shard, file_seq] : to_create) {
    ASSIGN_OR_RETURN(int fd, CreateFile(shard, file_seq));
    absl::MutexLock lock(&mu_);
    shards_[shard].prepared = ActiveSpoolFile{fd, file_seq, 0};
  }
  return absl::OkStatus();
}

std::vector<SpoolFileState> SpoolCatalog::Snapshot() const {
  absl::MutexLock lock(&mu_);
  std::vector<SpoolFileState> out;
  out.reserve(files_.size());
  for (const auto& [key, file] : files_) {
    out.push_back({key.first, key.second, file.path, file.durable_bytes, file.closed, file.final_bytes,
                   file.records_published});
  }
  return out;
}

absl::Status SpoolCatalog::Reclaim(int shard, uint64_t file_seq) {
  std::string path;
  {
    absl::MutexLock lock(&mu_);
    auto it = files_.find({shard, file_seq});
    if (it == files_.end()) {
      return absl::NotFoundError(absl::StrCat("spool file ", file_seq, " of shard ", shard, " is not live"));
    }
    if (!it->second.closed || it->second.durable_bytes < it->second.final_bytes) {
      return absl::FailedPreconditionError(
          absl::StrCat("spool file ", it->second.path, " is still being written"));
    }
    path = it->second.path;
  }
  // Unlink outside the lock: shards take it on every fdatasync. A crash before
  // the unlink is durable only brings back sealed records, which the sealer
  // skips as duplicates, so the folder is not fsync'd here.
  if (unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoError("unlink", path);
  int fd = -1;
  {
    absl::MutexLock lock(&mu_);
    auto it = files_.find({shard, file_seq});
    if (it != files_.end()) {
      fd = it->second.fd;
      total_bytes_.fetch_sub(LiveBytes(it->second), std::memory_order_relaxed);
      files_.erase(it);
    }
  }
  if (fd >= 0) close(fd);
  return absl::OkStatus();
}

}  // namespace ingest
