// Bench result files: the shipped one loads with the figures of
// bench/README.md; every missing, mistyped or absurd field is refused by name.
#include "tests/support/build_paths.h"
#include "zones/plan/bench_result.h"

#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace ingest::zones {
namespace {

using ::testing::HasSubstr;

std::string ShippedResultPath() {
  return (std::filesystem::path(ingest::testing::SourceDir()) / "bench/results/ingest-2026-11-22.json")
      .lexically_normal()
      .string();
}

// A valid document, with fields replaced (a JSON text) or removed (nullopt).
std::string Document(const std::map<std::string, std::optional<std::string>>& changes = {}) {
  std::map<std::string, std::string> fields = {
      {"schema_version", "1"},
      {"date", "\"2026-11-22\""},
      {"machine", "\"test VM\""},
      {"machine_cores", "2"},
      {"commands", "[\"bench/scripts/ingest_throughput.sh 1000 262144 1000 30\"]"},
      {"cameras", "1000"},
      {"bitrate_kbps", "1000"},
      {"segment_bytes", "262144"},
      {"throughput_mb_per_s", "117.9"},
      {"server_cpu_cores", "0.45"},
      {"idle_kb_per_camera", "34.2"},
  };
  for (const auto& [name, value] : changes) {
    if (value) {
      fields[name] = *value;
    } else {
      fields.erase(name);
    }
  }
  std::string doc = "{";
  for (const auto& [name, value] : fields)
    absl::StrAppend(&doc, doc.size() > 1 ? ",\n" : "\n", "\"", name, "\": ", value);
  return doc + "\n}";
}

std::string ErrorOf(const std::string& doc) {
  absl::StatusOr<BenchResult> r = ParseBenchResult(doc, "b.json");
  return r.ok() ? "(parsed)" : std::string(r.status().message());
}

TEST(BenchResultTest, ShippedResultHoldsThePublishedFigures) {
  absl::StatusOr<BenchResult> r = LoadBenchResult(ShippedResultPath());
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->date, "2026-11-22");
  EXPECT_EQ(r->cameras, 1000u);
  EXPECT_DOUBLE_EQ(r->throughput_mb_per_s, 117.9);
  EXPECT_DOUBLE_EQ(r->server_cpu_cores, 0.45);
  EXPECT_DOUBLE_EQ(*r->rss_mib, 100);
  EXPECT_DOUBLE_EQ(r->idle_kb_per_camera, 34.2);
  EXPECT_DOUBLE_EQ(*r->closed_loop_mb_per_s, 211);
  EXPECT_DOUBLE_EQ(*r->closed_loop_cpu_cores, 1.0);
  EXPECT_FALSE(r->commands.empty());
  // The closed loop costs more CPU per MB/s (1.00 / 211) than the paced run
  // (0.45 / 117.9), so it is the one planned on.
  EXPECT_DOUBLE_EQ(r->IngestCoresPerMBps(), 1.0 / 211);
  EXPECT_NEAR(r->UploadCoresPerMBps(), 0.034 / 16.777216, 1e-9);
}

TEST(BenchResultTest, MinimalDocumentParses) {
  absl::StatusOr<BenchResult> r = ParseBenchResult(Document(), "b.json");
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_FALSE(r->closed_loop_mb_per_s.has_value());
  EXPECT_DOUBLE_EQ(r->IngestCoresPerMBps(), 0.45 / 117.9);
  EXPECT_EQ(r->UploadCoresPerMBps(), 0);
}

TEST(BenchResultTest, EveryRequiredFieldIsRequired) {
  for (const char* field : {"schema_version", "date", "machine", "machine_cores", "commands", "cameras", "bitrate_kbps",
                            "segment_bytes", "throughput_mb_per_s", "server_cpu_cores", "idle_kb_per_camera"}) {
    EXPECT_EQ(ErrorOf(Document({{field, std::nullopt}})), absl::StrCat("b.json: ", field, ": missing")) << field;
  }
}

TEST(BenchResultTest, EveryBadFieldIsRefusedByName) {
  struct Case {
    const char* field;
    const char* json;
    const char* error;
  };
  const std::string long_machine = absl::StrCat("\"", std::string(1001, 'x'), "\"");
  const Case cases[] = {
      {"schema_version", "2", "schema_version: this zonectl reads version 1, got 2"},
      {"schema_version", "\"1\"", "schema_version: must be a number, got a string"},
      {"date", "\"22/11/2026\"", "date: must be YYYY-MM-DD"},
      {"date", "\"2026-13-01\"", "date: must be YYYY-MM-DD"},
      {"date", "20261122", "date: must be a string, got a number"},
      {"machine", "\"\"", "machine: must not be empty"},
      {"machine", long_machine.c_str(), "machine: longer than 1000 bytes"},
      {"machine_cores", "0", "machine_cores: must be in (0, 1024]"},
      {"machine_cores", "-2", "machine_cores: must be in (0, 1024]"},
      {"commands", "[]", "commands: must not be empty"},
      {"commands", "\"ingest_throughput.sh\"", "commands: must be an array of strings, got a string"},
      {"commands", "[\"a\", 3]", "commands[1]: must be a string, got a number"},
      {"commands", "[\"\"]", "commands[0]: must not be empty"},
      {"cameras", "0", "cameras: must be in [1, 10000000]"},
      {"cameras", "1000.5", "cameras: must be a whole number, got 1000.5"},
      {"cameras", "-1000", "cameras: must be in [1, 10000000]"},
      {"cameras", "null", "cameras: must be a number, got null"},
      {"cameras", "1e300", "cameras: must be in [1, 10000000]"},
      {"bitrate_kbps", "0", "bitrate_kbps: must be in (0, 1000000]"},
      {"bitrate_kbps", "-1", "bitrate_kbps: must be in (0, 1000000]"},
      {"segment_bytes", "0", "segment_bytes: must be in [1, 268435456]"},
      {"segment_bytes", "1e12", "segment_bytes: must be in [1, 268435456]"},
      {"throughput_mb_per_s", "0", "throughput_mb_per_s: must be in (0, 1000000]"},
      {"throughput_mb_per_s", "true", "throughput_mb_per_s: must be a number, got a boolean"},
      // 1,000 cameras at 1 Mbit/s send 125 MB/s; 117,900 is a unit mistake.
      {"throughput_mb_per_s", "117900", "is more than 1000 cameras at 1000 kbit/s can send"},
      {"server_cpu_cores", "0", "server_cpu_cores: must be in (0, 1024]"},
      {"server_cpu_cores", "3", "server_cpu_cores: 3 is more than the machine's 2 cores"},
      {"idle_kb_per_camera", "-34", "idle_kb_per_camera: must be in (0, 10000]"},
      {"idle_kb_per_camera", "34000", "idle_kb_per_camera: must be in (0, 10000]"},
      {"rss_mib", "-1", "rss_mib: must be in (0, 1048576]"},
      {"closed_loop_mb_per_s", "211",
       "closed_loop_cpu_cores: missing: closed_loop_mb_per_s and closed_loop_cpu_cores go together"},
      {"closed_loop_cpu_cores", "1", "closed_loop_mb_per_s: missing"},
      {"upload_cpu_ms_per_put", "34", "upload_put_bytes: missing"},
      {"upload_put_bytes", "16777216", "upload_cpu_ms_per_put: missing"},
      {"upload_put_bytes", "0.5", "upload_put_bytes: must be in [1, 5368709120], got 0.5"},
      {"max_cameras_per_server", "0", "max_cameras_per_server: must be in [1, 10000000]"},
      {"notes", "[1]", "notes[0]: must be a string, got a number"},
      {"throughput", "117.9", "unknown field \"throughput\""},
  };
  for (const Case& c : cases) {
    EXPECT_THAT(ErrorOf(Document({{c.field, std::string(c.json)}})), HasSubstr(c.error)) << c.field << " = " << c.json;
  }
}

TEST(BenchResultTest, ClosedLoopCoresAreCheckedAgainstTheMachine) {
  EXPECT_THAT(ErrorOf(Document({{"closed_loop_mb_per_s", "211"}, {"closed_loop_cpu_cores", "2.5"}})),
              HasSubstr("closed_loop_cpu_cores: 2.5 is more than the machine's 2 cores"));
}

TEST(BenchResultTest, MalformedJsonNamesTheFileAndPosition) {
  EXPECT_EQ(ErrorOf("{\"cameras\": NaN}"),
            "b.json: line 1, column 13: unexpected character 'N', expected a value (NaN and Infinity are not JSON)");
  EXPECT_EQ(ErrorOf("[1, 2]"), "b.json: must be a JSON object, got an array");
}

TEST(BenchResultTest, LoadRefusesMissingOversizedAndNonRegularFiles) {
  testing::TempDir dir;
  absl::StatusOr<BenchResult> missing = LoadBenchResult(dir.path() + "/nope.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(std::string(missing.status().message()), HasSubstr("nope.json: cannot open"));

  std::string big = dir.path() + "/big.json";
  std::ofstream(big) << Document() << std::string(kMaxBenchResultBytes, ' ');
  absl::StatusOr<BenchResult> oversized = LoadBenchResult(big);
  ASSERT_FALSE(oversized.ok());
  EXPECT_THAT(std::string(oversized.status().message()), HasSubstr("larger than 1048576 bytes"));

  absl::StatusOr<BenchResult> directory = LoadBenchResult(dir.path());
  ASSERT_FALSE(directory.ok());
  EXPECT_THAT(std::string(directory.status().message()), HasSubstr("not a regular file"));

  std::string good = dir.path() + "/good.json";
  std::ofstream(good) << Document();
  EXPECT_TRUE(LoadBenchResult(good).ok());
}

}  // namespace
}  // namespace ingest::zones
