// What a shell command prints on stdout, for tests that run a tool (ingestd,
// ffmpeg, ffprobe) and read its answer. Empty if it cannot be started.
//
//   std::string out = ShellOutput("/usr/bin/ffprobe -v error ... file.ts");
#ifndef TESTS_SUPPORT_SHELL_OUTPUT_H_
#define TESTS_SUPPORT_SHELL_OUTPUT_H_

#include <cstdio>
#include <string>

namespace ingest::testing {

inline std::string ShellOutput(const std::string& command) {
  std::string out;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return out;
  char buffer[4096];
  size_t n;
  while ((n = fread(buffer, 1, sizeof(buffer), pipe)) > 0) out.append(buffer, n);
  pclose(pipe);
  return out;
}

}  // namespace ingest::testing

#endif  // TESTS_SUPPORT_SHELL_OUTPUT_H_
