#include "server/s3/http_client.h"

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "server/tls/dev_certs.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_http_server.h"

namespace ingest {
namespace {

using ::ingest::testing::Response;
using ::ingest::testing::ServerConnection;
using ::ingest::testing::TestHttpRequest;
using ::ingest::testing::TestHttpServer;

// Answers every request on the connection: the method, target, Host and
// body echoed back.
void Echo(ServerConnection& c) {
  TestHttpRequest request;
  while (c.ReadRequest(&request)) {
    const std::string body =
        absl::StrCat(request.method, " ", request.target, " ", request.Header("host"), " ",
                     request.body);
    if (!c.Write(Response(200, body, "X-Test: yes\r\n"))) return;
  }
}

HttpEndpoint Endpoint(const TestHttpServer& server) {
  absl::StatusOr<HttpEndpoint> endpoint = ParseHttpEndpoint(server.url());
  EXPECT_TRUE(endpoint.ok()) << endpoint.status();
  return *endpoint;
}

std::vector<uint8_t> Bytes(std::string_view s) { return {s.begin(), s.end()}; }

HttpRequest Req(std::string method, std::string target, absl::Span<const uint8_t> body = {}) {
  HttpRequest request;
  request.method = std::move(method);
  request.target = std::move(target);
  request.body = body;
  return request;
}

HttpClientOptions Options(const std::function<void(HttpClientOptions&)>& tweak) {
  HttpClientOptions options;
  tweak(options);
  return options;
}

TEST(HttpEndpointTest, ParsesAndFormats) {
  absl::StatusOr<HttpEndpoint> e = ParseHttpEndpoint("http://127.0.0.1:7480");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_FALSE(e->tls);
  EXPECT_EQ(e->host, "127.0.0.1");
  EXPECT_EQ(e->port, 7480);
  EXPECT_EQ(e->HostHeader(), "127.0.0.1:7480");

  e = ParseHttpEndpoint("HTTPS://s3.eu-west-1.amazonaws.com/");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_TRUE(e->tls);
  EXPECT_EQ(e->port, 443);
  EXPECT_EQ(e->HostHeader(), "s3.eu-west-1.amazonaws.com");

  e = ParseHttpEndpoint("http://[::1]:8080");
  ASSERT_TRUE(e.ok()) << e.status();
  EXPECT_EQ(e->host, "::1");
  EXPECT_EQ(e->HostHeader(), "[::1]:8080");
  EXPECT_EQ(ParseHttpEndpoint("https://h:443")->HostHeader(), "h");
  EXPECT_EQ(ParseHttpEndpoint("http://h")->HostHeader(), "h");

  for (std::string_view bad :
       {"", "h:80", "ftp://h", "http://", "http://:80", "http://h:", "http://h:0", "http://h:65536",
        "http://h:-1", "http://h:+80", "http://h:8x", "http://h/path", "http://u@h", "http://h?q",
        "http://h h", "http://[::1", "http://[zz]:1", "http://h\r\n:80"}) {
    EXPECT_TRUE(absl::IsInvalidArgument(ParseHttpEndpoint(bad).status())) << bad;
  }
  EXPECT_FALSE(ParseHttpEndpoint(std::string(5000, 'a')).ok());
}

TEST(HttpClientTest, KeepAliveReusesOneConnection) {
  TestHttpServer server(Echo);
  HttpClient client(Endpoint(server), {});
  for (int i = 0; i < 20; ++i) {
    const std::string payload = absl::StrCat("payload-", i);
    const std::vector<uint8_t> body = Bytes(payload);
    HttpRequest request = Req(i % 2 ? "PUT" : "GET", absl::StrCat("/b/k", i, "?x=1"));
    if (i % 2) request.body = body;
    request.headers.push_back({"x-amz-date", "20261122T000000Z"});
    absl::StatusOr<HttpResponse> response = client.Send(request);
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->status, 200);
    EXPECT_EQ(response->Header("x-test"), "yes");
    EXPECT_EQ(response->Header("missing"), "");
    EXPECT_EQ(response->BodyText(), absl::StrCat(request.method, " ", request.target, " 127.0.0.1:",
                                                 server.port(), " ", i % 2 ? payload : ""));
  }
  EXPECT_EQ(client.connections_opened(), 1u);
  EXPECT_EQ(client.requests_sent(), 20u);
  EXPECT_EQ(server.accepted(), 1);
}

TEST(HttpClientTest, ConnectionCloseIsHonoured) {
  TestHttpServer server([](ServerConnection& c) {
    TestHttpRequest request;
    if (c.ReadRequest(&request)) c.Write(Response(200, "bye", "Connection: close\r\n"));
    c.HangUp();
  });
  HttpClient client(Endpoint(server), {});
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<HttpResponse> response = client.Send(Req("GET", "/"));
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->BodyText(), "bye");
  }
  EXPECT_EQ(client.connections_opened(), 5u);
}

// The server promises keep-alive but drops the connection after each answer,
// as S3 does with connections idle too long: the client notices at its next
// request and, for idempotent methods, sends it again on a fresh connection.
TEST(HttpClientTest, StaleKeptAliveConnectionIsReplaced) {
  TestHttpServer server([](ServerConnection& c) {
    TestHttpRequest request;
    if (c.ReadRequest(&request)) c.Write(Response(200, "ok"));
    c.HangUp();
  });
  HttpClient client(Endpoint(server), {});
  const std::vector<uint8_t> body = Bytes("data");
  for (int i = 0; i < 5; ++i) {
    absl::StatusOr<HttpResponse> response = client.Send(Req(i % 2 ? "PUT" : "GET", "/", body));
    ASSERT_TRUE(response.ok()) << i << ": " << response.status();
    // Let the FIN arrive, so that the pooled connection really is stale.
    absl::SleepFor(absl::Milliseconds(20));
  }
  EXPECT_EQ(client.connections_opened(), 5u);
}

TEST(HttpClientTest, SilentServerTimesOutWithinIoTimeout) {
  TestHttpServer server([&](ServerConnection& c) {
    TestHttpRequest request;
    c.ReadRequest(&request);
    // Never answers; Stop() hangs the connection up.
  });
  HttpClient client(Endpoint(server),
                    Options([&](HttpClientOptions& o) { o.io_timeout = absl::Milliseconds(300); }));
  const absl::Time start = absl::Now();
  absl::StatusOr<HttpResponse> response = client.Send(Req("GET", "/"));
  const absl::Duration took = absl::Now() - start;
  EXPECT_TRUE(absl::IsUnavailable(response.status())) << response.status();
  EXPECT_NE(response.status().message().find("timed out"), absl::string_view::npos)
      << response.status();
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(3));
}

// The timeout is on progress, not on the whole response: a slow but steady
// server is fine.
TEST(HttpClientTest, SlowSteadyServerIsNotCutOff) {
  TestHttpServer server([](ServerConnection& c) {
    TestHttpRequest request;
    if (!c.ReadRequest(&request)) return;
    const std::string raw = Response(200, "0123456789");
    for (char ch : raw.substr(0, raw.size() - 10)) c.Write(std::string(1, ch));
    for (int i = 0; i < 10; ++i) {
      absl::SleepFor(absl::Milliseconds(60));
      if (!c.Write(std::string(1, static_cast<char>('0' + i)))) return;
    }
  });
  HttpClient client(Endpoint(server),
                    Options([&](HttpClientOptions& o) { o.io_timeout = absl::Milliseconds(400); }));
  absl::StatusOr<HttpResponse> response = client.Send(Req("GET", "/"));
  ASSERT_TRUE(response.ok()) << response.status();
  EXPECT_EQ(response->BodyText(), "0123456789");
}

TEST(HttpClientTest, RefusedConnectionIsUnavailable) {
  uint16_t port = 0;
  {
    TestHttpServer server(Echo);
    port = server.port();
  }
  HttpClient client({.tls = false, .host = "127.0.0.1", .port = port},
                    Options([&](HttpClientOptions& o) { o.connect_timeout = absl::Seconds(2); }));
  absl::StatusOr<HttpResponse> response = client.Send(Req("GET", "/"));
  EXPECT_TRUE(absl::IsUnavailable(response.status())) << response.status();
  EXPECT_EQ(client.connections_opened(), 0u);
}

TEST(HttpClientTest, OversizeResponsesAreRefused) {
  TestHttpServer server([](ServerConnection& c) {
    TestHttpRequest request;
    while (c.ReadRequest(&request)) {
      const std::string target = request.target;
      if (target == "/big-declared") {
        c.Write("HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n");
        c.Write(std::string(1000, 'x'));
      } else if (target == "/big-until-close") {
        c.Write("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n");
        c.Write(std::string(10000, 'x'));
        c.HangUp();
        return;
      } else if (target == "/big-chunked") {
        c.Write("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (int i = 0; i < 20; ++i)
          c.Write(absl::StrCat("3e8\r\n", std::string(1000, 'x'), "\r\n"));
        c.Write("0\r\n\r\n");
      } else {
        c.Write(absl::StrCat("HTTP/1.1 200 OK\r\nX-Big: ", std::string(20000, 'h'),
                             "\r\nContent-Length: 0\r\n\r\n"));
      }
    }
  });
  HttpClient client(Endpoint(server), Options([&](HttpClientOptions& o) {
                      o.max_response_header_bytes = 4096;
                      o.max_response_body_bytes = 4096;
                    }));
  for (std::string_view target :
       {"/big-declared", "/big-until-close", "/big-chunked", "/big-headers"}) {
    absl::StatusOr<HttpResponse> response = client.Send(Req("GET", std::string(target)));
    EXPECT_TRUE(absl::IsResourceExhausted(response.status()))
        << target << ": " << response.status();
  }
  // No connection that failed is reused.
  EXPECT_EQ(client.connections_opened(), 4u);
}

TEST(HttpClientTest, ChunkedAndHeadResponses) {
  TestHttpServer server([](ServerConnection& c) {
    TestHttpRequest request;
    while (c.ReadRequest(&request)) {
      if (request.method == "HEAD") {
        // HEAD: the length of the body a GET would get, and no body.
        c.Write("HTTP/1.1 200 OK\r\nContent-Length: 12345\r\nETag: \"abc\"\r\n\r\n");
      } else {
        c.Write(
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "5\r\nhello\r\n1;ext=1\r\n,\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n");
      }
    }
  });
  HttpClient client(Endpoint(server), {});
  for (int i = 0; i < 3; ++i) {
    absl::StatusOr<HttpResponse> response = client.Send(Req("GET", "/"));
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->BodyText(), "hello, world");
    response = client.Send(Req("HEAD", "/"));
    ASSERT_TRUE(response.ok()) << response.status();
    EXPECT_EQ(response->Header("content-length"), "12345");
    EXPECT_EQ(response->Header("etag"), "\"abc\"");
    EXPECT_TRUE(response->body.empty());
  }
  EXPECT_EQ(client.connections_opened(), 1u);
}

TEST(HttpClientTest, GarbageAndEarlyCloseAreUnavailable) {
  TestHttpServer server([](ServerConnection& c) {
    TestHttpRequest request;
    if (!c.ReadRequest(&request)) return;
    if (request.target == "/garbage") c.Write("SSH-2.0-OpenSSH\r\n\r\n");
    if (request.target == "/short") c.Write("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc");
    c.HangUp();
  });
  HttpClient client(Endpoint(server), {});
  for (std::string_view target : {"/garbage", "/short", "/nothing"}) {
    absl::StatusOr<HttpResponse> response = client.Send(Req("GET", std::string(target)));
    EXPECT_TRUE(absl::IsUnavailable(response.status())) << target << ": " << response.status();
  }
}

TEST(HttpClientTest, RejectsMalformedRequests) {
  HttpClient client({.tls = false, .host = "127.0.0.1", .port = 9}, {});
  EXPECT_TRUE(absl::IsInvalidArgument(client.Send(Req("G ET", "/")).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(client.Send(Req("GET", "x")).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(client.Send(Req("GET", "/a b")).status()));
  EXPECT_TRUE(absl::IsInvalidArgument(client.Send(Req("GET", "/\r\nX: y")).status()));
  HttpRequest request = Req("GET", "/");
  request.headers.push_back({"x-a", "1\r\nInjected: yes"});
  EXPECT_TRUE(absl::IsInvalidArgument(client.Send(request).status()));
  EXPECT_EQ(client.requests_sent(), 0u);
}

TEST(HttpClientTest, ManyThreadsShareThePool) {
  TestHttpServer server(Echo);
  HttpClient client(Endpoint(server),
                    Options([&](HttpClientOptions& o) { o.max_idle_connections = 4; }));
  std::atomic<int> ok{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 25; ++i) {
        absl::StatusOr<HttpResponse> response =
            client.Send(Req("GET", absl::StrCat("/", t, "/", i)));
        if (response.ok() && response->status == 200) ok.fetch_add(1);
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(ok.load(), 150);
  EXPECT_EQ(client.requests_sent(), 150u);
  EXPECT_LE(client.connections_opened(), 40u);  // reuse happened; at most 6 at once
}

class HttpsTest : public ::testing::Test {
 protected:
  // A server certificate from a development CA for the given names, and an
  // SSL context serving it.
  void MakeServer(std::vector<std::string> names) {
    ASSERT_TRUE(MakeDevCertificates(
                    {.out_dir = dir_.path(), .camera_count = 0, .server_names = std::move(names)})
                    .ok());
    paths_ = DevCertPathsIn(dir_.path());
    server_ = std::make_unique<TestHttpServer>(
        Echo, testing::TestHttpServerTls{.cert_chain_file = paths_.server_cert,
                                         .key_file = paths_.server_key});
  }

  testing::TempDir dir_;
  DevCertPaths paths_;
  std::unique_ptr<TestHttpServer> server_;
};

TEST_F(HttpsTest, VerifiesThePeerAgainstTheCaFileAndName) {
  MakeServer({"localhost", "127.0.0.1"});
  for (std::string host : {"localhost", "127.0.0.1"}) {
    HttpClient client({.tls = true, .host = host, .port = server_->port()},
                      Options([&](HttpClientOptions& o) { o.ca_file = paths_.server_ca_cert; }));
    for (int i = 0; i < 3; ++i) {
      absl::StatusOr<HttpResponse> response = client.Send(Req("GET", "/s"));
      ASSERT_TRUE(response.ok()) << host << ": " << response.status();
      EXPECT_EQ(response->BodyText(), absl::StrCat("GET /s ", host, ":", server_->port(), " "));
    }
    EXPECT_EQ(client.connections_opened(), 1u);
  }
  // Without our CA the system store does not trust the certificate.
  HttpClient untrusting({.tls = true, .host = "127.0.0.1", .port = server_->port()}, {});
  absl::StatusOr<HttpResponse> response = untrusting.Send(Req("GET", "/"));
  EXPECT_TRUE(absl::IsUnavailable(response.status())) << response.status();
  EXPECT_NE(response.status().message().find("certificate"), absl::string_view::npos)
      << response.status();
}

TEST_F(HttpsTest, RejectsACertificateForAnotherName) {
  MakeServer({"other.example"});
  HttpClient client({.tls = true, .host = "127.0.0.1", .port = server_->port()},
                    Options([&](HttpClientOptions& o) { o.ca_file = paths_.server_ca_cert; }));
  absl::StatusOr<HttpResponse> response = client.Send(Req("GET", "/"));
  EXPECT_TRUE(absl::IsUnavailable(response.status())) << response.status();
  HttpClient by_name({.tls = true, .host = "localhost", .port = server_->port()},
                     Options([&](HttpClientOptions& o) { o.ca_file = paths_.server_ca_cert; }));
  response = by_name.Send(Req("GET", "/"));
  EXPECT_TRUE(absl::IsUnavailable(response.status())) << response.status();
}

TEST_F(HttpsTest, MissingCaFileIsAClearError) {
  MakeServer({"localhost"});
  HttpClient client(
      {.tls = true, .host = "localhost", .port = server_->port()},
      Options([&](HttpClientOptions& o) { o.ca_file = dir_.path() + "/missing.pem"; }));
  absl::StatusOr<HttpResponse> response = client.Send(Req("GET", "/"));
  EXPECT_TRUE(absl::IsInvalidArgument(response.status())) << response.status();
  EXPECT_NE(response.status().message().find("missing.pem"), absl::string_view::npos);
}

}  // namespace
}  // namespace ingest
