// Plain HTTP/1.1 requests to ingestd's admin listener (/status, /metrics,
// POST /admin/drain) from the bench tool's control thread, never from a ring
// thread: one request per connection, bounded in time and size, the response
// parsed by Boost.Beast.
//
//   ASSIGN_OR_RETURN(AdminReply status, AdminRequest(admin, "GET", "/status"));
//   if (status.code == 200) Use(status.body);
#ifndef BENCH_CAMERA_BENCH_ADMIN_CLIENT_H_
#define BENCH_CAMERA_BENCH_ADMIN_CLIENT_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "common/host_port.h"

namespace ingest::bench {

struct AdminReply {
  int code = 0;
  std::string body;
};

// Bodies larger than this are refused: /metrics of a busy server is ~100 KB.
inline constexpr size_t kMaxAdminReplyBytes = 8 << 20;

// `admin` must be an IPv4 literal (the bench only talks to loopback and
// addresses it was given).
absl::StatusOr<AdminReply> AdminRequest(const HostPort& admin, std::string_view method, std::string_view target,
                                        absl::Duration timeout = absl::Seconds(5));

// The sum of every sample of `metric` in Prometheus text (all label sets),
// or -1 when the metric is absent.
double SumMetric(std::string_view metrics_text, std::string_view metric);

}  // namespace ingest::bench

#endif  // BENCH_CAMERA_BENCH_ADMIN_CLIENT_H_
