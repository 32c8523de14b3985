// Test support for the S3 client tests: a small blocking HTTP/1.1 (or
// HTTPS) server on 127.0.0.1 with a free port whose behaviour per connection
// is a function, so tests can answer, stall, hang up or send garbage.
//
//   TestHttpServer server([](ServerConnection& c) {
//     http::request<http::string_body> request;
//     while (c.ReadRequest(&request)) c.Write(Response(200, "ok"));
//   });
//   HttpClient client(*ParseHttpEndpoint(server.url()), {});
#ifndef TESTS_SERVER_S3_TEST_HTTP_SERVER_H_
#define TESTS_SERVER_S3_TEST_HTTP_SERVER_H_

#include <sys/socket.h>

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

// GCC's -Wmaybe-uninitialized misfires inside Beast's request parser when
// built with the sanitizers (a boost::optional it reads only once set).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#pragma GCC diagnostic pop

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "gtest/gtest.h"

namespace ingest::testing {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

// One accepted connection as the test server's behaviours see it: read a
// request, write raw bytes, hang up. Over TLS when the server has a context.
class ServerConnection {
 public:
  ServerConnection(tcp::socket socket, ssl::context* tls) : socket_(std::move(socket)) {
    if (tls != nullptr) tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, *tls);
  }

  bool Handshake() {
    if (!tls_) return true;
    beast::error_code ec;
    tls_->handshake(ssl::stream_base::server, ec);
    return !ec;
  }

  // False when the client hung up (or sent garbage).
  bool ReadRequest(http::request<http::string_body>* request) {
    beast::error_code ec;
    // Multipart tests send 5 MiB parts; Beast's default limit is 1 MiB.
    http::request_parser<http::string_body> parser;
    parser.body_limit(64 << 20);
    if (tls_) {
      http::read(*tls_, buffer_, parser, ec);
    } else {
      http::read(socket_, buffer_, parser, ec);
    }
    if (ec) return false;
    *request = parser.release();
    return true;
  }

  bool Write(std::string_view raw) {
    beast::error_code ec;
    if (tls_) {
      asio::write(*tls_, asio::buffer(raw.data(), raw.size()), ec);
    } else {
      asio::write(socket_, asio::buffer(raw.data(), raw.size()), ec);
    }
    return !ec;
  }

  // Sends FIN (and wakes a blocked read) without freeing the descriptor,
  // which the server's Stop may still shut down.
  void HangUp() { ::shutdown(socket_.native_handle(), SHUT_RDWR); }

 private:
  tcp::socket socket_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  beast::flat_buffer buffer_;
};

inline std::string Response(int status, std::string_view body,
                            std::string_view extra_headers = "") {
  return absl::StrCat("HTTP/1.1 ", status, " X\r\nContent-Length: ", body.size(), "\r\n",
                      std::string(extra_headers), "\r\n", std::string(body));
}

// A small blocking HTTP/1.1 server on 127.0.0.1 with a free port: one thread
// accepts, one thread per connection runs `behaviour`. Stop() (also run by
// the destructor) shuts every socket down, which wakes every blocked thread,
// and joins them.
class TestHttpServer {
 public:
  using Behaviour = std::function<void(ServerConnection&)>;

  explicit TestHttpServer(Behaviour behaviour, ssl::context* tls = nullptr)
      : behaviour_(std::move(behaviour)), tls_(tls), acceptor_(ioc_) {
    beast::error_code ec;
    acceptor_.open(tcp::v4(), ec);
    acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), ec);
    acceptor_.listen(64, ec);
    EXPECT_FALSE(ec) << ec.message();
    port_ = acceptor_.local_endpoint(ec).port();
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~TestHttpServer() { Stop(); }

  void Stop() {
    if (stopping_.exchange(true)) return;
    ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& connection : connections_) connection->HangUp();
      threads.swap(threads_);
    }
    for (std::thread& thread : threads) thread.join();
    stopped_.Notify();
  }

  uint16_t port() const { return port_; }
  std::string url(bool https = false) const {
    return absl::StrCat(https ? "https" : "http", "://127.0.0.1:", port_);
  }
  int accepted() const { return accepted_.load(); }
  // Behaviours that must hang wait on this; it fires in Stop().
  absl::Notification& stopped() { return stopped_; }

 private:
  void AcceptLoop() {
    while (!stopping_.load()) {
      beast::error_code ec;
      tcp::socket socket(ioc_);
      acceptor_.accept(socket, ec);
      if (ec) {
        if (stopping_.load()) return;
        continue;
      }
      accepted_.fetch_add(1);
      std::lock_guard<std::mutex> lock(mu_);
      auto connection = std::make_shared<ServerConnection>(std::move(socket), tls_);
      connections_.push_back(connection);
      threads_.emplace_back([this, connection] {
        if (connection->Handshake()) behaviour_(*connection);
      });
    }
  }

  Behaviour behaviour_;
  ssl::context* tls_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> accepted_{0};
  absl::Notification stopped_;
  std::mutex mu_;
  std::vector<std::shared_ptr<ServerConnection>> connections_;
  std::vector<std::thread> threads_;
};

}  // namespace ingest::testing

#endif  // TESTS_SERVER_S3_TEST_HTTP_SERVER_H_
