// Byte counts as people write them in configuration: a plain integer or a
// number with a binary unit ("512KiB", "64MiB", "8GiB"). Decimal units (MB)
// are refused rather than guessed at.
//
//   ASSIGN_OR_RETURN(uint64_t bytes, ParseByteSize("64MiB"));  // 67108864
//   FormatByteSize(8ull << 30);                                 // "8GiB"
#ifndef SERVER_CONFIG_BYTE_SIZE_H_
#define SERVER_CONFIG_BYTE_SIZE_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ingest {

// Parses "<digits>[ ]<unit>" with unit B, KiB, MiB, GiB or TiB, or bare
// digits (bytes). No signs, fractions or decimal units. Errors are
// InvalidArgument and quote the input; values that overflow 64 bits are errors.
absl::StatusOr<uint64_t> ParseByteSize(std::string_view text);

// The inverse, for printing: the largest binary unit that divides `bytes`
// exactly ("64MiB"), or the bare number when none does ("1000"). 0 -> "0".
std::string FormatByteSize(uint64_t bytes);

}  // namespace ingest

#endif  // SERVER_CONFIG_BYTE_SIZE_H_
