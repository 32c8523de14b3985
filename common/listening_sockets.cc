#include "common/listening_sockets.h"

#include <dirent.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/strings/strip.h"

namespace ingest {

std::vector<std::string> ListeningSocketInodes(uint16_t port) {
  std::vector<std::string> inodes;
  char port_hex[8];
  std::snprintf(port_hex, sizeof(port_hex), "%04X", port);
  for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
    std::ifstream in(table);
    std::string line;
    std::getline(in, line);  // the heading
    while (std::getline(in, line)) {
      std::vector<absl::string_view> fields = absl::StrSplit(line, ' ', absl::SkipEmpty());
      // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
      if (fields.size() < 10 || fields[3] != "0A") continue;  // 0A: LISTEN
      const size_t colon = fields[1].rfind(':');
      if (colon == absl::string_view::npos || fields[1].substr(colon + 1) != port_hex) continue;
      inodes.emplace_back(fields[9]);
    }
  }
  return inodes;
}

std::vector<std::string> ProcessSocketInodes(int pid) {
  std::vector<std::string> inodes;
  const std::string fd_dir = absl::StrCat("/proc/", pid, "/fd");
  DIR* fds = opendir(fd_dir.c_str());
  if (fds == nullptr) return inodes;
  while (dirent* fd = readdir(fds)) {
    char target[64];
    const std::string link = absl::StrCat(fd_dir, "/", fd->d_name);
    const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
    if (n <= 0) continue;
    absl::string_view name(target, static_cast<size_t>(n));
    if (absl::ConsumePrefix(&name, "socket:[") && absl::ConsumeSuffix(&name, "]")) inodes.emplace_back(name);
  }
  closedir(fds);
  return inodes;
}

std::vector<std::string> ProcessListeningInodes(int pid, uint16_t port) {
  const std::vector<std::string> listening = ListeningSocketInodes(port);
  std::vector<std::string> mine;
  if (listening.empty()) return mine;
  for (std::string& inode : ProcessSocketInodes(pid)) {
    if (std::find(listening.begin(), listening.end(), inode) != listening.end()) mine.push_back(std::move(inode));
  }
  return mine;
}

}  // namespace ingest
