// Turns OpenSSL's thread-local error queue into absl::Status text.
//
// OpenSSL reports failures by pushing entries onto a per-thread queue. Every
// connection of a shard shares that thread, so a failure must be drained right
// away or it would be blamed on the next connection.
//
//   if (SSL_CTX_use_certificate_chain_file(ctx, path) != 1)
//     return camproto::OpenSslError(absl::StatusCode::kInvalidArgument,
//                                   "loading certificate " + path);
//   // -> "loading certificate /etc/x.crt: no start line (PEM routines)"
#ifndef PROTO_OPENSSL_ERROR_H_
#define PROTO_OPENSSL_ERROR_H_

#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace camproto {

// Empties this thread's OpenSSL error queue and returns the reasons, oldest
// first, joined by "; " (each "<reason> (<library>)"); empty if none.
std::string TakeOpenSslErrors();

// A status of `code` with message "<what>: <queued OpenSSL reasons>" (or just
// `what` when the queue is empty). Empties the queue.
absl::Status OpenSslError(absl::StatusCode code, std::string_view what);

}  // namespace camproto

#endif  // PROTO_OPENSSL_ERROR_H_
