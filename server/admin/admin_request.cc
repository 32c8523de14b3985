#include "server/admin/admin_request.h"

#include <exception>
#include <utility>

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio/buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#pragma GCC diagnostic pop

#include "absl/strings/str_cat.h"
#include "common/json_log.h"
#include "common/json_string.h"
#include "common/std_string_view.h"

namespace ingest {
namespace {

namespace http = boost::beast::http;

constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";

enum class Route { kUnknown, kHealthz, kReadyz, kMetrics, kStatus, kDrain };

Route RouteFor(std::string_view target) {
  target = target.substr(0, target.find('?'));
  if (target == "/healthz") return Route::kHealthz;
  if (target == "/readyz") return Route::kReadyz;
  if (target == "/metrics") return Route::kMetrics;
  if (target == "/status") return Route::kStatus;
  if (target == "/admin/drain") return Route::kDrain;
  return Route::kUnknown;
}

std::string ReadinessJson(const std::vector<AdminCheck>& checks, bool ready) {
  std::string out = absl::StrCat("{\"ready\":", ready ? "true" : "false", ",\"checks\":[");
  std::string failed;
  for (size_t i = 0; i < checks.size(); ++i) {
    const AdminCheck& check = checks[i];
    if (i > 0) out += ',';
    out += "{\"name\":";
    AppendJsonString(out, check.name);
    absl::StrAppend(&out, ",\"ok\":", check.ok ? "true" : "false", ",\"detail\":");
    AppendJsonString(out, check.detail);
    out += '}';
    if (!check.ok) {
      if (!failed.empty()) failed += ',';
      AppendJsonString(failed, check.name);
    }
  }
  absl::StrAppend(&out, "],\"failed\":[", failed, "]}\n");
  return out;
}

AdminReply Reply(http::status status, std::string_view content_type, std::string body, bool head,
                 const AdminHttpRequest& request) {
  return AdminReply{.status = static_cast<unsigned>(status),
                    .content_type = std::string(content_type),
                    .body = std::move(body),
                    .head = head,
                    .keep_alive = request.keep_alive(),
                    .version = request.version()};
}

// Answers a request that could not be parsed; the connection then closes.
AdminReply ErrorReply(http::status status, std::string body, std::string rejected) {
  return AdminReply{.status = static_cast<unsigned>(status),
                    .body = std::move(body),
                    .keep_alive = false,
                    .version = 11,
                    .rejected = std::move(rejected)};
}

bool MayDrain(const AdminHttpRequest& request, const AdminRequestContext& context) {
  if (context.options.loopback_may_drain && context.peer_is_loopback) return true;
  const std::string& token = context.options.drain_token;
  auto header = request.find(http::field::authorization);
  if (token.empty() || header == request.end()) return false;
  const std::string expected = "Bearer " + token;
  const std::string_view given(header->value().data(), header->value().size());
  if (given.size() != expected.size()) return false;
  // Constant time: the comparison must not tell how much of a guess was right.
  unsigned char differ = 0;
  for (size_t i = 0; i < given.size(); ++i) differ |= static_cast<unsigned char>(given[i] ^ expected[i]);
  return differ == 0;
}

AdminReply AnswerDrain(const AdminHttpRequest& request, std::string_view target, const AdminRequestContext& context) {
  const bool head = request.method() == http::verb::head;
  if (head || request.method() == http::verb::get) {
    return Reply(http::status::ok, "application/json", context.drain.state(), head, request);
  }
  if (request.method() != http::verb::post) {
    AdminReply reply = Reply(http::status::method_not_allowed, kTextPlain, "method not allowed\n", false, request);
    reply.allow = "GET, HEAD, POST";
    return reply;
  }
  if (!MayDrain(request, context)) {
    AdminReply reply =
        Reply(http::status::forbidden, kTextPlain,
              "POST /admin/drain needs a loopback client or \"Authorization: Bearer <drain token>\"\n", false, request);
    reply.rejected = "drain request without loopback or token";
    return reply;
  }
  const std::string_view query = target.find('?') == std::string_view::npos ? "" : target.substr(target.find('?'));
  const bool fast = query.find("fast=1") != std::string_view::npos;
  log::Info("admin_drain_requested", {{"peer", context.peer_address}, {"fast", fast}});
  return Reply(http::status::accepted, "application/json", context.drain.start(fast), false, request);
}

}  // namespace

std::optional<AdminReply> AnswerAdminReadError(const boost::beast::error_code& error) {
  if (error == http::error::header_limit) {
    return ErrorReply(http::status::request_header_fields_too_large, "request headers too large\n",
                      "headers too large");
  }
  if (error == http::error::body_limit) {
    return ErrorReply(http::status::payload_too_large, "request body too large\n", "body too large");
  }
  if (error == http::error::end_of_stream || error == http::error::partial_message) return std::nullopt;
  if (error && error.category() == http::make_error_code(http::error::bad_method).category()) {
    return ErrorReply(http::status::bad_request, "malformed request\n", error.message());
  }
  // A timeout (the stream is already closed), a reset, or Stop().
  return std::nullopt;
}

AdminReply AnswerAdminRequest(const AdminHttpRequest& request, const AdminRequestContext& context) {
  const std::string_view target(request.target().data(), request.target().size());
  const Route route = RouteFor(target);
  if (route == Route::kUnknown || (route == Route::kDrain && !context.drain.state)) {
    return Reply(http::status::not_found, kTextPlain, "not found\n", false, request);
  }
  if (route == Route::kDrain) return AnswerDrain(request, target, context);
  const bool head = request.method() == http::verb::head;
  if (!head && request.method() != http::verb::get) {
    AdminReply reply = Reply(http::status::method_not_allowed, kTextPlain, "method not allowed\n", false, request);
    reply.allow = "GET, HEAD";
    return reply;
  }
  AdminSnapshot snapshot;
  try {
    snapshot = context.snapshot();
  } catch (const std::exception& e) {
    AdminReply reply = Reply(http::status::internal_server_error, kTextPlain, "snapshot failed\n", head, request);
    reply.rejected = e.what();
    return reply;
  } catch (...) {
    AdminReply reply = Reply(http::status::internal_server_error, kTextPlain, "snapshot failed\n", head, request);
    reply.rejected = "snapshot threw";
    return reply;
  }
  switch (route) {
    case Route::kHealthz:
      return Reply(snapshot.live ? http::status::ok : http::status::service_unavailable, kTextPlain,
                   snapshot.live ? "ok\n" : "unhealthy\n", head, request);
    case Route::kReadyz: {
      bool ready = true;
      for (const AdminCheck& check : snapshot.readiness) ready = ready && check.ok;
      return Reply(ready ? http::status::ok : http::status::service_unavailable, "application/json",
                   ReadinessJson(snapshot.readiness, ready), head, request);
    }
    case Route::kMetrics:
      return Reply(http::status::ok, "text/plain; version=0.0.4; charset=utf-8", std::move(snapshot.metrics_text), head,
                   request);
    case Route::kStatus:
      return Reply(http::status::ok, "application/json", std::move(snapshot.status_json), head, request);
    case Route::kUnknown:
    case Route::kDrain:
      break;
  }
  return Reply(http::status::not_found, kTextPlain, "not found\n", false, request);
}

std::vector<AdminReply> HandleAdminRequestBytes(std::string_view bytes, const AdminRequestContext& context) {
  std::vector<AdminReply> replies;
  while (true) {
    // A fresh parser per request, with the listener's limits, over what the
    // previous request left (pipelined requests), as the connection does.
    http::request_parser<http::string_body> parser;
    parser.header_limit(static_cast<std::uint32_t>(context.options.max_header_bytes));
    parser.body_limit(kMaxAdminBodyBytes);
    boost::beast::error_code error;
    while (!parser.is_done()) {
      const size_t used = parser.put(boost::asio::buffer(bytes.data(), bytes.size()), error);
      bytes.remove_prefix(used);
      if (error == http::error::need_more) error = {};
      if (error) break;
      if (used == 0) {
        // Out of bytes: the client hung up, mid-request or between requests,
        // which is what a read from the socket reports then.
        if (parser.got_some()) {
          parser.put_eof(error);
        } else {
          error = http::error::end_of_stream;
        }
        break;
      }
    }
    if (error) {
      if (std::optional<AdminReply> reply = AnswerAdminReadError(error)) replies.push_back(*std::move(reply));
      return replies;
    }
    replies.push_back(AnswerAdminRequest(parser.get(), context));
    if (!replies.back().keep_alive) return replies;
  }
}

}  // namespace ingest
