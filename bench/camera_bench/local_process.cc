#include "bench/camera_bench/local_process.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/process_usage.h"

namespace ingest::bench {
namespace {

// Socket inodes of listening TCP sockets on `port` in /proc/net/tcp{,6}.
std::vector<std::string> ListeningInodes(uint16_t port) {
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

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<pid_t> FindListeningProcess(uint16_t port) {
  const std::vector<std::string> inodes = ListeningInodes(port);
  if (inodes.empty()) return std::nullopt;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return std::nullopt;
  std::optional<pid_t> found;
  while (dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid == getpid()) continue;
    const std::string fd_dir = absl::StrCat("/proc/", pid, "/fd");
    DIR* fds = opendir(fd_dir.c_str());
    if (fds == nullptr) continue;
    while (dirent* fd = readdir(fds)) {
      char target[64];
      const std::string link = absl::StrCat(fd_dir, "/", fd->d_name);
      const ssize_t n = readlink(link.c_str(), target, sizeof(target) - 1);
      if (n <= 0) continue;
      absl::string_view name(target, static_cast<size_t>(n));
      if (!absl::ConsumePrefix(&name, "socket:[") || !absl::ConsumeSuffix(&name, "]")) continue;
      for (const std::string& inode : inodes) {
        if (name == inode) found = pid;
      }
      if (found) break;
    }
    closedir(fds);
    if (found) break;
  }
  closedir(proc);
  return found;
}

absl::StatusOr<ProcessSample> SampleProcess(pid_t pid) {
  const std::string stat = ReadSmallFile(absl::StrCat("/proc/", pid, "/stat"));
  // The command name may hold spaces and parentheses: fields count from the last ')'.
  const size_t close = stat.rfind(')');
  if (close == std::string::npos) return absl::NotFoundError(absl::StrCat("process ", pid, " is gone"));
  std::vector<absl::string_view> fields =
      absl::StrSplit(absl::string_view(stat).substr(close + 2), ' ', absl::SkipEmpty());
  // After ')': state(3) ... utime(14) stime(15) ... rss(24), numbered as in proc(5).
  uint64_t utime = 0, stime = 0;
  int64_t rss_pages = 0;
  if (fields.size() < 22 || !absl::SimpleAtoi(fields[11], &utime) || !absl::SimpleAtoi(fields[12], &stime) ||
      !absl::SimpleAtoi(fields[21], &rss_pages)) {
    return absl::InternalError(absl::StrCat("unreadable /proc/", pid, "/stat"));
  }
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  return ProcessSample{.cpu_s = static_cast<double>(utime + stime) / ticks,
                       .rss_bytes = static_cast<uint64_t>(rss_pages) * static_cast<uint64_t>(sysconf(_SC_PAGESIZE))};
}

ProcessSample SampleSelf() {
  const ProcessUsage usage = SelfUsage();
  return ProcessSample{.cpu_s = usage.cpu_seconds, .rss_bytes = usage.resident_bytes};
}

uint64_t MemoryAvailableBytes() {
  std::ifstream in("/proc/meminfo");
  std::string line;
  while (std::getline(in, line)) {
    absl::string_view rest = line;
    if (!absl::ConsumePrefix(&rest, "MemAvailable:")) continue;
    rest = absl::StripAsciiWhitespace(rest);
    absl::ConsumeSuffix(&rest, " kB");
    uint64_t kib = 0;
    return absl::SimpleAtoi(rest, &kib) ? kib * 1024 : 0;
  }
  return 0;
}

}  // namespace ingest::bench
