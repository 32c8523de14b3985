// The listening sockets cameras connect to: one per shard, all bound to the
// same address and port with SO_REUSEPORT, so the kernel spreads new
// connections across the shards with no shared accept queue.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<CameraListeners> listeners,
//                    CameraListeners::Open("0.0.0.0:7443", /*count=*/4));
//   ShardOptions{.listen_fd = listeners->fd(i), .listen_family = listeners->family()};
//   ...
//   listeners->Shutdown();  // a drain: refuse new connections, keep the port
#ifndef SERVER_INGESTD_CAMERA_LISTENERS_H_
#define SERVER_INGESTD_CAMERA_LISTENERS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace ingest {

class CameraListeners {
 public:
  // Binds and listens on `listen` (server.listen: a numeric "ip:port";
  // port 0 lets the kernel choose one, shared by all `count` sockets).
  // InvalidArgument for an address that is not numeric, Unavailable if it
  // cannot be bound.
  static absl::StatusOr<std::unique_ptr<CameraListeners>> Open(const std::string& listen, int count);
  // Closes the sockets.
  ~CameraListeners();
  CameraListeners(const CameraListeners&) = delete;
  CameraListeners& operator=(const CameraListeners&) = delete;

  int fd(int i) const { return fds_[i]; }
  int family() const { return family_; }
  uint16_t port() const { return port_; }

  // Ends the accepts armed on the sockets and resets the connections waiting
  // in their backlogs; the port stays bound (nothing else can take it) until
  // the sockets are closed.
  void Shutdown();

 private:
  CameraListeners() = default;
  absl::Status Bind(const std::string& listen, int count);

  std::vector<int> fds_;
  int family_ = 0;
  uint16_t port_ = 0;
};

}  // namespace ingest

#endif  // SERVER_INGESTD_CAMERA_LISTENERS_H_
