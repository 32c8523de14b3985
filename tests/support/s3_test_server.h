// Test support: a real S3 server that verifies SigV4 signatures — Ceph's RADOS
// Gateway on a throw-away single-node cluster in a temporary folder, started
// and stopped by scripts/s3_test_server.sh — plus the AWS CLI from Debian as
// an independent client of it. Header-only. Tests skip where Ceph is not
// installed (scripts/setup.sh installs it).
//
//   if (!S3TestServer::Available()) GTEST_SKIP() << "radosgw not installed";
//   absl::StatusOr<std::unique_ptr<S3TestServer>> s3 = S3TestServer::Start();
//   ASSERT_TRUE(s3.ok()) << s3.status();
//   ASSERT_TRUE((*s3)->CreateBucket("recordings").ok());
//   ... point the code under test at (*s3)->endpoint(), access_key(), ...
//   absl::StatusOr<std::string> listing =
//       (*s3)->RunAwsCli({"s3api", "list-objects-v2", "--bucket", "recordings"});
//   ASSERT_TRUE((*s3)->StopGateway().ok());   // an S3 outage; objects survive
//   ASSERT_TRUE((*s3)->StartGateway().ok());  // same endpoint again
#ifndef TESTS_SUPPORT_S3_TEST_SERVER_H_
#define TESTS_SUPPORT_S3_TEST_SERVER_H_

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace ingest::testing {

class S3TestServer {
 public:
  // What a finished child process left: its exit code (128 + signal number
  // if a signal ended it) and what it wrote.
  struct CommandResult {
    int exit_code = -1;
    std::string out;
    std::string err;
  };

  // The Debian AWS CLI v2; an older v1 may come first on PATH.
  static constexpr const char* kAwsCli = "/usr/bin/aws";

  // True when the Ceph daemons the script needs are installed (radosgw,
  // ceph-mon, ceph-osd, the ceph tools) together with the AWS CLI. Tests call
  // it first and GTEST_SKIP when false.
  static bool Available() {
    for (const char* tool :
         {"/usr/bin/radosgw", "/usr/bin/radosgw-admin", "/usr/bin/ceph-mon", "/usr/bin/ceph-osd",
          "/usr/bin/ceph", "/usr/bin/ceph-authtool", "/usr/bin/monmaptool", kAwsCli}) {
      if (::access(tool, X_OK) != 0) return false;
    }
    return true;
  }

  // Starts a monitor, an OSD (objects in memory, 2 GiB unless
  // S3_TEST_MEMSTORE_BYTES says otherwise) and a gateway on free 127.0.0.1
  // ports in a fresh temporary folder, and an S3 user with random keys.
  // Takes about 1.5 s. Fails with the script's own explanation (which
  // daemon, the tail of its log) if anything does not come up within the
  // script's 60 s; nothing is left running then.
  static absl::StatusOr<std::unique_ptr<S3TestServer>> Start() {
    if (!Available()) {
      return absl::FailedPreconditionError(
          "radosgw, ceph-mon, ceph-osd, ceph-common or /usr/bin/aws is not installed "
          "(scripts/setup.sh installs them)");
    }
    std::unique_ptr<S3TestServer> server(new S3TestServer());
    if (server->dir().empty()) return absl::InternalError("could not create a temporary folder");
    // From here the destructor stops whatever the script may have left.
    server->running_ = true;
    absl::Status started = server->RunScript("start");
    if (!started.ok()) return started;
    absl::Status parsed = server->ReadEnvFile();
    if (!parsed.ok()) return parsed;
    return server;
  }

  // Stops the gateway, the OSD and the monitor (in that order) and removes
  // the folder with everything the cluster stored.
  ~S3TestServer() {
    absl::Status s = Stop();
    if (!s.ok()) std::cerr << "S3TestServer: " << s << "\n";
  }
  S3TestServer(const S3TestServer&) = delete;
  S3TestServer& operator=(const S3TestServer&) = delete;

  // "http://127.0.0.1:PORT": path-style addressing; the same for the
  // server's whole life, also across StopGateway/StartGateway.
  const std::string& endpoint() const { return endpoint_; }
  const std::string& access_key() const { return access_key_; }
  // 40 characters that may include '/' and '+', like real AWS secrets.
  const std::string& secret_key() const { return secret_key_; }
  // The region to sign with. This gateway accepts any region in the
  // credential scope (it signs with the one the request names); this is the
  // one AWS tools assume.
  const std::string& region() const { return region_; }
  // The folder holding the cluster (cluster/: config, logs under
  // cluster/log, pid files under cluster/run) and s3.env.
  const std::string& dir() const { return temp_dir_.path(); }

  // Stops only the gateway: S3 requests fail with connection refused while
  // the OSD keeps every object. Idempotent.
  absl::Status StopGateway() { return RunScript("stop-gateway"); }

  // Starts the gateway again on the same port and returns once it answers
  // HTTP; objects stored before StopGateway are there again. A no-op while
  // it runs.
  absl::Status StartGateway() { return RunScript("start-gateway"); }

  // Stops everything (gateway, OSD, monitor; the stored objects are gone).
  // Idempotent; the destructor calls it.
  absl::Status Stop() {
    if (!running_) return absl::OkStatus();
    absl::Status s = RunScript("stop");
    running_ = false;
    return s;
  }

  // Creates bucket `name` with the AWS CLI (s3api create-bucket).
  absl::Status CreateBucket(std::string_view name) {
    absl::StatusOr<std::string> out =
        RunAwsCli({"s3api", "create-bucket", "--bucket", std::string(name)});
    if (!out.ok()) {
      return absl::Status(out.status().code(), absl::StrCat("create bucket '", std::string(name),
                                                            "': ", out.status().message()));
    }
    return absl::OkStatus();
  }

  // Runs `/usr/bin/aws --endpoint-url <endpoint> args...` as this server's
  // user and returns its stdout (up to 256 MiB; `s3 cp s3://b/k -` gives an
  // object's bytes). Fails with the exit code and the tail of stderr if the
  // CLI exits non-zero; note AWS CLI 2.9.19 reports RGW's error replies only
  // as "argument of type 'NoneType' is not iterable" (add "--debug" and use
  // RunAwsCliAs to see the server's code). See RunAwsCliAs for the
  // environment.
  absl::StatusOr<std::string> RunAwsCli(std::vector<std::string> args) {
    std::string described = absl::StrJoin(args, " ");
    absl::StatusOr<CommandResult> result = RunAwsCliAs(access_key_, secret_key_, std::move(args));
    if (!result.ok()) return result.status();
    if (result->exit_code != 0) {
      return absl::InternalError(absl::StrCat("aws ", described, " exited with ", result->exit_code,
                                              ": ", Tail(result->err, 2000)));
    }
    return std::move(result->out);
  }

  // Runs the AWS CLI against this server with the given keys (wrong ones
  // for tests of rejection) and returns how it ended, whatever the exit
  // code; fails only if the CLI could not be run or ran past 120 s. Nothing
  // outside is consulted: every AWS_* variable of the test's environment is
  // dropped, the config and credentials files are /dev/null, instance
  // metadata is off, no proxy is used for 127.0.0.1, and a failed request
  // is not retried (AWS_MAX_ATTEMPTS=1), so the CLI reports what the server
  // did.
  absl::StatusOr<CommandResult> RunAwsCliAs(std::string_view access_key,
                                            std::string_view secret_key,
                                            std::vector<std::string> args) {
    std::vector<std::string> argv = {kAwsCli, "--endpoint-url", endpoint_};
    argv.insert(argv.end(), std::make_move_iterator(args.begin()),
                std::make_move_iterator(args.end()));
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
      std::string_view var(*e);
      if (var.starts_with("AWS_") || var.starts_with("NO_PROXY=") || var.starts_with("no_proxy=")) {
        continue;
      }
      env.emplace_back(var);
    }
    for (std::string var :
         {"AWS_ACCESS_KEY_ID=" + std::string(access_key),
          "AWS_SECRET_ACCESS_KEY=" + std::string(secret_key), "AWS_DEFAULT_REGION=" + region_,
          std::string("AWS_CONFIG_FILE=/dev/null"),
          std::string("AWS_SHARED_CREDENTIALS_FILE=/dev/null"),
          std::string("AWS_EC2_METADATA_DISABLED=true"), std::string("AWS_RETRY_MODE=standard"),
          std::string("AWS_MAX_ATTEMPTS=1"), std::string("AWS_PAGER="),
          std::string("NO_PROXY=127.0.0.1,localhost"),
          std::string("no_proxy=127.0.0.1,localhost")}) {
      env.push_back(std::move(var));
    }
    return RunCommand(argv, env, absl::Seconds(120), /*max_out_bytes=*/256 << 20);
  }

  // The resident memory of the cluster's daemons ("mon", "osd", "rgw"),
  // from /proc; for figures.
  absl::StatusOr<uint64_t> DaemonRssBytes(std::string_view daemon) const {
    const std::string pid_path = absl::StrCat(dir(), "/cluster/run/", std::string(daemon), ".pid");
    absl::StatusOr<std::string> pid_text = ReadBounded(pid_path, 32);
    if (!pid_text.ok()) return pid_text.status();
    int pid = 0;
    if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*pid_text), &pid) || pid <= 0) {
      return absl::InternalError(absl::StrCat(pid_path, " holds no pid"));
    }
    absl::StatusOr<std::string> status =
        ReadBounded(absl::StrCat("/proc/", pid, "/status"), 1 << 16);
    if (!status.ok()) return status.status();
    for (absl::string_view line : absl::StrSplit(*status, '\n')) {
      if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
      line = absl::StripAsciiWhitespace(line);
      uint64_t kib = 0;
      if (absl::ConsumeSuffix(&line, "kB") &&
          absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) {
        return kib * 1024;
      }
    }
    return absl::InternalError(
        absl::StrCat("no VmRSS for ", std::string(daemon), " (pid ", pid, ")"));
  }

 private:
  S3TestServer() = default;

  // The script, found from this header's own path (the repository's
  // tests/support/), unless S3_TEST_SERVER_SCRIPT names another.
  static std::string ScriptPath() {
    if (const char* override_path = ::getenv("S3_TEST_SERVER_SCRIPT");
        override_path != nullptr && *override_path != '\0') {
      return override_path;
    }
    return (std::filesystem::path(__FILE__).parent_path().parent_path().parent_path() / "scripts" /
            "s3_test_server.sh")
        .string();
  }

  // Runs `s3_test_server.sh <command> <dir>`; its stderr is the error on a
  // non-zero exit. The script bounds its own waits (60 s to start; stopping
  // a daemon ends in SIGKILL after 15 s); 240 s here only catches a hung
  // script.
  absl::Status RunScript(std::string_view command) {
    const std::string script = ScriptPath();
    if (::access(script.c_str(), R_OK) != 0) {
      return absl::NotFoundError(absl::StrCat("S3 test server script not found at ", script,
                                              " (set S3_TEST_SERVER_SCRIPT)"));
    }
    std::vector<std::string> env;
    for (char** e = environ; e != nullptr && *e != nullptr; ++e) env.emplace_back(*e);
    env.emplace_back("NO_PROXY=127.0.0.1,localhost");
    env.emplace_back("no_proxy=127.0.0.1,localhost");
    absl::StatusOr<CommandResult> result =
        RunCommand({"/bin/bash", script, std::string(command), dir()}, env, absl::Seconds(240),
                   /*max_out_bytes=*/1 << 20);
    if (!result.ok()) {
      return absl::Status(result.status().code(),
                          absl::StrCat("s3_test_server.sh ", std::string(command), ": ",
                                       result.status().message()));
    }
    if (result->exit_code != 0) {
      return absl::InternalError(absl::StrCat("s3_test_server.sh ", std::string(command), " ",
                                              dir(), " exited with ", result->exit_code, ":\n",
                                              Tail(result->err, 4000)));
    }
    return absl::OkStatus();
  }

  // Reads dir()/s3.env: S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY,
  // S3_REGION, all required, the endpoint on 127.0.0.1.
  absl::Status ReadEnvFile() {
    const std::string path = dir() + "/s3.env";
    absl::StatusOr<std::string> text = ReadBounded(path, 4096);
    if (!text.ok()) return text.status();
    for (absl::string_view line : absl::StrSplit(*text, '\n', absl::SkipEmpty())) {
      std::pair<std::string, std::string> kv = absl::StrSplit(line, absl::MaxSplits('=', 1));
      if (kv.first == "S3_ENDPOINT") endpoint_ = kv.second;
      if (kv.first == "S3_ACCESS_KEY") access_key_ = kv.second;
      if (kv.first == "S3_SECRET_KEY") secret_key_ = kv.second;
      if (kv.first == "S3_REGION") region_ = kv.second;
    }
    if (endpoint_.empty() || access_key_.empty() || secret_key_.empty() || region_.empty()) {
      return absl::InternalError(absl::StrCat(path, " lacks one of S3_ENDPOINT, S3_ACCESS_KEY, ",
                                              "S3_SECRET_KEY, S3_REGION:\n", *text));
    }
    if (!endpoint_.starts_with("http://127.0.0.1:")) {
      return absl::InternalError(
          absl::StrCat(path, ": S3_ENDPOINT '", endpoint_, "' is not on 127.0.0.1"));
    }
    return absl::OkStatus();
  }

  // Runs argv[0] (an absolute path) with `env`, stdin from /dev/null and
  // stdout/stderr into files in dir(); waits at most `timeout`, then SIGTERM,
  // then SIGKILL (this child only). Everything is prepared before fork so
  // the child only calls async-signal-safe functions.
  absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv,
                                           const std::vector<std::string>& env,
                                           absl::Duration timeout, size_t max_out_bytes) {
    const std::string base = absl::StrCat(dir(), "/cmd-", ++command_count_);
    const std::string out_path = base + ".out";
    const std::string err_path = base + ".err";
    std::vector<char*> c_argv;
    for (const std::string& a : argv) c_argv.push_back(const_cast<char*>(a.c_str()));
    c_argv.push_back(nullptr);
    std::vector<char*> c_env;
    for (const std::string& e : env) c_env.push_back(const_cast<char*>(e.c_str()));
    c_env.push_back(nullptr);

    const pid_t pid = ::fork();
    if (pid < 0) return absl::ErrnoToStatus(errno, "fork");
    if (pid == 0) {
      int in = ::open("/dev/null", O_RDONLY);
      int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
      if (in < 0 || out < 0 || err < 0) ::_exit(126);
      if (::dup2(in, 0) < 0 || ::dup2(out, 1) < 0 || ::dup2(err, 2) < 0) ::_exit(126);
      // The script's daemons must not inherit the test's sockets or files.
      if (::close_range(3, ~0U, 0) != 0) {
        for (int fd = 3; fd < 65536; ++fd) ::close(fd);
      }
      ::execve(c_argv[0], c_argv.data(), c_env.data());
      ::_exit(127);
    }

    // The child stays unreaped (at worst a zombie) until waitpid returns it,
    // so its pid cannot name another process when it is signalled here.
    int status = 0;
    const absl::Time deadline = absl::Now() + timeout;
    bool timed_out = false;
    absl::Time kill_at = absl::InfiniteFuture();
    while (true) {
      const pid_t r = ::waitpid(pid, &status, WNOHANG);
      if (r == pid) break;
      if (r < 0) {
        if (errno == EINTR) continue;
        return absl::ErrnoToStatus(errno, "waitpid");
      }
      const absl::Time now = absl::Now();
      if (!timed_out && now >= deadline) {
        // Bash runs its trap (the script's cleanup) on SIGTERM: 20 s for it.
        timed_out = true;
        ::kill(pid, SIGTERM);
        kill_at = now + absl::Seconds(20);
      } else if (now >= kill_at) {
        ::kill(pid, SIGKILL);
        kill_at = absl::InfiniteFuture();
      }
      absl::SleepFor(absl::Milliseconds(10));
    }

    CommandResult result;
    result.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    absl::StatusOr<std::string> out = ReadBounded(out_path, max_out_bytes);
    absl::StatusOr<std::string> err = ReadBounded(err_path, 1 << 24);
    std::error_code ec;
    std::filesystem::remove(out_path, ec);
    std::filesystem::remove(err_path, ec);
    if (!out.ok()) return out.status();
    if (!err.ok()) return err.status();
    result.out = std::move(*out);
    result.err = std::move(*err);
    if (timed_out) {
      return absl::DeadlineExceededError(absl::StrCat(argv[1], " ran past ",
                                                      absl::FormatDuration(timeout),
                                                      "; stderr: ", Tail(result.err, 2000)));
    }
    return result;
  }

  // The whole of a file of at most `max_bytes` (read in chunks: /proc files
  // report no size).
  static absl::StatusOr<std::string> ReadBounded(const std::string& path, size_t max_bytes) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
    std::string data;
    char chunk[65536];
    while (in) {
      in.read(chunk, sizeof(chunk));
      data.append(chunk, static_cast<size_t>(in.gcount()));
      if (data.size() > max_bytes) {
        return absl::ResourceExhaustedError(
            absl::StrCat(path, " is larger than ", max_bytes, " bytes"));
      }
    }
    if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
    return data;
  }

  static std::string Tail(const std::string& text, size_t max_chars) {
    if (text.size() <= max_chars) return text;
    return "..." + text.substr(text.size() - max_chars);
  }

  TempDir temp_dir_;
  bool running_ = false;
  int command_count_ = 0;
  std::string endpoint_;
  std::string access_key_;
  std::string secret_key_;
  std::string region_;
};

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_S3_TEST_SERVER_H_
