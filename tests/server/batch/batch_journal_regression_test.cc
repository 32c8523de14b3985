// Regression (found by tests/fuzz/batch_journal_fuzz.cc): a journal intent
// whose entry names no camera replayed fine, but the rotation at start-up
// then wrote a "high" record for camera "", which the next replay refused,
// so a second restart silently lost every record written after it. Replay
// now treats such an intent as corrupt, and the writer refuses to make one.
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "gtest/gtest.h"
#include "server/batch/batch_journal.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

// The journal file the fuzzer wrote (checksums fixed up): an intent for two
// segments, the second with an empty camera id (and 10 stray bytes after
// the entries), then the commit of that batch.
const std::string kFuzzedJournal(
    "\x42\x4a\x52\x31\xa9\x00\x00\x00\xa6\x21\x4d\xe4\x01\x42\x00\x61\x70\x6e\x65\x31\x2d\x61\x2f\x62\x61"
    "\x74\x63\x68\x65\x73\x2f\x33\x66\x2f\x32\x30\x32\x36\x2d\x31\x31\x2d\x32\x32\x2f\x31\x30\x2f\x39\x63"
    "\x31\x64\x32\x65\x33\x66\x34\x61\x35\x62\x36\x63\x37\x64\x2d\x30\x30\x30\x30\x30\x30\x30\x30\x30\x30"
    "\x30\x31\x2e\x63\x62\x74\x02\x00\x00\x00\x0a\x63\x61\x6d\x2d\x30\x30\x30\x30\x34\x32\x01\x00\x00\x00"
    "\x00\x00\x00\x00\x80\x64\x44\xda\xfe\x5b\x06\x00\x80\x84\x1e\x00\x01\x00\x00\x00\x00\x2d\x30\x30\x30"
    "\x30\x34\x32\x01\x00\x00\x00\x00\x00\x00\x00\x80\x64\x44\xda\xfe\x5b\x06\x00\x80\x84\x1e\x00\x01\x00"
    "\x00\x00\x00\x00\xfb\xda\xfe\x5b\x06\x00\x80\x84\x41\x4a\x52\x31\x02\x00\x00\x00\x00\x00\x00\x40\x00"
    "\x00\x00\x8e\xb7\x71\x76\x42\x4a\x52\x31\x45\x00\x00\x00\x9a\xad\xe6\x87\x02\x42\x00\x61\x70\x6e\x65"
    "\x31\x2d\x61\x2f\x62\x61\x74\x63\x68\x65\x73\x2f\x33\x66\x2f\x32\x30\x32\x36\x2d\x31\x31\x2d\x32\x32"
    "\x2f\x31\x30\x2f\x39\x63\x31\x64\x32\x65\x33\x66\x34\x61\x35\x62\x36\x63\x37\x64\x2d\x30\x30\x30\x30"
    "\x30\x30\x30\x30\x30\x30\x30\x31\x2e\x63\x62\x74",
    262);

std::map<std::string, uint64_t> Sorted(const absl::flat_hash_map<std::string, uint64_t>& m) {
  return std::map<std::string, uint64_t>(m.begin(), m.end());
}

TEST(BatchJournalRegressionTest, FuzzedJournalReplaysTheSameAfterRotation) {
  TempDir dir;
  const std::string path = dir.path() + "/journal";
  std::filesystem::create_directories(path);
  std::ofstream(path + "/journal-0000000000000001.log", std::ios::binary) << kFuzzedJournal;

  JournalRecovery opened;
  absl::StatusOr<std::unique_ptr<BatchJournal>> journal = BatchJournal::Open(path, &opened);
  ASSERT_TRUE(journal.ok()) << journal.status();
  EXPECT_EQ(Sorted(opened.committed_through).count(""), 0u);

  // A restart right after the rotation finds exactly what this one did.
  absl::StatusOr<JournalRecovery> again = ReadJournal(path);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->truncated_bytes, 0u);
  EXPECT_EQ(Sorted(again->committed_through), Sorted(opened.committed_through));
  EXPECT_EQ(again->uncommitted.size(), opened.uncommitted.size());
  EXPECT_EQ(again->unindexed.size(), opened.unindexed.size());
}

TEST(BatchJournalRegressionTest, WriterRefusesRecordsWithoutACamera) {
  TempDir dir;
  JournalRecovery recovered;
  absl::StatusOr<std::unique_ptr<BatchJournal>> journal = BatchJournal::Open(dir.path() + "/journal", &recovered);
  ASSERT_TRUE(journal.ok()) << journal.status();
  SegmentLocation entry;
  entry.seq = 1;
  BatchManifest manifest{.key = "dev/batches/aa/a.cbt", .entries = {entry}};
  EXPECT_TRUE(absl::IsInvalidArgument((*journal)->AppendIntent(manifest)));  // no camera
  manifest.entries[0].camera = std::string(256, 'c');  // its length would not fit the record's one byte
  EXPECT_TRUE(absl::IsInvalidArgument((*journal)->AppendIntent(manifest)));
  EXPECT_TRUE(absl::IsInvalidArgument((*journal)->AppendIndexed("", 1)));
  manifest.entries[0].camera = "cam-1";
  EXPECT_TRUE((*journal)->AppendIntent(manifest).ok());
}

}  // namespace
}  // namespace ingest
