// The admin HTTP listener of ingestd: liveness, readiness, Prometheus metrics
// and a JSON status page for load balancers, Prometheus and operators. It runs
// on its own thread and port, apart from camera traffic, and asks its owner
// for a fresh AdminSnapshot on every request that needs one, so it holds no
// state of the server. Bad clients (oversized headers, garbage, slow senders,
// too many connections) get the right status or are cut, nothing more.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<AdminServer> admin,
//                    AdminServer::Start({.listen = "127.0.0.1:9090"}, [&] { return BuildSnapshot(server); }));
//   // curl http://127.0.0.1:9090/readyz
//   admin->Stop();
//
// Routes: GET|HEAD /healthz, /readyz, /metrics, /status; with drain hooks,
// GET|HEAD|POST /admin/drain (POST only from loopback clients or with the
// bearer token). Other methods get 405 with Allow; other paths 404.
#ifndef SERVER_ADMIN_ADMIN_SERVER_H_
#define SERVER_ADMIN_ADMIN_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace ingest {

// One readiness condition, e.g. {"spool", false, "spool 95% full (high-water 90%)"}.
struct AdminCheck {
  std::string name;
  bool ok = true;
  std::string detail;
};

// What the server reports now. Built by the owner's callback on the admin
// thread for each request; it must be cheap and must not block for long.
struct AdminSnapshot {
  bool live = true;                   // every shard loop turned recently
  std::vector<AdminCheck> readiness;  // /readyz fails if any check is !ok
  std::string metrics_text;           // Prometheus text exposition, already rendered
  std::string status_json;            // GET /status body
};

struct AdminServerOptions {
  // Numeric "host:port" ("127.0.0.1:9090", "[::1]:9090", "0.0.0.0:9090");
  // port 0 lets the kernel choose (see port()).
  std::string listen = "127.0.0.1:9090";
  // Request line plus headers; beyond it the client gets 431 and is closed.
  size_t max_header_bytes = 8192;
  // Time a client has to send one whole request (and to read the reply);
  // slower clients are disconnected.
  absl::Duration request_timeout = absl::Seconds(5);
  // Connections open at once. At the cap, the connection that has waited
  // longest for a request is cut to make room (so slowloris clients cannot
  // lock out health checks); only if every one is mid-request or mid-reply
  // is the new one closed as soon as accepted.
  int max_connections = 64;
  // Lets non-loopback clients POST /admin/drain with "Authorization: Bearer
  // <token>"; empty = loopback clients only.
  std::string drain_token{};
  // Loopback clients may POST /admin/drain without the token (the host's
  // own deploy hooks). Tests turn it off to exercise the token.
  bool loopback_may_drain = true;
};

// GET and POST /admin/drain. Both return the drain state as JSON; `start`
// starts a drain (or, with fast, hurries the running one). Called on the
// admin thread; must not block for long.
struct AdminDrainHooks {
  std::function<std::string()> state;
  std::function<std::string(bool fast)> start;
};

class AdminServer {
 public:
  // Validates `options` (InvalidArgument naming the field), binds and listens
  // (Unavailable if the address cannot be bound), and starts the admin
  // thread. `snapshot` is called on that thread, one request at a time; if it
  // throws, the request gets 500.
  // Without drain hooks /admin/drain is 404.
  static absl::StatusOr<std::unique_ptr<AdminServer>> Start(AdminServerOptions options,
                                                            std::function<AdminSnapshot()> snapshot,
                                                            AdminDrainHooks drain = {});

  // Stops the server (see Stop()).
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // The bound port (the kernel's choice when the options said port 0).
  uint16_t port() const { return port_; }

  // Stops accepting, drops every open connection (an in-progress response may
  // be cut) and joins the admin thread. Returns promptly whatever clients are
  // doing; idempotent; must not be called from the snapshot callback.
  void Stop();

  // Defined in admin_server.cc; public only so its connection type can name it.
  struct Impl;

 private:
  explicit AdminServer(std::unique_ptr<Impl> impl);

  std::unique_ptr<Impl> impl_;
  uint16_t port_ = 0;
};

}  // namespace ingest

#endif  // SERVER_ADMIN_ADMIN_SERVER_H_
