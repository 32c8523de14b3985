// Fuzzes the batch journal's recovery (server/batch/batch_journal.h) from
// arbitrary journal file contents, and the rotation that follows it at
// start-up.
//
// Input: byte 0 says whether the bytes are one journal file or two (a
// rotation interrupted before the old file was deleted), and whether the
// target first rewrites each record's CRC to match its body, so mutations
// reach the record parser instead of stopping at the checksum; byte 1 says
// where two files split; the rest is the journal.
//
// Checked on every input: no crash or undefined behaviour; replay succeeds
// and stops at the first torn record (records and truncated bytes add up);
// ReadJournal (tools) and BatchJournal::Open (the server) recover the same
// state; Open leaves a single file that replays whole and to the same
// state, so a restart right after it neither loses nor invents a batch.
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/crc32c.h"
#include "common/little_endian.h"
#include "server/batch/batch_journal.h"
#include "tests/fuzz/fuzz_check.h"

namespace ingest {
namespace {

auto Fields(const SegmentLocation& e) {
  return std::tie(e.camera, e.batch_key, e.seq, e.capture_start_us, e.duration_us, e.flags, e.offset, e.length,
                  e.crc32c);
}

bool SameEntries(std::vector<SegmentLocation> a, std::vector<SegmentLocation> b) {
  auto by_fields = [](const SegmentLocation& x, const SegmentLocation& y) { return Fields(x) < Fields(y); };
  std::sort(a.begin(), a.end(), by_fields);
  std::sort(b.begin(), b.end(), by_fields);
  return std::equal(a.begin(), a.end(), b.begin(), b.end(),
                    [](const SegmentLocation& x, const SegmentLocation& y) { return Fields(x) == Fields(y); });
}

// The state a restart acts on: which batches to redo (in order), which
// segments still need indexing, and how far each camera is committed.
void CheckSameState(const JournalRecovery& a, const JournalRecovery& b) {
  FUZZ_CHECK(a.uncommitted.size() == b.uncommitted.size());
  for (size_t i = 0; i < a.uncommitted.size(); ++i) {
    FUZZ_CHECK(a.uncommitted[i].key == b.uncommitted[i].key);
    FUZZ_CHECK(SameEntries(a.uncommitted[i].entries, b.uncommitted[i].entries));
  }
  FUZZ_CHECK(SameEntries(a.unindexed, b.unindexed));
  FUZZ_CHECK(a.committed_through == b.committed_through);
}

void WriteFile(const std::string& path, std::string_view bytes) {
  FILE* file = std::fopen(path.c_str(), "wb");
  FUZZ_CHECK(file != nullptr);
  FUZZ_CHECK(std::fwrite(bytes.data(), 1, bytes.size(), file) == bytes.size());
  FUZZ_CHECK(std::fclose(file) == 0);
}

// Sets the CRC of every record whose frame is intact (magic, length within
// the bytes) to that of its body, as a writer would have.
std::string WithFixedChecksums(std::string_view journal) {
  constexpr uint32_t kRecordMagic = 0x31524a42;
  constexpr size_t kFrameBytes = 12;
  std::string out(journal);
  auto* bytes = reinterpret_cast<uint8_t*>(out.data());
  size_t at = 0;
  while (at + kFrameBytes <= out.size() && LoadLittleEndian<uint32_t>(bytes + at) == kRecordMagic) {
    const uint32_t length = LoadLittleEndian<uint32_t>(bytes + at + 4);
    if (length > out.size() - at - kFrameBytes) break;
    StoreLittleEndian<uint32_t>(bytes + at + 8, Crc32c({bytes + at + kFrameBytes, length}));
    at += kFrameBytes + length;
  }
  return out;
}

size_t CountFiles(const std::string& dir) {
  size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) count += entry.is_regular_file() ? 1 : 0;
  return count;
}

}  // namespace
}  // namespace ingest

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ingest;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const uint8_t config = input.empty() ? 0 : static_cast<uint8_t>(input[0]);
  if (!input.empty()) input.remove_prefix(1);
  const size_t split = input.empty() ? 0 : static_cast<uint8_t>(input[0]) * (input.size() - 1) / 255;
  if (!input.empty()) input.remove_prefix(1);
  const bool two_files = config & 1;
  const std::string fixed = config & 2 ? WithFixedChecksums(input) : std::string();
  if (config & 2) input = fixed;

  const std::string dir = fuzz::ScratchDir() + "/journal";
  std::filesystem::remove_all(dir);
  FUZZ_CHECK(mkdir(dir.c_str(), 0750) == 0);
  if (two_files) {
    WriteFile(dir + "/journal-0000000000000001.log", input.substr(0, split));
    WriteFile(dir + "/journal-0000000000000002.log", input.substr(split));
  } else {
    WriteFile(dir + "/journal-0000000000000001.log", input);
  }

  absl::StatusOr<JournalRecovery> read = ReadJournal(dir);
  FUZZ_CHECK_MSG(read.ok(), read.status().ToString());
  FUZZ_CHECK(read->truncated_bytes <= input.size());
  // Every record takes at least its 12-byte frame and a type byte.
  FUZZ_CHECK(read->records * 13 + read->truncated_bytes <= input.size());

  JournalRecovery opened;
  absl::StatusOr<std::unique_ptr<BatchJournal>> journal = BatchJournal::Open(dir, &opened);
  FUZZ_CHECK_MSG(journal.ok(), journal.status().ToString());
  FUZZ_CHECK(opened.records == read->records && opened.truncated_bytes == read->truncated_bytes);
  CheckSameState(*read, opened);

  // What Open rotated into replays whole, to the same state.
  FUZZ_CHECK(CountFiles(dir) == 1);
  absl::StatusOr<JournalRecovery> rotated = ReadJournal(dir);
  FUZZ_CHECK_MSG(rotated.ok(), rotated.status().ToString());
  FUZZ_CHECK_MSG(rotated->truncated_bytes == 0, absl::StrCat(rotated->truncated_bytes, " bytes cut after rotation"));
  CheckSameState(opened, *rotated);
  return 0;
}
