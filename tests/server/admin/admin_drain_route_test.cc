// POST/GET /admin/drain on the admin server: who may start a drain (loopback
// clients, or anyone with the bearer token), what the replies say, and that
// the route is absent without drain hooks.

#include <atomic>
#include <string>

#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "server/admin/admin_server.h"
#include "tests/support/http_get.h"

namespace ingest {
namespace {

using ::testing::HasSubstr;

struct Reply {
  int status = 0;
  std::string text;  // status line, headers and body
};

Reply Exchange(uint16_t port, const std::string& request) {
  testing::HttpExchangeResult exchanged = testing::HttpExchange(port, request);
  return Reply{.status = exchanged.status, .text = std::move(exchanged.response)};
}

std::string Request(std::string_view method, std::string_view path, std::string_view extra_headers = "") {
  return absl::StrCat(std::string(method), " ", std::string(path), " HTTP/1.1\r\nHost: 127.0.0.1\r\n",
                      std::string(extra_headers), "Connection: close\r\nContent-Length: 0\r\n\r\n");
}

class AdminDrainRouteTest : public ::testing::Test {
 protected:
  void Start(AdminServerOptions options, bool with_hooks = true) {
    options.listen = "127.0.0.1:0";
    AdminDrainHooks hooks;
    if (with_hooks) {
      hooks.state = [this] { return absl::StrCat("{\"state\":\"", starts_ > 0 ? "announced" : "serving", "\"}\n"); };
      hooks.start = [this](bool fast) {
        ++starts_;
        if (fast) ++fast_starts_;
        return std::string("{\"state\":\"announced\"}\n");
      };
    }
    auto server = AdminServer::Start(
        options, [] { return AdminSnapshot{}; }, hooks);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  uint16_t port() const { return server_->port(); }

  std::atomic<int> starts_{0};
  std::atomic<int> fast_starts_{0};
  std::unique_ptr<AdminServer> server_;
};

TEST_F(AdminDrainRouteTest, LoopbackClientStartsAndReadsTheDrain) {
  Start({});
  Reply state = Exchange(port(), Request("GET", "/admin/drain"));
  EXPECT_EQ(state.status, 200);
  EXPECT_THAT(state.text, HasSubstr("{\"state\":\"serving\"}"));

  Reply started = Exchange(port(), Request("POST", "/admin/drain"));
  EXPECT_EQ(started.status, 202);
  EXPECT_THAT(started.text, HasSubstr("{\"state\":\"announced\"}"));
  EXPECT_EQ(starts_.load(), 1);
  EXPECT_EQ(fast_starts_.load(), 0);

  EXPECT_EQ(Exchange(port(), Request("POST", "/admin/drain?fast=1")).status, 202);
  EXPECT_EQ(fast_starts_.load(), 1);
  EXPECT_THAT(Exchange(port(), Request("GET", "/admin/drain")).text, HasSubstr("announced"));
}

TEST_F(AdminDrainRouteTest, OtherMethodsGet405WithAllow) {
  Start({});
  Reply reply = Exchange(port(), Request("DELETE", "/admin/drain"));
  EXPECT_EQ(reply.status, 405);
  EXPECT_THAT(reply.text, HasSubstr("Allow: GET, HEAD, POST"));
  EXPECT_EQ(starts_.load(), 0);
}

TEST_F(AdminDrainRouteTest, WithoutLoopbackTrustTheBearerTokenIsRequired) {
  Start({.drain_token = "0123456789abcdef-token", .loopback_may_drain = false});
  Reply anonymous = Exchange(port(), Request("POST", "/admin/drain"));
  EXPECT_EQ(anonymous.status, 403);
  EXPECT_THAT(anonymous.text, HasSubstr("Bearer"));
  EXPECT_EQ(Exchange(port(), Request("POST", "/admin/drain", "Authorization: Bearer wrong-token-0123456\r\n")).status,
            403);
  EXPECT_EQ(Exchange(port(), Request("POST", "/admin/drain", "Authorization: Bearer 0123456789abcdef-toke\r\n")).status,
            403);
  EXPECT_EQ(starts_.load(), 0);
  // Reading the state needs no token: it is what /status shows anyway.
  EXPECT_EQ(Exchange(port(), Request("GET", "/admin/drain")).status, 200);

  Reply authorized =
      Exchange(port(), Request("POST", "/admin/drain", "Authorization: Bearer 0123456789abcdef-token\r\n"));
  EXPECT_EQ(authorized.status, 202);
  EXPECT_EQ(starts_.load(), 1);
}

TEST_F(AdminDrainRouteTest, WithoutLoopbackTrustOrTokenNobodyMayDrain) {
  Start({.loopback_may_drain = false});
  EXPECT_EQ(Exchange(port(), Request("POST", "/admin/drain", "Authorization: Bearer \r\n")).status, 403);
  EXPECT_EQ(starts_.load(), 0);
}

TEST_F(AdminDrainRouteTest, NoHooksNoRoute) {
  Start({}, /*with_hooks=*/false);
  EXPECT_EQ(Exchange(port(), Request("GET", "/admin/drain")).status, 404);
  EXPECT_EQ(Exchange(port(), Request("POST", "/admin/drain")).status, 404);
}

}  // namespace
}  // namespace ingest
