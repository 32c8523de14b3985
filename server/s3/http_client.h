// A blocking HTTP/1.1 client with a keep-alive connection pool, built on
// Boost.Beast, for the uploader's worker threads and the credential providers
// (never a shard's loop thread). http:// and https:// (OpenSSL, peer verified
// against the system trust store or a configured CA file).
//
//   ASSIGN_OR_RETURN(HttpEndpoint endpoint, ParseHttpEndpoint("http://127.0.0.1:7480"));
//   HttpClient client(endpoint, {.max_idle_connections = 8});
//   HttpRequest request{.method = "GET", .target = "/bucket?list-type=2"};
//   ASSIGN_OR_RETURN(HttpResponse response, client.Send(request));
#ifndef SERVER_S3_HTTP_CLIENT_H_
#define SERVER_S3_HTTP_CLIENT_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "absl/types/span.h"

namespace ingest {

struct HttpEndpoint {
  bool tls = false;
  std::string host;   // name or address literal, no brackets
  uint16_t port = 0;  // 80 / 443 when the URL has none
  // The Host header value: host, plus ":port" when not the scheme's default.
  std::string HostHeader() const;
};

// "http://host[:port]" or "https://host[:port]", optionally with a trailing
// "/". InvalidArgument for anything else (paths, user info, bad ports).
absl::StatusOr<HttpEndpoint> ParseHttpEndpoint(std::string_view url);

struct HttpClientOptions {
  size_t max_idle_connections = 16;  // kept open for reuse
  absl::Duration connect_timeout = absl::Seconds(5);
  // No progress on a read or write for this long fails the request.
  absl::Duration io_timeout = absl::Seconds(30);
  size_t max_response_header_bytes = 16 << 10;
  size_t max_response_body_bytes = 64 << 20;
  std::string ca_file{};  // https: extra trust anchors; empty = system store
};

struct HttpRequest {
  std::string method = "GET";
  std::string target = "/";  // path and query, already encoded
  std::vector<std::pair<std::string, std::string>> headers{};  // Host is added by the client
  // The body, not owned: must stay valid until Send returns.
  absl::Span<const uint8_t> body{};
};

struct HttpResponse {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names in lower case
  std::vector<uint8_t> body;

  // The first header named `name` (lower case), or "".
  std::string_view Header(std::string_view name) const;
  std::string_view BodyText() const {
    return {reinterpret_cast<const char*>(body.data()), body.size()};
  }
};

// Thread-safe: many threads may Send at once, each on its own connection.
class HttpClient {
 public:
  HttpClient(HttpEndpoint endpoint, HttpClientOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Sends one request on a pooled (or new) connection and reads the whole
  // response. Any HTTP status is a success here; an error means no complete
  // response was read (Unavailable for connect/reset/timeouts, so callers
  // may retry; ResourceExhausted for an over-limit response). A connection
  // that failed or that the server asked to close is not reused.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request);

  const HttpEndpoint& endpoint() const;

  // Counters for metrics and tests.
  uint64_t connections_opened() const;
  uint64_t requests_sent() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ingest

#endif  // SERVER_S3_HTTP_CLIENT_H_
