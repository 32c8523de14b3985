// Names the calling thread, so that `top -H`, `ps -L`, perf and gdb tell an
// SRE which of the server's threads uses the CPU (shard-0, sealer, upload-1,
// ...) instead of showing the process name on every one.
//
//   NameThisThread(absl::StrCat("shard-", index));
#ifndef COMMON_THREAD_NAME_H_
#define COMMON_THREAD_NAME_H_

#include <string>
#include <string_view>

namespace ingest {

// Linux keeps 15 bytes of a thread's name; a longer name is cut to them.
inline constexpr size_t kMaxThreadNameBytes = 15;

// Best effort: a name the kernel refuses leaves the old one (it only helps
// people read tools' output).
void NameThisThread(std::string_view name);

// The calling thread's name as the kernel reports it.
std::string ThisThreadName();

}  // namespace ingest

#endif  // COMMON_THREAD_NAME_H_
