// The batch journal when its disk refuses a record: the torn part is cut
// off, later appends are refused rather than written after a gap that replay
// would stop at, and a rotation from the caller's memory mends it.
// RLIMIT_FSIZE stands in for the full disk: write(2) then writes what fits
// and fails (EFBIG) exactly where a full disk would (ENOSPC), without root.
#include <signal.h>
#include <sys/resource.h>

#include <string>

#include "gtest/gtest.h"
#include "server/batch/batch_journal.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

BatchManifest Manifest(const std::string& key, const std::string& camera, uint64_t seq) {
  SegmentLocation e;
  e.camera = camera;
  e.batch_key = key;
  e.seq = seq;
  e.capture_start_us = 1795870800000000;
  e.duration_us = 2000000;
  e.offset = 16;
  e.length = 100;
  BatchManifest m;
  m.key = key;
  m.entries.push_back(e);
  return m;
}

// Caps the size of files this process writes while alive.
class FileSizeLimit {
 public:
  explicit FileSizeLimit(uint64_t bytes) {
    signal(SIGXFSZ, SIG_IGN);  // EFBIG instead of death
    getrlimit(RLIMIT_FSIZE, &saved_);
    rlimit capped = saved_;
    capped.rlim_cur = bytes;
    EXPECT_EQ(setrlimit(RLIMIT_FSIZE, &capped), 0);
  }
  ~FileSizeLimit() { setrlimit(RLIMIT_FSIZE, &saved_); }

 private:
  rlimit saved_{};
};

TEST(BatchJournalFullDiskTest, ARefusedRecordBreaksTheJournalUntilARotationRewritesIt) {
  TempDir dir;
  const std::string path = dir.path() + "/journal";
  JournalRecovery recovered;
  absl::StatusOr<std::unique_ptr<BatchJournal>> opened = BatchJournal::Open(path, &recovered);
  ASSERT_TRUE(opened.ok()) << opened.status();
  BatchJournal& journal = **opened;
  ASSERT_TRUE(journal.AppendIntent(Manifest("batch-a", "cam-1", 1)).ok());
  const uint64_t good_bytes = journal.bytes();

  {
    // Room for part of the next record only: a torn write.
    FileSizeLimit limit(good_bytes + 10);
    const absl::Status refused = journal.AppendCommit("batch-a");
    EXPECT_FALSE(refused.ok());
    EXPECT_FALSE(journal.broken().ok());
    EXPECT_EQ(journal.bytes(), good_bytes);
    // Nothing may follow the lost record in this file, even if it fits.
    EXPECT_FALSE(journal.AppendIndexed("cam-1", 1).ok());
    EXPECT_FALSE(journal.Sync().ok()) << "a broken journal must not let spool files be reclaimed";
  }
  // The file holds exactly the good records: replay loses nothing before the
  // failure and finds no torn tail.
  absl::StatusOr<JournalRecovery> replayed = ReadJournal(path);
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(replayed->truncated_bytes, 0u);
  ASSERT_EQ(replayed->uncommitted.size(), 1u);

  // Space is back: the caller rewrites its live state (here: batch-a
  // committed, cam-1 committed through 1) and appends work again.
  JournalRecovery live;
  live.committed_through["cam-1"] = 1;
  ASSERT_TRUE(journal.Rotate(live).ok());
  EXPECT_TRUE(journal.broken().ok());
  ASSERT_TRUE(journal.AppendIntent(Manifest("batch-b", "cam-1", 2)).ok());
  replayed = ReadJournal(path);
  ASSERT_TRUE(replayed.ok()) << replayed.status();
  EXPECT_EQ(replayed->committed_through.at("cam-1"), 1u);
  ASSERT_EQ(replayed->uncommitted.size(), 1u);
  EXPECT_EQ(replayed->uncommitted[0].key, "batch-b");
}

}  // namespace
}  // namespace ingest
