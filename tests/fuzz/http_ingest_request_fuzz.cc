// Fuzzes the HTTPS ingest listener's request reading
// (server/http_ingest/http_request_reader.h) over whatever a client might
// send on one connection, pipelined requests included.
//
// Input: byte 0 picks the limits (small ones reach every refusal quickly);
// byte 1 the size of the pieces the bytes arrive in (1 to 256, as TLS records
// and receive buffers cut them); the rest is what the client sent.
//
// Checked on every input: no crash or undefined behaviour; the same requests
// and bodies whether the bytes come at once or in pieces (a malformed head may
// be refused later in pieces, never accepted); every body
// within its limit and, when it ends with a Content-Length, exactly that
// long; a body ends only after its head; nothing is read after an error, and
// an error carries a status the listener can send with a reason; what is
// kept back for a split head stays within its bound.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "server/http_ingest/http_request_reader.h"
#include "tests/fuzz/fuzz_check.h"

namespace ingest {
namespace {

struct Seen {
  HttpRequestHead head;
  std::string body;
  bool ended = false;
};

class CheckingSink : public HttpRequestSink {
 public:
  explicit CheckingSink(const HttpLimits& limits) : limits_(limits) {}

  void OnHead(const HttpRequestHead& head) override {
    FUZZ_CHECK(requests.empty() || requests.back().ended);
    requests.emplace_back();
    requests.back().head = head;
    FUZZ_CHECK(head.target.size() <= limits_.target_bytes);
    FUZZ_CHECK(head.version == 10 || head.version == 11);
  }
  void OnBody(std::string_view piece) override {
    FUZZ_CHECK(!requests.empty() && !requests.back().ended);
    requests.back().body.append(piece);
    FUZZ_CHECK(requests.back().body.size() <= limits_.body_bytes);
  }
  void OnEnd() override {
    FUZZ_CHECK(!requests.empty() && !requests.back().ended);
    Seen& r = requests.back();
    r.ended = true;
    if (r.head.content_length) FUZZ_CHECK(r.body.size() == *r.head.content_length);
  }

  std::vector<Seen> requests;

 private:
  const HttpLimits& limits_;
};

bool IsListenerStatus(unsigned status) {
  switch (status) {
    case 400:
    case 413:
    case 414:
    case 417:
    case 431:
    case 501:
    case 505:
      return true;
    default:
      return false;
  }
}

HttpLimits LimitsFrom(uint8_t choice) {
  HttpLimits limits;
  if (choice & 1) limits.header_bytes = 64 + (choice >> 4) * 16;
  if (choice & 2) limits.header_fields = 1 + (choice >> 4);
  if (choice & 4) limits.body_bytes = (choice >> 4) * 7;
  if (choice & 8) limits.target_bytes = 1 + (choice >> 4) * 3;
  return limits;
}

}  // namespace
}  // namespace ingest

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ingest;
  if (size < 2) return 0;
  const HttpLimits limits = LimitsFrom(data[0]);
  const size_t piece = 1 + data[1];
  const std::string_view bytes(reinterpret_cast<const char*>(data + 2), size - 2);

  CheckingSink whole_sink(limits);
  HttpRequestReader whole(limits);
  const std::optional<HttpRequestError> whole_error = whole.Feed(bytes, whole_sink);

  CheckingSink pieces_sink(limits);
  HttpRequestReader pieces(limits);
  std::optional<HttpRequestError> pieces_error;
  for (size_t at = 0; at < bytes.size() && !pieces_error; at += piece) {
    pieces_error = pieces.Feed(bytes.substr(at, piece), pieces_sink);
    FUZZ_CHECK(pieces.gathered_bytes() <= pieces.max_gathered_bytes());
  }

  // A malformed head is found once Beast sees it whole: in pieces that may be
  // later than at once, so one side may still be inside that request.
  if (whole_error.has_value() != pieces_error.has_value()) {
    FUZZ_CHECK(whole_error ? pieces.mid_request() : whole.mid_request());
  }
  const std::optional<HttpRequestError>& pieces_error_view = pieces_error;
  for (const std::optional<HttpRequestError>* error : {&whole_error, &pieces_error_view}) {
    if (!error->has_value()) continue;
    FUZZ_CHECK(IsListenerStatus((*error)->status));
    FUZZ_CHECK(!(*error)->reason.empty());
  }
  if (whole_error) {
    const size_t seen = whole_sink.requests.size();
    const std::optional<HttpRequestError> again = whole.Feed("GET / HTTP/1.1\r\n\r\n", whole_sink);
    FUZZ_CHECK(again.has_value() && again->status == whole_error->status);
    FUZZ_CHECK(whole_sink.requests.size() == seen);
  }
  if (!whole_error && !pieces_error) {
    FUZZ_CHECK(whole_sink.requests.size() == pieces_sink.requests.size());
    FUZZ_CHECK(whole.mid_request() == pieces.mid_request());
  }
  const size_t common = std::min(whole_sink.requests.size(), pieces_sink.requests.size());
  for (size_t i = 0; i < common; ++i) {
    const Seen& a = whole_sink.requests[i];
    const Seen& b = pieces_sink.requests[i];
    FUZZ_CHECK(a.head.method == b.head.method && a.head.target == b.head.target);
    FUZZ_CHECK(a.head.chunked == b.head.chunked && a.head.content_length == b.head.content_length);
    if (a.ended && b.ended) FUZZ_CHECK(a.body == b.body);
  }
  size_t ended = 0;
  for (const Seen& r : whole_sink.requests) ended += r.ended ? 1 : 0;
  FUZZ_CHECK(ended == whole.requests_read());
  return 0;
}
