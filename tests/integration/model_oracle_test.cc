// A model-based, randomized end-to-end test with an oracle. Real cameras —
// misbehaving ones driven frame by frame and well-behaved ones on the
// protocol client library — act against a real ingestd, chosen by a seeded
// PRNG: new segments, re-sends (same and other contents, of given-up and of
// long-forgotten seqs), jumps with and without SKIP, reorders, duplicates,
// oversize segments, fields out of range, frames cut off, ACKs lost,
// cameras gone dark through restarts, reconnects, a second connection of
// one camera, bursts from every camera, SIGKILL and restart (with segments
// in flight), drains (plain, hurried, cut short by SIGKILL), and (with
// radosgw) S3 outages. Each camera keeps its own record and predicts every
// answer from proto/README.md; an oracle then reads the store back
// independently and checks the invariants (tests/support/oracle/store_oracle.h
// lists them).
//
// CI runs a few fixed seeds. For more seeds and longer runs use
// scripts/oracle_soak.sh, which runs ModelOracleTest.FromEnvironment with:
//   ORACLE_SEED=N  ORACLE_SECONDS=S  ORACLE_S3=0|1  ORACLE_CAMERAS=raw,library
//   ORACLE_ACTIONS=send_next,reorder,...  (only these kinds; names in run_log.h)
//   ORACLE_REPORT_FILE=path  (the report line is appended there too)
//   ORACLE_INGESTD=path  (another ingestd build; ingestctl is taken from beside it)
//   ORACLE_TRACE=1  (print every action of the run)
//   ORACLE_LOG_DIR=dir  (keep ingestd's log of each run there; any test)
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "gtest/gtest.h"
#include "tests/support/build_paths.h"
#include "tests/support/oracle/oracle_run.h"

namespace ingest::testing::oracle {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitized = true;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
constexpr bool kSanitized = true;
#else
constexpr bool kSanitized = false;
#endif
#else
constexpr bool kSanitized = false;
#endif

OracleOptions BaseOptions(uint64_t seed, bool s3, absl::Duration duration) {
  OracleOptions options;
  options.seed = seed;
  options.s3 = s3;
  // Sanitized binaries are several times slower: shorter runs, longer waits.
  options.duration = kSanitized ? duration * 0.7 : duration;
  options.slowness = kSanitized ? 3.0 : 1.0;
  // ORACLE_INGESTD runs the oracle against another build of the server.
  const char* ingestd = ::getenv("ORACLE_INGESTD");
  options.ingestd = ingestd != nullptr && *ingestd != '\0' ? ingestd : ingest::testing::IngestdPath();
  options.ingestctl = (std::filesystem::path(options.ingestd).parent_path() / "ingestctl").string();
  if (const char* log_dir = ::getenv("ORACLE_LOG_DIR")) options.log_dir = log_dir;
  return options;
}

// Runs, prints the report line, and fails the test with every violation (the
// first ones with the actions that led to them, then a count per check).
void RunAndCheck(const OracleOptions& options, const char* report_file = nullptr) {
  OracleResult result = RunOracle(options);
  ASSERT_TRUE(result.setup_error.empty()) << "seed " << options.seed << ": " << result.setup_error;
  std::cout << result.summary << std::endl;
  if (report_file != nullptr && *report_file != '\0') {
    std::ofstream(report_file, std::ios::app) << result.summary << "\n";
  }
  if (::getenv("ORACLE_TRACE") != nullptr) {
    for (const ActionRecord& a : result.log.actions()) std::cout << result.log.Line(a);
  }
  const std::vector<Violation>& violations = result.log.violations();
  std::map<std::string, int> by_check;
  for (const Violation& v : violations) ++by_check[v.check];
  std::map<std::string, int> shown;
  for (const Violation& v : violations) {
    // The first three of each kind in full; the rest are counted below.
    if (++shown[v.check] > 3) continue;
    ADD_FAILURE() << "seed " << options.seed << "\n" << result.log.Describe(v);
  }
  if (!violations.empty()) {
    std::string counts;
    for (const auto& [check, n] : by_check) absl::StrAppend(&counts, "\n  ", n, " x ", check);
    ADD_FAILURE() << "seed " << options.seed << ": " << violations.size() << " violations:" << counts
                  << "\ningestd log (tail):\n"
                  << result.ingestd_log_tail;
  }
}

TEST(ModelOracleTest, LocalStoreSeed11) { RunAndCheck(BaseOptions(11, false, absl::Seconds(20))); }

TEST(ModelOracleTest, LocalStoreSeed22) { RunAndCheck(BaseOptions(22, false, absl::Seconds(20))); }

TEST(ModelOracleTest, LocalStoreSeed33) { RunAndCheck(BaseOptions(33, false, absl::Seconds(20))); }

// The same against radosgw, with an S3 outage; the store is read back
// through the AWS CLI and ingestctl's S3 client.
TEST(ModelOracleTest, RadosgwSeed44WithOutage) {
  if (!S3TestServer::Available()) GTEST_SKIP() << "radosgw / AWS CLI not installed";
  RunAndCheck(BaseOptions(44, true, absl::Seconds(25)));
}

// For scripts/oracle_soak.sh: everything from the environment.
TEST(ModelOracleTest, FromEnvironment) {
  const char* seed_text = ::getenv("ORACLE_SEED");
  if (seed_text == nullptr) GTEST_SKIP() << "set ORACLE_SEED (scripts/oracle_soak.sh does)";
  uint64_t seed = 0;
  ASSERT_TRUE(absl::SimpleAtoi(seed_text, &seed)) << "ORACLE_SEED=" << seed_text;
  int seconds = 20;
  if (const char* s = ::getenv("ORACLE_SECONDS")) {
    ASSERT_TRUE(absl::SimpleAtoi(s, &seconds)) << s;
  }
  const char* s3_text = ::getenv("ORACLE_S3");
  const bool s3 = s3_text != nullptr && std::string(s3_text) == "1";
  if (s3 && !S3TestServer::Available()) GTEST_SKIP() << "radosgw / AWS CLI not installed";
  OracleOptions options = BaseOptions(seed, s3, absl::Seconds(seconds));
  if (const char* cameras = ::getenv("ORACLE_CAMERAS"); cameras != nullptr && *cameras != '\0') {
    std::vector<std::string> parts = absl::StrSplit(cameras, ',');
    ASSERT_EQ(parts.size(), 2u) << "ORACLE_CAMERAS=raw,library";
    ASSERT_TRUE(absl::SimpleAtoi(parts[0], &options.raw_cameras));
    ASSERT_TRUE(absl::SimpleAtoi(parts[1], &options.library_cameras));
    ASSERT_GE(options.raw_cameras + options.library_cameras, 1);
  }
  if (const char* actions = ::getenv("ORACLE_ACTIONS"); actions != nullptr && *actions != '\0') {
    std::optional<ActionSet> set = ActionSet::Parse(actions);
    ASSERT_TRUE(set.has_value()) << "ORACLE_ACTIONS=" << actions << ": unknown action name";
    options.actions = *set;
  }
  RunAndCheck(options, ::getenv("ORACLE_REPORT_FILE"));
}

}  // namespace
}  // namespace ingest::testing::oracle
