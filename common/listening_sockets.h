// Which TCP sockets listen on a port, from /proc/net/tcp and /proc/net/tcp6.
// For tools and tests on the same machine as the server: a load generator
// finding the server's process, a test waiting until a killed server's
// listeners are really gone before it starts the next one on the same port.
#ifndef COMMON_LISTENING_SOCKETS_H_
#define COMMON_LISTENING_SOCKETS_H_

#include <cstdint>
#include <string>
#include <vector>

namespace ingest {

// Socket inodes (as in /proc/PID/fd's "socket:[INODE]") of the TCP sockets
// in LISTEN state on `port`, on any address, IPv4 or IPv6.
std::vector<std::string> ListeningSocketInodes(uint16_t port);

// Socket inodes open in process `pid` (its /proc/PID/fd); empty if it is
// gone or not ours to read.
std::vector<std::string> ProcessSocketInodes(int pid);

// The inodes of `pid`'s sockets that listen on `port`.
std::vector<std::string> ProcessListeningInodes(int pid, uint16_t port);

}  // namespace ingest

#endif  // COMMON_LISTENING_SOCKETS_H_
