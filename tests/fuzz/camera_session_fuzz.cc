// Fuzz target: the camera session state machine fed arbitrary sequences of
// connections, frames and spool events, with the invariants of
// proto/README.md as assertions (tests/support/session_harness.h checks them):
// no ACK or WELCOME covers a seq that is neither stored nor given up, no seq
// is stored twice, PERSISTED never runs ahead of the store.
//
// The input is a little program: each op byte picks an action, the bytes
// after it its arguments. Well-formed SEGMENTs with fuzzed seq, flags, times
// and payloads reach the sequence rules; raw bytes reach the decoder.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "tests/support/session_harness.h"

namespace {

using ingest::CameraSession;
using ingest::testing::SessionHarness;

class Program {
 public:
  Program(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return pos_ >= size_; }
  uint8_t Byte() { return pos_ < size_ ? data_[pos_++] : 0; }
  std::string Bytes(size_t n) {
    n = std::min(n, size_ - pos_);
    std::string out(reinterpret_cast<const char*>(data_ + pos_), n);
    pos_ += n;
    return out;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t pos_ = 0;
};

const char* CameraName(uint8_t b) { return (b & 1) != 0 ? "cam-2" : "cam-1"; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Program program(data, size);
  SessionHarness h;
  std::vector<CameraSession*> connections;
  // Highest seq sent on each connection, so fuzzed deltas land near it.
  std::vector<uint64_t> sent;
  size_t current = 0;
  int ops = 0;
  while (!program.done() && ++ops < 256) {
    const uint8_t op = program.Byte() % 8;
    CameraSession* session = connections.empty() ? nullptr : connections[current];
    switch (op) {
      case 0: {  // a new connection with HELLO
        const char* camera = CameraName(program.Byte());
        const uint8_t last = program.Byte();
        CameraSession& s = h.Connect(camera);
        (void)h.Feed(s, ingest::testing::HelloBytes(camera, last < 200 ? last % 40 : last * 1000ull));
        connections.push_back(&s);
        sent.push_back(std::max<uint64_t>(s.base_seq(), 0));
        current = connections.size() - 1;
        break;
      }
      case 1: {  // a well-formed SEGMENT near the last seq
        if (session == nullptr) break;
        const int delta = static_cast<int8_t>(program.Byte()) % 4;
        const uint8_t flags = program.Byte();
        const uint8_t time_choice = program.Byte();
        const uint8_t length = program.Byte();
        const uint8_t variant = program.Byte();
        const uint64_t base = std::max(sent[current], session->base_seq());
        const uint64_t seq = static_cast<uint64_t>(std::max<int64_t>(0, static_cast<int64_t>(base) + delta));
        camproto::SegmentHeader header = ingest::testing::HeaderFor(seq, static_cast<uint8_t>(flags & 0x07));
        if (time_choice > 250) header.capture_start_us = INT64_MAX - time_choice;
        if (time_choice < 3) header.capture_start_us = INT64_MIN + time_choice;
        if (time_choice == 100) header.duration_us = UINT32_MAX;
        std::string payload(length % 32, static_cast<char>(variant % 3));
        (void)h.Feed(*session, ingest::testing::SegmentBytes(header, payload));
        sent[current] = std::max(sent[current], seq);
        break;
      }
      case 2: {  // raw bytes
        if (session == nullptr) break;
        (void)h.Feed(*session, program.Bytes(program.Byte() % 64));
        break;
      }
      case 3:
        h.MakeDurable();
        break;
      case 4: {  // the store caught up with what is durable
        const char* camera = CameraName(program.Byte());
        h.MakePersisted(camera, h.registry().Get(camera).durable());
        break;
      }
      case 5:
        if (!connections.empty()) current = program.Byte() % connections.size();
        break;
      case 6:  // the shard's tick
        for (CameraSession* s : connections) s->CloseIfSuperseded();
        h.PollAll();
        break;
      case 7: {  // a control frame
        if (session == nullptr) break;
        std::string bytes;
        switch (program.Byte() % 4) {
          case 0:
            camproto::AppendFrame(camproto::Ping{.nonce = 1}, bytes);
            break;
          case 1:
            camproto::AppendFrame(camproto::Pong{.nonce = 1}, bytes);
            break;
          case 2:
            bytes = ingest::testing::HelloBytes("cam-1", 0);
            break;
          default:
            camproto::AppendFrame(camproto::Error{.code = camproto::ErrorCode::kTimeout, .message = "x"}, bytes);
        }
        (void)h.Feed(*session, bytes);
        break;
      }
    }
    const std::string violation = h.CheckInvariants();
    if (!violation.empty()) {
      fprintf(stderr, "invariant broken after %d ops: %s\n", ops, violation.c_str());
      abort();
    }
  }
  return 0;
}
