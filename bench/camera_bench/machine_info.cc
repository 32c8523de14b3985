#include "bench/camera_bench/machine_info.h"

#include <openssl/crypto.h>
#include <sys/utsname.h>
#include <unistd.h>

namespace ingest::bench {

MachineInfo DescribeMachine() {
  MachineInfo info;
  info.cores = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  utsname name{};
  if (uname(&name) == 0) {
    info.kernel = name.release;
    info.hostname = name.nodename;
  }
  info.openssl = OpenSSL_version(OPENSSL_VERSION);
  return info;
}

}  // namespace ingest::bench
