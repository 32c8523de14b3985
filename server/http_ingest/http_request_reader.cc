#include "server/http_ingest/http_request_reader.h"

#include <algorithm>
#include <utility>

// GCC's -Wmaybe-uninitialized misfires inside Beast under the sanitizers (a
// boost::optional it reads only once set).
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <boost/asio/buffer.hpp>
#include <boost/beast/core/string.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#pragma GCC diagnostic pop

#include "absl/strings/str_cat.h"

namespace ingest {
namespace {

namespace http = boost::beast::http;
using boost::beast::string_view;

// Beast's string_view is Boost's; the sink and Abseil each take their own.
std::string_view Std(string_view s) { return {s.data(), s.size()}; }
absl::string_view Absl(string_view s) { return {s.data(), s.size()}; }

}  // namespace

// Beast's parser with the ingest path's limits; hands what it reads to the
// sink of the Feed in progress.
class HttpRequestReader::Parser final : public http::basic_parser<true> {
 public:
  explicit Parser(const HttpLimits& limits) : limits_(limits) {
    header_limit(limits.header_bytes);
    body_limit(limits.body_bytes);
    // One step per put(): the head, a chunk header or a piece of body, so a
    // paused sink is never handed a body it has no room for yet.
    eager(false);
  }

  void set_sink(HttpRequestSink* sink) { sink_ = sink; }
  // Bytes of the head Beast has taken so far (Parse's bound on heads).
  size_t head_bytes_taken = 0;
  // An error raised by our own checks, which take precedence over Beast's code.
  const std::optional<HttpRequestError>& refused() const { return refused_; }

 private:
  void Refuse(unsigned status, std::string reason, boost::system::error_code& ec) {
    refused_ = HttpRequestError{status, std::move(reason)};
    ec = http::error::bad_field;  // any error stops the parse; refused_ says which
  }

  void on_request_impl(http::verb, string_view method, string_view target, int version,
                       boost::system::error_code& ec) override {
    if (version != 10 && version != 11) {
      return Refuse(505, absl::StrCat("HTTP version ", version / 10, ".", version % 10, " is not served: use HTTP/1.1"),
                    ec);
    }
    if (target.size() > limits_.target_bytes) {
      return Refuse(414, absl::StrCat("request target longer than ", limits_.target_bytes, " bytes"), ec);
    }
    head_.method.assign(method.data(), method.size());
    head_.target.assign(target.data(), target.size());
    head_.version = version;
  }

  void on_response_impl(int, string_view, int, boost::system::error_code& ec) override {
    ec = http::error::bad_method;  // a request parser never sees a status line
  }

  void on_field_impl(http::field name, string_view, string_view value, boost::system::error_code& ec) override {
    if (++fields_ > limits_.header_fields) {
      return Refuse(431, absl::StrCat("more than ", limits_.header_fields, " header fields"), ec);
    }
    switch (name) {
      case http::field::authorization:
        head_.authorization.assign(value.data(), value.size());
        break;
      case http::field::host:
        head_.host.assign(value.data(), value.size());
        break;
      case http::field::transfer_encoding:
        transfer_encoding_ = true;
        break;
      case http::field::expect:
        if (!boost::beast::iequals(value, "100-continue")) {
          return Refuse(417, absl::StrCat("Expect: ", Absl(value), " is not supported"), ec);
        }
        head_.expect_continue = true;
        break;
      default:
        break;
    }
  }

  void on_header_impl(boost::system::error_code& ec) override {
    // Beast takes a request whose transfer coding is not chunked as having no
    // body; the bytes after it would then be read as the next request.
    if (transfer_encoding_ && !chunked()) {
      return Refuse(501, "Transfer-Encoding other than chunked: send chunked or a Content-Length", ec);
    }
    head_.chunked = chunked();
    head_.keep_alive = keep_alive();
    if (const boost::optional<uint64_t> length = content_length()) head_.content_length = *length;
    sink_->OnHead(head_);
    if (const std::optional<uint64_t> limit = sink_->BodyLimit()) {
      if (*limit == HttpRequestSink::kUnboundedBody) {
        body_limit(boost::none);
      } else {
        body_limit(*limit);
      }
    }
  }

  void on_body_init_impl(const boost::optional<std::uint64_t>&, boost::system::error_code&) override {}

  std::size_t on_body_impl(string_view body, boost::system::error_code&) override {
    sink_->OnBody(Std(body));
    return body.size();
  }

  void on_chunk_header_impl(std::uint64_t, string_view, boost::system::error_code&) override {}

  std::size_t on_chunk_body_impl(std::uint64_t, string_view body, boost::system::error_code&) override {
    sink_->OnBody(Std(body));
    return body.size();
  }

  void on_finish_impl(boost::system::error_code&) override { sink_->OnEnd(); }

  const HttpLimits& limits_;
  HttpRequestSink* sink_ = nullptr;
  HttpRequestHead head_;
  uint32_t fields_ = 0;
  bool transfer_encoding_ = false;
  std::optional<HttpRequestError> refused_;
};

namespace {

HttpRequestError FromBeast(const boost::system::error_code& ec, const HttpLimits& limits) {
  if (ec == http::error::header_limit) {
    return {431, absl::StrCat("request head larger than ", limits.header_bytes, " bytes")};
  }
  if (ec == http::error::body_limit) {
    return {413, absl::StrCat("body larger than ", limits.body_bytes, " bytes")};
  }
  if (ec == http::error::bad_version) {
    return {505, "HTTP version not served: use HTTP/1.1"};
  }
  if (ec == http::error::bad_transfer_encoding) {
    // Beast refuses a coding after chunked, and chunked beside a Content-Length
    // (the pair request smuggling relies on).
    return {400, "Transfer-Encoding with chunked not last, or beside a Content-Length: send one of them"};
  }
  if (ec == http::error::bad_chunk || ec == http::error::bad_chunk_extension) {
    return {400, absl::StrCat("malformed chunked body: ", ec.message())};
  }
  return {400, absl::StrCat("malformed request: ", ec.message())};
}

}  // namespace

HttpRequestReader::HttpRequestReader(const HttpLimits& limits) : limits_(limits) {}
HttpRequestReader::~HttpRequestReader() = default;

bool HttpRequestReader::mid_request() const {
  return !gathered_.empty() || (parser_ != nullptr && parser_->got_some() && !parser_->is_done());
}

std::optional<HttpRequestError> HttpRequestReader::Parse(std::string_view& data, HttpRequestSink& sink) {
  while (!data.empty() && !sink.Paused()) {
    if (parser_ == nullptr || parser_->is_done()) parser_ = std::make_unique<Parser>(limits_);
    parser_->set_sink(&sink);
    // Beast judges a head by the bytes it is shown (and takes the request
    // line apart from the fields), so it is shown at most what is left of
    // header_bytes: a head is then refused at the same length whether it came
    // whole or in pieces.
    const bool in_head = !parser_->is_header_done();
    const size_t head_room = limits_.header_bytes - parser_->head_bytes_taken;
    const size_t shown = in_head ? std::min(data.size(), head_room) : data.size();
    boost::system::error_code ec;
    const size_t taken = parser_->put(boost::asio::const_buffer(data.data(), shown), ec);
    data.remove_prefix(taken);
    if (in_head) parser_->head_bytes_taken += std::min(taken, head_room);
    if (ec == http::error::need_more) {
      if (taken > 0) continue;
      if (in_head && shown == head_room) return FromBeast(http::error::header_limit, limits_);
      return std::nullopt;  // the rest waits for more bytes
    }
    if (ec) return parser_->refused() ? *parser_->refused() : FromBeast(ec, limits_);
    if (parser_->is_done()) {
      ++requests_read_;
    } else if (taken == 0) {
      return std::nullopt;
    }
  }
  return std::nullopt;
}

std::optional<HttpRequestError> HttpRequestReader::Feed(std::string_view bytes, HttpRequestSink& sink) {
  std::optional<HttpRequestError> error = FeedSome(bytes, sink);
  if (!error && !bytes.empty()) {
    // Feed's callers never pause; keep the contract rather than drop bytes.
    failed_ = HttpRequestError{500, "the request sink paused where it may not"};
    return failed_;
  }
  return error;
}

std::optional<HttpRequestError> HttpRequestReader::FeedSome(std::string_view& bytes, HttpRequestSink& sink) {
  if (failed_) return failed_;
  if (gathered_.empty()) {
    failed_ = Parse(bytes, sink);
    // A pause leaves the rest with the caller; otherwise it is the start of a
    // head or chunk header that needs more bytes.
    if (!failed_ && !bytes.empty() && !sink.Paused()) {
      gathered_.assign(bytes);
      bytes = {};
    }
  } else {
    // A head or chunk header came in pieces: parse it from one buffer.
    gathered_.append(bytes);
    bytes = {};
    std::string_view rest = gathered_;
    failed_ = Parse(rest, sink);
    if (!failed_) gathered_.erase(0, gathered_.size() - rest.size());
  }
  if (!failed_ && !sink.Paused() && gathered_.size() > max_gathered_bytes()) {
    // Beast bounds a head itself (header_bytes, counted its own way); this
    // bounds a chunk header and its extensions too, well above Beast's
    // verdict on heads, so a head split anywhere is judged as one whole.
    failed_ = HttpRequestError{
        431, absl::StrCat("more than ", max_gathered_bytes(), " bytes of a head or chunk header without its end")};
  }
  if (failed_) gathered_.clear();
  return failed_;
}

}  // namespace ingest
