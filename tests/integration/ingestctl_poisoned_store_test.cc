// ingestctl as an operator runs it, on a store where one camera is poisoned
// (segments starting at INT64_MAX, at INT64_MAX - 1000 with a 2 s duration,
// at INT64_MIN, and a payload whose CRC fails) beside an intact camera that
// shares a batch with it: ranges, export and verify report each bad item and
// go on, the intact camera reads back as before, and the exit status says
// whether anything was skipped.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/batch/batch_layout.h"
#include "server/store/local_dir_store.h"
#include "tests/server/batch/hand_made_zone.h"
#include "tests/support/build_paths.h"
#include "tests/support/temp_dir.h"

namespace ingest {
namespace {

using ::ingest::testing::HandMadePayloads;
using ::ingest::testing::HandMadeZone;
using ::ingest::testing::Seg;
using ::ingest::testing::TempDir;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
constexpr int64_t kMin = std::numeric_limits<int64_t>::min();

// The build puts ingestctl beside ingestd.
std::string IngestctlPath() { return ingest::testing::BuiltProgram("server/ingestctl"); }

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

struct Result {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class IngestctlPoisonedStoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(std::filesystem::exists(IngestctlPath())) << IngestctlPath() << " is missing: build ingestctl";
    std::filesystem::create_directories(store_dir_);
    LocalDirStore store(store_dir_);
    HandMadeZone zone(store);
    const std::vector<SegmentLocation> a =
        zone.PutBatch({Seg("cam-good", 1), Seg("cam-bad", 1), Seg("cam-good", 2), Seg("cam-bad", 2), Seg("cam-good", 3),
                       Seg("cam-bad", 3), Seg("cam-good", 4)});
    const std::vector<SegmentLocation> b = zone.PutBatch({Seg("cam-bad", 4), Seg("cam-bad", 5), Seg("cam-bad", 6)});
    std::vector<SegmentLocation> good, bad_a;
    for (const SegmentLocation& e : a) (e.camera == "cam-good" ? good : bad_a).push_back(e);
    zone.PutIndex("cam-good", good);
    zone.PutIndex("cam-bad", bad_a);
    // Seqs 7..9 reuse seq 6's payload with the capture times of the bug
    // report: 7 filed alone (under 9999-12-31/23), 8 beside seqs 4..6, 9 alone
    // (under 1970-01-01/00).
    auto poisoned = [&](uint64_t seq, int64_t start_us) {
      SegmentLocation e = b.back();
      e.seq = seq;
      e.capture_start_us = start_us;
      return e;
    };
    zone.PutIndex("cam-bad", {poisoned(7, kMax)});
    std::vector<SegmentLocation> bad_b = b;
    bad_b.push_back(poisoned(8, kMax - 1000));
    zone.PutIndex("cam-bad", bad_b);
    zone.PutIndex("cam-bad", {poisoned(9, kMin)});
    // And a bit flip in cam-bad's seq 2 payload, inside the shared batch.
    std::vector<uint8_t> batch = *store.Get(a[3].batch_key);
    batch[a[3].offset + 1] ^= 0x10;
    ASSERT_TRUE(store.Put(a[3].batch_key, batch).ok());
  }

  // Runs ingestctl --store_dir=<store> with `args`, killing it after 60 s.
  Result Run(std::vector<std::string> args) {
    const std::string out_path = dir_.path() + "/stdout";
    const std::string err_path = dir_.path() + "/stderr";
    args.insert(args.begin(), {IngestctlPath(), "--store_dir=" + store_dir_});
    pid_t pid = fork();
    if (pid == 0) {
      int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      dup2(out, 1);
      dup2(err, 2);
      std::vector<char*> argv;
      for (std::string& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    Result result;
    const absl::Time deadline = absl::Now() + absl::Seconds(60);
    int status = 0;
    while (waitpid(pid, &status, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
        ADD_FAILURE() << "ingestctl took over 60 s";
        return result;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    result.out = ReadAll(out_path);
    result.err = ReadAll(err_path);
    return result;
  }

  std::string Payloads(const std::string& camera, const std::vector<uint64_t>& seqs) {
    const std::vector<uint8_t> bytes = HandMadePayloads(camera, seqs);
    return std::string(bytes.begin(), bytes.end());
  }

  TempDir dir_;
  const std::string store_dir_ = dir_.path() + "/store";
};

TEST_F(IngestctlPoisonedStoreTest, RangesListTheGoodRangesAndReportTheBadEntries) {
  Result good = Run({"ranges", "--camera=cam-good"});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_THAT(good.out, HasSubstr("2026-11-28T13:00:00.000000Z .. 2026-11-28T13:00:08.000000Z"));
  EXPECT_THAT(good.out, HasSubstr("seq 1..4  4 segments"));
  EXPECT_EQ(good.err, "");

  Result bad = Run({"ranges", "--camera=cam-bad"});
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  EXPECT_EQ(Count(bad.out, "\n"), 1u) << bad.out;
  EXPECT_THAT(bad.out, HasSubstr("2026-11-28T13:00:00.000000Z .. 2026-11-28T13:00:12.000000Z"));
  EXPECT_THAT(bad.out, HasSubstr("seq 1..6  6 segments"));
  EXPECT_THAT(bad.out, Not(HasSubstr("-290308")));  // INT64_MIN is no longer merged in as a year
  for (const char* seq : {"seq 7: capture start 9223372036854775807 us", "seq 8: capture start 9223372036854774807 us",
                          "seq 9: capture start -9223372036854775808 us"}) {
    EXPECT_THAT(bad.err, HasSubstr(absl::StrCat("camera cam-bad ", seq))) << bad.err;
  }
  EXPECT_THAT(bad.err, HasSubstr("skipped dev/index/cam-bad/9999-12-31/23/"));
  EXPECT_THAT(bad.err, HasSubstr("ingestctl: 3 damaged index objects or entries skipped"));

  Result json = Run({"ranges", "--camera=cam-bad", "--json"});
  EXPECT_EQ(json.exit_code, 1) << json.err;
  EXPECT_THAT(json.out, HasSubstr("\"ranges\":[{\"start_us\":1795870800000000,\"end_us\":1795870812000000,"));
  EXPECT_THAT(json.out, HasSubstr("\"first_seq\":1,\"last_seq\":6,\"segments\":6"));
  EXPECT_THAT(json.out, HasSubstr("],\"skipped\":[{\"key\":\"dev/index/cam-bad/"));
  EXPECT_EQ(Count(json.out, "\"camera\":\"cam-bad\",\"seq\":"), 3u) << json.out;
  EXPECT_EQ(Count(json.out, "\n"), 1u);
}

TEST_F(IngestctlPoisonedStoreTest, ExportWritesEveryIntactSegmentAndReportsTheSkippedOnes) {
  const std::string clip = dir_.path() + "/clip.bin";
  Result bad = Run({"export", "--camera=cam-bad", "--from=0", "--to=9999999999999999", "--out=" + clip, "--json"});
  EXPECT_EQ(bad.exit_code, 1) << bad.err;
  EXPECT_EQ(ReadAll(clip), Payloads("cam-bad", {1, 3, 4, 5, 6}));
  EXPECT_THAT(bad.err, HasSubstr("camera cam-bad seq 2: bad payload CRC"));
  EXPECT_THAT(bad.err, HasSubstr("\"segments\":5,"));
  EXPECT_THAT(bad.err, HasSubstr("\"segments_skipped\":1,"));
  EXPECT_THAT(bad.err, HasSubstr("holds the 5 intact ones"));

  // The widest window there is: the poisoned times are reported, not exported.
  Result widest =
      Run({"export", "--camera=cam-bad", absl::StrCat("--from=", kMin), absl::StrCat("--to=", kMax), "--out=" + clip});
  EXPECT_EQ(widest.exit_code, 1) << widest.err;
  EXPECT_EQ(ReadAll(clip), Payloads("cam-bad", {1, 3, 4, 5, 6}));
  EXPECT_EQ(Count(widest.err, "skipped dev/"), 4u) << widest.err;

  Result good = Run({"export", "--camera=cam-good", "--from=0", "--to=9999999999999999", "--out=" + clip});
  EXPECT_EQ(good.exit_code, 0) << good.err;
  EXPECT_EQ(ReadAll(clip), Payloads("cam-good", {1, 2, 3, 4}));
  EXPECT_THAT(good.err, HasSubstr("exported 4 segments"));
  EXPECT_THAT(good.err, Not(HasSubstr("skipped")));
}

TEST_F(IngestctlPoisonedStoreTest, VerifyChecksTheWholeStoreAndCountsEveryProblemAtTheEnd) {
  Result all = Run({"verify"});
  EXPECT_EQ(all.exit_code, 1) << all.err;
  EXPECT_EQ(Count(all.out, "BAD "), 4u) << all.out;
  for (const char* what :
       {"seq 7: capture start", "seq 8: capture start", "seq 9: capture start", "seq 2: bad payload CRC"}) {
    EXPECT_THAT(all.out, HasSubstr(what)) << all.out;
  }
  // Every index object, and both batches read to the end: 7 + 3 payloads.
  EXPECT_THAT(all.out, HasSubstr("checked 7 objects (5 index, 2 batch), 10 segments"));
  EXPECT_THAT(all.err, HasSubstr("verification found 4 problems"));

  Result json = Run({"verify", "--json"});
  EXPECT_EQ(json.exit_code, 1) << json.err;
  EXPECT_EQ(Count(json.out, "{\"key\":"), 4u) << json.out;
  EXPECT_THAT(json.out,
              HasSubstr("\"camera\":\"cam-bad\",\"seq\":2,\"problem\":\"camera cam-bad seq 2: bad payload CRC"));

  Result good = Run({"verify", "--camera=cam-good"});
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  EXPECT_THAT(good.out, HasSubstr(": 0 problems"));

  Result cameras = Run({"cameras"});
  EXPECT_EQ(cameras.exit_code, 0);
  EXPECT_EQ(cameras.out, "cam-bad\ncam-good\n");
}

}  // namespace
}  // namespace ingest
