// How the admin listener answers HTTP requests, apart from its socket: what a
// failed read is answered with, how a parsed request is routed and what the
// reply holds. AdminServer's connections use it for every request, and
// HandleAdminRequestBytes runs the listener's parsing over plain bytes, so
// tests and the fuzz target reach parsing and routing without a socket.
//
//   AdminRequestContext context{.options = options, .snapshot = snapshot, .drain = hooks,
//                               .peer_is_loopback = true};
//   std::vector<AdminReply> replies =
//       HandleAdminRequestBytes("GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n", context);
//   // replies[0].status == 200 when every readiness check is ok
#ifndef SERVER_ADMIN_ADMIN_REQUEST_H_
#define SERVER_ADMIN_ADMIN_REQUEST_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// GCC's -Wmaybe-uninitialized misfires inside Beast under the sanitizers (a
// boost::optional it reads only once set).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/beast/core/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#pragma GCC diagnostic pop

#include "server/admin/admin_server.h"

namespace ingest {

// GET requests carry no body; a small one is tolerated and ignored.
inline constexpr uint64_t kMaxAdminBodyBytes = 64 * 1024;

using AdminHttpRequest = boost::beast::http::request<boost::beast::http::string_body>;

// One reply, before it is written.
struct AdminReply {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string allow{};  // the Allow header of a 405; empty = none
  std::string body{};   // what GET gets; HEAD gets its Content-Length only
  bool head = false;
  bool keep_alive = false;  // false: the connection closes after the reply
  unsigned version = 11;
  // Non-empty when the request was refused and a rate-limited warning should
  // say why ("headers too large", "drain request without loopback or token").
  std::string rejected{};
};

// What answering needs besides the request: the listener's options and
// hooks, and who the client is (loopback clients may drain without the
// token; the address goes into the drain's log line).
struct AdminRequestContext {
  const AdminServerOptions& options;
  const std::function<AdminSnapshot()>& snapshot;
  const AdminDrainHooks& drain;
  bool peer_is_loopback = false;
  std::string peer_address = "?";
};

// The reply to a read that ended in `error`: 431 for oversized headers, 413
// for an oversized body, 400 for a malformed request (each closing the
// connection); nullopt when the connection is just closed without a reply
// (the client hung up, timed out, or the server is stopping).
std::optional<AdminReply> AnswerAdminReadError(const boost::beast::error_code& error);

// The reply to a complete request: routes it, calls the snapshot (a thrown
// exception becomes 500) or the drain hooks, and builds the reply.
AdminReply AnswerAdminRequest(const AdminHttpRequest& request, const AdminRequestContext& context);

// Parses `bytes` as what one client sent on a connection, with the same
// limits as the listener, and answers request after request while the
// connection would stay open: the replies in order, the last one closing
// the connection unless the bytes ran out on a request boundary. An
// incomplete request at the end gets no reply, as when its client hangs up.
std::vector<AdminReply> HandleAdminRequestBytes(std::string_view bytes, const AdminRequestContext& context);

}  // namespace ingest

#endif  // SERVER_ADMIN_ADMIN_REQUEST_H_
