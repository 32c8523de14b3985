// A cheap identity of one version of a file, to notice that it changed
// without reading it: a rename over it or a rewrite changes the stamp.
//
//   std::string seen = FileStamp(path);
//   ...
//   if (FileStamp(path) != seen) Reload();
#ifndef SERVER_INGESTD_FILE_STAMP_H_
#define SERVER_INGESTD_FILE_STAMP_H_

#include <string>

namespace ingest {

// "inode:size:mtime" of the file at `path`; "" if it cannot be read.
std::string FileStamp(const std::string& path);

}  // namespace ingest

#endif  // SERVER_INGESTD_FILE_STAMP_H_
