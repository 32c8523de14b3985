#include "server/s3/http_client.h"

#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>

#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/ssl/error.hpp>
#include <boost/asio/ssl/stream.hpp>
#include <boost/beast/core/error.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/vector_body.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <exception>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/status_macros.h"
#include "common/std_string_view.h"
#include "server/s3/client_tls_context.h"

namespace ingest {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
namespace ssl = boost::asio::ssl;
using tcp = boost::asio::ip::tcp;
using SteadyTime = std::chrono::steady_clock::time_point;

constexpr size_t kMaxUrlBytes = 2048;
constexpr size_t kMaxHostBytes = 253;

SteadyTime DeadlineAfter(absl::Duration d) {
  return std::chrono::steady_clock::now() + absl::ToChronoNanoseconds(d);
}

bool IsHostChar(char c) {
  return absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '.' || c == '_';
}

bool IsIpLiteral(const std::string& host) {
  beast::error_code ec;
  asio::ip::make_address(host, ec);
  return !ec;
}

// Idempotent methods (RFC 9110 9.2.2) may be sent again on a fresh
// connection when a kept-alive one turns out to be closed by the server.
bool IsIdempotent(std::string_view method) {
  return method == "GET" || method == "HEAD" || method == "PUT" || method == "DELETE" ||
         method == "OPTIONS";
}

bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) &&
        std::string_view("!#$%&'*+-.^_`|~").find(c) == std::string_view::npos) {
      return false;
    }
  }
  return true;
}

bool HasControlChars(std::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 && c != '\t') return true;
    if (c == 0x7f) return true;
  }
  return false;
}

absl::Status ValidateRequest(const HttpRequest& request) {
  if (!IsToken(request.method)) {
    return absl::InvalidArgumentError(absl::StrCat("bad HTTP method '", request.method, "'"));
  }
  if (request.target.empty() || request.target.front() != '/' || HasControlChars(request.target) ||
      request.target.find(' ') != std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("bad HTTP request target '", request.target, "'"));
  }
  for (const auto& [name, value] : request.headers) {
    if (!IsToken(name) || HasControlChars(value)) {
      return absl::InvalidArgumentError(absl::StrCat("bad HTTP header '", name, "'"));
    }
  }
  return absl::OkStatus();
}

// One kept-alive connection. The io_context is per connection so that a
// thread running one request never runs another thread's handlers, and is
// declared first so it outlives the sockets that use it.
struct Connection {
  asio::io_context ioc{1};
  std::optional<tcp::socket> plain;
  std::optional<ssl::stream<tcp::socket>> tls;
  // Bytes read from the socket but not yet parsed.
  beast::flat_buffer buffer;

  tcp::socket& socket() { return tls ? tls->next_layer() : *plain; }
};

struct AwaitState {
  bool done = false;
  beast::error_code ec;
};

// Runs the asynchronous operation that `start` begins on `c` to completion
// or until `deadline`. Past the deadline the socket is closed, which makes
// the operation complete at once with operation_aborted, and
// beast::error::timeout is returned; the connection is then unusable. The
// handler holds the state by shared_ptr so it is safe whenever it runs.
template <typename Start>
beast::error_code Await(Connection& c, SteadyTime deadline, Start&& start) {
  auto state = std::make_shared<AwaitState>();
  start([state](beast::error_code ec, auto&&...) {
    state->ec = ec;
    state->done = true;
  });
  c.ioc.restart();
  while (!state->done && !c.ioc.stopped() && std::chrono::steady_clock::now() < deadline) {
    c.ioc.run_one_until(deadline);
  }
  if (state->done) return state->ec;
  beast::error_code ignored;
  c.socket().close(ignored);
  c.ioc.restart();
  // Bounded: with the socket closed every pending operation completes now.
  for (int i = 0; i < 64 && !state->done; ++i) {
    if (c.ioc.run_one() == 0) break;
  }
  return beast::error::timeout;
}

bool IsConnectionClosed(const beast::error_code& ec) {
  return ec == http::error::end_of_stream || ec == asio::error::eof ||
         ec == asio::error::connection_reset || ec == asio::error::broken_pipe ||
         ec == ssl::error::stream_truncated;
}

std::string DescribeError(const beast::error_code& ec) {
  if (ec == beast::error::timeout) return "timed out";
  return ec.message();
}

}  // namespace

std::string HttpEndpoint::HostHeader() const {
  std::string out = host.find(':') != std::string::npos ? absl::StrCat("[", host, "]") : host;
  const uint16_t default_port = tls ? 443 : 80;
  if (port != default_port) absl::StrAppend(&out, ":", port);
  return out;
}

absl::StatusOr<HttpEndpoint> ParseHttpEndpoint(std::string_view url) {
  auto bad = [&](std::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "bad endpoint URL '", std::string(url.substr(0, 200)), "': ", std::string(why)));
  };
  if (url.size() > kMaxUrlBytes) return bad("too long");
  HttpEndpoint endpoint;
  std::string_view rest;
  const std::string lower = absl::AsciiStrToLower(ToAbsl(url.substr(0, 8)));
  if (lower.rfind("http://", 0) == 0) {
    rest = url.substr(7);
  } else if (lower.rfind("https://", 0) == 0) {
    endpoint.tls = true;
    rest = url.substr(8);
  } else {
    return bad("scheme must be http:// or https://");
  }
  if (!rest.empty() && rest.back() == '/') rest.remove_suffix(1);
  if (rest.find_first_of("/?#@") != std::string_view::npos) {
    return bad("only scheme, host and port are allowed (no path, query or user info)");
  }
  std::string_view host = rest;
  std::string_view port;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string_view::npos) return bad("unclosed '[' in IPv6 address");
    host = rest.substr(1, close - 1);
    std::string_view after = rest.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') return bad("junk after IPv6 address");
      port = after.substr(1);
      if (port.empty()) return bad("empty port");
    }
    beast::error_code ec;
    asio::ip::make_address_v6(std::string(host), ec);
    if (ec) return bad("bad IPv6 address");
  } else {
    const size_t colon = rest.find(':');
    if (colon != std::string_view::npos) {
      host = rest.substr(0, colon);
      port = rest.substr(colon + 1);
      if (port.empty()) return bad("empty port");
    }
    if (host.empty()) return bad("empty host");
    if (host.size() > kMaxHostBytes) return bad("host name too long");
    for (char c : host) {
      if (!IsHostChar(c)) return bad("host has a character outside [A-Za-z0-9._-]");
    }
  }
  if (host.empty()) return bad("empty host");
  endpoint.host = std::string(host);
  endpoint.port = endpoint.tls ? 443 : 80;
  if (!port.empty()) {
    uint32_t value = 0;
    if (port.size() > 5 || !absl::SimpleAtoi(ToAbsl(port), &value) || value == 0 || value > 65535 ||
        !absl::ascii_isdigit(static_cast<unsigned char>(port.front()))) {
      return bad("port must be 1..65535");
    }
    endpoint.port = static_cast<uint16_t>(value);
  }
  return endpoint;
}

std::string_view HttpResponse::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) return value;
  }
  return {};
}

class HttpClient::Impl {
 public:
  Impl(HttpEndpoint endpoint, HttpClientOptions options)
      : endpoint_(std::move(endpoint)), options_(std::move(options)) {
    if (endpoint_.tls) init_status_ = InitTls();
  }

  ~Impl() {
    absl::MutexLock lock(&mu_);
    idle_.clear();
  }

  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) {
    RETURN_IF_ERROR(init_status_);
    RETURN_IF_ERROR(ValidateRequest(request));
    // At most one extra round: a kept-alive connection the server closed
    // while it sat idle fails before any response byte arrives.
    for (int round = 0; round < 2; ++round) {
      std::unique_ptr<Connection> connection = TakeIdle();
      const bool reused = connection != nullptr;
      if (!reused) {
        absl::StatusOr<std::unique_ptr<Connection>> opened = Open();
        if (!opened.ok()) return opened.status();
        connection = *std::move(opened);
      }
      requests_sent_.fetch_add(1, std::memory_order_relaxed);
      RoundTripResult result = connection->tls
                                   ? RoundTrip(*connection, *connection->tls, request)
                                   : RoundTrip(*connection, *connection->plain, request);
      if (result.status.ok()) {
        if (result.reusable) GiveBack(std::move(connection));
        return std::move(result.response);
      }
      if (reused && result.stale && IsIdempotent(request.method)) continue;
      return result.status;
    }
    return absl::UnavailableError(absl::StrCat("HTTP ", request.method, " ", Where(),
                                               ": connection closed before a response"));
  }

  const HttpEndpoint& endpoint() const { return endpoint_; }
  uint64_t connections_opened() const {
    return connections_opened_.load(std::memory_order_relaxed);
  }
  uint64_t requests_sent() const { return requests_sent_.load(std::memory_order_relaxed); }

 private:
  struct RoundTripResult {
    absl::Status status;
    HttpResponse response;
    bool reusable = false;
    // The connection was closed before any response byte arrived.
    bool stale = false;
  };

  std::string Where() const {
    return absl::StrCat(endpoint_.tls ? "https://" : "http://", endpoint_.HostHeader());
  }

  absl::Status InitTls() {
    ASSIGN_OR_RETURN(tls_context_, MakeClientTlsContext(options_.ca_file));
    return absl::OkStatus();
  }

  std::unique_ptr<Connection> TakeIdle() {
    while (true) {
      std::unique_ptr<Connection> connection;
      {
        absl::MutexLock lock(&mu_);
        if (idle_.empty()) return nullptr;
        connection = std::move(idle_.back());
        idle_.pop_back();
      }
      // An idle connection must have nothing to read: readable means the
      // server closed it (or sent something unasked), so it is dropped.
      pollfd pfd{};
      pfd.fd = connection->socket().native_handle();
      pfd.events = POLLIN;
      if (::poll(&pfd, 1, 0) == 0) return connection;
    }
  }

  void GiveBack(std::unique_ptr<Connection> connection) {
    absl::MutexLock lock(&mu_);
    if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(connection));
  }

  absl::StatusOr<std::unique_ptr<Connection>> Open() {
    auto connection = std::make_unique<Connection>();
    const SteadyTime deadline = DeadlineAfter(options_.connect_timeout);
    beast::error_code ec;
    std::vector<tcp::endpoint> addresses;
    const bool ip_literal = IsIpLiteral(endpoint_.host);
    if (ip_literal) {
      addresses.emplace_back(asio::ip::make_address(endpoint_.host, ec), endpoint_.port);
    } else {
      // Blocking getaddrinfo, bounded by the system resolver's own timeouts.
      tcp::resolver resolver(connection->ioc);
      auto results = resolver.resolve(endpoint_.host, std::to_string(endpoint_.port), ec);
      if (ec) {
        return absl::UnavailableError(
            absl::StrCat("cannot resolve ", endpoint_.host, ": ", ec.message()));
      }
      for (const auto& entry : results) addresses.push_back(entry.endpoint());
    }
    if (addresses.empty()) {
      return absl::UnavailableError(absl::StrCat("no address for ", endpoint_.host));
    }
    tcp::socket* socket = nullptr;
    if (endpoint_.tls) {
      connection->tls.emplace(connection->ioc, *tls_context_);
      socket = &connection->tls->next_layer();
    } else {
      connection->plain.emplace(connection->ioc);
      socket = &connection->plain.value();
    }
    ec = Await(*connection, deadline,
               [&](auto handler) { asio::async_connect(*socket, addresses, std::move(handler)); });
    if (ec) {
      return absl::UnavailableError(
          absl::StrCat("cannot connect to ", Where(), ": ", DescribeError(ec)));
    }
    socket->set_option(tcp::no_delay(true), ec);
    if (endpoint_.tls) RETURN_IF_ERROR(Handshake(*connection, ip_literal, deadline));
    connections_opened_.fetch_add(1, std::memory_order_relaxed);
    return connection;
  }

  absl::Status Handshake(Connection& connection, bool ip_literal, SteadyTime deadline) {
    SSL* ssl_handle = connection.tls->native_handle();
    if (ip_literal) {
      // No SNI for addresses (RFC 6066); the certificate must name the IP.
      X509_VERIFY_PARAM* param = SSL_get0_param(ssl_handle);
      if (X509_VERIFY_PARAM_set1_ip_asc(param, endpoint_.host.c_str()) != 1) {
        return absl::InternalError("cannot set the TLS peer address check");
      }
    } else {
      if (SSL_set_tlsext_host_name(ssl_handle, endpoint_.host.c_str()) != 1 ||
          SSL_set1_host(ssl_handle, endpoint_.host.c_str()) != 1) {
        return absl::InternalError("cannot set TLS server name");
      }
    }
    const beast::error_code ec = Await(connection, deadline, [&](auto handler) {
      connection.tls->async_handshake(ssl::stream_base::client, std::move(handler));
    });
    if (ec) {
      std::string detail = DescribeError(ec);
      const long verify = SSL_get_verify_result(ssl_handle);
      if (verify != X509_V_OK) {
        absl::StrAppend(&detail, " (certificate: ", X509_verify_cert_error_string(verify), ")");
      }
      return absl::UnavailableError(
          absl::StrCat("TLS handshake with ", Where(), " failed: ", detail));
    }
    return absl::OkStatus();
  }

  template <typename Stream>
  RoundTripResult RoundTrip(Connection& connection, Stream& stream, const HttpRequest& request) {
    RoundTripResult result;
    const std::string what = absl::StrCat("HTTP ", request.method, " ", Where());

    http::request<http::span_body<const uint8_t>> message;
    message.version(11);
    message.method_string(request.method);
    message.target(request.target);
    for (const auto& [name, value] : request.headers) {
      if (absl::EqualsIgnoreCase(name, "host")) continue;
      message.insert(name, value);
    }
    message.set(http::field::host, endpoint_.HostHeader());
    message.body() = boost::beast::span<const uint8_t>(request.body.data(), request.body.size());
    message.prepare_payload();
    message.keep_alive(true);

    http::serializer<true, http::span_body<const uint8_t>> serializer(message);
    while (!serializer.is_done()) {
      const beast::error_code ec = Await(
          connection, DeadlineAfter(options_.io_timeout),
          [&](auto handler) { http::async_write_some(stream, serializer, std::move(handler)); });
      if (ec) {
        result.stale = IsConnectionClosed(ec);
        result.status = absl::UnavailableError(
            absl::StrCat(what, ": sending the request failed: ", DescribeError(ec)));
        return result;
      }
    }

    http::response_parser<http::vector_body<uint8_t>> parser;
    parser.header_limit(static_cast<std::uint32_t>(
        std::min<size_t>(options_.max_response_header_bytes, UINT32_MAX)));
    parser.body_limit(options_.max_response_body_bytes);
    if (request.method == "HEAD") parser.skip(true);
    while (!parser.is_done()) {
      beast::error_code ec =
          Await(connection, DeadlineAfter(options_.io_timeout), [&](auto handler) {
            http::async_read_some(stream, connection.buffer, parser, std::move(handler));
          });
      // Over TLS a server that ends an until-close body without close_notify
      // gives stream_truncated rather than eof.
      if (ec == ssl::error::stream_truncated && parser.got_some() && parser.need_eof()) {
        parser.put_eof(ec);
      }
      if (!ec) continue;
      if (ec == http::error::header_limit || ec == http::error::body_limit ||
          ec == http::error::buffer_overflow) {
        result.status = absl::ResourceExhaustedError(absl::StrCat(
            what, ": response over the limit (headers ", options_.max_response_header_bytes,
            " bytes, body ", options_.max_response_body_bytes, " bytes): ", ec.message()));
        return result;
      }
      result.stale = !parser.got_some() && IsConnectionClosed(ec);
      result.status = absl::UnavailableError(absl::StrCat(
          what, parser.got_some() ? ": reading the response failed: " : ": no response: ",
          DescribeError(ec)));
      return result;
    }

    http::response<http::vector_body<uint8_t>> response = parser.release();
    result.reusable =
        response.keep_alive() && !response.need_eof() && connection.buffer.size() == 0;
    result.response.status = static_cast<int>(response.result_int());
    for (const auto& field : response.base()) {
      result.response.headers.emplace_back(
          absl::AsciiStrToLower(
              absl::string_view(field.name_string().data(), field.name_string().size())),
          std::string(field.value().data(), field.value().size()));
    }
    result.response.body = std::move(response.body());
    return result;
  }

  const HttpEndpoint endpoint_;
  const HttpClientOptions options_;
  std::unique_ptr<ssl::context> tls_context_;
  absl::Status init_status_;
  std::atomic<uint64_t> connections_opened_{0};
  std::atomic<uint64_t> requests_sent_{0};
  absl::Mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_ ABSL_GUARDED_BY(mu_);
};

HttpClient::HttpClient(HttpEndpoint endpoint, HttpClientOptions options)
    : impl_(std::make_unique<Impl>(std::move(endpoint), std::move(options))) {}

HttpClient::~HttpClient() = default;

absl::StatusOr<HttpResponse> HttpClient::Send(const HttpRequest& request) {
  try {
    return impl_->Send(request);
  } catch (const std::exception& e) {
    // Boost and the standard library may throw (allocation, thread
    // resources); nothing escapes into callers.
    return absl::InternalError(absl::StrCat("HTTP ", request.method, " failed: ", e.what()));
  }
}

const HttpEndpoint& HttpClient::endpoint() const { return impl_->endpoint(); }
uint64_t HttpClient::connections_opened() const { return impl_->connections_opened(); }
uint64_t HttpClient::requests_sent() const { return impl_->requests_sent(); }

}  // namespace ingest
