#include "server/admin/admin_server.h"

#include <array>
#include <chrono>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <string_view>
#include <thread>
#include <utility>

// GCC's -Wmaybe-uninitialized misfires inside Beast's parser under the
// sanitizers (a boost::optional it reads only once set).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/string_body.hpp>
#include <boost/beast/http/write.hpp>
#pragma GCC diagnostic pop

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "common/host_port.h"
#include "common/json_log.h"
#include "common/thread_name.h"
#include "server/admin/admin_request.h"

namespace ingest {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using tcp = boost::asio::ip::tcp;

// After an error reply the client's remaining bytes are read and dropped for
// at most this long, so closing does not reset the connection (and lose the
// reply) while they are still arriving.
constexpr auto kLingerTime = std::chrono::seconds(1);
constexpr size_t kMaxLingerBytes = 256 * 1024;
// Accept failures such as EMFILE persist; retrying at once would spin.
constexpr auto kAcceptRetryDelay = std::chrono::milliseconds(50);

absl::StatusOr<tcp::endpoint> ParseListen(std::string_view listen) {
  absl::StatusOr<HostPort> address = ParseListenAddress(listen);
  if (!address.ok()) {
    return absl::InvalidArgumentError(absl::StrCat("admin listen: ", address.status().message()));
  }
  boost::system::error_code address_error;
  asio::ip::address ip = asio::ip::make_address(address->host, address_error);
  if (address_error) {  // ParseListenAddress accepts only what inet_pton does
    return absl::InternalError(absl::StrCat("admin listen \"", std::string(listen), "\": ", address_error.message()));
  }
  return tcp::endpoint(ip, address->port);
}

absl::Status ValidateOptions(const AdminServerOptions& options) {
  if (options.max_header_bytes < 256 || options.max_header_bytes > (1 << 20)) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin max_header_bytes ", options.max_header_bytes, " outside [256, 1 MiB]"));
  }
  if (options.request_timeout <= absl::ZeroDuration() || options.request_timeout > absl::Hours(1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin request_timeout ", absl::FormatDuration(options.request_timeout), " outside (0, 1h]"));
  }
  if (options.max_connections < 1 || options.max_connections > 100000) {
    return absl::InvalidArgumentError(
        absl::StrCat("admin max_connections ", options.max_connections, " outside [1, 100000]"));
  }
  return absl::OkStatus();
}

}  // namespace

namespace {
class AdminConnection;
}  // namespace

struct AdminServer::Impl {
  AdminServerOptions options;
  std::function<AdminSnapshot()> snapshot;
  AdminDrainHooks drain;
  std::unique_ptr<asio::io_context> io = std::make_unique<asio::io_context>(1);
  std::optional<tcp::acceptor> acceptor;
  std::optional<asio::steady_timer> accept_retry;
  std::thread thread;
  // Touched only on the admin thread (or after it has been joined).
  int open_connections = 0;
  // Connections waiting for (the rest of) a request, oldest first: at the
  // connection cap the oldest of them is cut to make room, so clients that
  // trickle a request byte by byte (slowloris) cannot keep a health check
  // out, while a client that sends its request at once is served.
  std::map<uint64_t, std::weak_ptr<AdminConnection>> awaiting_request;
  uint64_t next_wait_id = 0;
  uint64_t evicted = 0;
  log::RateLimiter reject_log{1.0, 10.0};

  // Connections still in the io_context are destroyed with it, and their
  // destructors update open_connections: so the io_context goes first.
  ~Impl() { Destroy(); }

  // Closes the listener and every connection. Only once the thread is joined.
  void Destroy() {
    accept_retry.reset();
    acceptor.reset();
    io.reset();
  }

  void Accept();
  // Cuts the connection that has waited longest for a request; false if
  // every connection is busy with a request or a reply.
  bool EvictOldestAwaiting();
  void LogRejected(int status, std::string_view why);
};

namespace {

// One admin client connection: read a request, answer, repeat while the
// client keeps the connection alive. Lives as long as an operation holds it.
class AdminConnection : public std::enable_shared_from_this<AdminConnection> {
 public:
  AdminConnection(tcp::socket socket, AdminServer::Impl* server)
      : stream_(std::move(socket)),
        buffer_(server->options.max_header_bytes + kMaxAdminBodyBytes + 4096),
        server_(server),
        timeout_(absl::ToChronoMilliseconds(server->options.request_timeout)) {
    ++server_->open_connections;
  }
  ~AdminConnection() {
    StopAwaiting();
    --server_->open_connections;
  }

  void Read() {
    wait_id_ = server_->next_wait_id++;
    server_->awaiting_request[wait_id_] = weak_from_this();
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(server_->options.max_header_bytes));
    parser_->body_limit(kMaxAdminBodyBytes);
    stream_.expires_after(timeout_);
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

  // Cut to make room for a newer client (see Impl::awaiting_request).
  void Evict() {
    StopAwaiting();
    Close();
  }

 private:
  void StopAwaiting() {
    if (wait_id_ != kNotAwaiting) server_->awaiting_request.erase(wait_id_);
    wait_id_ = kNotAwaiting;
  }

  void OnRead(beast::error_code ec) {
    StopAwaiting();
    if (ec) {
      std::optional<AdminReply> reply = AnswerAdminReadError(ec);
      if (!reply) return Close();
      return Reply(*std::move(reply));
    }
    beast::error_code peer_error;
    const tcp::endpoint peer = stream_.socket().remote_endpoint(peer_error);
    const AdminRequestContext context{.options = server_->options,
                                      .snapshot = server_->snapshot,
                                      .drain = server_->drain,
                                      .peer_is_loopback = !peer_error && peer.address().is_loopback(),
                                      .peer_address = peer_error ? std::string("?") : peer.address().to_string()};
    Reply(AnswerAdminRequest(parser_->get(), context));
  }

  void Reply(AdminReply reply) {
    if (!reply.rejected.empty()) server_->LogRejected(static_cast<int>(reply.status), reply.rejected);
    response_.result(static_cast<http::status>(reply.status));
    response_.version(reply.version);
    response_.set(http::field::content_type, reply.content_type);
    response_.set(http::field::cache_control, "no-store");
    if (!reply.allow.empty()) response_.set(http::field::allow, reply.allow);
    // HEAD gets the headers GET would get, Content-Length included.
    response_.content_length(reply.body.size());
    if (!reply.head) response_.body() = std::move(reply.body);
    response_.keep_alive(reply.keep_alive);
    close_after_write_ = !reply.keep_alive;
    stream_.expires_after(timeout_);
    http::async_write(stream_, response_,
                      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnWrite(ec); });
  }

  void OnWrite(beast::error_code ec) {
    response_ = {};
    if (ec) return Close();
    if (close_after_write_) return Linger();
    Read();
  }

  // Half-closes, then drains what the client still sends until it hangs up
  // or kLingerTime passes, so our reply is not lost to a reset.
  void Linger() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.expires_after(kLingerTime);
    DrainSome();
  }

  void DrainSome() {
    stream_.async_read_some(asio::buffer(drain_), [self = shared_from_this()](beast::error_code ec, size_t n) {
      self->drained_ += n;
      if (ec || self->drained_ > kMaxLingerBytes) return self->Close();
      self->DrainSome();
    });
  }

  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  AdminServer::Impl* server_;
  std::chrono::milliseconds timeout_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> response_;
  bool close_after_write_ = false;
  std::array<char, 4096> drain_{};
  size_t drained_ = 0;
  static constexpr uint64_t kNotAwaiting = ~uint64_t{0};
  uint64_t wait_id_ = kNotAwaiting;
};

}  // namespace

void AdminServer::Impl::LogRejected(int status, std::string_view why) {
  if (!reject_log.Allow(absl::Now())) return;
  log::Warn("admin_request_rejected",
            {{"status", status}, {"reason", why}, {"suppressed", reject_log.TakeSuppressed()}});
}

void AdminServer::Impl::Accept() {
  acceptor->async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec == asio::error::operation_aborted) return;
    if (ec) {
      if (reject_log.Allow(absl::Now())) log::Warn("admin_accept_failed", {{"error", ec.message()}});
      accept_retry->expires_after(kAcceptRetryDelay);
      accept_retry->async_wait([this](beast::error_code wait_ec) {
        if (!wait_ec) Accept();
      });
      return;
    }
    if (open_connections >= options.max_connections && !EvictOldestAwaiting()) {
      // Every connection is mid-request or mid-reply: closing at once costs
      // nothing and tells the client plainly.
      LogRejected(503, "too many admin connections");
      beast::error_code ignored;
      socket.close(ignored);
    } else {
      std::make_shared<AdminConnection>(std::move(socket), this)->Read();
    }
    Accept();
  });
}

bool AdminServer::Impl::EvictOldestAwaiting() {
  while (!awaiting_request.empty()) {
    std::shared_ptr<AdminConnection> oldest = awaiting_request.begin()->second.lock();
    awaiting_request.erase(awaiting_request.begin());
    if (oldest == nullptr) continue;
    oldest->Evict();
    ++evicted;
    if (reject_log.Allow(absl::Now())) {
      log::Warn("admin_connection_evicted", {{"reason", "at the admin connection cap, the oldest waiting for a request"},
                                             {"evicted", evicted},
                                             {"suppressed", reject_log.TakeSuppressed()}});
    }
    return true;
  }
  return false;
}

absl::StatusOr<std::unique_ptr<AdminServer>> AdminServer::Start(AdminServerOptions options,
                                                                std::function<AdminSnapshot()> snapshot,
                                                                AdminDrainHooks drain) {
  if (absl::Status valid = ValidateOptions(options); !valid.ok()) return valid;
  if (!snapshot) return absl::InvalidArgumentError("admin server needs a snapshot callback");
  absl::StatusOr<tcp::endpoint> endpoint = ParseListen(options.listen);
  if (!endpoint.ok()) return endpoint.status();

  auto impl = std::make_unique<Impl>();
  impl->options = std::move(options);
  impl->snapshot = std::move(snapshot);
  impl->drain = std::move(drain);
  impl->acceptor.emplace(*impl->io);
  impl->accept_retry.emplace(*impl->io);
  tcp::acceptor& acceptor = *impl->acceptor;
  beast::error_code ec;
  auto fail = [&](std::string_view what) {
    return absl::UnavailableError(
        absl::StrCat("admin listener ", impl->options.listen, ": ", std::string(what), ": ", ec.message()));
  };
  if (acceptor.open(endpoint->protocol(), ec); ec) return fail("socket");
  if (acceptor.set_option(asio::socket_base::reuse_address(true), ec); ec) return fail("SO_REUSEADDR");
  if (acceptor.bind(*endpoint, ec); ec) return fail("bind");
  if (acceptor.listen(asio::socket_base::max_listen_connections, ec); ec) return fail("listen");
  tcp::endpoint bound = acceptor.local_endpoint(ec);
  if (ec) return fail("local address");

  Impl* raw = impl.get();
  raw->Accept();
  auto server = std::unique_ptr<AdminServer>(new AdminServer(std::move(impl)));
  server->port_ = bound.port();
  raw->thread = std::thread([raw] {
    NameThisThread("admin");
    try {
      raw->io->run();
    } catch (const std::exception& e) {
      log::Error("admin_server_failed", {{"error", std::string_view(e.what())}});
    } catch (...) {
      log::Error("admin_server_failed", {{"error", "unknown exception"}});
    }
  });
  return server;
}

AdminServer::AdminServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

AdminServer::~AdminServer() { Stop(); }

void AdminServer::Stop() {
  if (!impl_->thread.joinable()) return;
  impl_->io->stop();
  impl_->thread.join();
  impl_->Destroy();
}

}  // namespace ingest
