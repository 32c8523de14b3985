// Reads a whole small file (a configuration, a zone map) with a size limit,
// so pointing a loader at the wrong file (a log, a disk image) fails fast
// with a clear message instead of eating memory.
//
//   ASSIGN_OR_RETURN(std::string text, ReadBoundedFile(path, 16 << 20, "zone map"));
#ifndef COMMON_BOUNDED_FILE_H_
#define COMMON_BOUNDED_FILE_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace ingest {

// `what` names the file's role in errors: "cannot open zone map /etc/...".
// InvalidArgument once the file passes `max_bytes`.
absl::StatusOr<std::string> ReadBoundedFile(const std::string& path, size_t max_bytes, std::string_view what);

}  // namespace ingest

#endif  // COMMON_BOUNDED_FILE_H_
