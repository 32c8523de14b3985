// A minimal blocking HTTP/1.1 GET over loopback for tests of the admin
// endpoints: one request per connection, the whole response read until close.
//
//   HttpGetResult r = HttpGet(server->admin_port(), "/readyz");
//   EXPECT_EQ(r.status, 200);
#ifndef TESTS_SUPPORT_HTTP_GET_H_
#define TESTS_SUPPORT_HTTP_GET_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <string>

namespace ingest::testing {

struct HttpGetResult {
  int status = 0;  // 0: no response
  std::string body;
};

// Sends `request` (a whole HTTP/1.1 request, "Connection: close") and reads
// the response until the server closes. `response` keeps the status line and
// headers too.
struct HttpExchangeResult {
  int status = 0;  // 0: no response
  std::string response;
  std::string body;
};

// A connect interrupted by a signal goes on in the background; wait for it.
inline bool ConnectCompletesAfterEintr(int fd) {
  if (errno != EINTR) return false;
  pollfd pending{.fd = fd, .events = POLLOUT, .revents = 0};
  int ready = 0;
  do {
    ready = poll(&pending, 1, 5000);
  } while (ready < 0 && errno == EINTR);
  int error = 0;
  socklen_t length = sizeof(error);
  return ready == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length) == 0 && error == 0;
}

inline HttpExchangeResult HttpExchange(uint16_t port, const std::string& request) {
  HttpExchangeResult result;
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return result;
  timeval timeout{.tv_sec = 5, .tv_usec = 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 && !ConnectCompletesAfterEintr(fd)) {
    close(fd);
    return result;
  }
  // A blocking call here can return EINTR (the test process also runs the
  // server's io_uring threads and the camera fleet); that is a retry, not an
  // answer.
  size_t written = 0;
  while (written < request.size()) {
    const ssize_t n = write(fd, request.data() + written, request.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      close(fd);
      return result;
    }
    written += static_cast<size_t>(n);
  }
  char buffer[16384];
  for (int reads = 0; reads < 10000; ++reads) {
    const ssize_t n = read(fd, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    result.response.append(buffer, static_cast<size_t>(n));
  }
  close(fd);
  if (result.response.rfind("HTTP/1.1 ", 0) != 0 || result.response.size() < 12) return result;
  result.status = std::atoi(result.response.substr(9, 3).c_str());
  const size_t body = result.response.find("\r\n\r\n");
  if (body != std::string::npos) result.body = result.response.substr(body + 4);
  return result;
}

inline HttpGetResult HttpGet(uint16_t port, const std::string& path) {
  HttpExchangeResult exchanged =
      HttpExchange(port, "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
  return HttpGetResult{.status = exchanged.status, .body = std::move(exchanged.body)};
}

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_HTTP_GET_H_
