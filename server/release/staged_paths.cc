#include "server/release/staged_paths.h"

#include <filesystem>
#include <iterator>

namespace ingest {
namespace {

namespace fs = std::filesystem;

// `path` relative to `dir` if it lies strictly inside it, component by
// component; empty otherwise. Both are absolute and normalised.
fs::path RelativeInside(const fs::path& path, const fs::path& dir) {
  auto p = path.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++p) {
    // A trailing "/" leaves an empty last component in a normalised path.
    if (d->empty() && std::next(d) == dir.end()) break;
    if (p == path.end() || *p != *d) return {};
  }
  fs::path relative;
  for (; p != path.end(); ++p) relative /= *p;
  return relative;
}

}  // namespace

FileCopy ChooseFileCopy(const std::string& named, const StagedRelease& release,
                        absl::FunctionRef<bool(const std::string&)> staged_file_exists) {
  FileCopy copy{.named = named, .read = named, .origin = FileOrigin::kAsNamed};
  const fs::path path = fs::path(named).lexically_normal();
  const fs::path installed = fs::path(release.installed_config_dir).lexically_normal();
  if (release.installed_config_dir.empty() || !path.is_absolute() || !installed.is_absolute()) return copy;
  const fs::path relative = RelativeInside(path, installed);
  if (relative.empty()) return copy;
  const std::string staged = (fs::path(release.staged_config_dir) / relative).string();
  if (staged_file_exists(staged)) {
    copy.read = staged;
    copy.origin = FileOrigin::kStaged;
  } else {
    copy.origin = FileOrigin::kHost;
  }
  return copy;
}

std::string FileOriginName(FileOrigin origin) {
  switch (origin) {
    case FileOrigin::kStaged:
      return "staged";
    case FileOrigin::kHost:
      return "host";
    case FileOrigin::kAsNamed:
      break;
  }
  return "as named";
}

}  // namespace ingest
