// Test support: a small blocking HTTP/1.1 (or HTTPS) server on 127.0.0.1
// with a free port whose behaviour per connection is a function, so tests can
// answer, stall, hang up or send garbage. The HTTP parsing and TLS (Beast,
// Asio, OpenSSL) live in test_http_server.cc: including this header costs a
// test file nothing of them.
//
//   TestHttpServer server([](ServerConnection& c) {
//     TestHttpRequest request;
//     while (c.ReadRequest(&request)) c.Write(Response(200, "ok"));
//   });
//   HttpClient client(*ParseHttpEndpoint(server.url()), {});
#ifndef TESTS_SUPPORT_TEST_HTTP_SERVER_H_
#define TESTS_SUPPORT_TEST_HTTP_SERVER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/synchronization/notification.h"

namespace ingest::testing {

// One request as a test server received it.
struct TestHttpRequest {
  std::string method;                                        // as sent: "GET", "PUT", ...
  std::string target;                                        // "/bucket/key?uploads"
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent, in order
  std::string body;
  // What the request asked for: HTTP/1.1 without "Connection: close".
  bool keep_alive = true;

  // The value of the first header called `name` (in any case); "" if none.
  std::string Header(std::string_view name) const;
};

// One accepted connection as the test server's behaviours see it: read a
// request, write raw bytes, hang up. Over TLS when the server has a
// certificate.
class ServerConnection {
 public:
  virtual ~ServerConnection() = default;

  // The next request (bodies up to 64 MiB); false when the client hung up or
  // sent something that is not HTTP.
  virtual bool ReadRequest(TestHttpRequest* request) = 0;
  // Writes `raw` as it is (status line, headers, body, or any garbage).
  virtual bool Write(std::string_view raw) = 0;
  // Sends FIN (and wakes a blocked read) without freeing the descriptor,
  // which the server's Stop may still shut down.
  virtual void HangUp() = 0;
};

// "HTTP/1.1 <status> X" with Content-Length, `extra_headers` (each ending in
// "\r\n") and `body`.
std::string Response(int status, std::string_view body, std::string_view extra_headers = "");

// The certificate an HTTPS test server presents.
struct TestHttpServerTls {
  std::string cert_chain_file;  // PEM, the server's certificate first
  std::string key_file;         // PEM
};

// A small blocking HTTP/1.1 server on 127.0.0.1 with a free port: one thread
// accepts, one thread per connection runs `behaviour`. Stop() (also run by
// the destructor) shuts every socket down, which wakes every blocked thread,
// and joins them. A server that cannot listen (or load its certificate) adds
// a test failure and says why in start_error().
class TestHttpServer {
 public:
  using Behaviour = std::function<void(ServerConnection&)>;

  explicit TestHttpServer(Behaviour behaviour, std::optional<TestHttpServerTls> tls = std::nullopt);
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  void Stop();

  uint16_t port() const;
  std::string url(bool https = false) const;
  int accepted() const;
  // Empty while the server listens; else why it does not.
  const std::string& start_error() const;
  // Behaviours that must hang wait on this; it fires in Stop().
  absl::Notification& stopped();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_TEST_HTTP_SERVER_H_
