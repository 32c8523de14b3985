#include "server/config/byte_size.h"

#include <array>
#include <charconv>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace ingest {
namespace {

struct Unit {
  std::string_view name;
  int shift;
};

// Largest first, so FormatByteSize picks the biggest unit that fits.
constexpr std::array<Unit, 5> kUnits = {{
    {"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}};

absl::Status Bad(std::string_view text, std::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad size \"", std::string(text), "\": ", std::string(problem)));
}

}  // namespace

absl::StatusOr<uint64_t> ParseByteSize(std::string_view text) {
  uint64_t number = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (end == text.data()) return Bad(text, "expected a number of bytes, e.g. 1048576 or \"1MiB\"");
  if (ec == std::errc::result_out_of_range) return Bad(text, "too large");

  std::string_view unit = text.substr(end - text.data());
  if (!unit.empty() && unit.front() == ' ') unit.remove_prefix(1);
  if (unit.empty()) return number;
  for (const Unit& u : kUnits) {
    if (unit != u.name) continue;
    if (u.shift > 0 && number > (std::numeric_limits<uint64_t>::max() >> u.shift)) {
      return Bad(text, "too large");
    }
    return number << u.shift;
  }
  return Bad(text, absl::StrCat("unknown unit \"", std::string(unit),
                                "\" (use B, KiB, MiB, GiB or TiB)"));
}

std::string FormatByteSize(uint64_t bytes) {
  if (bytes == 0) return "0";
  for (const Unit& u : kUnits) {
    if (u.shift == 0) break;
    uint64_t mask = (uint64_t{1} << u.shift) - 1;
    if ((bytes & mask) == 0) return absl::StrCat(bytes >> u.shift, std::string(u.name));
  }
  return absl::StrCat(bytes);
}

}  // namespace ingest
