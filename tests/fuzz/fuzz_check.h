// What the fuzz targets share: a check that survives NDEBUG, and a scratch
// folder on tmpfs for the targets that must go through files.
//
//   FUZZ_CHECK(consumed <= input.size());
//   FUZZ_CHECK_MSG(status.ok(), status.ToString());
//
// A failed check prints the condition (and the message) and aborts, which
// libFuzzer records as a crash and saves the input that caused it.
#ifndef TESTS_FUZZ_FUZZ_CHECK_H_
#define TESTS_FUZZ_FUZZ_CHECK_H_

#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <string_view>

#define FUZZ_CHECK(cond) FUZZ_CHECK_MSG(cond, "")

#define FUZZ_CHECK_MSG(cond, message)                                                                              \
  do {                                                                                                             \
    if (!(cond)) {                                                                                                 \
      const std::string fuzz_message_ = std::string(message);                                                      \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s %s\n", __FILE__, __LINE__, #cond, fuzz_message_.c_str()); \
      std::abort();                                                                                                \
    }                                                                                                              \
  } while (0)

namespace ingest::fuzz {

// A fresh folder for one process, made on first use and removed at exit:
// under $FUZZ_SCRATCH_DIR if set, else on /dev/shm when there is one,
// because the targets that recover files fsync them on every input and a
// disk would make that the whole cost of an execution.
inline const std::string& ScratchDir() {
  struct Dir {
    std::string path;
    ~Dir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Dir dir{[] {
    std::string base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    if (const char* tmp = std::getenv("FUZZ_SCRATCH_DIR"); tmp != nullptr && *tmp != '\0') base = tmp;
    std::string pattern = base + "/ingest-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    return pattern;
  }()};
  return dir.path;
}

}  // namespace ingest::fuzz

#endif  // TESTS_FUZZ_FUZZ_CHECK_H_
