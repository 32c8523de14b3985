#include "server/ingestd/camera_listeners.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "common/host_port.h"

namespace ingest {
namespace {

void SetPort(sockaddr_storage& addr, int family, uint16_t port) {
  if (family == AF_INET6) {
    reinterpret_cast<sockaddr_in6&>(addr).sin6_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in&>(addr).sin_port = htons(port);
  }
}

uint16_t BoundPort(int fd, int family) {
  sockaddr_storage bound{};
  socklen_t len = sizeof(bound);
  getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &len);
  return ntohs(family == AF_INET6 ? reinterpret_cast<sockaddr_in6&>(bound).sin6_port
                                  : reinterpret_cast<sockaddr_in&>(bound).sin_port);
}

}  // namespace

absl::StatusOr<std::unique_ptr<CameraListeners>> CameraListeners::Open(const std::string& listen, int count) {
  std::unique_ptr<CameraListeners> listeners(new CameraListeners());
  RETURN_IF_ERROR(listeners->Bind(listen, count));
  return listeners;
}

CameraListeners::~CameraListeners() {
  for (int fd : fds_) ::close(fd);
}

absl::Status CameraListeners::Bind(const std::string& listen, int count) {
  ASSIGN_OR_RETURN(HostPort host_port, ParseHostPort(listen));
  addrinfo hints{};
  hints.ai_flags = AI_NUMERICHOST | AI_PASSIVE;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host_port.host.c_str(), nullptr, &hints, &found);
  if (rc != 0) {
    return absl::InvalidArgumentError(absl::StrCat("server.listen '", listen, "': ", gai_strerror(rc)));
  }
  sockaddr_storage addr{};
  std::memcpy(&addr, found->ai_addr, found->ai_addrlen);
  const socklen_t addr_len = found->ai_addrlen;
  family_ = found->ai_family;
  freeaddrinfo(found);
  uint16_t port = host_port.port;
  for (int i = 0; i < count; ++i) {
    int fd = ::socket(family_, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return absl::InternalError(absl::StrCat("socket: ", std::strerror(errno)));
    fds_.push_back(fd);
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
    SetPort(addr, family_, port);
    if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), addr_len) != 0) {
      return absl::UnavailableError(absl::StrCat("bind ", listen, ": ", std::strerror(errno)));
    }
    if (::listen(fd, 4096) != 0) {
      return absl::UnavailableError(absl::StrCat("listen: ", std::strerror(errno)));
    }
    // The first socket gets the kernel's choice for port 0; the others share it.
    if (port == 0) port = BoundPort(fd, family_);
  }
  port_ = port;
  return absl::OkStatus();
}

void CameraListeners::Shutdown() {
  for (int fd : fds_) ::shutdown(fd, SHUT_RDWR);
}

}  // namespace ingest
