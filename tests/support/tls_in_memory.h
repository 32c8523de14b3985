// Two TlsChannels in one process with the bytes moved between them by hand:
// the handshake run to its end, ciphertext handed across, plaintext read out.
//
//   ASSERT_TRUE(HandshakeInMemory(*client, *server).ok());
//   client->WritePlaintext(bytes); MoveCiphertext(*client, *server);
//   std::string got = ReadAllPlaintext(*server);
#ifndef TESTS_SUPPORT_TLS_IN_MEMORY_H_
#define TESTS_SUPPORT_TLS_IN_MEMORY_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "gtest/gtest.h"
#include "proto/tls_channel.h"

namespace ingest::testing {

inline void MoveCiphertext(camproto::TlsChannel& from, camproto::TlsChannel& to) {
  std::string bytes;
  from.TakeCiphertext(bytes);
  if (!bytes.empty()) to.FeedCiphertext({reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()});
}

// Runs both sides' handshakes until both are done (at most 10 rounds).
inline absl::Status HandshakeInMemory(camproto::TlsChannel& client, camproto::TlsChannel& server) {
  for (int round = 0; round < 10 && !(client.handshake_done() && server.handshake_done()); ++round) {
    absl::StatusOr<camproto::TlsChannel::HandshakeResult> c = client.Handshake();
    if (!c.ok()) return c.status();
    MoveCiphertext(client, server);
    absl::StatusOr<camproto::TlsChannel::HandshakeResult> s = server.Handshake();
    if (!s.ok()) return s.status();
    MoveCiphertext(server, client);
  }
  if (!client.handshake_done() || !server.handshake_done()) {
    return absl::DeadlineExceededError("handshake not done after 10 rounds");
  }
  return absl::OkStatus();
}

// Everything `channel` can decrypt now, read `piece` bytes at a time; a
// read error fails the test.
inline std::string ReadAllPlaintext(camproto::TlsChannel& channel, size_t piece = 4096) {
  std::string out;
  std::vector<uint8_t> buf(piece);
  while (true) {
    absl::StatusOr<size_t> n = channel.ReadPlaintext(absl::MakeSpan(buf));
    EXPECT_TRUE(n.ok()) << n.status();
    if (!n.ok() || *n == 0) return out;
    out.append(reinterpret_cast<char*>(buf.data()), *n);
  }
}

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_TLS_IN_MEMORY_H_
