// Which copy of a file `ingestd check` reads when it validates a release that
// is staged but not yet installed.
//
// A release's configuration names files where they will be after the
// install (/etc/ingestd/tls/server.crt). Before the install, a file the
// release ships is in the staging folder, and a file it does not ship (a key
// kept on the host, say) stays where it is. So a path under the installed
// configuration folder is read from the staged folder if the release has it
// there, otherwise from the host; any other path is read as named. That is
// the file the server will open once the release is installed.
//
//   const StagedRelease release{.installed_config_dir = "/etc/ingestd",
//                               .staged_config_dir = "/opt/ingestd/staging/config"};
//   FileCopy copy = ChooseFileCopy("/etc/ingestd/tls/server.crt", release, IsRegularFile);
//   // copy.read == "/opt/ingestd/staging/config/tls/server.crt", copy.origin == FileOrigin::kStaged
#ifndef SERVER_RELEASE_STAGED_PATHS_H_
#define SERVER_RELEASE_STAGED_PATHS_H_

#include <string>

#include "absl/functional/function_ref.h"

namespace ingest {

struct StagedRelease {
  // Where the release's configuration folder will be installed; empty = no
  // staging, every file is read as named.
  std::string installed_config_dir{};
  // The release's configuration folder as staged.
  std::string staged_config_dir{};
};

enum class FileOrigin {
  kAsNamed,  // outside the installed configuration folder, or no staging
  kStaged,   // shipped with the release: read from the staging folder
  kHost,     // under the installed folder but not shipped: the host's file
};

struct FileCopy {
  std::string named;  // as the configuration names it
  std::string read;   // what is opened
  FileOrigin origin = FileOrigin::kAsNamed;
};

// The copy of `named` to read. Pure: `staged_file_exists` is the only look
// at the file system. Paths are compared lexically after normalisation
// ("/etc/ingestd/../x" is outside /etc/ingestd, so is /etc/ingestd2/x);
// relative paths are read as named (the server resolves them against its
// working folder, not the configuration's).
FileCopy ChooseFileCopy(const std::string& named, const StagedRelease& release,
                        absl::FunctionRef<bool(const std::string&)> staged_file_exists);

// "staged", "host" or "as named".
std::string FileOriginName(FileOrigin origin);

}  // namespace ingest

#endif  // SERVER_RELEASE_STAGED_PATHS_H_
