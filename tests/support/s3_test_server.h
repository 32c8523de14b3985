// Test support: a real S3 server that verifies SigV4 signatures — Ceph's RADOS
// Gateway on a throw-away single-node cluster in a temporary folder, started
// and stopped by scripts/s3_test_server.sh — plus the AWS CLI from Debian as
// an independent client of it. Tests skip where Ceph is not installed
// (scripts/setup.sh installs it). Implemented in s3_test_server.cc.
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

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "tests/support/temp_dir.h"

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
  static bool Available();

  // Starts a monitor, an OSD (objects in memory, 2 GiB unless
  // S3_TEST_MEMSTORE_BYTES says otherwise) and a gateway on free 127.0.0.1
  // ports in a fresh temporary folder, and an S3 user with random keys.
  // Takes about 1.5 s. Fails with the script's own explanation (which
  // daemon, the tail of its log) if anything does not come up within the
  // script's 60 s; nothing is left running then.
  static absl::StatusOr<std::unique_ptr<S3TestServer>> Start();

  // Stops the gateway, the OSD and the monitor (in that order) and removes
  // the folder with everything the cluster stored.
  ~S3TestServer();
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
  absl::Status CreateBucket(std::string_view name);

  // Runs `/usr/bin/aws --endpoint-url <endpoint> args...` as this server's
  // user and returns its stdout (up to 256 MiB; `s3 cp s3://b/k -` gives an
  // object's bytes). Fails with the exit code and the tail of stderr if the
  // CLI exits non-zero; note AWS CLI 2.9.19 reports RGW's error replies only
  // as "argument of type 'NoneType' is not iterable" (add "--debug" and use
  // RunAwsCliAs to see the server's code). See RunAwsCliAs for the
  // environment.
  absl::StatusOr<std::string> RunAwsCli(std::vector<std::string> args);

  // Runs the AWS CLI against this server with the given keys (wrong ones
  // for tests of rejection) and returns how it ended, whatever the exit
  // code; fails only if the CLI could not be run or ran past 120 s. Nothing
  // outside is consulted: every AWS_* variable of the test's environment is
  // dropped, the config and credentials files are /dev/null, instance
  // metadata is off, no proxy is used for 127.0.0.1, and a failed request
  // is not retried (AWS_MAX_ATTEMPTS=1), so the CLI reports what the server
  // did.
  absl::StatusOr<CommandResult> RunAwsCliAs(std::string_view access_key, std::string_view secret_key,
                                            std::vector<std::string> args);

  // The resident memory of the cluster's daemons ("mon", "osd", "rgw"),
  // from /proc; for figures.
  absl::StatusOr<uint64_t> DaemonRssBytes(std::string_view daemon) const;

 private:
  S3TestServer() = default;

  // The script, found from the path of s3_test_server.cc (the repository's
  // tests/support/), unless S3_TEST_SERVER_SCRIPT names another.
  static std::string ScriptPath();

  // Runs `s3_test_server.sh <command> <dir>`; its stderr is the error on a
  // non-zero exit. The script bounds its own waits (60 s to start; stopping
  // a daemon ends in SIGKILL after 15 s); 240 s here only catches a hung
  // script.
  absl::Status RunScript(std::string_view command);

  // Reads dir()/s3.env: S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY,
  // S3_REGION, all required, the endpoint on 127.0.0.1.
  absl::Status ReadEnvFile();

  // Runs argv[0] (an absolute path) with `env`, stdin from /dev/null and
  // stdout/stderr into files in dir(); waits at most `timeout`, then SIGTERM,
  // then SIGKILL (this child only). Everything is prepared before fork so
  // the child only calls async-signal-safe functions.
  absl::StatusOr<CommandResult> RunCommand(const std::vector<std::string>& argv, const std::vector<std::string>& env,
                                           absl::Duration timeout, size_t max_out_bytes);

  // The whole of a file of at most `max_bytes` (read in chunks: /proc files
  // report no size).
  static absl::StatusOr<std::string> ReadBounded(const std::string& path, size_t max_bytes);

  static std::string Tail(const std::string& text, size_t max_chars);

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
