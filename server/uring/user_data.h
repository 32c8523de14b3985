// The 64-bit user_data every SQE of a shard carries, so one dispatch function
// can route each completion: which operation, on which connection, and the
// connection's generation (a completion for an older user of the same
// connection object is recognised and ignored).
//
//   PrepareSend(ring, socket, data, size, UserData{Op::kSend, conn.id, conn.generation});
//   UserData ud = UserData::Unpack(cqe.user_data);
#ifndef SERVER_URING_USER_DATA_H_
#define SERVER_URING_USER_DATA_H_

#include <cstdint>

namespace ingest {

enum class Op : uint8_t {
  kAccept = 1,
  kPeerName,
  kRecv,
  kSend,
  kCancel,
  kClose,
  kSpoolWrite,
  kSpoolSync,
  kConnect,  // a client socket's connect (camera-sim)
  kTimeout,
};

struct UserData {
  Op op;
  uint32_t id;          // connection id (24 bits used)
  uint32_t generation;  // connection generation

  uint64_t Pack() const {
    return (uint64_t{static_cast<uint8_t>(op)} << 56) | (uint64_t{id & 0xFFFFFF} << 32) |
           generation;
  }
  static UserData Unpack(uint64_t v) {
    return {static_cast<Op>(v >> 56), static_cast<uint32_t>((v >> 32) & 0xFFFFFF),
            static_cast<uint32_t>(v)};
  }
};

}  // namespace ingest

#endif  // SERVER_URING_USER_DATA_H_
