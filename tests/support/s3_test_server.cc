#include "tests/support/build_paths.h"
#include "tests/support/s3_test_server.h"

#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <system_error>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"

extern char** environ;

namespace ingest::testing {

bool S3TestServer::Available() {
  for (const char* tool : {"/usr/bin/radosgw", "/usr/bin/radosgw-admin", "/usr/bin/ceph-mon", "/usr/bin/ceph-osd",
                           "/usr/bin/ceph", "/usr/bin/ceph-authtool", "/usr/bin/monmaptool", kAwsCli}) {
    if (::access(tool, X_OK) != 0) return false;
  }
  return true;
}

absl::StatusOr<std::unique_ptr<S3TestServer>> S3TestServer::Start() {
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

S3TestServer::~S3TestServer() {
  absl::Status s = Stop();
  if (!s.ok()) std::cerr << "S3TestServer: " << s << "\n";
}

absl::Status S3TestServer::CreateBucket(std::string_view name) {
  absl::StatusOr<std::string> out = RunAwsCli({"s3api", "create-bucket", "--bucket", std::string(name)});
  if (!out.ok()) {
    return absl::Status(out.status().code(),
                        absl::StrCat("create bucket '", std::string(name), "': ", out.status().message()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> S3TestServer::RunAwsCli(std::vector<std::string> args) {
  std::string described = absl::StrJoin(args, " ");
  absl::StatusOr<CommandResult> result = RunAwsCliAs(access_key_, secret_key_, std::move(args));
  if (!result.ok()) return result.status();
  if (result->exit_code != 0) {
    return absl::InternalError(
        absl::StrCat("aws ", described, " exited with ", result->exit_code, ": ", Tail(result->err, 2000)));
  }
  return std::move(result->out);
}

absl::StatusOr<S3TestServer::CommandResult> S3TestServer::RunAwsCliAs(std::string_view access_key,
                                                                      std::string_view secret_key,
                                                                      std::vector<std::string> args) {
  std::vector<std::string> argv = {kAwsCli, "--endpoint-url", endpoint_};
  argv.insert(argv.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
  std::vector<std::string> env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view var(*e);
    if (var.starts_with("AWS_") || var.starts_with("NO_PROXY=") || var.starts_with("no_proxy=")) {
      continue;
    }
    env.emplace_back(var);
  }
  for (std::string var :
       {"AWS_ACCESS_KEY_ID=" + std::string(access_key), "AWS_SECRET_ACCESS_KEY=" + std::string(secret_key),
        "AWS_DEFAULT_REGION=" + region_, std::string("AWS_CONFIG_FILE=/dev/null"),
        std::string("AWS_SHARED_CREDENTIALS_FILE=/dev/null"), std::string("AWS_EC2_METADATA_DISABLED=true"),
        std::string("AWS_RETRY_MODE=standard"), std::string("AWS_MAX_ATTEMPTS=1"), std::string("AWS_PAGER="),
        std::string("NO_PROXY=127.0.0.1,localhost"), std::string("no_proxy=127.0.0.1,localhost")}) {
    env.push_back(std::move(var));
  }
  return RunCommand(argv, env, absl::Seconds(120), /*max_out_bytes=*/256 << 20);
}

absl::StatusOr<uint64_t> S3TestServer::DaemonRssBytes(std::string_view daemon) const {
  const std::string pid_path = absl::StrCat(dir(), "/cluster/run/", std::string(daemon), ".pid");
  absl::StatusOr<std::string> pid_text = ReadBounded(pid_path, 32);
  if (!pid_text.ok()) return pid_text.status();
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(*pid_text), &pid) || pid <= 0) {
    return absl::InternalError(absl::StrCat(pid_path, " holds no pid"));
  }
  absl::StatusOr<std::string> status = ReadBounded(absl::StrCat("/proc/", pid, "/status"), 1 << 16);
  if (!status.ok()) return status.status();
  for (absl::string_view line : absl::StrSplit(*status, '\n')) {
    if (!absl::ConsumePrefix(&line, "VmRSS:")) continue;
    line = absl::StripAsciiWhitespace(line);
    uint64_t kib = 0;
    if (absl::ConsumeSuffix(&line, "kB") && absl::SimpleAtoi(absl::StripAsciiWhitespace(line), &kib)) {
      return kib * 1024;
    }
  }
  return absl::InternalError(absl::StrCat("no VmRSS for ", std::string(daemon), " (pid ", pid, ")"));
}

std::string S3TestServer::ScriptPath() {
  if (const char* override_path = ::getenv("S3_TEST_SERVER_SCRIPT");
      override_path != nullptr && *override_path != '\0') {
    return override_path;
  }
  return (std::filesystem::path(SourceDir()) / "scripts" / "s3_test_server.sh")
      .string();
}

absl::Status S3TestServer::RunScript(std::string_view command) {
  const std::string script = ScriptPath();
  if (::access(script.c_str(), R_OK) != 0) {
    return absl::NotFoundError(
        absl::StrCat("S3 test server script not found at ", script, " (set S3_TEST_SERVER_SCRIPT)"));
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
                        absl::StrCat("s3_test_server.sh ", std::string(command), ": ", result.status().message()));
  }
  if (result->exit_code != 0) {
    return absl::InternalError(absl::StrCat("s3_test_server.sh ", std::string(command), " ", dir(), " exited with ",
                                            result->exit_code, ":\n", Tail(result->err, 4000)));
  }
  return absl::OkStatus();
}

absl::Status S3TestServer::ReadEnvFile() {
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
    return absl::InternalError(
        absl::StrCat(path, " lacks one of S3_ENDPOINT, S3_ACCESS_KEY, ", "S3_SECRET_KEY, S3_REGION:\n", *text));
  }
  if (!endpoint_.starts_with("http://127.0.0.1:")) {
    return absl::InternalError(absl::StrCat(path, ": S3_ENDPOINT '", endpoint_, "' is not on 127.0.0.1"));
  }
  return absl::OkStatus();
}

absl::StatusOr<S3TestServer::CommandResult> S3TestServer::RunCommand(const std::vector<std::string>& argv,
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
    return absl::DeadlineExceededError(
        absl::StrCat(argv[1], " ran past ", absl::FormatDuration(timeout), "; stderr: ", Tail(result.err, 2000)));
  }
  return result;
}

absl::StatusOr<std::string> S3TestServer::ReadBounded(const std::string& path, size_t max_bytes) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::string data;
  char chunk[65536];
  while (in) {
    in.read(chunk, sizeof(chunk));
    data.append(chunk, static_cast<size_t>(in.gcount()));
    if (data.size() > max_bytes) {
      return absl::ResourceExhaustedError(absl::StrCat(path, " is larger than ", max_bytes, " bytes"));
    }
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  return data;
}

std::string S3TestServer::Tail(const std::string& text, size_t max_chars) {
  if (text.size() <= max_chars) return text;
  return "..." + text.substr(text.size() - max_chars);
}

}  // namespace ingest::testing
