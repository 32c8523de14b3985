// Fuzzes the admin listener's request path (server/admin/admin_request.h):
// Beast's parser with the listener's limits, then routing and replies, over
// whatever a client might send on one connection, pipelined requests
// included.
//
// Input: byte 0 sets the listener and the client (loopback or not, drain
// hooks, a drain token, whether loopback clients may drain, a snapshot that
// throws); byte 1 picks the header limit; the rest is what the client sent.
//
// Checked on every input: no crash or undefined behaviour; every reply has a
// status the listener can send, an Allow header exactly on 405s, a reason
// for the warning line exactly on refusals; only the last reply may close
// the connection; a drain starts only for a 202, and only for a loopback
// client (when allowed) or one with the token.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "common/json_log.h"
#include "server/admin/admin_request.h"
#include "server/admin/admin_server.h"
#include "tests/fuzz/fuzz_check.h"

namespace ingest {
namespace {

bool IsListenerStatus(unsigned status) {
  switch (status) {
    case 200:
    case 202:
    case 400:
    case 403:
    case 404:
    case 405:
    case 413:
    case 431:
    case 500:
    case 503:
      return true;
    default:
      return false;
  }
}

bool IsRefusal(unsigned status) {
  return status == 400 || status == 403 || status == 413 || status == 431 || status == 500;
}

}  // namespace
}  // namespace ingest

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The drain route logs every accepted POST; millions of them are noise.
  ingest::log::SetMinLevel(ingest::log::Level::kError);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ingest;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  const uint8_t config = input.empty() ? 0 : static_cast<uint8_t>(input[0]);
  if (!input.empty()) input.remove_prefix(1);
  constexpr size_t kHeaderLimits[] = {256, 1024, 8192, 1 << 20};
  const size_t header_limit = kHeaderLimits[input.empty() ? 2 : static_cast<uint8_t>(input[0]) % 4];
  if (!input.empty()) input.remove_prefix(1);

  const bool loopback = config & 1;
  const bool with_drain = config & 2;
  const bool with_token = config & 4;
  const bool loopback_may_drain = config & 8;
  const bool snapshot_throws = config & 16;

  AdminServerOptions options;
  options.max_header_bytes = header_limit;
  options.drain_token = with_token ? "fuzz-token" : "";
  options.loopback_may_drain = loopback_may_drain;
  const std::function<AdminSnapshot()> snapshot = [&]() -> AdminSnapshot {
    if (snapshot_throws) throw std::runtime_error("snapshot failed on purpose");
    AdminSnapshot s;
    s.live = (config & 32) != 0;
    s.readiness = {{"spool", (config & 64) != 0, "spool \"95%\" full\n"}, {"store", true, ""}};
    s.metrics_text = "ingest_up 1\n";
    s.status_json = "{}\n";
    return s;
  };
  int drain_starts = 0;
  AdminDrainHooks drain;
  if (with_drain) {
    drain.state = [] { return std::string("{\"state\":\"serving\"}\n"); };
    drain.start = [&](bool) {
      ++drain_starts;
      return std::string("{\"state\":\"announced\"}\n");
    };
  }
  const AdminRequestContext context{.options = options,
                                    .snapshot = snapshot,
                                    .drain = drain,
                                    .peer_is_loopback = loopback,
                                    .peer_address = loopback ? "127.0.0.1" : "192.0.2.7"};

  const std::vector<AdminReply> replies = HandleAdminRequestBytes(input, context);

  int accepted = 0;
  for (size_t i = 0; i < replies.size(); ++i) {
    const AdminReply& reply = replies[i];
    FUZZ_CHECK_MSG(IsListenerStatus(reply.status), std::to_string(reply.status));
    FUZZ_CHECK((reply.status == 405) == !reply.allow.empty());
    FUZZ_CHECK(IsRefusal(reply.status) == !reply.rejected.empty());
    FUZZ_CHECK(!reply.content_type.empty());
    // Beast only parses HTTP/1.x (versions 10 and 11); the listener never
    // answers with anything else.
    FUZZ_CHECK(reply.version == 10 || reply.version == 11);
    // A reply that closes the connection is the last one.
    FUZZ_CHECK(reply.keep_alive || i + 1 == replies.size());
    // Unparsable requests close the connection.
    if (reply.status == 400 || reply.status == 413 || reply.status == 431) FUZZ_CHECK(!reply.keep_alive);
    if (reply.status == 202) {
      ++accepted;
      FUZZ_CHECK(with_drain);
      FUZZ_CHECK((loopback && loopback_may_drain) || with_token);
    }
    if (reply.status == 403) FUZZ_CHECK(with_drain && !(loopback && loopback_may_drain));
  }
  FUZZ_CHECK(accepted == drain_starts);
  return 0;
}
