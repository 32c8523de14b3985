// CRC-32C (Castagnoli), the checksum on every spool record and stored segment,
// and the x-amz-checksum-crc32c of every S3 upload.
// Uses the SSE4.2 crc32 instruction, three chains at once on long inputs;
// every x86-64 server we deploy on has it.
//
//   uint32_t crc = Crc32c(payload);              // one shot
//   crc = Crc32cExtend(crc, more_bytes);         // incremental
//   // CRC of a || b from the CRCs of a and b, without reading the bytes:
//   uint32_t both = Crc32cCombine(Crc32c(a), Crc32c(b), b.size());
#ifndef COMMON_CRC32C_H_
#define COMMON_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace ingest {

// Extends `crc` (the value returned for the bytes so far; 0 for none) with `data`.
uint32_t Crc32cExtend(uint32_t crc, std::span<const uint8_t> data);

inline uint32_t Crc32c(std::span<const uint8_t> data) { return Crc32cExtend(0, data); }

// Crc32cExtend, copying `src` to `dst` (src.size() bytes, not overlapping) in
// the same pass: each byte is read once for both.
uint32_t Crc32cCopy(uint32_t crc, std::span<const uint8_t> src, uint8_t* dst);

// The CRC-32C of A followed by B, given crc_a = Crc32c(A), crc_b = Crc32c(B)
// and B's length: O(log length_b) arithmetic, no data read. Lets a batch
// object's checksum be put together from its segments' checksums, which were
// already verified as the segments were read.
uint32_t Crc32cCombine(uint32_t crc_a, uint32_t crc_b, uint64_t length_b);

}  // namespace ingest

#endif  // COMMON_CRC32C_H_
