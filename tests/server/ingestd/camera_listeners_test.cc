// The camera listening sockets: one per shard on one port, the kernel's
// choice for port 0, clear errors, and a shutdown that refuses new
// connections.
#include "server/ingestd/camera_listeners.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "gtest/gtest.h"

namespace ingest {
namespace {

uint16_t PortOf(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof(addr);
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// 0 when a TCP connection to 127.0.0.1:port is accepted into a backlog,
// else the errno.
int Connect(uint16_t port) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const int rc = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0 ? 0 : errno;
  ::close(fd);
  return rc;
}

TEST(CameraListenersTest, OneSocketPerShardOnTheSamePortTheKernelChose) {
  absl::StatusOr<std::unique_ptr<CameraListeners>> listeners = CameraListeners::Open("127.0.0.1:0", 3);
  ASSERT_TRUE(listeners.ok()) << listeners.status();
  const uint16_t port = (*listeners)->port();
  EXPECT_NE(port, 0);
  EXPECT_EQ((*listeners)->family(), AF_INET);
  for (int i = 0; i < 3; ++i) EXPECT_EQ(PortOf((*listeners)->fd(i)), port) << i;
  EXPECT_EQ(Connect(port), 0);
}

TEST(CameraListenersTest, ShutdownRefusesNewConnections) {
  absl::StatusOr<std::unique_ptr<CameraListeners>> listeners = CameraListeners::Open("127.0.0.1:0", 2);
  ASSERT_TRUE(listeners.ok()) << listeners.status();
  (*listeners)->Shutdown();
  EXPECT_EQ(Connect((*listeners)->port()), ECONNREFUSED);
}

TEST(CameraListenersTest, AHostNameIsInvalid) {
  absl::StatusOr<std::unique_ptr<CameraListeners>> listeners = CameraListeners::Open("localhost:0", 1);
  EXPECT_FALSE(listeners.ok());
}

TEST(CameraListenersTest, APortTakenByAnotherProgramIsUnavailable) {
  absl::StatusOr<std::unique_ptr<CameraListeners>> first = CameraListeners::Open("127.0.0.1:0", 1);
  ASSERT_TRUE(first.ok()) << first.status();
  // A plain socket (no SO_REUSEPORT) holding a port.
  int other = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(other, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(::listen(other, 1), 0);
  absl::StatusOr<std::unique_ptr<CameraListeners>> second =
      CameraListeners::Open("127.0.0.1:" + std::to_string(PortOf(other)), 1);
  EXPECT_TRUE(absl::IsUnavailable(second.status())) << second.status();
  ::close(other);
}

}  // namespace
}  // namespace ingest
