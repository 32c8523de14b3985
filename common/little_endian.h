// Little-endian integer encoding for our on-disk formats (spool records,
// segment packs). Byte by byte, so it is correct on any host and any
// alignment; compilers turn it into a single load/store on x86-64.
//
//   StoreLittleEndian<uint32_t>(p, 42);
//   uint32_t v = LoadLittleEndian<uint32_t>(p);
#ifndef COMMON_LITTLE_ENDIAN_H_
#define COMMON_LITTLE_ENDIAN_H_

#include <cstddef>
#include <cstdint>

namespace ingest {

template <typename T>
void StoreLittleEndian(uint8_t* p, T v) {
  for (size_t i = 0; i < sizeof(T); ++i) p[i] = static_cast<uint8_t>(uint64_t(v) >> (8 * i));
}

template <typename T>
T LoadLittleEndian(const uint8_t* p) {
  uint64_t v = 0;
  for (size_t i = 0; i < sizeof(T); ++i) v |= uint64_t{p[i]} << (8 * i);
  return static_cast<T>(v);
}

}  // namespace ingest

#endif  // COMMON_LITTLE_ENDIAN_H_
