// CRC-32C (Castagnoli), the checksum on every spool record and stored segment.
// Uses the SSE4.2 crc32 instruction; every x86-64 server we deploy on has it.
//
//   uint32_t crc = Crc32c(payload);              // one shot
//   crc = Crc32cExtend(crc, more_bytes);         // incremental
#ifndef COMMON_CRC32C_H_
#define COMMON_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <span>

namespace ingest {

// Extends `crc` (the value returned for the bytes so far; 0 for none) with `data`.
uint32_t Crc32cExtend(uint32_t crc, std::span<const uint8_t> data);

inline uint32_t Crc32c(std::span<const uint8_t> data) { return Crc32cExtend(0, data); }

}  // namespace ingest

#endif  // COMMON_CRC32C_H_
