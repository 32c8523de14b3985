// Small helpers for absl::Status on fallible paths. Abseil 20220623 ships no
// status macros, so they live here, once.
//
//   absl::StatusOr<int> ParsePort(std::string_view s);
//   absl::Status Configure(std::string_view s) {
//     ASSIGN_OR_RETURN(int port, ParsePort(s));
//     RETURN_IF_ERROR(Bind(port));
//     return absl::OkStatus();
//   }
#ifndef COMMON_STATUS_MACROS_H_
#define COMMON_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define INGEST_CONCAT_INNER_(a, b) a##b
#define INGEST_CONCAT_(a, b) INGEST_CONCAT_INNER_(a, b)

#define RETURN_IF_ERROR(expr)                       \
  do {                                              \
    ::absl::Status ingest_status_ = (expr);         \
    if (!ingest_status_.ok()) return ingest_status_; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  ASSIGN_OR_RETURN_IMPL_(INGEST_CONCAT_(ingest_statusor_, __LINE__), lhs, expr)

#define ASSIGN_OR_RETURN_IMPL_(statusor, lhs, expr) \
  auto statusor = (expr);                           \
  if (!statusor.ok()) return statusor.status();     \
  lhs = std::move(statusor).value()

#endif  // COMMON_STATUS_MACROS_H_
