// A real Prometheus (Debian's package) scrapes a running ingestd's /metrics
// and evaluates the shipped alert rules (deploy/observability/alerts.yml)
// against it: the target is up, the liveness and readiness gauges arrive as
// 1, every alert rule evaluates without error, and a healthy server raises
// no alert.
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "gtest/gtest.h"
#include "tests/support/build_paths.h"
#include "tests/support/http_get.h"
#include "tests/support/ingest_test_env.h"
#include "tests/support/ingestd_process.h"

namespace ingest::testing {
namespace {

constexpr char kPrometheusPath[] = "/usr/bin/prometheus";
const std::string kAlertRulesPath = ingest::testing::SourceDir() + "/deploy/observability/alerts.yml";

std::string ReadWholeFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream contents;
  contents << in.rdbuf();
  return contents.str();
}

size_t CountOccurrences(const std::string& haystack, const std::string& needle) {
  size_t count = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + needle.size())) {
    ++count;
  }
  return count;
}

// Go's HTTP server sends large API answers with chunked transfer encoding, and
// HttpGet hands back the raw body; JSON bodies start with '{', chunked ones
// with a hex length line.
std::string Dechunked(const std::string& body) {
  if (body.empty() || body[0] == '{') return body;
  std::string out;
  size_t at = 0;
  while (at < body.size()) {
    const size_t line_end = body.find("\r\n", at);
    if (line_end == std::string::npos) break;
    const size_t length = std::strtoul(body.substr(at, line_end - at).c_str(), nullptr, 16);
    if (length == 0) break;
    out.append(body, line_end + 2, length);
    at = line_end + 2 + length + 2;
  }
  return out;
}

std::string PrometheusApi(uint16_t port, const std::string& path_and_query) {
  HttpGetResult result = HttpGet(port, path_and_query);
  return result.status == 200 ? Dechunked(result.body) : "";
}

// Polls `probe` every 200 ms until it returns true or `limit` passes.
template <typename Probe>
bool PollUntil(absl::Duration limit, Probe probe) {
  const absl::Time deadline = absl::Now() + limit;
  while (absl::Now() < deadline) {
    if (probe()) return true;
    absl::SleepFor(absl::Milliseconds(200));
  }
  return probe();
}

// Prometheus as a child process, stopped (SIGTERM, then SIGKILL after a
// bound) when the object goes away. Its output goes to a log file that a
// failing test prints.
class PrometheusProcess {
 public:
  PrometheusProcess(const std::string& work_dir, uint16_t web_port)
      : work_dir_(work_dir), log_path_(work_dir + "/prometheus.log"), web_port_(web_port) {}
  ~PrometheusProcess() { Stop(); }
  PrometheusProcess(const PrometheusProcess&) = delete;
  PrometheusProcess& operator=(const PrometheusProcess&) = delete;

  bool Start() {
    std::vector<std::string> args = {kPrometheusPath, absl::StrCat("--config.file=", work_dir_, "/prometheus.yml"),
                                     absl::StrCat("--storage.tsdb.path=", work_dir_, "/tsdb"),
                                     absl::StrCat("--web.listen-address=127.0.0.1:", web_port_), "--log.level=warn"};
    std::vector<char*> argv;
    for (std::string& arg : args) argv.push_back(arg.data());
    argv.push_back(nullptr);
    // Opened before fork: the server's threads are running, so the child may
    // only call async-signal-safe functions until exec.
    const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (log_fd < 0) return false;
    pid_ = fork();
    if (pid_ == 0) {
      dup2(log_fd, STDOUT_FILENO);
      dup2(log_fd, STDERR_FILENO);
      execv(argv[0], argv.data());
      _exit(127);
    }
    close(log_fd);
    return pid_ > 0;
  }

  void Stop() {
    if (pid_ <= 0) return;
    kill(pid_, SIGTERM);
    const bool exited = PollUntil(absl::Seconds(10), [&] { return waitpid(pid_, nullptr, WNOHANG) == pid_; });
    if (!exited) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    pid_ = -1;
  }

  bool Running() const { return pid_ > 0 && waitpid(pid_, nullptr, WNOHANG) == 0; }
  std::string Log() const { return ReadWholeFile(log_path_); }

 private:
  std::string work_dir_;
  std::string log_path_;
  uint16_t web_port_;
  pid_t pid_ = -1;
};

void WritePrometheusConfig(const std::string& path, uint16_t admin_port) {
  std::ofstream out(path);
  out << "global:\n"
         "  scrape_interval: 1s\n"
         "  scrape_timeout: 1s\n"
         "  evaluation_interval: 1s\n"
         "rule_files:\n"
         "  - '"
      << kAlertRulesPath
      << "'\n"
         "scrape_configs:\n"
         "  - job_name: ingestd\n"
         "    static_configs:\n"
         "      - targets: ['127.0.0.1:"
      << admin_port
      << "']\n"
         "        labels:\n"
         "          zone: test-zone\n";
}

TEST(PrometheusScrapeTest, RealPrometheusScrapesMetricsAndEvaluatesEveryAlertRule) {
  if (access(kPrometheusPath, X_OK) != 0) GTEST_SKIP() << kPrometheusPath << " is not installed";
  const std::string alert_rules = ReadWholeFile(kAlertRulesPath);
  const size_t alert_rule_count = CountOccurrences(alert_rules, "- alert:");
  ASSERT_GT(alert_rule_count, 0u) << "no alert rules in " << kAlertRulesPath;

  TempDir dir;
  auto server = StartTestServer(dir.path(), [](IngestConfig& config) { config.server.zone = "test-zone"; });
  ASSERT_NE(server, nullptr);
  ASSERT_NE(server->admin_port(), 0);

  const std::string prometheus_dir = dir.path() + "/prometheus";
  ASSERT_TRUE(std::filesystem::create_directories(prometheus_dir));
  WritePrometheusConfig(prometheus_dir + "/prometheus.yml", server->admin_port());
  const uint16_t web_port = PickFreePort();
  PrometheusProcess prometheus(prometheus_dir, web_port);
  ASSERT_TRUE(prometheus.Start());

  const bool target_up = PollUntil(absl::Seconds(30), [&] {
    return PrometheusApi(web_port, "/api/v1/query?query=up").find(",\"1\"]") != std::string::npos;
  });
  ASSERT_TRUE(target_up) << "running: " << prometheus.Running() << "\n"
                         << PrometheusApi(web_port, "/api/v1/targets") << "\n"
                         << prometheus.Log();

  for (const char* gauge : {"ingest_live", "ingest_ready"}) {
    const std::string answer = PrometheusApi(web_port, absl::StrCat("/api/v1/query?query=", gauge));
    EXPECT_NE(answer.find(absl::StrCat("\"__name__\":\"", gauge, "\"")), std::string::npos) << answer;
    EXPECT_NE(answer.find(",\"1\"]"), std::string::npos) << gauge << " is not 1: " << answer;
  }

  // Rules report health "unknown" until their group's first evaluation, and
  // any evaluation before the first scrape sees no series at all: give the
  // groups a few evaluations over scraped data before judging them.
  absl::SleepFor(absl::Seconds(3));
  std::string rules;
  const bool every_rule_evaluated = PollUntil(absl::Seconds(30), [&] {
    rules = PrometheusApi(web_port, "/api/v1/rules");
    return CountOccurrences(rules, "\"type\":\"alerting\"") == alert_rule_count &&
           CountOccurrences(rules, "\"health\":\"unknown\"") == 0;
  });
  ASSERT_TRUE(every_rule_evaluated) << "expected " << alert_rule_count << " evaluated alerting rules:\n"
                                    << rules << "\n"
                                    << prometheus.Log();
  EXPECT_EQ(CountOccurrences(rules, "\"health\":\"ok\""), alert_rule_count) << rules;
  EXPECT_EQ(CountOccurrences(rules, "\"health\":\"err\""), 0u) << rules;

  // An idle, healthy server is the baseline every alert must stay quiet on.
  const std::string alerts = PrometheusApi(web_port, "/api/v1/alerts");
  EXPECT_NE(alerts.find("\"alerts\":[]"), std::string::npos) << alerts;
}

}  // namespace
}  // namespace ingest::testing
