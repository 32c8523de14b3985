// The bearer token that lets clients off the host POST /admin/drain
// (drain.token_file). Loopback clients need none.
//
//   ASSIGN_OR_RETURN(std::string token, ReadDrainToken(config.drain.token_file));
//   AdminServer::Start({.listen = ..., .drain_token = token}, ...);
#ifndef SERVER_ADMIN_DRAIN_TOKEN_H_
#define SERVER_ADMIN_DRAIN_TOKEN_H_

#include <string>

#include "absl/status/statusor.h"

namespace ingest {

// The token on the first line of `path`, trailing blanks removed; "" when
// `path` is empty (loopback only). InvalidArgument naming drain.token_file
// and the file if it cannot be read or the token is shorter than 16
// characters (guessable).
absl::StatusOr<std::string> ReadDrainToken(const std::string& path);

}  // namespace ingest

#endif  // SERVER_ADMIN_DRAIN_TOKEN_H_
