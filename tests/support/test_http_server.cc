#include "tests/support/test_http_server.h"

#include <sys/socket.h>

#include <atomic>
#include <mutex>
#include <thread>

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

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ingest::testing {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;

class Connection final : public ServerConnection {
 public:
  Connection(tcp::socket socket, ssl::context* tls) : socket_(std::move(socket)) {
    if (tls != nullptr) tls_ = std::make_unique<ssl::stream<tcp::socket&>>(socket_, *tls);
  }

  bool Handshake() {
    if (!tls_) return true;
    beast::error_code ec;
    tls_->handshake(ssl::stream_base::server, ec);
    return !ec;
  }

  bool ReadRequest(TestHttpRequest* request) override {
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
    http::request<http::string_body> parsed = parser.release();
    request->method = std::string(parsed.method_string());
    request->target = std::string(parsed.target());
    request->headers.clear();
    for (const auto& field : parsed) {
      request->headers.emplace_back(std::string(field.name_string()), std::string(field.value()));
    }
    request->body = std::move(parsed.body());
    request->keep_alive = parsed.keep_alive();
    return true;
  }

  bool Write(std::string_view raw) override {
    beast::error_code ec;
    if (tls_) {
      asio::write(*tls_, asio::buffer(raw.data(), raw.size()), ec);
    } else {
      asio::write(socket_, asio::buffer(raw.data(), raw.size()), ec);
    }
    return !ec;
  }

  void HangUp() override { ::shutdown(socket_.native_handle(), SHUT_RDWR); }

 private:
  tcp::socket socket_;
  std::unique_ptr<ssl::stream<tcp::socket&>> tls_;
  beast::flat_buffer buffer_;
};

}  // namespace

std::string TestHttpRequest::Header(std::string_view name) const {
  for (const auto& [k, v] : headers) {
    if (absl::EqualsIgnoreCase(k, absl::string_view(name.data(), name.size()))) return v;
  }
  return {};
}

std::string Response(int status, std::string_view body, std::string_view extra_headers) {
  return absl::StrCat("HTTP/1.1 ", status, " X\r\nContent-Length: ", body.size(), "\r\n", std::string(extra_headers),
                      "\r\n", std::string(body));
}

class TestHttpServer::Impl {
 public:
  Impl(Behaviour behaviour, const std::optional<TestHttpServerTls>& tls)
      : behaviour_(std::move(behaviour)), acceptor_(ioc_) {
    beast::error_code ec;
    if (tls.has_value()) {
      tls_ = std::make_unique<ssl::context>(ssl::context::tls_server);
      tls_->use_certificate_chain_file(tls->cert_chain_file, ec);
      if (!ec) tls_->use_private_key_file(tls->key_file, ssl::context::pem, ec);
      if (ec) {
        Fail(absl::StrCat("TLS certificate ", tls->cert_chain_file, " / key ", tls->key_file, ": ", ec.message()));
        return;
      }
    }
    acceptor_.open(tcp::v4(), ec);
    if (!ec) acceptor_.bind(tcp::endpoint(asio::ip::make_address("127.0.0.1"), 0), ec);
    if (!ec) acceptor_.listen(64, ec);
    if (!ec) port_ = acceptor_.local_endpoint(ec).port();
    if (ec) {
      Fail(absl::StrCat("listen on 127.0.0.1: ", ec.message()));
      return;
    }
    accept_thread_ = std::thread([this] { AcceptLoop(); });
  }

  ~Impl() { Stop(); }

  void Stop() {
    if (stopping_.exchange(true)) return;
    if (acceptor_.is_open()) ::shutdown(acceptor_.native_handle(), SHUT_RDWR);
    if (accept_thread_.joinable()) accept_thread_.join();
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (const auto& connection : connections_) connection->HangUp();
      threads.swap(threads_);
    }
    stopped_.Notify();
    for (std::thread& thread : threads) thread.join();
  }

  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::string start_error_;
  absl::Notification stopped_;

 private:
  void Fail(std::string why) {
    start_error_ = std::move(why);
    ADD_FAILURE() << "TestHttpServer: " << start_error_;
  }

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
      auto connection = std::make_shared<Connection>(std::move(socket), tls_.get());
      connections_.push_back(connection);
      threads_.emplace_back([this, connection] {
        if (connection->Handshake()) behaviour_(*connection);
      });
    }
  }

  Behaviour behaviour_;
  std::unique_ptr<ssl::context> tls_;
  asio::io_context ioc_;
  tcp::acceptor acceptor_;
  std::thread accept_thread_;
  std::atomic<bool> stopping_{false};
  std::mutex mu_;
  std::vector<std::shared_ptr<Connection>> connections_;
  std::vector<std::thread> threads_;
};

TestHttpServer::TestHttpServer(Behaviour behaviour, std::optional<TestHttpServerTls> tls)
    : impl_(std::make_unique<Impl>(std::move(behaviour), tls)) {}

TestHttpServer::~TestHttpServer() { Stop(); }

void TestHttpServer::Stop() { impl_->Stop(); }
uint16_t TestHttpServer::port() const { return impl_->port_; }
std::string TestHttpServer::url(bool https) const {
  return absl::StrCat(https ? "https" : "http", "://127.0.0.1:", impl_->port_);
}
int TestHttpServer::accepted() const { return impl_->accepted_.load(); }
const std::string& TestHttpServer::start_error() const { return impl_->start_error_; }
absl::Notification& TestHttpServer::stopped() { return impl_->stopped_; }

}  // namespace ingest::testing
