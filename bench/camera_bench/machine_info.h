// What a bench result says about the machine it ran on: cores, kernel,
// OpenSSL, host name — enough to tell two results apart.
#ifndef BENCH_CAMERA_BENCH_MACHINE_INFO_H_
#define BENCH_CAMERA_BENCH_MACHINE_INFO_H_

#include <string>

namespace ingest::bench {

struct MachineInfo {
  int cores = 0;
  std::string kernel;   // uname -r
  std::string openssl;  // OpenSSL_version(OPENSSL_VERSION)
  std::string hostname;
};

MachineInfo DescribeMachine();

}  // namespace ingest::bench

#endif  // BENCH_CAMERA_BENCH_MACHINE_INFO_H_
