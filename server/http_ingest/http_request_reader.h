// Reads HTTP/1.1 requests from a connection's decrypted bytes as they arrive,
// for the HTTPS ingest listener (issue 16): Boost.Beast's parser fed from our
// own buffers (no Asio, no stream), bounded heads, bodies streamed to the
// caller piece by piece without being gathered, chunked or Content-Length
// bodies alike, and pipelined requests one after another on one connection.
//
//   HttpRequestReader reader(HttpLimits{});
//   std::optional<HttpRequestError> error = reader.Feed(bytes, sink);
//   // sink.OnHead(head), sink.OnBody(piece)..., sink.OnEnd() per request, in order
//   if (error) { answer error->status with error->reason, then close }
//
// A head or a chunk header that arrives in pieces is gathered (bounded:
// max_gathered_bytes()); body bytes are handed over
// straight from the caller's buffer. A connection that ends while
// mid_request() is true ended inside a request: its body is truncated and must
// never be taken as complete. After an error the reader accepts nothing more:
// the stream's framing can no longer be trusted, so the connection is closed.
#ifndef SERVER_HTTP_INGEST_HTTP_REQUEST_READER_H_
#define SERVER_HTTP_INGEST_HTTP_REQUEST_READER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace ingest {

struct HttpLimits {
  uint32_t header_bytes = 8 * 1024;  // request line and fields together
  uint32_t header_fields = 64;
  uint64_t body_bytes = 64 << 20;  // one request's body: one segment
  uint32_t target_bytes = 1024;    // the request-target (path and query)
};

// A request's line and the fields the ingest path reads; the others are
// parsed, bounded and dropped.
struct HttpRequestHead {
  std::string method;  // as sent: routing answers 405 to what it does not serve
  std::string target;
  int version = 11;  // 10 or 11
  std::optional<uint64_t> content_length;
  bool chunked = false;
  bool keep_alive = true;
  bool expect_continue = false;  // "Expect: 100-continue": answer 100 before the body comes
  std::string authorization;
  std::string host;
};

// A request the reader refused, as the answer it deserves (400, 413, 431,
// 501 or 505) and a reason a person can act on.
struct HttpRequestError {
  unsigned status = 400;
  std::string reason;
};

class HttpRequestSink {
 public:
  virtual ~HttpRequestSink() = default;
  virtual void OnHead(const HttpRequestHead& head) = 0;
  // A piece of the body, valid only during the call.
  virtual void OnBody(std::string_view piece) = 0;
  // The request's body is complete (chunked: its last chunk and trailer read).
  virtual void OnEnd() = 0;
  // True while the sink can take nothing more (no memory for a body yet, or
  // a request still unanswered): FeedSome stops between parser steps (a
  // head, a chunk header, a piece of body) and leaves the rest with the caller.
  virtual bool Paused() const { return false; }
  // Asked after OnHead: the most body bytes this request may bring, when it
  // differs from HttpLimits::body_bytes (a continuous stream has no bound;
  // a Content-Length was judged against body_bytes before OnHead).
  virtual std::optional<uint64_t> BodyLimit() const { return std::nullopt; }
  static constexpr uint64_t kUnboundedBody = UINT64_MAX;
};

class HttpRequestReader {
 public:
  explicit HttpRequestReader(const HttpLimits& limits);
  ~HttpRequestReader();
  HttpRequestReader(const HttpRequestReader&) = delete;
  HttpRequestReader& operator=(const HttpRequestReader&) = delete;

  // Takes all of `bytes`, calling `sink` as requests are read. An error ends
  // the stream (see above); so does every later call. For sinks that never
  // pause.
  std::optional<HttpRequestError> Feed(std::string_view bytes, HttpRequestSink& sink);
  // As Feed, but stops while sink.Paused(): `bytes` is left holding what was
  // not taken, for the caller to offer again (with what came after it) once
  // the sink can go on. Called with nothing new, it goes on with bytes it
  // gathered before the pause. What it keeps back across a pause is bounded
  // by max_gathered_bytes() plus the largest piece the caller offers.
  std::optional<HttpRequestError> FeedSome(std::string_view& bytes, HttpRequestSink& sink);

  // Inside a request: some of it was read, not all of it.
  bool mid_request() const;
  // Bytes kept back for an incomplete head or chunk header, at most
  // max_gathered_bytes().
  size_t gathered_bytes() const { return gathered_.size(); }
  size_t max_gathered_bytes() const { return 2 * size_t{limits_.header_bytes}; }
  uint64_t requests_read() const { return requests_read_; }

 private:
  class Parser;
  // Feeds `data` to the parser, starting a new one after each request; how
  // many bytes it took, or an error.
  std::optional<HttpRequestError> Parse(std::string_view& data, HttpRequestSink& sink);

  const HttpLimits limits_;
  std::unique_ptr<Parser> parser_;
  std::string gathered_;
  std::optional<HttpRequestError> failed_;
  uint64_t requests_read_ = 0;
};

}  // namespace ingest

#endif  // SERVER_HTTP_INGEST_HTTP_REQUEST_READER_H_
