// The batch journal on a real folder: what a restart replays (committed
// through, unindexed, uncommitted), a torn or corrupt tail, rotation.
#include "server/batch/batch_journal.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::TempDir;

SegmentLocation Loc(const std::string& camera, uint64_t seq, const std::string& batch_key, uint64_t offset = 16) {
  SegmentLocation e;
  e.camera = camera;
  e.batch_key = batch_key;
  e.seq = seq;
  e.capture_start_us = 1795870800000000 + int64_t(seq) * 2000000;
  e.duration_us = 2000000;
  e.flags = uint8_t(seq & 1);
  e.offset = offset;
  e.length = uint32_t(100 + seq);
  e.crc32c = uint32_t(0xabc00000 + seq);
  return e;
}

// A batch of `segments` (camera, seq) laid out back to back.
BatchManifest Manifest(const std::string& key, const std::vector<std::pair<std::string, uint64_t>>& segments) {
  BatchManifest m;
  m.key = key;
  uint64_t offset = 16;
  for (const auto& [camera, seq] : segments) {
    m.entries.push_back(Loc(camera, seq, key, offset));
    offset += m.entries.back().length;
  }
  return m;
}

// Every field, so a replay that drops or garbles one shows up in the diff.
std::string Describe(const SegmentLocation& e) {
  return absl::StrCat(e.camera, "#", e.seq, "@", e.batch_key, "+", e.offset, "/", e.length, " t=", e.capture_start_us,
                      " d=", e.duration_us, " f=", int{e.flags}, " crc=", e.crc32c);
}
std::vector<std::string> Describe(const std::vector<SegmentLocation>& entries) {
  std::vector<std::string> out;
  for (const SegmentLocation& e : entries) out.push_back(Describe(e));
  return out;
}
std::vector<std::string> Describe(const std::vector<BatchManifest>& manifests) {
  std::vector<std::string> out;
  for (const BatchManifest& m : manifests) {
    out.push_back(absl::StrCat("batch ", m.key));
    for (const SegmentLocation& e : m.entries) out.push_back(Describe(e));
  }
  return out;
}

std::map<std::string, uint64_t> Sorted(const absl::flat_hash_map<std::string, uint64_t>& m) {
  return std::map<std::string, uint64_t>(m.begin(), m.end());
}

std::vector<std::string> JournalFiles(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename());
  std::sort(names.begin(), names.end());
  return names;
}

std::vector<uint8_t> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>(std::istreambuf_iterator<char>(in), {});
}

void WriteFile(const std::string& path, const std::vector<uint8_t>& bytes, size_t size) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(size));
}

std::unique_ptr<BatchJournal> OpenJournal(const std::string& dir, JournalRecovery* recovered) {
  absl::StatusOr<std::unique_ptr<BatchJournal>> journal = BatchJournal::Open(dir, recovered);
  EXPECT_TRUE(journal.ok()) << journal.status();
  return journal.ok() ? *std::move(journal) : nullptr;
}

TEST(BatchJournalTest, OpenCreatesAMissingFolderAndRecoversNothing) {
  TempDir dir;
  const std::string path = dir.path() + "/journal";
  JournalRecovery recovered;
  recovered.records = 99;  // overwritten
  auto journal = OpenJournal(path, &recovered);
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(recovered.records, 0u);
  EXPECT_EQ(recovered.truncated_bytes, 0u);
  EXPECT_TRUE(recovered.uncommitted.empty());
  EXPECT_TRUE(recovered.unindexed.empty());
  EXPECT_TRUE(recovered.committed_through.empty());
  EXPECT_EQ(JournalFiles(path), std::vector<std::string>{"journal-0000000000000001.log"});
  EXPECT_EQ(journal->bytes(), 0u);
  EXPECT_FALSE(journal->has_unsynced());

  // An existing empty folder, and an empty journal file in it, are just as empty.
  journal.reset();
  auto again = OpenJournal(path, &recovered);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(recovered.records, 0u);
  EXPECT_TRUE(recovered.committed_through.empty());
  EXPECT_EQ(JournalFiles(path), std::vector<std::string>{"journal-0000000000000002.log"});
}

TEST(BatchJournalTest, OpenFailsClearlyWhenTheFolderCannotBeMade) {
  TempDir dir;
  JournalRecovery recovered;
  absl::StatusOr<std::unique_ptr<BatchJournal>> journal =
      BatchJournal::Open(dir.path() + "/no/such/parent", &recovered);
  ASSERT_FALSE(journal.ok());
  EXPECT_NE(journal.status().message().find("no/such/parent"), absl::string_view::npos) << journal.status();
}

TEST(BatchJournalTest, IgnoresFilesThatAreNotJournals) {
  TempDir dir;
  std::filesystem::create_directories(dir.path() + "/j");
  WriteFile(dir.path() + "/j/notes.txt", {'x'}, 1);
  WriteFile(dir.path() + "/j/journal-12.log", {'x'}, 1);
  JournalRecovery recovered;
  auto journal = OpenJournal(dir.path() + "/j", &recovered);
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(recovered.records, 0u);
  EXPECT_EQ(recovered.truncated_bytes, 0u);
  EXPECT_EQ(JournalFiles(dir.path() + "/j"),
            (std::vector<std::string>{"journal-0000000000000001.log", "journal-12.log", "notes.txt"}));
}

TEST(BatchJournalTest, ReplaysIntentsCommitsAndIndexed) {
  TempDir dir;
  const std::string path = dir.path() + "/journal";
  const BatchManifest a = Manifest("dev/batches/aa/a.cbt", {{"cam-1", 1}, {"cam-1", 2}, {"cam-2", 1}, {"cam-1", 3}});
  const BatchManifest b = Manifest("dev/batches/bb/b.cbt", {{"cam-1", 4}, {"cam-2", 2}});
  const BatchManifest c = Manifest("dev/batches/cc/c.cbt", {{"cam-2", 3}, {"cam-3", 7}});
  const BatchManifest d = Manifest("dev/batches/dd/d.cbt", {{"cam-1", 5}});
  {
    JournalRecovery recovered;
    auto journal = OpenJournal(path, &recovered);
    ASSERT_NE(journal, nullptr);
    ASSERT_TRUE(journal->AppendIntent(a).ok());
    EXPECT_FALSE(journal->has_unsynced());  // intents are synced at once
    ASSERT_TRUE(journal->AppendIntent(c).ok());
    ASSERT_TRUE(journal->AppendIntent(b).ok());
    ASSERT_TRUE(journal->AppendCommit(a.key).ok());
    EXPECT_TRUE(journal->has_unsynced());
    ASSERT_TRUE(journal->AppendIntent(d).ok());
    ASSERT_TRUE(journal->AppendCommit(c.key).ok());
    ASSERT_TRUE(journal->AppendIndexed("cam-1", 2).ok());
    ASSERT_TRUE(journal->AppendIndexed("cam-3", 7).ok());
    ASSERT_TRUE(journal->AppendIndexed("cam-1", 1).ok());  // a lower mark never undoes a higher one
    ASSERT_TRUE(journal->Sync().ok());
    EXPECT_FALSE(journal->has_unsynced());
  }
  JournalRecovery recovered;
  auto journal = OpenJournal(path, &recovered);
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(recovered.records, 9u);
  EXPECT_EQ(recovered.truncated_bytes, 0u);
  // The highest committed seq per camera, even above an uncommitted one
  // (cam-2 2 in b): the sealer lowers it below its redone intents.
  EXPECT_EQ(Sorted(recovered.committed_through),
            (std::map<std::string, uint64_t>{{"cam-1", 3}, {"cam-2", 3}, {"cam-3", 7}}));
  // Committed, not indexed, sorted by (camera, seq); batch keys filled in.
  EXPECT_EQ(Describe(recovered.unindexed),
            Describe(std::vector<SegmentLocation>{Loc("cam-1", 3, a.key, a.entries[3].offset),
                                                  Loc("cam-2", 1, a.key, a.entries[2].offset),
                                                  Loc("cam-2", 3, c.key, c.entries[0].offset)}));
  // Uncommitted in journal order (b was journaled before d).
  EXPECT_EQ(Describe(recovered.uncommitted), Describe(std::vector<BatchManifest>{b, d}));

  // The rotated journal says the same thing again.
  journal.reset();
  JournalRecovery again;
  journal = OpenJournal(path, &again);
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(Sorted(again.committed_through), Sorted(recovered.committed_through));
  EXPECT_EQ(Describe(again.unindexed), Describe(recovered.unindexed));
  EXPECT_EQ(Describe(again.uncommitted), Describe(recovered.uncommitted));
  EXPECT_EQ(JournalFiles(path).size(), 1u);
}

TEST(BatchJournalTest, ALaterIntentForTheSameKeyReplacesTheEarlierOne) {
  TempDir dir;
  const std::string path = dir.path() + "/journal";
  const BatchManifest first = Manifest("dev/batches/aa/x.cbt", {{"cam-1", 1}, {"cam-1", 2}, {"cam-1", 3}});
  const BatchManifest redone = Manifest("dev/batches/aa/x.cbt", {{"cam-1", 1}, {"cam-1", 3}});  // 2 was corrupt
  const BatchManifest other = Manifest("dev/batches/bb/y.cbt", {{"cam-2", 1}});
  const BatchManifest again = Manifest("dev/batches/bb/y.cbt", {{"cam-2", 1}, {"cam-2", 2}});
  {
    JournalRecovery recovered;
    auto journal = OpenJournal(path, &recovered);
    ASSERT_NE(journal, nullptr);
    ASSERT_TRUE(journal->AppendIntent(first).ok());
    ASSERT_TRUE(journal->AppendIntent(other).ok());
    ASSERT_TRUE(journal->AppendIntent(redone).ok());
    // A commit followed by a fresh intent for the key: the new intent is
    // not committed yet.
    ASSERT_TRUE(journal->AppendCommit(other.key).ok());
    ASSERT_TRUE(journal->AppendIntent(again).ok());
    ASSERT_TRUE(journal->Sync().ok());
  }
  JournalRecovery recovered;
  auto journal = OpenJournal(path, &recovered);
  ASSERT_NE(journal, nullptr);
  // One manifest per key, the latest, in order of first appearance.
  EXPECT_EQ(Describe(recovered.uncommitted), Describe(std::vector<BatchManifest>{redone, again}));
  EXPECT_TRUE(recovered.unindexed.empty());
  EXPECT_TRUE(recovered.committed_through.empty());
}

// Writes intent a, commit a, intent b, and (when `last_is_commit`) commit b;
// returns the file's bytes and where its last record starts.
std::pair<std::vector<uint8_t>, uint64_t> JournalWithLastRecord(const std::string& path, bool last_is_commit,
                                                                const BatchManifest& a, const BatchManifest& b) {
  JournalRecovery recovered;
  auto journal = OpenJournal(path, &recovered);
  EXPECT_NE(journal, nullptr);
  if (journal == nullptr) return {};
  EXPECT_TRUE(journal->AppendIntent(a).ok());
  EXPECT_TRUE(journal->AppendCommit(a.key).ok());
  uint64_t last_start = journal->bytes();
  EXPECT_TRUE(journal->AppendIntent(b).ok());
  if (last_is_commit) {
    last_start = journal->bytes();
    EXPECT_TRUE(journal->AppendCommit(b.key).ok());
  }
  EXPECT_TRUE(journal->Sync().ok());
  const uint64_t size = journal->bytes();
  journal.reset();
  std::vector<std::string> files = JournalFiles(path);
  EXPECT_EQ(files.size(), 1u);
  if (files.size() != 1) return {};
  std::vector<uint8_t> bytes = ReadFile(path + "/" + files[0]);
  EXPECT_EQ(bytes.size(), size);
  return {bytes, last_start};
}

TEST(BatchJournalTest, ATornLastRecordIsDroppedAtEveryByte) {
  TempDir dir;
  const BatchManifest a = Manifest("dev/batches/aa/a.cbt", {{"cam-1", 1}, {"cam-2", 1}});
  const BatchManifest b = Manifest("dev/batches/bb/b.cbt", {{"cam-1", 2}});
  for (bool last_is_commit : {true, false}) {
    SCOPED_TRACE(last_is_commit ? "torn commit" : "torn intent");
    const std::string source = absl::StrCat(dir.path(), "/source-", last_is_commit);
    auto [bytes, last_start] = JournalWithLastRecord(source, last_is_commit, a, b);
    ASSERT_FALSE(bytes.empty());
    ASSERT_LT(last_start, bytes.size());
    const std::string path = dir.path() + "/torn";
    for (size_t cut = last_start; cut < bytes.size(); ++cut) {
      SCOPED_TRACE(absl::StrCat("cut at ", cut, " of ", bytes.size()));
      std::filesystem::remove_all(path);
      std::filesystem::create_directories(path);
      WriteFile(path + "/journal-0000000000000001.log", bytes, cut);
      JournalRecovery recovered;
      auto journal = OpenJournal(path, &recovered);
      ASSERT_NE(journal, nullptr);
      EXPECT_EQ(recovered.truncated_bytes, cut - last_start);
      // a stays committed (and unindexed); b is uncommitted, or unknown if
      // its intent was the torn record.
      EXPECT_EQ(recovered.records, last_is_commit ? 3u : 2u);
      EXPECT_EQ(Describe(recovered.unindexed), Describe(a.entries));
      EXPECT_EQ(Sorted(recovered.committed_through), (std::map<std::string, uint64_t>{{"cam-1", 1}, {"cam-2", 1}}));
      if (last_is_commit) {
        EXPECT_EQ(Describe(recovered.uncommitted), Describe(std::vector<BatchManifest>{b}));
      } else {
        EXPECT_TRUE(recovered.uncommitted.empty());
      }
      // The torn bytes are gone for good: the rotated file holds only the state.
      EXPECT_EQ(JournalFiles(path), std::vector<std::string>{"journal-0000000000000002.log"});
      ASSERT_TRUE(journal->AppendCommit("dev/batches/zz/z.cbt").ok());
    }
  }
}

TEST(BatchJournalTest, ACorruptRecordInTheMiddleEndsTheReplay) {
  TempDir dir;
  const BatchManifest a = Manifest("dev/batches/aa/a.cbt", {{"cam-1", 1}});
  const BatchManifest b = Manifest("dev/batches/bb/b.cbt", {{"cam-1", 2}});
  const BatchManifest c = Manifest("dev/batches/cc/c.cbt", {{"cam-1", 3}});
  const std::string source = dir.path() + "/source";
  uint64_t b_start = 0;
  uint64_t b_end = 0;
  {
    JournalRecovery recovered;
    auto journal = OpenJournal(source, &recovered);
    ASSERT_NE(journal, nullptr);
    ASSERT_TRUE(journal->AppendIntent(a).ok());
    ASSERT_TRUE(journal->AppendCommit(a.key).ok());
    b_start = journal->bytes();
    ASSERT_TRUE(journal->AppendIntent(b).ok());
    b_end = journal->bytes();
    ASSERT_TRUE(journal->AppendCommit(b.key).ok());
    ASSERT_TRUE(journal->AppendIntent(c).ok());
    ASSERT_TRUE(journal->AppendCommit(c.key).ok());
  }
  const std::vector<uint8_t> good = ReadFile(source + "/" + JournalFiles(source).at(0));
  ASSERT_GT(good.size(), b_end);
  // A flipped bit anywhere in b's record (frame or body) stops the replay
  // there; nothing after it is trusted, even records that look fine.
  for (uint64_t at : {b_start, b_start + 4, b_start + 8, b_start + 12, b_start + 20, b_end - 1}) {
    SCOPED_TRACE(absl::StrCat("flipped byte ", at));
    std::vector<uint8_t> bad = good;
    bad[at] ^= 0x40;
    const std::string path = absl::StrCat(dir.path(), "/bad-", at);
    std::filesystem::create_directories(path);
    WriteFile(path + "/journal-0000000000000001.log", bad, bad.size());
    JournalRecovery recovered;
    auto journal = OpenJournal(path, &recovered);
    ASSERT_NE(journal, nullptr);
    EXPECT_EQ(recovered.records, 2u);
    EXPECT_EQ(recovered.truncated_bytes, good.size() - b_start);
    EXPECT_EQ(Sorted(recovered.committed_through), (std::map<std::string, uint64_t>{{"cam-1", 1}}));
    EXPECT_EQ(Describe(recovered.unindexed), Describe(a.entries));
    EXPECT_TRUE(recovered.uncommitted.empty());
  }
}

TEST(BatchJournalTest, ReplaysEveryFileInOrder) {
  // A crash between writing a rotated file and deleting the old one leaves
  // both; and records of a run are spread over the files in number order.
  TempDir dir;
  const BatchManifest a = Manifest("dev/batches/aa/a.cbt", {{"cam-1", 1}, {"cam-1", 2}});
  std::vector<uint8_t> first;
  std::vector<uint8_t> second;
  {
    JournalRecovery recovered;
    auto journal = OpenJournal(dir.path() + "/one", &recovered);
    ASSERT_NE(journal, nullptr);
    ASSERT_TRUE(journal->AppendIntent(a).ok());
  }
  {
    JournalRecovery recovered;
    auto journal = OpenJournal(dir.path() + "/two", &recovered);
    ASSERT_NE(journal, nullptr);
    ASSERT_TRUE(journal->AppendCommit(a.key).ok());
    ASSERT_TRUE(journal->AppendIndexed("cam-1", 1).ok());
    ASSERT_TRUE(journal->Sync().ok());
  }
  first = ReadFile(dir.path() + "/one/" + JournalFiles(dir.path() + "/one").at(0));
  second = ReadFile(dir.path() + "/two/" + JournalFiles(dir.path() + "/two").at(0));
  const std::string path = dir.path() + "/both";
  std::filesystem::create_directories(path);
  WriteFile(path + "/journal-0000000000000007.log", first, first.size());
  WriteFile(path + "/journal-0000000000000009.log", second, second.size());
  JournalRecovery recovered;
  auto journal = OpenJournal(path, &recovered);
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(recovered.records, 3u);
  EXPECT_TRUE(recovered.uncommitted.empty());
  EXPECT_EQ(Sorted(recovered.committed_through), (std::map<std::string, uint64_t>{{"cam-1", 2}}));
  EXPECT_EQ(Describe(recovered.unindexed), Describe(std::vector<SegmentLocation>{a.entries[1]}));
  // Rotated past the highest number, and the old files are gone.
  EXPECT_EQ(JournalFiles(path), std::vector<std::string>{"journal-0000000000000010.log"});
}

TEST(BatchJournalTest, RotateKeepsExactlyTheLiveStateAndDeletesOldFiles) {
  TempDir dir;
  const std::string path = dir.path() + "/journal";
  JournalRecovery recovered;
  auto journal = OpenJournal(path, &recovered);
  ASSERT_NE(journal, nullptr);
  // Plenty of history that is no longer live.
  for (uint64_t i = 1; i <= 50; ++i) {
    const BatchManifest m = Manifest(absl::StrCat("dev/batches/aa/old-", i, ".cbt"), {{"cam-1", i}});
    ASSERT_TRUE(journal->AppendIntent(m).ok());
    ASSERT_TRUE(journal->AppendCommit(m.key).ok());
    ASSERT_TRUE(journal->AppendIndexed("cam-1", i).ok());
  }
  const uint64_t before = journal->bytes();

  JournalRecovery live;
  live.committed_through = {{"cam-1", 50}, {"cam-2", 9}, {"cam-3", 4}};
  live.unindexed = {Loc("cam-2", 8, "dev/batches/bb/p.cbt", 16), Loc("cam-2", 9, "dev/batches/cc/q.cbt", 16),
                    Loc("cam-3", 4, "dev/batches/bb/p.cbt", 200)};
  live.uncommitted = {Manifest("dev/batches/dd/r.cbt", {{"cam-2", 10}, {"cam-3", 5}}),
                      Manifest("dev/batches/ee/s.cbt", {{"cam-1", 51}})};
  ASSERT_TRUE(journal->Rotate(live).ok());
  EXPECT_LT(journal->bytes(), before);
  EXPECT_FALSE(journal->has_unsynced());
  EXPECT_EQ(JournalFiles(path), std::vector<std::string>{"journal-0000000000000002.log"});
  // Appends go to the new file.
  ASSERT_TRUE(journal->AppendIndexed("cam-2", 8).ok());
  ASSERT_TRUE(journal->Sync().ok());
  journal.reset();

  JournalRecovery replayed;
  journal = OpenJournal(path, &replayed);
  ASSERT_NE(journal, nullptr);
  EXPECT_EQ(replayed.truncated_bytes, 0u);
  EXPECT_EQ(Sorted(replayed.committed_through), Sorted(live.committed_through));
  EXPECT_EQ(Describe(replayed.unindexed), Describe(std::vector<SegmentLocation>{live.unindexed[1], live.unindexed[2]}));
  EXPECT_EQ(Describe(replayed.uncommitted), Describe(live.uncommitted));
  EXPECT_EQ(JournalFiles(path), std::vector<std::string>{"journal-0000000000000003.log"});
}

TEST(BatchJournalTest, RejectsABadKey) {
  TempDir dir;
  JournalRecovery recovered;
  auto journal = OpenJournal(dir.path() + "/journal", &recovered);
  ASSERT_NE(journal, nullptr);
  EXPECT_TRUE(absl::IsInvalidArgument(journal->AppendIntent(Manifest("", {{"cam-1", 1}}))));
  EXPECT_TRUE(absl::IsInvalidArgument(journal->AppendIntent(Manifest(std::string(70000, 'k'), {{"cam-1", 1}}))));
  EXPECT_EQ(journal->bytes(), 0u);
}

}  // namespace
}  // namespace ingest
