// Session log lines: an SRE follows one camera by its session_open and
// session_close lines (who, from where, which firmware and protocol, TLS full
// or resumed; why it ended, how long, how much), and a camera reconnecting in
// a loop cannot flood the log: it is paced to kSessionLogBurst sessions, then
// one per kSessionLogInterval, with the skipped ones counted.
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "common/json_log.h"
#include "gtest/gtest.h"
#include "tests/support/ingest_test_env.h"

namespace ingest::testing {
namespace {

std::vector<std::string> LinesWith(const std::string& text, const std::string& event, const std::string& camera) {
  std::vector<std::string> out;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    const std::string s(line);
    if (s.find("\"event\":\"" + event + "\"") != std::string::npos &&
        s.find("\"camera\":\"" + camera + "\"") != std::string::npos) {
      out.push_back(s);
    }
  }
  return out;
}

TEST(SessionLogLinesTest, EachSessionIsLoggedOnceOpenedAndOnceClosedAndALoopingCameraIsPaced) {
  TempDir dir;
  auto server = StartTestServer(dir.path());
  ASSERT_NE(server, nullptr);
  log::SetMinLevel(log::Level::kInfo);
  ::testing::internal::CaptureStderr();
  constexpr int kSessions = kSessionLogBurst + 3;
  for (int i = 0; i < kSessions; ++i) {
    FleetOptions fleet = TestFleet(*server, dir.path(), 1);
    fleet.max_segments_per_camera = 1;
    fleet.record_for = absl::Milliseconds(300);
    absl::StatusOr<FleetReport> report = RunCameraFleet(fleet);
    ASSERT_TRUE(report.ok()) << report.status();
    ASSERT_TRUE(report->all_acked);
  }
  const uint64_t suppressed = server->Stats().session_lines_suppressed;
  ASSERT_TRUE(server->Stop().ok());
  const std::string text = ::testing::internal::GetCapturedStderr();
  log::SetMinLevel(log::Level::kWarn);

  const std::vector<std::string> opens = LinesWith(text, "session_open", "cam-000001");
  const std::vector<std::string> closes = LinesWith(text, "session_close", "cam-000001");
  ASSERT_EQ(opens.size(), static_cast<size_t>(kSessionLogBurst)) << text;
  EXPECT_EQ(closes.size(), opens.size()) << "a logged open has its close, a skipped one has none";
  EXPECT_EQ(suppressed, static_cast<uint64_t>(kSessions - kSessionLogBurst));
  for (const char* field : {"\"peer\":\"127.0.0.1\",\"peer_port\":", "\"firmware\":", "\"protocol_version\":1",
                                   "\"tls\":\"full\"", "\"session\":"}) {
    EXPECT_NE(opens.front().find(field), std::string::npos) << field << " in " << opens.front();
  }
  for (const char* field : {"\"reason\":", "\"seconds\":", "\"segments\":1", "\"payload_bytes\":16384"}) {
    EXPECT_NE(closes.front().find(field), std::string::npos) << field << " in " << closes.front();
  }
}

}  // namespace
}  // namespace ingest::testing
