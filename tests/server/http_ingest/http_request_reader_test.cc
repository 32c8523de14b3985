// HttpRequestReader over bytes as a TLS connection hands them over: the same
// requests whatever the split (a head, a chunk header or a body cut at any
// byte, chunk sizes around buffer boundaries), pipelined requests in order,
// every limit refused with its status and reason, a truncated body never
// ended, and nothing read after an error.
#include "server/http_ingest/http_request_reader.h"

#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"

namespace ingest {
namespace {

// One request as the sink saw it.
struct SeenRequest {
  HttpRequestHead head;
  std::string body;
  bool ended = false;
};

class RecordingSink : public HttpRequestSink {
 public:
  void OnHead(const HttpRequestHead& head) override {
    requests.emplace_back();
    requests.back().head = head;
  }
  void OnBody(std::string_view piece) override {
    ASSERT_FALSE(requests.empty());
    ASSERT_FALSE(requests.back().ended);
    requests.back().body.append(piece);
  }
  void OnEnd() override {
    ASSERT_FALSE(requests.empty());
    requests.back().ended = true;
  }
  std::vector<SeenRequest> requests;
};

// HttpLimits with one field changed (designated initializers would leave
// the others unnamed, which -Wmissing-field-initializers refuses).
template <typename Field, typename Value>
HttpLimits With(Field HttpLimits::*field, Value value) {
  HttpLimits limits;
  limits.*field = value;
  return limits;
}

std::string Payload(size_t bytes, char seed) {
  std::string s(bytes, '\0');
  for (size_t i = 0; i < bytes; ++i) s[i] = static_cast<char>(seed + i * 7 + (i >> 9));
  return s;
}

std::string Chunked(const std::vector<std::string>& chunks) {
  std::string body;
  for (const std::string& c : chunks) absl::StrAppend(&body, absl::Hex(c.size()), "\r\n", c, "\r\n");
  return body + "0\r\n\r\n";
}

// A PUT with a Content-Length, a chunked POST and a GET, back to back.
std::string ThreePipelinedRequests(const std::string& segment, const std::vector<std::string>& chunks) {
  return absl::StrCat("PUT /v1/cameras/cam-1/live7.ts HTTP/1.1\r\nHost: ingest\r\nAuthorization: Bearer t0k\r\n",
                      "Content-Length: ", segment.size(), "\r\n\r\n", segment,
                      "POST /v1/cameras/cam-1/stream HTTP/1.1\r\nHost: ingest\r\nTransfer-Encoding: chunked\r\n\r\n",
                      Chunked(chunks), "GET /healthz HTTP/1.1\r\nHost: ingest\r\n\r\n");
}

void ExpectThree(const RecordingSink& sink, const std::string& segment, const std::string& stream) {
  ASSERT_EQ(sink.requests.size(), 3u);
  const SeenRequest& put = sink.requests[0];
  EXPECT_EQ(put.head.method, "PUT");
  EXPECT_EQ(put.head.target, "/v1/cameras/cam-1/live7.ts");
  EXPECT_EQ(put.head.authorization, "Bearer t0k");
  EXPECT_EQ(put.head.host, "ingest");
  ASSERT_TRUE(put.head.content_length.has_value());
  EXPECT_EQ(*put.head.content_length, segment.size());
  EXPECT_FALSE(put.head.chunked);
  EXPECT_TRUE(put.head.keep_alive);
  EXPECT_EQ(put.body, segment);
  EXPECT_TRUE(put.ended);
  const SeenRequest& post = sink.requests[1];
  EXPECT_EQ(post.head.method, "POST");
  EXPECT_TRUE(post.head.chunked);
  EXPECT_FALSE(post.head.content_length.has_value());
  EXPECT_EQ(post.body, stream);
  EXPECT_TRUE(post.ended);
  EXPECT_EQ(sink.requests[2].head.method, "GET");
  EXPECT_TRUE(sink.requests[2].body.empty());
  EXPECT_TRUE(sink.requests[2].ended);
}

TEST(HttpRequestReaderTest, PipelinedRequestsInOneBuffer) {
  const std::string segment = Payload(3000, 'a');
  const std::vector<std::string> chunks = {Payload(100, 'b'), Payload(1, 'c'), Payload(700, 'd')};
  RecordingSink sink;
  HttpRequestReader reader({});
  EXPECT_FALSE(reader.Feed(ThreePipelinedRequests(segment, chunks), sink).has_value());
  ExpectThree(sink, segment, chunks[0] + chunks[1] + chunks[2]);
  EXPECT_FALSE(reader.mid_request());
  EXPECT_EQ(reader.requests_read(), 3u);
}

TEST(HttpRequestReaderTest, TheSameRequestsWhereverTheBytesAreCut) {
  const std::string segment = Payload(300, 'a');
  const std::vector<std::string> chunks = {Payload(17, 'b'), Payload(40, 'c')};
  const std::string stream = chunks[0] + chunks[1];
  const std::string bytes = ThreePipelinedRequests(segment, chunks);
  for (size_t cut = 0; cut <= bytes.size(); ++cut) {
    RecordingSink sink;
    HttpRequestReader reader({});
    ASSERT_FALSE(reader.Feed(std::string_view(bytes).substr(0, cut), sink).has_value()) << cut;
    ASSERT_FALSE(reader.Feed(std::string_view(bytes).substr(cut), sink).has_value()) << cut;
    ExpectThree(sink, segment, stream);
    ASSERT_FALSE(reader.mid_request()) << cut;
  }
  RecordingSink sink;
  HttpRequestReader reader({});
  for (char c : bytes) ASSERT_FALSE(reader.Feed(std::string_view(&c, 1), sink).has_value());
  ExpectThree(sink, segment, stream);
}

TEST(HttpRequestReaderTest, ChunkSizesAroundBufferBoundaries) {
  std::vector<std::string> chunks;
  std::string stream;
  for (size_t size : {1u, 4095u, 4096u, 4097u, 65535u, 65536u, 65537u, 188u * 7}) {
    chunks.push_back(Payload(size, static_cast<char>('a' + chunks.size())));
    stream += chunks.back();
  }
  const std::string bytes =
      "POST /v1/cameras/cam-1/stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + Chunked(chunks);
  for (size_t feed : {4096u, 4097u, 65536u, 16384u + 29}) {
    RecordingSink sink;
    HttpRequestReader reader({});
    for (size_t at = 0; at < bytes.size(); at += feed) {
      ASSERT_FALSE(reader.Feed(std::string_view(bytes).substr(at, feed), sink).has_value()) << feed;
      EXPECT_LE(reader.gathered_bytes(), reader.max_gathered_bytes());
    }
    ASSERT_EQ(sink.requests.size(), 1u);
    EXPECT_EQ(sink.requests[0].body, stream) << feed;
    EXPECT_TRUE(sink.requests[0].ended);
  }
}

TEST(HttpRequestReaderTest, ATruncatedBodyIsNeverEnded) {
  RecordingSink sink;
  HttpRequestReader reader({});
  ASSERT_FALSE(reader.Feed("PUT /v1/cameras/c/1.ts HTTP/1.1\r\nContent-Length: 100\r\n\r\n0123456789", sink));
  ASSERT_EQ(sink.requests.size(), 1u);
  EXPECT_FALSE(sink.requests[0].ended);
  EXPECT_TRUE(reader.mid_request()) << "the connection ending now ends inside the body";

  RecordingSink chunked_sink;
  HttpRequestReader chunked({});
  ASSERT_FALSE(chunked.Feed("POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n", chunked_sink));
  ASSERT_EQ(chunked_sink.requests.size(), 1u);
  EXPECT_EQ(chunked_sink.requests[0].body, "abcde");
  EXPECT_FALSE(chunked_sink.requests[0].ended) << "no last chunk: not complete";
  EXPECT_TRUE(chunked.mid_request());
}

TEST(HttpRequestReaderTest, AHeadArrivingAByteAtATimeIsGatheredWithinItsBound) {
  RecordingSink sink;
  HttpRequestReader reader(With(&HttpLimits::header_bytes, 256));
  const std::string head = "PUT /a HTTP/1.1\r\nHost: x\r\n";
  for (char c : head) ASSERT_FALSE(reader.Feed(std::string_view(&c, 1), sink).has_value());
  EXPECT_TRUE(reader.mid_request());
  EXPECT_TRUE(sink.requests.empty());
  // A slowloris client that never ends its head is refused at the bound.
  std::optional<HttpRequestError> error;
  for (int i = 0; i < 1000 && !error; ++i) error = reader.Feed("X-Filler: 1234567890\r\n", sink);
  ASSERT_TRUE(error.has_value());
  EXPECT_EQ(error->status, 431u);
  EXPECT_LE(reader.gathered_bytes(), 256u);
}

// Found by the fuzzer: Beast takes the request line apart from the fields,
// so a 74-byte head passed a 64-byte limit when it came at once and failed
// it when it came in pieces. The whole head counts, however it arrives.
TEST(HttpRequestReaderTest, AHeadIsJudgedByItsWholeLengthHoweverItArrives) {
  const std::string head = "PUT /a HTTP/1.1\r\nX-Field: " + std::string(44, 'v') + "\r\n\r\n";
  ASSERT_EQ(head.size(), 74u);
  for (uint32_t limit : {64u, 74u}) {
    RecordingSink whole_sink;
    HttpRequestReader whole(With(&HttpLimits::header_bytes, limit));
    const std::optional<HttpRequestError> at_once = whole.Feed(head, whole_sink);
    RecordingSink pieces_sink;
    HttpRequestReader pieces(With(&HttpLimits::header_bytes, limit));
    std::optional<HttpRequestError> in_pieces;
    for (size_t at = 0; at < head.size() && !in_pieces; ++at) in_pieces = pieces.Feed(head.substr(at, 1), pieces_sink);
    EXPECT_EQ(at_once.has_value(), limit < head.size()) << limit;
    EXPECT_EQ(in_pieces.has_value(), limit < head.size()) << limit;
    EXPECT_EQ(whole_sink.requests.size(), pieces_sink.requests.size()) << limit;
  }
}

struct Refusal {
  std::string name;
  HttpLimits limits;
  std::string bytes;
  unsigned status;
  std::string reason_has;
};

TEST(HttpRequestReaderTest, EveryLimitAndMalformedRequestIsRefusedWithItsStatus) {
  std::string many_fields = "PUT /a HTTP/1.1\r\n";
  for (int i = 0; i < 10; ++i) absl::StrAppend(&many_fields, "X-F", i, ": v\r\n");
  many_fields += "\r\n";
  const std::vector<Refusal> cases = {
      {"head too large", With(&HttpLimits::header_bytes, 64),
       "PUT /a HTTP/1.1\r\nX-Long: " + std::string(100, 'x') + "\r\n\r\n", 431, "request head larger than 64 bytes"},
      {"too many fields", With(&HttpLimits::header_fields, 8), many_fields, 431, "more than 8 header fields"},
      {"content-length over the body limit", With(&HttpLimits::body_bytes, 1000),
       "PUT /a HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", 413, "body larger than 1000 bytes"},
      {"chunked body over the body limit", With(&HttpLimits::body_bytes, 10),
       "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n6\r\nabcdef\r\n6\r\nabcdef\r\n0\r\n\r\n", 413,
       "body larger than 10 bytes"},
      {"target too long", With(&HttpLimits::target_bytes, 16), "PUT /v1/cameras/cam-1/abcdefgh.ts HTTP/1.1\r\n\r\n",
       414, "request target longer than 16 bytes"},
      {"HTTP/2.0 request line", {}, "PUT /a HTTP/2.0\r\n\r\n", 505, "use HTTP/1.1"},
      {"bad chunk size",
       {},
       "POST /s HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n",
       400,
       "malformed chunked body"},
      {"gzip transfer coding", {}, "POST /s HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "Transfer-Encoding"},
      {"unknown expectation",
       {},
       "PUT /a HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 1\r\n\r\nx",
       417,
       "Expect: 200-ok"},
      {"garbage", {}, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 not http\r\n\r\n", 400, "malformed request"},
      {"content-length beside chunked",
       {},
       "POST /s HTTP/1.1\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       400,
       "Content-Length"},
      {"two content lengths",
       {},
       "PUT /a HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab",
       400,
       "malformed request"},
  };
  for (const Refusal& c : cases) {
    RecordingSink sink;
    HttpRequestReader reader(c.limits);
    std::optional<HttpRequestError> error = reader.Feed(c.bytes, sink);
    ASSERT_TRUE(error.has_value()) << c.name;
    EXPECT_EQ(error->status, c.status) << c.name << ": " << error->reason;
    EXPECT_NE(error->reason.find(c.reason_has), std::string::npos) << c.name << ": " << error->reason;
    for (const SeenRequest& r : sink.requests) EXPECT_FALSE(r.ended) << c.name << ": a refused request never ends";
    // The stream is unusable afterwards: nothing more is read.
    const size_t seen = sink.requests.size();
    std::optional<HttpRequestError> again = reader.Feed("GET / HTTP/1.1\r\n\r\n", sink);
    ASSERT_TRUE(again.has_value()) << c.name;
    EXPECT_EQ(again->status, c.status);
    EXPECT_EQ(sink.requests.size(), seen) << c.name;
  }
}

TEST(HttpRequestReaderTest, ContinueExpectationAndConnectionFieldsAreReported) {
  RecordingSink sink;
  HttpRequestReader reader({});
  ASSERT_FALSE(
      reader.Feed("PUT /a.ts HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\nab"
                  "PUT /b.ts HTTP/1.1\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
                  "PUT /c.ts HTTP/1.0\r\nContent-Length: 1\r\n\r\nz",
                  sink));
  ASSERT_EQ(sink.requests.size(), 3u);
  EXPECT_TRUE(sink.requests[0].head.expect_continue);
  EXPECT_TRUE(sink.requests[0].head.keep_alive);
  EXPECT_FALSE(sink.requests[1].head.keep_alive);
  EXPECT_TRUE(sink.requests[1].ended);
  EXPECT_EQ(sink.requests[2].head.version, 10);
  EXPECT_FALSE(sink.requests[2].head.keep_alive) << "HTTP/1.0 without keep-alive closes";
  EXPECT_EQ(sink.requests[2].body, "z");
}

}  // namespace
}  // namespace ingest
