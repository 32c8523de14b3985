#include "bench/camera_bench/admin_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/beast/http.hpp>
#include <cerrno>
#include <cstdlib>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "common/std_string_view.h"

namespace ingest::bench {
namespace {

namespace http = boost::beast::http;

class Socket {
 public:
  explicit Socket(int fd) : fd_(fd) {}
  ~Socket() {
    if (fd_ >= 0) close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` on `fd` until `deadline`.
absl::Status WaitFor(int fd, short events, absl::Time deadline) {
  const absl::Duration left = deadline - absl::Now();
  if (left <= absl::ZeroDuration()) return absl::DeadlineExceededError("admin request timed out");
  pollfd p{.fd = fd, .events = events, .revents = 0};
  const int rc = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(left)) + 1);
  if (rc < 0) return absl::ErrnoToStatus(errno, "poll");
  if (rc == 0) return absl::DeadlineExceededError("admin request timed out");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AdminReply> AdminRequest(const HostPort& admin, std::string_view method, std::string_view target,
                                        absl::Duration timeout) {
  const absl::Time deadline = absl::Now() + timeout;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(admin.port);
  if (inet_pton(AF_INET, admin.host.c_str(), &addr.sin_addr) != 1) {
    return absl::InvalidArgumentError(absl::StrCat("admin address must be IPv4: ", admin.ToString()));
  }
  Socket socket(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (socket.fd() < 0) return absl::ErrnoToStatus(errno, "socket");
  if (connect(socket.fd(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    if (errno != EINPROGRESS) return absl::ErrnoToStatus(errno, absl::StrCat("connect ", admin.ToString()));
    if (absl::Status s = WaitFor(socket.fd(), POLLOUT, deadline); !s.ok()) return s;
    int error = 0;
    socklen_t len = sizeof(error);
    getsockopt(socket.fd(), SOL_SOCKET, SO_ERROR, &error, &len);
    if (error != 0) return absl::ErrnoToStatus(error, absl::StrCat("connect ", admin.ToString()));
  }
  const std::string request = absl::StrCat(ToAbsl(method), " ", ToAbsl(target), " HTTP/1.1\r\nHost: ", admin.ToString(),
                                           "\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    const ssize_t n = send(socket.fd(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n < 0 && errno == EAGAIN) {
      if (absl::Status s = WaitFor(socket.fd(), POLLOUT, deadline); !s.ok()) return s;
      continue;
    }
    if (n < 0) return absl::ErrnoToStatus(errno, "send");
    sent += static_cast<size_t>(n);
  }
  http::response_parser<http::string_body> parser;
  parser.body_limit(kMaxAdminReplyBytes);
  parser.header_limit(64 * 1024);
  std::string pending;
  char buf[16384];
  while (!parser.is_done()) {
    if (absl::Status s = WaitFor(socket.fd(), POLLIN, deadline); !s.ok()) return s;
    const ssize_t n = recv(socket.fd(), buf, sizeof(buf), 0);
    if (n < 0 && errno == EAGAIN) continue;
    if (n < 0) return absl::ErrnoToStatus(errno, "recv");
    boost::system::error_code ec;
    if (n == 0) {
      parser.put_eof(ec);
      if (ec) return absl::UnavailableError(absl::StrCat("admin reply cut short: ", ec.message()));
      break;
    }
    pending.append(buf, static_cast<size_t>(n));
    while (!pending.empty() && !parser.is_done()) {
      const size_t used = parser.put(boost::asio::buffer(pending), ec);
      if (ec == http::error::need_more) break;
      if (ec) return absl::InvalidArgumentError(absl::StrCat("admin reply: ", ec.message()));
      pending.erase(0, used);
      if (used == 0) break;
    }
    if (pending.size() > kMaxAdminReplyBytes) return absl::ResourceExhaustedError("admin reply too large");
  }
  AdminReply reply;
  reply.code = static_cast<int>(parser.get().result_int());
  reply.body = std::move(parser.get().body());
  return reply;
}

double SumMetric(std::string_view metrics_text, std::string_view metric) {
  double sum = 0;
  bool found = false;
  for (absl::string_view line : absl::StrSplit(ToAbsl(metrics_text), '\n')) {
    if (line.size() <= metric.size() || line.substr(0, metric.size()) != ToAbsl(metric)) {
      continue;
    }
    const char next = line[metric.size()];
    if (next != ' ' && next != '{') continue;  // another metric sharing the prefix
    const size_t space = line.rfind(' ');
    double value = 0;
    if (space == absl::string_view::npos || !absl::SimpleAtod(line.substr(space + 1), &value)) continue;
    sum += value;
    found = true;
  }
  return found ? sum : -1;
}

}  // namespace ingest::bench
