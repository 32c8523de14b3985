// Test support: the real ingestd binary as a child process, so a test can
// kill -9 it mid-stream and start it again on the same port and state folder.
//
//   IngestdProcess server(state_dir, port);
//   ASSERT_TRUE(server.Start());
//   server.Kill(SIGKILL);
#ifndef TESTS_SUPPORT_INGESTD_PROCESS_H_
#define TESTS_SUPPORT_INGESTD_PROCESS_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/listening_sockets.h"
#include "tests/support/build_paths.h"

namespace ingest::testing {

// A port that was free a moment ago on 127.0.0.1.
inline uint16_t PickFreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

inline bool PortAccepts(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// Waits (at most `timeout`) until no socket in `inodes` listens on `port`.
// A killed server's listening sockets can outlive it: the kernel tears its
// io_uring ring down after the process is reaped, and with the ring the
// sockets it held. A server started on the port in that moment binds beside
// them (SO_REUSEPORT), and the connections the kernel hands to the dead
// sockets are reset when they go. Here (idle machine) they were still
// there just after the process was reaped, and gone 20 ms later.
inline bool WaitUntilNotListening(uint16_t port, const std::vector<std::string>& inodes, absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  while (true) {
    const std::vector<std::string> listening = ingest::ListeningSocketInodes(port);
    bool any = false;
    for (const std::string& inode : inodes) {
      any = any || std::find(listening.begin(), listening.end(), inode) != listening.end();
    }
    if (!any) return true;
    if (absl::Now() > deadline) return false;
    absl::SleepFor(absl::Milliseconds(5));
  }
}

class IngestdProcess {
 public:
  IngestdProcess(std::string state_dir, uint16_t port, std::vector<std::string> extra_flags = {})
      : state_dir_(std::move(state_dir)), port_(port), extra_(std::move(extra_flags)) {}
  ~IngestdProcess() { Kill(SIGKILL); }

  // Starts the daemon and waits (bounded) until it accepts connections.
  bool Start() {
    std::vector<std::string> args = {IngestdPath(),
                                     "--dev_certs",
                                     absl::StrCat("--listen=127.0.0.1:", port_),
                                     "--admin_listen=127.0.0.1:0",
                                     absl::StrCat("--state_dir=", state_dir_),
                                     "--shards=2", "--max_connections=10000",
                                     "--seal_age_ms=300",
                                     "--log_level=warn",
                                     "--stats_interval_s=0",
                                     // No load balancer to notice a drain here.
                                     "--drain_announce_delay_ms=0"};
    args.insert(args.end(), extra_.begin(), extra_.end());
    pid_ = fork();
    if (pid_ == 0) {
      std::vector<char*> argv;
      for (auto& a : args) argv.push_back(a.data());
      argv.push_back(nullptr);
      execv(argv[0], argv.data());
      _exit(127);
    }
    absl::Time deadline = absl::Now() + absl::Seconds(20);
    while (absl::Now() < deadline) {
      if (PortAccepts(port_)) return true;
      int status;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return false;
      }
      usleep(20 * 1000);
    }
    return false;
  }

  // Sends `sig` and waits for the exit, and for its listening sockets to
  // go (so Start on the same port serves every connection); returns the
  // exit status (-1 if none).
  int Kill(int sig) {
    if (pid_ <= 0) return -1;
    const std::vector<std::string> listeners = ingest::ProcessListeningInodes(pid_, port_);
    kill(pid_, sig);
    int status = 0;
    absl::Time deadline = absl::Now() + absl::Seconds(30);
    while (waitpid(pid_, &status, WNOHANG) == 0) {
      if (absl::Now() > deadline) {
        kill(pid_, SIGKILL);
        waitpid(pid_, &status, 0);
        break;
      }
      usleep(10 * 1000);
    }
    pid_ = -1;
    WaitUntilNotListening(port_, listeners, absl::Seconds(10));
    return status;
  }

  pid_t pid() const { return pid_; }

 private:
  std::string state_dir_;
  uint16_t port_;
  std::vector<std::string> extra_;
  pid_t pid_ = -1;
};

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_INGESTD_PROCESS_H_
