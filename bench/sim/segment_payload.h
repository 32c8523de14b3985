// Deterministic, distinct payload bytes for simulated segments: the bytes of
// (camera number, seq) are always the same, so a test can recompute what a
// camera sent without storing it, and two segments never look alike.
#ifndef BENCH_SIM_SEGMENT_PAYLOAD_H_
#define BENCH_SIM_SEGMENT_PAYLOAD_H_

#include <cstdint>
#include <string>

namespace ingest {

// `bytes` bytes of pseudo-random payload for camera `camera_number`, segment `seq`.
std::string MakeSegmentPayload(uint32_t camera_number, uint64_t seq, size_t bytes);

}  // namespace ingest

#endif  // BENCH_SIM_SEGMENT_PAYLOAD_H_
