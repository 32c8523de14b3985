// Fuzzes where the HTTPS ingest path cuts a POSTed MPEG-TS stream
// (server/http_ingest/ts_cutter.h), over any bytes an encoder or a hostile
// client might send as the body.
//
// Input: byte 0 picks min_bytes and max_bytes (in packets); byte 1 the size
// of the pieces the body arrives in (1 to 256, as chunks and TLS records cut
// it) and, from its low four bits, the stream-time rules (0 to 3 frames of
// 25 a second each, 0 leaving the rule out); the rest is the body.
//
// Checked on every input: no crash or undefined behaviour; the same cuts and
// verdict whether the body comes at once or in pieces; cuts only between
// packets, increasing, none before the lookback window allows, and no segment
// longer than max_bytes; lost sync refused exactly when a packet does not
// start with 0x47.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "server/http_ingest/ts_cutter.h"
#include "tests/fuzz/fuzz_check.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace ingest;
  if (size < 2) return 0;
  constexpr uint32_t kFrameUs = 40'000;
  const TsCutterOptions options{.min_bytes = (data[0] & 0x0F) * kTsPacketBytes,
                                .max_bytes = (1 + (data[0] >> 4)) * kTsPacketBytes,
                                .min_duration_us = (data[1] & 0x03) * kFrameUs,
                                .max_duration_us = ((data[1] >> 2) & 0x03) * kFrameUs};
  const size_t piece = 1 + data[1];
  const std::string_view body(reinterpret_cast<const char*>(data + 2), size - 2);

  TsCutter whole(options);
  std::vector<uint64_t> whole_cuts;
  const bool whole_ok = whole.Scan(body, whole_cuts).ok();

  TsCutter pieces(options);
  std::vector<uint64_t> pieces_cuts;
  bool pieces_ok = true;
  for (size_t at = 0; at < body.size() && pieces_ok; at += piece) {
    const size_t before = pieces_cuts.size();
    pieces_ok = pieces.Scan(body.substr(at, piece), pieces_cuts).ok();
    for (size_t i = before; pieces_ok && i < pieces_cuts.size(); ++i) {
      FUZZ_CHECK(pieces_cuts[i] + kCutLookbackPackets * kTsPacketBytes >= pieces.bytes_scanned() - kTsPacketBytes);
    }
  }

  bool synced = true;
  for (size_t at = 0; at + kTsPacketBytes <= body.size(); at += kTsPacketBytes) {
    synced = synced && static_cast<uint8_t>(body[at]) == 0x47;
  }
  FUZZ_CHECK(whole_ok == synced);
  FUZZ_CHECK(pieces_ok == synced);
  if (!synced) return 0;
  FUZZ_CHECK(whole_cuts == pieces_cuts);
  FUZZ_CHECK(whole.at_packet_boundary() == (body.size() % kTsPacketBytes == 0));
  // The cutter raises max_bytes to min_bytes (and one packet) when set below.
  const uint64_t max_bytes = std::max({options.max_bytes, options.min_bytes, uint64_t{kTsPacketBytes}});
  uint64_t start = 0;
  for (uint64_t cut : whole_cuts) {
    FUZZ_CHECK(cut % kTsPacketBytes == 0);
    FUZZ_CHECK(cut > start);
    FUZZ_CHECK(cut - start <= max_bytes);
    start = cut;
  }
  const uint64_t whole_packets = body.size() - body.size() % kTsPacketBytes;
  FUZZ_CHECK(whole_packets - start <= max_bytes);
  return 0;
}
