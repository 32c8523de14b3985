#include "zones/camera_id_format.h"

#include <charconv>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/std_string_view.h"

namespace ingest::zones {
namespace {

absl::Status Bad(std::string_view pattern, std::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("bad camera id format \"", ToAbsl(pattern), "\": ", ToAbsl(problem)));
}

}  // namespace

absl::StatusOr<CameraIdFormat> CameraIdFormat::Parse(std::string_view pattern) {
  CameraIdFormat format;
  bool seen_conversion = false;
  for (size_t i = 0; i < pattern.size(); ++i) {
    std::string& text = seen_conversion ? format.after_ : format.before_;
    if (pattern[i] != '%') {
      text.push_back(pattern[i]);
      continue;
    }
    if (i + 1 < pattern.size() && pattern[i + 1] == '%') {
      text.push_back('%');
      ++i;
      continue;
    }
    if (seen_conversion) return Bad(pattern, "more than one % conversion");
    size_t j = i + 1;
    if (j < pattern.size() && pattern[j] == '0') {
      format.zero_pad_ = true;
      ++j;
    }
    size_t digits_start = j;
    while (j < pattern.size() && pattern[j] >= '0' && pattern[j] <= '9') ++j;
    if (j - digits_start > 2) return Bad(pattern, "width must be 1..20");
    if (j > digits_start) std::from_chars(pattern.data() + digits_start, pattern.data() + j, format.width_);
    if (format.width_ > 20 || (format.zero_pad_ && format.width_ == 0)) return Bad(pattern, "width must be 1..20");
    if (j >= pattern.size() || pattern[j] != 'd') return Bad(pattern, "the only conversion is %d, %Nd or %0Nd");
    seen_conversion = true;
    i = j;
  }
  if (!seen_conversion) return Bad(pattern, "needs one %d (or %0Nd) for the number");
  return format;
}

void CameraIdFormat::FormatTo(uint64_t number, std::string& out) const {
  char digits[20];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), number);
  size_t length = static_cast<size_t>(end - digits);
  out.assign(before_);
  if (static_cast<size_t>(width_) > length) out.append(static_cast<size_t>(width_) - length, zero_pad_ ? '0' : ' ');
  out.append(digits, length);
  out.append(after_);
}

std::string CameraIdFormat::Format(uint64_t number) const {
  std::string out;
  FormatTo(number, out);
  return out;
}

}  // namespace ingest::zones
