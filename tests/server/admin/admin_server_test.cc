// The admin HTTP server over real loopback sockets: every route and status,
// HEAD, 405/404, oversized headers, garbage, slow clients, keep-alive, the
// connection cap and a prompt Stop(); and the Prometheus text writer.
#include "server/admin/admin_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/time/clock.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/admin/prometheus_text.h"

namespace ingest {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

struct HttpReply {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  std::string Header(std::string_view name) const {
    for (const auto& [n, v] : headers) {
      if (n == name) return v;
    }
    return "";
  }
  bool HasHeader(std::string_view name) const {
    for (const auto& h : headers) {
      if (h.first == name) return true;
    }
    return false;
  }
};

// A blocking loopback client on a plain socket, so the test sees exactly the
// bytes the server sends. Every wait is bounded.
class Client {
 public:
  explicit Client(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  ~Client() {
    if (fd_ >= 0) close(fd_);
  }
  bool connected() const { return connected_; }

  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Reads more bytes into pending_; false on EOF, error or timeout.
  bool Fill(absl::Duration timeout) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(timeout))) <= 0) return false;
    char buf[4096];
    ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    pending_.append(buf, static_cast<size_t>(n));
    return true;
  }

  // One response; `head` = the request was HEAD (no body follows).
  std::optional<HttpReply> Read(bool head = false, absl::Duration timeout = absl::Seconds(5)) {
    size_t end;
    while ((end = pending_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(timeout)) return std::nullopt;
    }
    std::string head_text = pending_.substr(0, end);
    pending_.erase(0, end + 4);
    std::vector<std::string> lines = absl::StrSplit(head_text, "\r\n");
    HttpReply reply;
    std::vector<std::string> status_line = absl::StrSplit(lines[0], absl::MaxSplits(' ', 2));
    if (status_line.size() < 2 || !absl::SimpleAtoi(status_line[1], &reply.status)) return std::nullopt;
    for (size_t i = 1; i < lines.size(); ++i) {
      size_t colon = lines[i].find(':');
      if (colon == std::string::npos) return std::nullopt;
      reply.headers.emplace_back(absl::AsciiStrToLower(lines[i].substr(0, colon)),
                                 std::string(absl::StripAsciiWhitespace(lines[i].substr(colon + 1))));
    }
    size_t length = 0;
    if (!absl::SimpleAtoi(reply.Header("content-length"), &length)) return std::nullopt;
    if (head) return reply;
    while (pending_.size() < length) {
      if (!Fill(timeout)) return std::nullopt;
    }
    reply.body = pending_.substr(0, length);
    pending_.erase(0, length);
    return reply;
  }

  // True if the server closes the connection within `timeout` (EOF or reset).
  bool WaitClosed(absl::Duration timeout) {
    absl::Time deadline = absl::Now() + timeout;
    while (absl::Now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      int r = poll(&p, 1, static_cast<int>(absl::ToInt64Milliseconds(deadline - absl::Now())) + 1);
      if (r <= 0) return false;
      char buf[4096];
      ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n <= 0) return true;
    }
    return false;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
  std::string pending_;
};

std::optional<HttpReply> Get(uint16_t port, std::string_view method, std::string_view path) {
  Client client(port);
  if (!client.connected()) return std::nullopt;
  if (!client.Send(absl::StrCat(std::string(method), " ", std::string(path),
                                " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"))) {
    return std::nullopt;
  }
  return client.Read(method == "HEAD");
}

class AdminServerTest : public ::testing::Test {
 protected:
  void StartServer(AdminServerOptions options = {}) {
    options.listen = "127.0.0.1:0";
    auto server = AdminServer::Start(options, [this] {
      std::lock_guard<std::mutex> lock(mu_);
      return snapshot_;
    });
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
    port_ = server_->port();
    ASSERT_NE(port_, 0);
  }
  void SetUp() override {
    snapshot_.live = true;
    snapshot_.readiness = {{"listening", true, ""}, {"spool", true, "12% of high-water"}};
    snapshot_.metrics_text = "# HELP x_total An x.\n# TYPE x_total counter\nx_total 1\n";
    snapshot_.status_json = "{\"zone\":\"test\"}\n";
  }
  void SetSnapshot(AdminSnapshot s) {
    std::lock_guard<std::mutex> lock(mu_);
    snapshot_ = std::move(s);
  }

  std::mutex mu_;
  AdminSnapshot snapshot_;
  std::unique_ptr<AdminServer> server_;
  uint16_t port_ = 0;
};

void ExpectCommonHeaders(const HttpReply& reply) {
  EXPECT_TRUE(reply.HasHeader("content-length"));
  EXPECT_EQ(reply.Header("cache-control"), "no-store");
}

TEST_F(AdminServerTest, HealthzSaysOkOrUnhealthy) {
  StartServer();
  auto reply = Get(port_, "GET", "/healthz");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->body, "ok\n");
  ExpectCommonHeaders(*reply);

  AdminSnapshot dead = snapshot_;
  dead.live = false;
  SetSnapshot(dead);
  reply = Get(port_, "GET", "/healthz");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 503);
  EXPECT_EQ(reply->body, "unhealthy\n");
  ExpectCommonHeaders(*reply);
}

TEST_F(AdminServerTest, ReadyzReportsEveryCheckAndNamesTheFailedOnes) {
  StartServer();
  auto reply = Get(port_, "GET", "/readyz");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->Header("content-type"), "application/json");
  EXPECT_THAT(reply->body, HasSubstr("\"ready\":true"));
  EXPECT_THAT(reply->body, HasSubstr("{\"name\":\"spool\",\"ok\":true,\"detail\":\"12% of high-water\"}"));
  EXPECT_THAT(reply->body, HasSubstr("\"failed\":[]"));

  AdminSnapshot draining = snapshot_;
  draining.readiness.push_back({"draining", false, "drain started by \"SIGTERM\""});
  draining.readiness.push_back({"store", false, "last PUT failed"});
  SetSnapshot(draining);
  reply = Get(port_, "GET", "/readyz");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 503);
  ExpectCommonHeaders(*reply);
  EXPECT_THAT(reply->body, HasSubstr("\"ready\":false"));
  EXPECT_THAT(reply->body, HasSubstr("{\"name\":\"draining\",\"ok\":false,\"detail\":\"drain started by "
                                     "\\\"SIGTERM\\\"\"}"));
  EXPECT_THAT(reply->body, HasSubstr("\"failed\":[\"draining\",\"store\"]"));
}

TEST_F(AdminServerTest, MetricsAndStatusServeTheSnapshot) {
  StartServer();
  auto reply = Get(port_, "GET", "/metrics");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_THAT(reply->Header("content-type"), HasSubstr("text/plain; version=0.0.4"));
  EXPECT_EQ(reply->body, snapshot_.metrics_text);
  ExpectCommonHeaders(*reply);

  reply = Get(port_, "GET", "/status?pretty=1");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
  EXPECT_EQ(reply->Header("content-type"), "application/json");
  EXPECT_EQ(reply->body, snapshot_.status_json);
  ExpectCommonHeaders(*reply);
}

TEST_F(AdminServerTest, HeadHasGetsStatusAndLengthButNoBody) {
  AdminSnapshot failing = snapshot_;
  failing.readiness[0].ok = false;
  SetSnapshot(failing);
  StartServer();
  Client client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("HEAD /readyz HTTP/1.1\r\nHost: x\r\n\r\nHEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto readyz = client.Read(/*head=*/true);
  ASSERT_TRUE(readyz);
  EXPECT_EQ(readyz->status, 503);
  EXPECT_NE(readyz->Header("content-length"), "0");
  auto metrics = client.Read(/*head=*/true);  // parses only if no body came before it
  ASSERT_TRUE(metrics);
  EXPECT_EQ(metrics->status, 200);
  EXPECT_EQ(metrics->Header("content-length"), std::to_string(snapshot_.metrics_text.size()));
  ExpectCommonHeaders(*metrics);
}

TEST_F(AdminServerTest, OtherMethodsGet405WithAllow) {
  StartServer();
  for (const char* method : {"POST", "PUT", "DELETE"}) {
    auto reply = Get(port_, method, "/metrics");
    ASSERT_TRUE(reply) << method;
    EXPECT_EQ(reply->status, 405) << method;
    EXPECT_EQ(reply->Header("allow"), "GET, HEAD");
    ExpectCommonHeaders(*reply);
  }
}

TEST_F(AdminServerTest, UnknownPathGets404) {
  StartServer();
  auto reply = Get(port_, "GET", "/admin/secrets");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 404);
  ExpectCommonHeaders(*reply);
  EXPECT_THAT(reply->Header("allow"), Not(HasSubstr("GET")));
}

TEST_F(AdminServerTest, OversizedHeadersGet431AndClose) {
  StartServer();
  Client client(port_);
  ASSERT_TRUE(client.connected());
  std::string request = "GET /healthz HTTP/1.1\r\nHost: x\r\n";
  for (int i = 0; i < 10; ++i) absl::StrAppend(&request, "X-Filler-", i, ": ", std::string(1024, 'a'), "\r\n");
  request += "\r\n";
  ASSERT_TRUE(client.Send(request));
  auto reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 431);
  ExpectCommonHeaders(*reply);
  EXPECT_TRUE(client.WaitClosed(absl::Seconds(3)));
}

TEST_F(AdminServerTest, GarbageGets400AndClose) {
  StartServer();
  Client client(port_);
  ASSERT_TRUE(client.connected());
  static constexpr char kGarbage[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03 garbage\r\n\r\n";
  ASSERT_TRUE(client.Send(std::string_view(kGarbage, sizeof(kGarbage) - 1)));
  auto reply = client.Read();
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 400);
  ExpectCommonHeaders(*reply);
  EXPECT_TRUE(client.WaitClosed(absl::Seconds(3)));
}

TEST_F(AdminServerTest, SlowClientIsCutAfterRequestTimeout) {
  StartServer({.request_timeout = absl::Milliseconds(300)});
  Client client(port_);
  ASSERT_TRUE(client.connected());
  absl::Time start = absl::Now();
  ASSERT_TRUE(client.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n"));  // and never the blank line
  EXPECT_TRUE(client.WaitClosed(absl::Seconds(5)));
  absl::Duration took = absl::Now() - start;
  EXPECT_GE(took, absl::Milliseconds(250));
  EXPECT_LT(took, absl::Seconds(3));
  // The server still answers others.
  auto reply = Get(port_, "GET", "/healthz");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 200);
}

TEST_F(AdminServerTest, KeepAliveServesTwoRequestsOnOneConnection) {
  StartServer();
  Client client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto first = client.Read();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->status, 200);
  ASSERT_TRUE(client.Send("GET /status HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto second = client.Read();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->status, 200);
  EXPECT_EQ(second->body, snapshot_.status_json);
  // HTTP/1.0 without keep-alive: answered, then closed.
  ASSERT_TRUE(client.Send("GET /healthz HTTP/1.0\r\n\r\n"));
  auto third = client.Read();
  ASSERT_TRUE(third);
  EXPECT_EQ(third->status, 200);
  EXPECT_TRUE(client.WaitClosed(absl::Seconds(3)));
}

TEST_F(AdminServerTest, AtTheCapTheOldestConnectionWaitingForARequestMakesRoom) {
  StartServer({.max_connections = 2});
  Client a(port_), b(port_);
  ASSERT_TRUE(a.connected() && b.connected());
  ASSERT_TRUE(a.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(a.Read());  // a, then b, now wait for their next request
  ASSERT_TRUE(b.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  ASSERT_TRUE(b.Read());
  Client c(port_);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto reply = c.Read();
  ASSERT_TRUE(reply) << "a new client is served at the cap";
  EXPECT_EQ(reply->status, 200);
  EXPECT_TRUE(a.WaitClosed(absl::Seconds(3))) << "the longest-waiting connection made room";
  ASSERT_TRUE(b.Send("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"));
  EXPECT_TRUE(b.Read()) << "the others are left alone";
}

TEST_F(AdminServerTest, SlowlorisClientsCannotLockOutTheHealthCheck) {
  StartServer({.request_timeout = absl::Seconds(60), .max_connections = 4});
  // Each sends part of a request and then nothing: without eviction they
  // would hold every slot for the 60 s request timeout.
  std::vector<std::unique_ptr<Client>> slow;
  for (int i = 0; i < 8; ++i) {
    slow.push_back(std::make_unique<Client>(port_));
    ASSERT_TRUE(slow.back()->connected());
    ASSERT_TRUE(slow.back()->Send("GET /metrics HTTP/1.1\r\nHo"));
    absl::SleepFor(absl::Milliseconds(10));
  }
  for (int i = 0; i < 5; ++i) {
    auto reply = Get(port_, "GET", "/healthz");
    ASSERT_TRUE(reply) << i;
    EXPECT_EQ(reply->status, 200);
  }
  EXPECT_TRUE(slow.front()->WaitClosed(absl::Seconds(3))) << "the oldest trickler was cut";
}

TEST_F(AdminServerTest, StopReturnsPromptlyWithConnectionsOpen) {
  StartServer({.request_timeout = absl::Seconds(60)});
  Client idle(port_), half(port_);
  ASSERT_TRUE(idle.connected() && half.connected());
  ASSERT_TRUE(half.Send("GET /metrics HTTP/1.1\r\nHo"));
  absl::SleepFor(absl::Milliseconds(50));
  absl::Time start = absl::Now();
  server_->Stop();
  EXPECT_LT(absl::Now() - start, absl::Seconds(1));
  EXPECT_TRUE(half.WaitClosed(absl::Seconds(2)));
  EXPECT_TRUE(idle.WaitClosed(absl::Seconds(2)));
  EXPECT_FALSE(Client(port_).connected());  // the listener is gone too
  server_->Stop();                          // idempotent
}

TEST_F(AdminServerTest, SnapshotExceptionsBecome500) {
  auto server = AdminServer::Start({.listen = "127.0.0.1:0"}, []() -> AdminSnapshot { throw std::runtime_error("x"); });
  ASSERT_TRUE(server.ok());
  auto reply = Get((*server)->port(), "GET", "/healthz");
  ASSERT_TRUE(reply);
  EXPECT_EQ(reply->status, 500);
}

TEST(AdminServerOptionsTest, BadOptionsAreRejected) {
  auto snapshot = [] { return AdminSnapshot{}; };
  for (const char* listen : {"localhost:9090", "127.0.0.1", "127.0.0.1:70000", "127.0.0.1:x", "[::1:9090", ""}) {
    auto server = AdminServer::Start({.listen = listen}, snapshot);
    EXPECT_EQ(server.status().code(), absl::StatusCode::kInvalidArgument) << listen;
  }
  EXPECT_FALSE(AdminServer::Start({.listen = "127.0.0.1:0", .max_header_bytes = 0}, snapshot).ok());
  EXPECT_FALSE(AdminServer::Start({.listen = "127.0.0.1:0", .request_timeout = absl::ZeroDuration()}, snapshot).ok());
  EXPECT_FALSE(AdminServer::Start({.listen = "127.0.0.1:0", .max_connections = 0}, snapshot).ok());
  EXPECT_FALSE(AdminServer::Start({.listen = "127.0.0.1:0"}, nullptr).ok());
  // A port in use is Unavailable.
  auto first = AdminServer::Start({.listen = "127.0.0.1:0"}, snapshot);
  ASSERT_TRUE(first.ok());
  auto second = AdminServer::Start({.listen = absl::StrCat("127.0.0.1:", (*first)->port())}, snapshot);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kUnavailable);
}

TEST(PrometheusTextTest, HelpAndTypeOncePerFamilyWithEscapedLabels) {
  PrometheusText w;
  w.Counter("ingest_segments_accepted_total", "Segments spooled.", 3, {{"shard", "0"}});
  w.Gauge("ingest_spool_bytes", "Live spool\nbytes \\ total.", 1.5e9);
  w.Counter("ingest_segments_accepted_total", "ignored help", 4, {{"shard", "1"}});
  w.Gauge("ingest_last_error", "Last error.", 1, {{"error", "bad \"x\"\\y\nz"}});
  const double bounds[] = {0.005, 0.01, 2.5};
  const uint64_t counts[] = {1, 3, 3};
  w.Histogram("ingest_s3_request_seconds", "S3 latency.", bounds, counts, 0.75, 4, {{"op", "put"}});
  EXPECT_TRUE(w.status().ok()) << w.status();
  const std::string text = w.Take();
  EXPECT_EQ(text,
            "# HELP ingest_segments_accepted_total Segments spooled.\n"
            "# TYPE ingest_segments_accepted_total counter\n"
            "ingest_segments_accepted_total{shard=\"0\"} 3\n"
            "ingest_segments_accepted_total{shard=\"1\"} 4\n"
            "# HELP ingest_spool_bytes Live spool\\nbytes \\\\ total.\n"
            "# TYPE ingest_spool_bytes gauge\n"
            "ingest_spool_bytes 1500000000\n"
            "# HELP ingest_last_error Last error.\n"
            "# TYPE ingest_last_error gauge\n"
            "ingest_last_error{error=\"bad \\\"x\\\"\\\\y\\nz\"} 1\n"
            "# HELP ingest_s3_request_seconds S3 latency.\n"
            "# TYPE ingest_s3_request_seconds histogram\n"
            "ingest_s3_request_seconds_bucket{op=\"put\",le=\"0.005\"} 1\n"
            "ingest_s3_request_seconds_bucket{op=\"put\",le=\"0.01\"} 3\n"
            "ingest_s3_request_seconds_bucket{op=\"put\",le=\"2.5\"} 3\n"
            "ingest_s3_request_seconds_bucket{op=\"put\",le=\"+Inf\"} 4\n"
            "ingest_s3_request_seconds_sum{op=\"put\"} 0.75\n"
            "ingest_s3_request_seconds_count{op=\"put\"} 4\n");
  EXPECT_EQ(w.Take(), "");  // reset

  // promtool, when installed, must accept the output.
  if (std::filesystem::exists("/usr/bin/promtool")) {
    std::string path = ::testing::TempDir() + "/admin_metrics.txt";
    std::ofstream(path) << text;
    EXPECT_EQ(std::system(("/usr/bin/promtool check metrics < " + path).c_str()), 0);
  }
}

TEST(PrometheusTextTest, BadInputIsLeftOutAndReported) {
  PrometheusText w;
  w.Counter("1bad", "x", 1);
  EXPECT_EQ(w.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(w.Take(), "");
  w.Gauge("ok_metric", "x", 1, {{"__reserved", "v"}});
  EXPECT_FALSE(w.status().ok());
  EXPECT_EQ(w.Take(), "");
  w.Counter("neg_total", "x", -1);
  EXPECT_FALSE(w.status().ok());
  w.Take();
  w.Counter("m", "x", 1);
  w.Gauge("m", "x", 1);  // same family, other type
  EXPECT_FALSE(w.status().ok());
  EXPECT_EQ(w.Take(), "# HELP m x\n# TYPE m counter\nm 1\n");
  const double bounds[] = {1, 0.5};
  const uint64_t counts[] = {1, 2};
  w.Histogram("h", "x", bounds, counts, 1, 2);
  EXPECT_FALSE(w.status().ok());
  const double good_bounds[] = {0.5, 1};
  const uint64_t too_many[] = {1, 3};
  w.Take();
  w.Histogram("h", "x", good_bounds, too_many, 1, 2);
  EXPECT_FALSE(w.status().ok());
  w.Take();
  w.Histogram("h", "x", good_bounds, counts, 1, 2, {{"le", "1"}});
  EXPECT_FALSE(w.status().ok());
  EXPECT_TRUE(IsValidMetricName("a:b_c9"));
  EXPECT_FALSE(IsValidMetricName("a-b"));
  EXPECT_FALSE(IsValidLabelName("a:b"));
  EXPECT_EQ(EscapeLabelValue("a\\\"\n"), "a\\\\\\\"\\n");
}

}  // namespace
}  // namespace ingest
