// Test support for the model-based oracle test: child processes the test
// starts itself and never loses track of — the ingestd under test (started,
// signalled and reaped without blocking, so cameras can be served while it
// drains) and bounded one-shot commands such as ingestctl. Every wait has a
// deadline; a child past it is killed by its own pid, never by name.
//
//   IngestdChild server({.binary = IngestdPath(), .state_dir = dir, .port = port,
//                        .log_file = dir + "/ingestd.log"});
//   ASSERT_TRUE(server.Start(absl::Seconds(20)).ok());
//   server.Signal(SIGTERM);
//   while (!server.TryReap().has_value()) { ...serve cameras... }
//   CommandResult r = RunCommand({ingestctl, "verify", ...}, absl::Seconds(60));
#ifndef TESTS_SUPPORT_ORACLE_CHILD_PROCESS_H_
#define TESTS_SUPPORT_ORACLE_CHILD_PROCESS_H_

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/support/http_get.h"
#include "tests/support/ingestd_process.h"

namespace ingest::testing::oracle {

// Forks and execs argv (argv[0] an absolute path) with stdin from /dev/null
// and stdout/stderr appended to the given files ("" = /dev/null). Everything
// the child needs is prepared before fork, so it only makes
// async-signal-safe calls.
inline absl::StatusOr<pid_t> SpawnChild(const std::vector<std::string>& argv, const std::string& stdout_path,
                                        const std::string& stderr_path) {
  std::vector<char*> c_argv;
  for (const std::string& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
  c_argv.push_back(nullptr);
  const std::string out = stdout_path.empty() ? "/dev/null" : stdout_path;
  const std::string err = stderr_path.empty() ? "/dev/null" : stderr_path;
  const pid_t pid = ::fork();
  if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
  if (pid == 0) {
    const int in_fd = ::open("/dev/null", O_RDONLY);
    const int out_fd = ::open(out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    const int err_fd = ::open(err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    if (in_fd < 0 || out_fd < 0 || err_fd < 0) ::_exit(126);
    if (::dup2(in_fd, 0) < 0 || ::dup2(out_fd, 1) < 0 || ::dup2(err_fd, 2) < 0) ::_exit(126);
    // The test's own sockets (camera connections) must not live on in the child.
    ::close_range(3, ~0U, 0);
    ::execv(c_argv[0], c_argv.data());
    ::_exit(127);
  }
  return pid;
}

// "exit 0", "exit 1", "signal 9".
inline std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return absl::StrCat("exit ", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return absl::StrCat("signal ", WTERMSIG(status));
  return absl::StrCat("wait status ", status);
}

struct CommandResult {
  int exit_code = -1;  // 128 + signal if a signal ended it
  std::string out;
  std::string err;
};

// Runs argv to completion within `timeout` (then SIGKILL to that child only);
// its output goes through files in `scratch_dir`.
inline absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv, const std::string& scratch_dir,
                                                absl::Duration timeout) {
  static int counter = 0;
  const std::string base = absl::StrCat(scratch_dir, "/cmd-", ::getpid(), "-", ++counter);
  absl::StatusOr<pid_t> pid = SpawnChild(argv, base + ".out", base + ".err");
  if (!pid.ok()) return pid.status();
  const absl::Time deadline = absl::Now() + timeout;
  int status = 0;
  bool killed = false;
  while (true) {
    const pid_t r = ::waitpid(*pid, &status, WNOHANG);
    if (r == *pid) break;
    if (r < 0 && errno != EINTR) return absl::ErrnoToStatus(errno, "waitpid");
    if (!killed && absl::Now() > deadline) {
      ::kill(*pid, SIGKILL);
      killed = true;
    }
    absl::SleepFor(absl::Milliseconds(5));
  }
  auto slurp = [](const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream s;
    s << in.rdbuf();
    std::remove(path.c_str());
    return s.str();
  };
  CommandResult result;
  result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  result.out = slurp(base + ".out");
  result.err = slurp(base + ".err");
  if (killed) {
    return absl::DeadlineExceededError(
        absl::StrCat(absl::StrJoin(argv, " "), " ran past ", absl::FormatDuration(timeout)));
  }
  return result;
}

struct IngestdOptions {
  std::string binary;
  std::string state_dir;
  uint16_t port = 0;
  std::vector<std::string> flags;  // after the fixed ones; later flags win
  std::string log_file;            // stderr (JSON log lines), appended across restarts
};

// The ingestd under test. Unlike IngestdProcess, signalling and reaping are
// separate calls, so the caller keeps serving cameras while a drain runs.
class IngestdChild {
 public:
  explicit IngestdChild(IngestdOptions options) : options_(std::move(options)) {}
  ~IngestdChild() {
    if (pid_ > 0) KillAndReap(SIGKILL, absl::Seconds(10));
  }
  IngestdChild(const IngestdChild&) = delete;
  IngestdChild& operator=(const IngestdChild&) = delete;

  // Starts it and waits (within `timeout`) until it says, on its admin
  // port, that its listeners are open. (The camera port accepting is not
  // enough: after a SIGKILL the dead process's io_uring ring may still hold
  // its listening socket for a moment, and a signal sent in that moment
  // would reach the new process before it handles signals.) An error says
  // whether it exited (with its status) or never became ready.
  absl::Status Start(absl::Duration timeout) {
    if (pid_ > 0) return absl::FailedPreconditionError("ingestd is already running");
    // No other server shares the port here: the sockets still listening on
    // it are an earlier, dead process's, on their way out (see
    // WaitUntilNotListening). Connections handed to them would be reset.
    if (!WaitUntilNotListening(options_.port, ListeningSocketInodes(options_.port), timeout)) {
      return absl::DeadlineExceededError(absl::StrCat(
          "port ", options_.port, " still had listeners of an earlier ingestd after ", absl::FormatDuration(timeout)));
    }
    // A fresh admin port each time, so no earlier process can answer on it.
    const uint16_t admin_port = PickFreePort();
    std::vector<std::string> argv = {options_.binary,
                                     "--dev_certs=true",
                                     absl::StrCat("--listen=127.0.0.1:", options_.port),
                                     absl::StrCat("--admin_listen=127.0.0.1:", admin_port),
                                     absl::StrCat("--state_dir=", options_.state_dir),
                                     "--stats_interval_s=0"};
    argv.insert(argv.end(), options_.flags.begin(), options_.flags.end());
    absl::StatusOr<pid_t> pid = SpawnChild(argv, options_.log_file, options_.log_file);
    if (!pid.ok()) return pid.status();
    pid_ = *pid;
    ++starts_;
    const absl::Time deadline = absl::Now() + timeout;
    std::string last;
    while (absl::Now() < deadline) {
      if (std::optional<int> status = TryReap(); status.has_value()) {
        return absl::InternalError(absl::StrCat("ingestd exited during start-up: ", DescribeWaitStatus(*status)));
      }
      // Ready or not (a store that is down fails readiness), the listeners
      // are open once this check passes.
      last = HttpGet(admin_port, "/readyz").body;
      if (last.find("{\"name\":\"listening\",\"ok\":true") != std::string::npos) return absl::OkStatus();
      absl::SleepFor(absl::Milliseconds(20));
    }
    return absl::DeadlineExceededError(
        absl::StrCat("ingestd was not listening within ", absl::FormatDuration(timeout), "; /readyz said: ", last));
  }

  void Signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }

  // The wait status once it has exited (and is reaped), nullopt while it runs.
  std::optional<int> TryReap() {
    if (pid_ <= 0) return last_status_;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      last_status_ = status;
      return status;
    }
    return std::nullopt;
  }

  // Sends `sig`, waits up to `timeout`, then SIGKILL; returns the wait status.
  int KillAndReap(int sig, absl::Duration timeout) {
    if (pid_ <= 0) return last_status_.value_or(-1);
    ::kill(pid_, sig);
    const absl::Time deadline = absl::Now() + timeout;
    bool killed = sig == SIGKILL;
    while (true) {
      if (std::optional<int> status = TryReap(); status.has_value()) return *status;
      if (!killed && absl::Now() > deadline) {
        ::kill(pid_, SIGKILL);
        killed = true;
      }
      absl::SleepFor(absl::Milliseconds(5));
    }
  }

  bool running() const { return pid_ > 0; }
  int starts() const { return starts_; }
  uint16_t port() const { return options_.port; }

 private:
  IngestdOptions options_;
  pid_t pid_ = -1;
  std::optional<int> last_status_;
  int starts_ = 0;
};

}  // namespace ingest::testing::oracle

#endif  // TESTS_SUPPORT_ORACLE_CHILD_PROCESS_H_
