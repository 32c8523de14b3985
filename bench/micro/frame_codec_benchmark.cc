// Cost of the protocol codec on the two hot paths: a 256 KiB SEGMENT encoded
// and then decoded as TLS would hand it over (16 KiB records), and small ACK
// frames, which the server sends for every segment.
#include <cstring>
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "proto/frame.h"
#include "proto/frame_decoder.h"
#include "proto/frame_encoder.h"

namespace camproto {
namespace {

constexpr size_t kSegmentPayload = 256 << 10;
constexpr size_t kPieceBytes = 16 << 10;  // one TLS record's worth of plaintext

// Accepts segments into one reused buffer, as a spool slot would.
class SinkHandler : public FrameHandler {
 public:
  absl::Status OnControlFrame(ControlFrame frame) override {
    benchmark::DoNotOptimize(frame);
    ++frames;
    return absl::OkStatus();
  }
  std::optional<absl::Span<uint8_t>> OnSegmentBegin(const SegmentHeader& header) override {
    return absl::MakeSpan(payload.data(), header.payload_bytes);
  }
  absl::Status OnSegmentEnd() override {
    ++frames;
    return absl::OkStatus();
  }

  std::vector<uint8_t> payload = std::vector<uint8_t>(kSegmentPayload);
  int64_t frames = 0;
};

void BM_SegmentEncodeDecode256KiB(benchmark::State& state) {
  const std::vector<uint8_t> payload(kSegmentPayload, 0x5a);
  std::string wire;
  wire.reserve(EncodedSegmentSize(kSegmentPayload));
  SinkHandler handler;
  FrameDecoder decoder(DecoderLimits{.max_segment_payload = 4 << 20});
  uint64_t seq = 0;
  for (auto _ : state) {
    wire.clear();
    AppendSegment(SegmentHeader{.seq = ++seq, .duration_us = 2000000}, payload, wire);
    // Decode the way the server does: copy each piece straight into the span
    // the decoder names (SSL_read would decrypt into it).
    for (size_t pos = 0; pos < wire.size();) {
      const size_t piece_end = std::min(wire.size(), pos + kPieceBytes);
      while (pos < piece_end) {
        absl::Span<uint8_t> dst = decoder.WritableSpan(handler);
        const size_t n = std::min(dst.size(), piece_end - pos);
        std::memcpy(dst.data(), wire.data() + pos, n);
        pos += n;
        if (!decoder.CommitWritten(n, handler).ok()) {
          state.SkipWithError("decode failed");
          return;
        }
      }
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * kSegmentPayload));
  state.counters["segments"] =
      benchmark::Counter(static_cast<double>(handler.frames), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_SegmentEncodeDecode256KiB);

void BM_AckEncode(benchmark::State& state) {
  std::string wire;
  uint64_t seq = 0;
  for (auto _ : state) {
    wire.clear();
    AppendAck(Ack{.seq = ++seq, .level = DurabilityLevel::kSpooled}, wire);
    benchmark::DoNotOptimize(wire.data());
  }
  state.SetItemsProcessed(state.iterations());
}
BENCHMARK(BM_AckEncode);

void BM_AckEncodeDecodeBatch(benchmark::State& state) {
  // Many ACKs per read, as a camera sees them after a burst of segments.
  const int batch = static_cast<int>(state.range(0));
  std::string wire;
  SinkHandler handler;
  FrameDecoder decoder(DecoderLimits{});
  uint64_t seq = 0;
  for (auto _ : state) {
    wire.clear();
    for (int i = 0; i < batch; ++i) AppendAck(Ack{.seq = ++seq}, wire);
    absl::StatusOr<size_t> consumed = decoder.Feed(
        absl::MakeConstSpan(reinterpret_cast<const uint8_t*>(wire.data()), wire.size()), handler);
    if (!consumed.ok()) {
      state.SkipWithError("decode failed");
      return;
    }
  }
  state.SetItemsProcessed(state.iterations() * batch);
}
BENCHMARK(BM_AckEncodeDecodeBatch)->Arg(1)->Arg(64);

}  // namespace
}  // namespace camproto
