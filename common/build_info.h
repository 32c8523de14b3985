// Which build this is, for /status, metrics and the start-up log line: the
// project version and the commit it was built from ("unknown" outside a git
// checkout; the commit is read when the build is configured).
#ifndef COMMON_BUILD_INFO_H_
#define COMMON_BUILD_INFO_H_

namespace ingest {

const char* BuildVersion();  // "0.5.0"
const char* BuildCommit();   // "021e9f0c1a2b" or "unknown"

}  // namespace ingest

#endif  // COMMON_BUILD_INFO_H_
