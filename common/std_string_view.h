// Debian's Abseil is built with its own absl::string_view (not an alias of
// std::string_view), so Status::message() and friends need converting before
// they meet our std::string_view APIs. One spelling for that, here.
#ifndef COMMON_STD_STRING_VIEW_H_
#define COMMON_STD_STRING_VIEW_H_

#include <string_view>

#include "absl/strings/string_view.h"

namespace ingest {

inline std::string_view ToStd(absl::string_view s) { return {s.data(), s.size()}; }
inline absl::string_view ToAbsl(std::string_view s) { return {s.data(), s.size()}; }

}  // namespace ingest

#endif  // COMMON_STD_STRING_VIEW_H_
