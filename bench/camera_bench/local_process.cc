#include "bench/camera_bench/local_process.h"

#include <dirent.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/listening_sockets.h"
#include "common/process_usage.h"

namespace ingest::bench {
namespace {

std::string ReadSmallFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

std::optional<pid_t> FindListeningProcess(uint16_t port) {
  if (ListeningSocketInodes(port).empty()) return std::nullopt;
  DIR* proc = opendir("/proc");
  if (proc == nullptr) return std::nullopt;
  std::optional<pid_t> found;
  while (dirent* entry = readdir(proc)) {
    int pid = 0;
    if (!absl::SimpleAtoi(entry->d_name, &pid) || pid == getpid()) continue;
    if (!ProcessListeningInodes(pid, port).empty()) {
      found = pid;
      break;
    }
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
